"""Our Zeek package against every scenario's ground truth (skipped where Zeek is absent)."""

from __future__ import annotations

import pytest

from pptp_harness import scenarios, zeek

pytestmark = pytest.mark.skipif(not zeek.available(), reason="zeek is not installed here")


@pytest.mark.parametrize("name", scenarios.names())
def test_zeek_logs_match_the_truth(name, tmp_path):
    cap = scenarios.build(name)
    pcap = tmp_path / f"{name}.pcap"
    cap.write(pcap)
    report = zeek.compare(cap.ground_truth(), zeek.run(pcap))
    assert report.ok, "\n".join(report.mismatches)


def test_gre_analysis_can_be_switched_off(tmp_path):
    """With PPTP::analyze_gre=F the control channel is still logged, GRE is not counted."""
    cap = scenarios.build("outgoing_call")
    pcap = tmp_path / "outgoing_call.pcap"
    cap.write(pcap)
    (row,) = zeek.run(pcap, "PPTP::analyze_gre=F").pptp
    assert row["call_kind"] == "outgoing"
    assert row["orig_gre_pkts"] == row["resp_gre_pkts"] == 0
