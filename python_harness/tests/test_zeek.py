"""Our Zeek package against every scenario's ground truth, on every link layer, and beside
Zeek's own GRE handling (skipped where Zeek is absent)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from conftest import REAL_CAPTURES

from pptp_harness import linktypes, scenarios, zeek

pytestmark = pytest.mark.skipif(
    not zeek.available(),
    reason="zeek is not installed here (README, Zeek: build Zeek 8.0 with Spicy into /opt/zeek)",
)
ROOT = Path(__file__).resolve().parents[2]
SCENARIO_PCAPS = ROOT / "testdata" / "scenarios"
REAL_PEERS = ROOT / "testdata" / "real"


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


def test_gre_without_control_given_up_when_it_stops(tmp_path):
    """GRE without control that stops is reported unclaimed_gre_timeout (5 min) after its last
    packet, while other GRE goes on, not at the end of the run."""
    cap = scenarios.paused_gre_without_control(pause=15 * 60)
    pcap = tmp_path / "paused.pcap"
    cap.write(pcap)
    logs = zeek.run(pcap)
    stopped = cap.frames[5].time  # the last of the first pair's six packets
    first = logs.notices[0]
    assert first["note"] == "PPTP::GRE_Without_Control"
    assert "192.0.2.10 to 198.51.100.1 Call ID 77: 3 packets" in first["msg"]
    assert stopped + 5 * 60 <= first["ts"] < stopped + 6 * 60
    assert [n["ts"] for n in logs.notices] == sorted(n["ts"] for n in logs.notices)
    assert logs.notices[-1]["msg"].count("Call ID 99") == 1


def test_flowing_gre_waits_for_its_call(tmp_path):
    """Twenty minutes of GRE, an echo a minute, before a Call-Clear-Request names its call:
    the GRE is the call's (pptp.log counts it all), not GRE without control."""
    cap = scenarios.long_mid_call(20)
    pcap = tmp_path / "long_mid_call.pcap"
    cap.write(pcap)
    logs = zeek.run(pcap)
    report = zeek.compare(cap.ground_truth(), logs)
    assert report.ok, "\n".join(report.mismatches)
    (row,) = logs.pptp
    assert row["orig_gre_pkts"] == row["resp_gre_pkts"] == 20
    assert "PPTP::GRE_Without_Control" not in [n["note"] for n in logs.notices]


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


# Real captures: GRE packets each way the package must tie to the call (None: no control
# connection in the capture, so its GRE must be reported as such).
REAL = {
    "chapcrack-sample.pcap": (61, 56),
    "packetlife-PPTP_negotiation.pcap": (10, 7),
    "tcpdump-pptp.pcap": (1, 0),
    "zeek-gre-pptp.pcap": None,
}


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_captures(name, real_captures):
    """Real PPTP traffic: no reporter message, every GRE packet counted to its call (the
    counts are tshark's `pptp_gre.call_frame` links per direction), or, for GRE whose
    control connection the capture lacks (here IPv4 GRE inside IPv6), GRE_Without_Control."""
    logs = zeek.run(real_captures / name)
    assert not logs.reporter
    expected = REAL[name]
    if expected is None:
        assert not logs.pptp
        assert [n["note"] for n in logs.notices] == ["PPTP::GRE_Without_Control"]
        return
    (row,) = logs.pptp
    assert (row["orig_gre_pkts"], row["resp_gre_pkts"]) == expected


def test_without_the_gre_analyzer(tmp_path):
    """A Zeek that lacks the package's GRE analyzer (built without Spicy, or the analyzer not
    built) still logs every call from the control channel, counts no GRE, and says why once."""
    pcap = tmp_path / "outgoing_call.pcap"
    scenarios.build("outgoing_call").write(pcap)
    logs = zeek.run(pcap, analyzer=False)
    assert [r["message"].startswith(zeek.GRE_OFF) for r in logs.reporter] == [True]
    (row,) = logs.pptp
    assert (row["call_kind"], row["orig_gre_pkts"], row["resp_gre_pkts"]) == ("outgoing", 0, 0)
    assert "gre_seen" not in row


# The link layers and tunnels GRE must be found on, as (framing, carrier) of linktypes.
LINK_LAYERS = [(framing, "ipv4") for framing in linktypes.FRAMINGS] + [
    ("ethernet", carrier) for carrier in ("ipv6", "4in6", "4in4")
]
# Captures with GRE both ways: a generated session and a real one with two calls.
LINK_CAPTURES = {
    "mschapv2_mppe": SCENARIO_PCAPS / "mschapv2_mppe.pcap",
    "real_two_calls": REAL_PEERS / "two_calls.pcap",
}


def _as_ipv6(value):
    """A pptp.log value with IPv4 addresses as the ipv6 carrier maps them."""
    if not isinstance(value, str):
        return value
    try:
        v4 = ipaddress.IPv4Address(value)
    except ValueError:
        return value
    return str(ipaddress.IPv6Address(linktypes.v4_to_v6(v4.packed)))


@pytest.mark.parametrize("capture", sorted(LINK_CAPTURES))
@pytest.mark.parametrize("framing, carrier", LINK_LAYERS)
def test_gre_counted_on_every_link_layer(tmp_path, framing, carrier, capture):
    """The same calls give the same pptp.log rows, GRE counts and PPP findings included,
    whatever link layer or tunnel carries their IP packets (the Ethernet rows are held to the
    truth by the other tests)."""
    original = LINK_CAPTURES[capture]
    reference = zeek.run(original).pptp
    assert reference and all(r["orig_gre_pkts"] and r["resp_gre_pkts"] for r in reference)
    converted = linktypes.convert(original, tmp_path / "converted.pcap", framing, carrier)
    logs = zeek.run(converted)
    assert not logs.reporter
    expected = [
        {k: _as_ipv6(v) if carrier == "ipv6" else v for k, v in row.items() if k != "uid"}
        for row in reference
    ]
    assert [{k: v for k, v in row.items() if k != "uid"} for row in logs.pptp] == expected


# Zeek's own logs of the GRE it decapsulates, and the weirds of its packet analysis.
ZEEK_OWN_LOGS = ("conn", "tunnel")
OWN_LOG_CAPTURES = sorted(SCENARIO_PCAPS.glob("*.pcap")) + sorted(REAL_PEERS.glob("*.pcap"))
if REAL_CAPTURES.is_dir():  # where absent, the parameters are only the two folders above
    OWN_LOG_CAPTURES += sorted(REAL_CAPTURES.glob("*.pcap"))


def _own_logs(pcap: Path, folder: Path, package: bool) -> dict[str, list]:
    args = [str(zeek.PACKAGE)] if package else []
    zeek.invoke(pcap, [*args, "LogAscii::use_json=T"], folder, analyzer=package)
    logs = {name: zeek.read_log(folder, name) for name in ZEEK_OWN_LOGS}
    logs["weird"] = [w for w in zeek.read_log(folder, "weird") if not w["name"].startswith("pptp_")]
    return logs


@pytest.mark.parametrize("pcap", OWN_LOG_CAPTURES, ids=lambda p: p.stem)
def test_zeek_own_gre_handling_unchanged(tmp_path, pcap):
    """The package takes nothing from Zeek: conn.log (the inner connections of GRE
    included), tunnel.log and Zeek's own weirds are the same with and without it."""
    bare = _own_logs(pcap, tmp_path / "bare", package=False)
    ours = _own_logs(pcap, tmp_path / "package", package=True)
    for name, rows in bare.items():
        assert ours[name] == rows, name


def test_zeek_own_gre_handling_is_exercised(tmp_path):
    """The comparison above covers decapsulated GRE: a capture with IP in PPTP's GRE gives
    tunnel.log rows and inner connections."""
    pcap = SCENARIO_PCAPS / "unencrypted_session.pcap"
    logs = _own_logs(pcap, tmp_path, package=True)
    assert logs["tunnel"]
    assert any(row.get("tunnel_parents") for row in logs["conn"])
