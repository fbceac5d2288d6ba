"""How the harness runs tshark: the plugin really loaded, and never as root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pptp_harness import scenarios, tshark
from pptp_harness.cli import main

PLUGIN = Path(__file__).resolve().parents[2] / "lua_dissector" / "pptp.lua"


@pytest.fixture
def broken_plugin(tmp_path):
    script = tmp_path / "broken.lua"
    script.write_text("local x = = 1\n")
    return script


def test_a_plugin_that_does_not_load_stops_the_run(pcap_path, broken_plugin):
    """A run asking for a Lua script tshark does not load must fail, saying so, rather than
    decode with the built-ins."""
    scenarios.build("outgoing_call").write(pcap_path)
    with pytest.raises(tshark.TsharkError, match="did not load the Lua plugin"):
        tshark.decode(pcap_path, ["pptp_ctrl.call_id"], lua_scripts=[str(broken_plugin)])
    with pytest.raises(tshark.TsharkError, match="does not exist"):
        tshark.require_loaded((str(broken_plugin.with_name("missing.lua")),))


def test_demo_says_why_when_the_plugin_did_not_load(tmp_path, broken_plugin, capsys):
    assert main(["demo", "--lua", str(broken_plugin), "-o", str(tmp_path / "demo")]) == 2
    assert "did not load the Lua plugin" in capsys.readouterr().err


def test_demo_with_the_plugin(tmp_path, capsys):
    """`make demo`: the session decoded by the plugin, the per-call table, and every frame as
    its ground truth says (whoever runs it, root included)."""
    assert main(["demo", "--lua", str(PLUGIN), "-o", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    assert "PPTP calls" in out
    assert "OK mschapv2_mppe [plugin]" in out
    # The decryption part: the pings inside the MPPE, and the call decrypted with alice's key.
    assert "ICMP" in out and "Echo (ping) reply" in out
    assert "\talice\ttrue\tMPPE 128-bit stateless\tdecrypted\t" in out
    assert scenarios.LOGINS["alice"].password not in out


@pytest.mark.skipif(os.geteuid() != 0, reason="only root's runs are dropped to another account")
def test_root_runs_tshark_as_an_unprivileged_account():
    """tshark warns when it runs as root; run by the harness as root, it never does."""
    assert tshark.unprivileged_account() is not None
    done = tshark.run(["-G", "plugins", "-X", f"lua_script:{PLUGIN}"])
    assert 'Running as user "root"' not in done.stderr
    assert "pptp.lua" in done.stdout


def test_staged_files_keep_their_privacy(tmp_path):
    """A file only its owner may read (a credentials file) is staged as a private copy of
    the unprivileged account's, never made readable by others; all of it goes afterwards."""
    account = tshark.unprivileged_account()
    if account is None:
        pytest.skip("files are staged only for root's runs")
    secret = tmp_path / "credentials"
    secret.write_text("not a real password\n")
    secret.chmod(0o600)
    with tshark.invocation(["-r", str(secret)]) as how:
        staged = Path(how["args"][-1])
        assert staged != secret and staged.read_text() == secret.read_text()
        assert staged.stat().st_mode & 0o077 == 0
        assert (staged.stat().st_uid, staged.stat().st_gid) == account
    assert not staged.exists()
    assert secret.stat().st_mode & 0o777 == 0o600
