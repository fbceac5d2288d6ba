"""Property tests: drawn messages, GRE packets and sessions round-trip through our dpkt classes
and decode in tshark's built-ins exactly as their ground truth says (one tshark run per example
list, never per message)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from pptp_harness import control as ctl
from pptp_harness import oracle, strategies
from pptp_harness.gre import EnhancedGRE


@given(strategies.control_messages())
def test_message_round_trips(message):
    raw = bytes(message)
    again = ctl.unpack_message(raw)
    assert bytes(again) == raw
    assert again.truth() == message.truth()
    assert len(raw) == ctl.FIXED_LENGTH[message.MESSAGE_TYPE]


@given(strategies.gre_packets())
def test_gre_round_trips(drawn):
    packet, frame = drawn
    raw = bytes(packet)
    again = EnhancedGRE(raw)
    assert bytes(again) == raw
    assert again.truth() == packet.truth()
    assert again.data == (bytes(frame) if frame else b"")


def _builtin_agrees(cap):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "drawn.pcap"
        cap.write(path)
        report = oracle.check_pcap(path)
    assert report.ok, report.format()
    assert report.fields_checked > 0


# Each example is one tshark run, so these draw fewer examples than the pure-Python ones.
@settings(max_examples=15)
@given(st.lists(strategies.control_messages(), min_size=1, max_size=30))
def test_drawn_messages_decode_identically_in_builtin(messages):
    _builtin_agrees(strategies.messages_capture(messages))


@settings(max_examples=15)
@given(st.lists(strategies.gre_packets(), min_size=1, max_size=30))
def test_drawn_gre_packets_decode_identically_in_builtin(packets):
    _builtin_agrees(strategies.gre_capture(packets))


@settings(max_examples=15)
@given(strategies.sessions())
def test_drawn_sessions_decode_identically_in_builtin(plan):
    _builtin_agrees(plan.build())
