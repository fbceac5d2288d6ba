"""testdata/scenarios holds every scenario exactly as the generator makes it today."""

from __future__ import annotations

from pathlib import Path

import pytest

from pptp_harness import scenarios
from pptp_harness.capture import truth_path_for

TESTDATA = Path(__file__).resolve().parents[2] / "testdata" / "scenarios"


@pytest.mark.parametrize("name", scenarios.names())
def test_checked_in_capture_matches_generator(tmp_path, name):
    """Generation is deterministic and testdata is current (`make testdata` refreshes it)."""
    fresh = tmp_path / f"{name}.pcap"
    scenarios.build(name).write(fresh)
    stored = TESTDATA / f"{name}.pcap"
    assert stored.read_bytes() == fresh.read_bytes(), f"{stored} is stale: run `make testdata`"
    assert truth_path_for(stored).read_text() == truth_path_for(fresh).read_text()


def test_no_stray_files():
    expected = {f"{n}.pcap" for n in scenarios.names()} | {
        f"{n}.truth.json" for n in scenarios.names()
    }
    assert {p.name for p in TESTDATA.iterdir()} == expected
