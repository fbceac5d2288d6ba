"""The Zeek package installs the way users install it: ``zkg install`` from this repository
builds its GRE analyzer, and ``zeek -r`` with ``@load packages`` counts GRE with it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pptp_harness import scenarios, zeek

ROOT = Path(__file__).resolve().parents[2]
ZKG = zeek.zeek_bin() / "zkg" if zeek.available() else None

pytestmark = pytest.mark.skipif(
    ZKG is None or not ZKG.is_file() or not zeek.has_spicy(),
    reason="no Zeek with Spicy and zkg here (README, Zeek: build Zeek 8.0 with Spicy)",
)


def _snapshot(folder: Path) -> Path:
    """The working tree as it is (uncommitted changes included) as a one-commit git
    repository: zkg installs what a repository has committed."""
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (f.decode() for f in files)):
        source = ROOT / name
        if source.is_file():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, folder / name)
    git = ["git", "-c", "user.name=pptp-harness", "-c", "user.email=harness@invalid"]
    subprocess.run([*git, "init", "-q"], cwd=folder, check=True)
    subprocess.run([*git, "add", "-A"], cwd=folder, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "snapshot"], cwd=folder, check=True)
    return folder


def test_zkg_install_then_load_packages(tmp_path):
    """zkg builds the analyzer at install time (its build command), installs scripts and
    module into a throw-away zkg state, and a Zeek pointed there counts the call's GRE."""
    repo = _snapshot(tmp_path / "pptp-analysis")
    state = tmp_path / "zkg"
    config = tmp_path / "zkg.config"
    config.write_text(
        "[sources]\n"
        "[paths]\n"
        f"state_dir = {state}\n"
        f"script_dir = {state / 'scripts'}\n"
        f"plugin_dir = {state / 'plugins'}\n"
    )
    env = zeek.environment()
    del env["ZEEK_PLUGIN_PATH"]
    zkg = [sys.executable, str(ZKG), "--config", str(config)]
    installed = subprocess.run(
        [*zkg, "install", "--force", "--skiptests", str(repo)],
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    modules = list((state / "plugins").rglob("pptp_gre.hlto"))
    assert len(modules) == 1, installed.stdout

    pcap = tmp_path / "outgoing_call.pcap"
    cap = scenarios.build("outgoing_call")
    cap.write(pcap)
    zeekpath = subprocess.run(
        [str(zeek.zeek_bin() / "zeek-config"), "--zeekpath"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # Before Zeek's own site folder, which may have a packages folder of its own.
    env["ZEEKPATH"] = f"{state / 'scripts'}{os.pathsep}{zeekpath}"
    env["ZEEK_PLUGIN_PATH"] = str(state / "plugins")
    run = tmp_path / "run"
    run.mkdir()
    done = subprocess.run(
        [str(zeek.zeek_bin() / "zeek"), "-C", "-r", str(pcap), "packages", "LogAscii::use_json=T"],
        cwd=run,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert not zeek.read_log(run, "reporter")
    (call,) = cap.ground_truth()["calls"]
    (row,) = zeek.read_log(run, "pptp")
    assert row["orig_gre_pkts"] == call["client_to_server"]["packets"] > 0
    assert row["resp_gre_pkts"] == call["server_to_client"]["packets"] > 0
