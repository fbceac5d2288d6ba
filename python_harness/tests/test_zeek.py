"""Our Zeek package against every scenario's ground truth (skipped where Zeek is absent)."""

from __future__ import annotations

from pathlib import Path

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


def test_long_call_sequence_counts(tmp_path):
    """A call longer than the sequence window: pptp.log's counts still equal the truth."""
    cap = scenarios.long_call()
    pcap = tmp_path / "long_call.pcap"
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


@pytest.mark.parametrize("grace, blocked", [("10 sec", True), ("20 sec", False)])
def test_gre_grace_period_option(tmp_path, grace, blocked):
    """Server GRE 15 s after the call connected: GRE_Blocked with a 10 s grace, not with 20."""
    pcap = tmp_path / "late.pcap"
    scenarios.late_server_gre(15).write(pcap)
    logs = zeek.run(pcap, f"PPTP::gre_grace_period={grace}")
    notes = [n["note"] for n in logs.notices]
    assert ("PPTP::GRE_Blocked" in notes) == blocked
    assert logs.pptp[0]["gre_seen"] == ("client" if blocked else "both")


def test_control_ports_can_be_extended(tmp_path):
    """A control connection on port 5555, with the port added before the package loads."""
    from pptp_harness.capture import Capture, ControlConnection

    cap = Capture("port_5555", "PPTP on TCP port 5555")
    conn = ControlConnection(cap, scenarios.CLIENT, scenarios.SERVER, server_port=5555)
    conn.start()
    call = conn.outgoing_call(7, 8)
    call.gre(True, None)
    call.clear_by_client()
    conn.stop()
    pcap = tmp_path / "port5555.pcap"
    cap.write(pcap)
    extra = tmp_path / "ports.zeek"
    extra.write_text(
        "redef tcp_content_delivery_ports_orig += { [5555/tcp] = T };\n"
        "redef tcp_content_delivery_ports_resp += { [5555/tcp] = T };\n"
        "redef PPTP::ports += { 5555/tcp };\n"
    )
    (row,) = zeek.run(pcap, str(extra)).pptp
    assert (row["id.resp_p"], row["client_call_id"], row["server_call_id"]) == (5555, 7, 8)


REAL_CAPTURES = Path(__file__).resolve().parents[3] / "shared" / "captures"
# Real captures: GRE packets each way the package must tie to the call (None: no control
# connection in the capture, so its GRE must be reported as such).
REAL = {
    "chapcrack-sample.pcap": (61, 56),
    "packetlife-PPTP_negotiation.pcap": (10, 7),
    "tcpdump-pptp.pcap": (1, 0),
    "zeek-gre-pptp.pcap": None,
}


@pytest.mark.skipif(not REAL_CAPTURES.is_dir(), reason="../shared/captures not present")
@pytest.mark.parametrize("name", sorted(REAL))
def test_real_captures(name):
    """Real PPTP traffic: no reporter message, every GRE packet counted to its call (the
    counts are tshark's `pptp_gre.call_frame` links per direction), or, for GRE whose
    control connection the capture lacks (here IPv4 GRE inside IPv6), GRE_Without_Control."""
    logs = zeek.run(REAL_CAPTURES / name)
    assert not logs.reporter
    expected = REAL[name]
    if expected is None:
        assert not logs.pptp
        assert [n["note"] for n in logs.notices] == ["PPTP::GRE_Without_Control"]
        return
    (row,) = logs.pptp
    assert (row["orig_gre_pkts"], row["resp_gre_pkts"]) == expected
