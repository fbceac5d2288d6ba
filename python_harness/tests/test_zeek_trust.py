"""Our Zeek package under messy and hostile traffic (issue 24): strays and restarts in the
sequence analysis, PPP answers that settle nothing unless they echo what the peer asked, the
two directions of a GRE-only tunnel as one row, and every episode of GRE without control
reported. The expected figures follow the rules of the acceptance window (a stray moves
nothing; a packet that continues from one restarts the flow) worked by hand on each capture
(skipped where Zeek is absent)."""

from __future__ import annotations

import pytest

from pptp_harness import ppp, reading, scenarios, zeek
from pptp_harness.capture import Call, Capture, ControlConnection, orphan_gre
from pptp_harness.constants import AUTH_MSCHAP_V1, AUTH_MSCHAP_V2, CpCode

pytestmark = pytest.mark.skipif(
    not zeek.available(),
    reason="zeek is not installed here (README, Zeek: build Zeek 8.0 with Spicy into /opt/zeek)",
)


def echoes(call: Call, from_client: bool, count: int) -> None:
    for n in range(count):
        call.gre(from_client, ppp.lcp_echo(identifier=n % 256))


def skip(call: Call, from_client: bool, numbers: int) -> None:
    """The next ``numbers`` sequence numbers of one side are never sent (lost)."""
    side = call.sides[from_client]
    side.next_seq = (side.next_seq + numbers) % 2**32


def renumber(call: Call, from_client: bool, seq: int) -> None:
    """One side's numbers go on from ``seq`` (a reconnect or a peer that rebooted)."""
    call.sides[from_client].next_seq = seq


def tunnel_session(call: Call) -> None:
    """LCP (the server asks for MS-CHAPv2), the MS-CHAPv2 exchange, then ten echoes each way
    with three of the client's numbers lost: 13 packets from the client, 14 from the server."""
    call.gre(True, ppp.lcp_configure(identifier=1, magic=0x11111111))
    call.gre(False, ppp.lcp_configure(identifier=1, auth=AUTH_MSCHAP_V2, magic=0x22222222))
    call.gre(
        True, ppp.lcp_configure(CpCode.CONFIGURE_ACK, 1, auth=AUTH_MSCHAP_V2, magic=0x22222222)
    )
    call.gre(False, ppp.lcp_configure(CpCode.CONFIGURE_ACK, 1, magic=0x11111111))
    for from_client, frame in ppp.chap_exchange(AUTH_MSCHAP_V2):
        call.gre(from_client, frame)
    for n in range(10):
        if n == 4:
            skip(call, True, 3)
        call.gre(True, ppp.lcp_echo(identifier=n))
        call.gre(False, ppp.lcp_echo(CpCode.ECHO_REPLY, identifier=n))


def replayed_gre_only_tunnel() -> Capture:
    """A GRE-only tunnel (no control connection in the capture), and the same tunnel again
    ten minutes later, same Call IDs and numbers: a reconnect that reuses them."""
    cap = Capture("replayed_tunnel", "a GRE-only tunnel, replayed ten minutes later")
    conn = ControlConnection(cap, scenarios.CLIENT, scenarios.SERVER)
    call = conn.call_in_progress(5, 6)
    tunnel_session(call)
    cap.wait(600)
    for side in call.sides.values():
        side.next_seq, side.highest_received, side.acked = 0, None, None
    tunnel_session(call)
    return cap


def test_gre_only_tunnel_is_one_row_each_episode(tmp_path):
    """The two directions of a GRE-only tunnel (the server's acknowledgments acknowledge the
    client's numbers) are one call learnt from GRE alone: one pptp.log row with both Call
    IDs, both directions' figures, the authentication and the user. The same tunnel replayed
    after unclaimed_gre_timeout is reported again, with its own figures: no duplicates, and a
    restart each way, since Zeek remembers where the GRE it gave up stood. The two rows add up
    to the truth's flows."""
    pcap = tmp_path / "replayed_tunnel.pcap"
    replayed_gre_only_tunnel().write(pcap)
    logs = zeek.run(pcap)
    assert not logs.reporter
    expected = {
        "call_kind": "gre_only",
        "id.orig_h": "192.0.2.10",
        "id.resp_h": "198.51.100.1",
        "client_call_id": 5,
        "server_call_id": 6,
        "gre_client": "192.0.2.10",
        "orig_gre_pkts": 13,
        "orig_gre_lost": 3,
        "orig_gre_duplicate": 0,
        "orig_gre_out_of_window": 0,
        "orig_gre_restarts": 0,
        "resp_gre_pkts": 14,
        "resp_gre_lost": 0,
        "resp_gre_duplicate": 0,
        "auth": "MS-CHAPv2",
        "user": "alice",
    }
    assert len(logs.pptp) == 2
    for episode, row in enumerate(logs.pptp):
        wanted = expected | {"orig_gre_restarts": episode, "resp_gre_restarts": episode}
        assert {name: row.get(name) for name in wanted} == wanted
    assert logs.pptp[1]["ts"] - logs.pptp[0]["ts"] >= 600
    truth = reading.read(pcap).truth()["gre_without_call"]
    for prefix, flow in zip(("orig", "resp"), truth):
        for name, column in (("packets", "pkts"), ("lost", "lost"), ("restarts", "restarts")):
            assert sum(row[f"{prefix}_gre_{column}"] for row in logs.pptp) == flow[name]
    without_control = [n for n in logs.notices if n["note"] == "PPTP::GRE_Without_Control"]
    assert len(without_control) == 2
    for episode, notice in enumerate(without_control):
        assert "one tunnel, Call IDs 6 and 5, learnt from GRE alone" in notice["msg"]
        assert (
            "192.0.2.10 to 198.51.100.1 Call ID 6: 13 packets (" in notice["msg"]
            and f"), 3 lost, 0 duplicate, 0 out of order, 0 out of window, {episode} restarts"
            in notice["msg"]
        )
        assert "198.51.100.1 to 192.0.2.10 Call ID 5: 14 packets (" in notice["msg"]


def test_each_episode_of_one_way_gre_is_reported(tmp_path):
    """GRE one way only (nothing to pair it with), given up after unclaimed_gre_timeout, then
    again ten minutes later with the same numbers: two GRE_Without_Control notices, each with
    its episode's counts (the second a restart), and no pptp.log row."""
    cap = Capture("replayed_flow", "one-way GRE without control, replayed ten minutes later")
    for _ in range(2):
        for seq in (0, 1, 2, 5, 6, 7):
            orphan_gre(cap, scenarios.CLIENT, scenarios.SERVER, 77, ppp.lcp_echo(), seq)
        cap.wait(600)
    pcap = tmp_path / "replayed_flow.pcap"
    cap.write(pcap)
    logs = zeek.run(pcap)
    assert not logs.pptp
    flow = "192.0.2.10 to 198.51.100.1 Call ID 77: 6 packets ("
    counts = "), 2 lost, 0 duplicate, 0 out of order, 0 out of window, {} restarts"
    assert [n["note"] for n in logs.notices] == ["PPTP::GRE_Without_Control"] * 2
    for episode, notice in enumerate(logs.notices):
        assert flow in notice["msg"] and counts.format(episode) in notice["msg"]


def call_with_strays_and_restarts() -> Capture:
    """A call whose client numbers 0-9, then a stray far ahead (an altered copy), 10-19, then
    jumps to 100000 and goes on (a restart), pauses 90 s and starts again at 0 (a restart after
    an idle gap, not ten duplicates), losing number 3 of that last episode."""
    cap = Capture("strays", "a call with a stray and two restarts")
    conn = scenarios.connect(cap)
    call = conn.outgoing_call(1, 2)
    echoes(call, True, 10)
    call.gre(True, ppp.lcp_echo(), seq=0x80001234)
    renumber(call, True, 10)
    echoes(call, True, 10)
    renumber(call, True, 100_000)
    echoes(call, True, 10)
    echoes(call, False, 5)
    cap.wait(90)
    renumber(call, True, 0)
    echoes(call, True, 3)
    skip(call, True, 1)
    echoes(call, True, 2)
    echoes(call, False, 5)
    call.clear_by_client()
    conn.stop()
    return cap


def test_strays_are_counted_apart_and_restarts_start_afresh(tmp_path):
    """A stray moves nothing (no loss of two billion numbers); a packet that continues from
    a stray restarts the flow, whose losses add to the earlier episodes'; the weirds say so."""
    pcap = tmp_path / "strays.pcap"
    call_with_strays_and_restarts().write(pcap)
    logs = zeek.run(pcap)
    assert not logs.reporter
    (row,) = logs.pptp
    figures = {
        name: row[name]
        for name in row
        if name.startswith(("orig_gre_", "resp_gre_")) and not name.endswith("bytes")
    }
    assert figures == {
        "orig_gre_pkts": 36,
        "orig_gre_lost": 1,
        "orig_gre_duplicate": 0,
        "orig_gre_out_of_order": 0,
        "orig_gre_out_of_window": 1,
        "orig_gre_restarts": 2,
        "resp_gre_pkts": 10,
        "resp_gre_lost": 0,
        "resp_gre_duplicate": 0,
        "resp_gre_out_of_order": 0,
        "resp_gre_out_of_window": 0,
        "resp_gre_restarts": 0,
    }
    weirds = [w["name"] for w in logs.weirds if w["name"].startswith("pptp_gre_")]
    assert weirds.count("pptp_gre_out_of_window") == 1
    assert weirds.count("pptp_gre_restart") == 2


def call_with_forged_answers() -> Capture:
    """A call whose LCP settles on MS-CHAPv2, followed by a Configure-Ack naming MS-CHAPv1 that
    echoes no Configure-Request; a CHAP Response as "mallory" with an identifier no Challenge
    had comes before alice's genuine one."""
    cap = Capture("forged_answers", "forged LCP and CHAP answers in a call")
    conn = scenarios.connect(cap)
    call = conn.outgoing_call(1, 2)
    call.gre(True, ppp.lcp_configure(identifier=1, magic=0x11111111))
    call.gre(False, ppp.lcp_configure(identifier=1, auth=AUTH_MSCHAP_V2, magic=0x22222222))
    call.gre(
        True, ppp.lcp_configure(CpCode.CONFIGURE_ACK, 1, auth=AUTH_MSCHAP_V2, magic=0x22222222)
    )
    call.gre(False, ppp.lcp_configure(CpCode.CONFIGURE_ACK, 1, magic=0x11111111))
    call.gre(
        True, ppp.lcp_configure(CpCode.CONFIGURE_ACK, 7, auth=AUTH_MSCHAP_V1, magic=0x22222222)
    )
    challenge, response, success = ppp.chap_exchange(AUTH_MSCHAP_V2)
    _, forged, _ = ppp.chap_exchange(AUTH_MSCHAP_V2, identifier=9, name=b"mallory")
    for from_client, frame in (challenge, forged, response, success):
        call.gre(from_client, frame)
    call.clear_by_client()
    conn.stop()
    return cap


def test_forged_answers_settle_nothing(tmp_path):
    """A Configure-Ack counts only if it echoes one of the peer's Configure-Requests, a CHAP
    Response only if it answers one of its Challenges: the authentication and the user stay
    the genuine ones, and the Ack that echoes nothing is a weird."""
    pcap = tmp_path / "forged_answers.pcap"
    call_with_forged_answers().write(pcap)
    logs = zeek.run(pcap)
    assert not logs.reporter
    (row,) = logs.pptp
    assert (row["auth"], row["user"]) == ("MS-CHAPv2", "alice")
    unmatched = [w for w in logs.weirds if w["name"] == "pptp_gre_ppp_unmatched_ack"]
    assert [w["addl"] for w in unmatched] == ["Call ID 2: LCP identifier 7"]


def test_paired_flows_of_the_truth_are_one_row(tmp_path):
    """Every pair of GRE-only flows the truth pairs (``paired_call_id``) is one gre_only row
    with both flows' figures, its first sender as the client; flows left apart have none."""
    cap = scenarios.build("gre_only_tunnel")
    pcap = tmp_path / "gre_only_tunnel.pcap"
    cap.write(pcap)
    truth = cap.ground_truth()
    logs = zeek.run(pcap)
    flows = {flow["call_id"]: flow for flow in truth["gre_without_call"]}
    pairs = {
        frozenset((flow["call_id"], flow["paired_call_id"]))
        for flow in flows.values()
        if flow["paired_call_id"] is not None
    }
    assert pairs
    rows = {frozenset((r["client_call_id"], r["server_call_id"])): r for r in logs.pptp}
    assert set(rows) == pairs
    for row in rows.values():
        assert row["call_kind"] == "gre_only"
        client_to_server = flows[row["server_call_id"]]
        server_to_client = flows[row["client_call_id"]]
        assert row["gre_client"] == client_to_server["sender"] == server_to_client["receiver"]
        for prefix, flow in (("orig", client_to_server), ("resp", server_to_client)):
            assert row[f"{prefix}_gre_pkts"] == flow["packets"]
            for name in ("bytes", "lost", "duplicate", "out_of_order", "out_of_window", "restarts"):
                assert row[f"{prefix}_gre_{name}"] == flow[name], name
