"""Shared fixtures and the hypothesis profiles (``ci`` is fixed-seed and bounded)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,  # the same examples on every run: a failure reproduces anywhere
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile(
    "dev", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def pcap_path(tmp_path):
    """A fresh pcap path in the test's own folder."""
    return tmp_path / "case.pcap"


# Real captures from real PPTP implementations, kept beside the repository (never in it).
REAL_CAPTURES = Path(__file__).resolve().parents[3] / "shared" / "captures"
REAL_CAPTURES_ABSENT = "real captures not present: see ../shared/captures/README.md"


@pytest.fixture
def real_captures() -> Path:
    """The folder of real captures; a test that asks for it is skipped where it is absent."""
    if not REAL_CAPTURES.is_dir():
        pytest.skip(REAL_CAPTURES_ABSENT)
    return REAL_CAPTURES
