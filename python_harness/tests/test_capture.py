"""The capture builder: TCP numbers a real stack would send, and the sequence-analysis truth."""

from __future__ import annotations

import dpkt

from pptp_harness import scenarios
from pptp_harness.expected import SequenceTracker


def segments(cap):
    for frame in cap.frames:
        ip = dpkt.ethernet.Ethernet(frame.data).data
        if ip.p == dpkt.ip.IP_PROTO_TCP:
            yield ip, ip.data


def test_tcp_sequence_and_ack_numbers_follow_the_bytes():
    """Each segment starts where the previous one from that side ended (SYN/FIN count one),
    and acknowledges everything the other side sent before it."""
    cap = scenarios.build("segmented_control")
    next_seq, sent = {}, {}
    for ip, tcp in segments(cap):
        key = (ip.src, tcp.sport)
        if key in next_seq:
            assert tcp.seq == next_seq[key]
        if tcp.flags & dpkt.tcp.TH_ACK:
            peer = next((k for k in next_seq if k != key), None)
            assert peer is None or tcp.ack == next_seq[peer]
        next_seq[key] = (
            tcp.seq + len(tcp.data) + (1 if tcp.flags & (dpkt.tcp.TH_SYN | dpkt.tcp.TH_FIN) else 0)
        ) % 2**32
        sent[key] = sent.get(key, b"") + bytes(tcp.data)
    # The concatenated payload of each side is a whole number of PPTP messages.
    for stream in sent.values():
        offset = 0
        while offset < len(stream):
            offset += int.from_bytes(stream[offset : offset + 2], "big")
        assert offset == len(stream)


def test_checksums_are_valid():
    """IP and TCP checksums are valid, so hostile bytes of later fuzzing reach the analyzers."""
    cap = scenarios.build("outgoing_call")
    for ip, tcp in segments(cap):
        original = (ip.sum, tcp.sum)
        ip.sum = 0
        tcp.sum = 0
        rebuilt = dpkt.ip.IP(bytes(ip))
        assert (rebuilt.sum, rebuilt.data.sum) == original


def test_tracker_loss_duplicate_reorder():
    tracker = SequenceTracker()
    seen = [tracker.observe(s) for s in (0, 1, 3, 2, 2, 6, 7, 8)]
    assert seen == [
        {},
        {},
        {"pptp_gre.analysis.lost": 1},
        {"pptp_gre.analysis.out_of_order": 1},
        {"pptp_gre.analysis.duplicate": 1},
        {"pptp_gre.analysis.lost": 2},
        {},
        {},
    ]
    assert (tracker.lost, tracker.duplicates, tracker.out_of_order) == (2, 1, 1)


def test_tracker_wraps_at_32_bits():
    """RFC 1982 serial arithmetic: 0xFFFFFFFF then 0 is in order, then 3 skips 1 and 2 (3, 4
    and 5 confirm it)."""
    tracker = SequenceTracker()
    assert [tracker.observe(s) for s in (0xFFFFFFFE, 0xFFFFFFFF, 0, 3, 4, 5)] == [
        {},
        {},
        {},
        {"pptp_gre.analysis.lost": 2},
        {},
        {},
    ]
    assert tracker.lost == 2


def test_messages_go_from_the_side_the_rfc_names():
    """PNS-only messages come from the client, PAC-only ones from the server."""
    from pptp_harness.constants import MESSAGE_NAMES, SENDER, Role

    by_name = {name: SENDER[mtype] for mtype, name in MESSAGE_NAMES.items()}
    cap = scenarios.build("all_message_types")
    seen = set()
    for frame in cap.frames:
        if frame.truth["kind"] != "pptp_ctrl":
            continue
        from_client = dpkt.ethernet.Ethernet(frame.data).data.src == scenarios.CLIENT.ip_bytes
        for name in frame.truth["messages"]:
            seen.add(name)
            role = by_name[name]
            assert role == Role.EITHER or (role == Role.PNS) == from_client, name
    assert seen == set(MESSAGE_NAMES.values())


def test_call_summary_counts_gre_each_way():
    cap = scenarios.build("sequence_loss")
    (call,) = cap.ground_truth()["calls"]
    assert call["client_to_server"] == {
        "packets": 6,
        "bytes": 6 * 12,
        "lost": 2,
        "duplicate": 0,
        "out_of_order": 0,
        "out_of_window": 0,
        "restarts": 0,
    }
    assert call["server_to_client"]["lost"] == 1
