"""The command line: list, generate, check (and check really fails on a wrong truth)."""

from __future__ import annotations

import json

from pptp_harness import scenarios
from pptp_harness.capture import truth_path_for
from pptp_harness.cli import main


def test_scenarios_lists_every_scenario(capsys):
    assert main(["scenarios"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in scenarios.SCENARIOS)


def test_generate_then_check(pcap_path, capsys):
    assert main(["generate", "outgoing_call", "-o", str(pcap_path)]) == 0
    assert pcap_path.exists() and truth_path_for(pcap_path).exists()
    assert main(["check", str(pcap_path)]) == 0
    assert (
        capsys.readouterr().out.strip().splitlines()[-1].startswith("OK outgoing_call [built-in]")
    )


def test_check_reports_a_wrong_truth_per_frame(pcap_path, capsys):
    """A ground truth that disagrees with the bytes makes check fail and name frame and field."""
    main(["generate", "gre_flags", "-o", str(pcap_path)])
    truth_file = truth_path_for(pcap_path)
    truth = json.loads(truth_file.read_text())
    gre = next(f for f in truth["frames"] if f["kind"] == "pptp_gre")
    gre["fields"]["pptp_gre.call_id"] = [gre["fields"]["pptp_gre.call_id"][0] + 1]
    truth_file.write_text(json.dumps(truth))
    capsys.readouterr()
    assert main(["check", str(pcap_path)]) == 1
    out = capsys.readouterr().out
    assert f"frame {gre['number']}: gre.key.call_id" in out
    assert "FAIL gre_flags" in out


def test_generate_unknown_scenario_fails(pcap_path, capsys):
    assert main(["generate", "no_such_thing", "-o", str(pcap_path)]) == 2
    assert "unknown scenario" in capsys.readouterr().err
