"""Tree-level checks through pyshark: the names Wireshark shows agree with our tables."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pyshark

from pptp_harness import scenarios
from pptp_harness.constants import MESSAGE_NAMES, MsgType


def test_builtin_message_names_match_ours(tmp_path: Path):
    """packet-pptp.c is the naming source of truth: every message name shown equals ours."""
    pcap = tmp_path / "all.pcap"
    scenarios.build("all_message_types").write(pcap)
    shown = {}
    # pyshark asks asyncio for the current loop, which Python 3.14 no longer makes by itself.
    loop = asyncio.new_event_loop()
    capture = pyshark.FileCapture(
        str(pcap), display_filter="pptp", keep_packets=False, eventloop=loop
    )
    try:
        for packet in capture:
            field = packet.pptp.get_field("control_message_type")
            shown[MsgType(int(field.show))] = field.showname_value.rsplit(" (", 1)[0]
            version = packet.pptp.get_field("protocol_version")
            if version is not None:
                assert version.showname_value == "1.0"
            assert packet.pptp.get_field("magic_cookie").showname_value.endswith("(correct)")
    finally:
        capture.close()
        loop.close()
    assert shown == {mtype: name for mtype, name in MESSAGE_NAMES.items()}
