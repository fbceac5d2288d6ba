"""PPTP control messages: RFC 2637 layouts, checked as annotated bytes both ways."""

from __future__ import annotations

import dpkt
import pytest

from pptp_harness import control as ctl
from pptp_harness.constants import MAGIC_COOKIE, MsgType

# RFC 2637 §2.1-2.15: the fixed length of every message.
RFC_LENGTHS = {
    MsgType.SCCRQ: 156,
    MsgType.SCCRP: 156,
    MsgType.STOPCCRQ: 16,
    MsgType.STOPCCRP: 16,
    MsgType.ECHORQ: 16,
    MsgType.ECHORP: 20,
    MsgType.OCRQ: 168,
    MsgType.OCRP: 32,
    MsgType.ICRQ: 220,
    MsgType.ICRP: 24,
    MsgType.ICCN: 28,
    MsgType.CCRQ: 16,
    MsgType.CDN: 148,
    MsgType.WEN: 40,
    MsgType.SLI: 24,
}


def header(length: int, control_type: int) -> bytes:
    return bytes.fromhex(
        f"{length:04x}"  # Length
        "0001"  # PPTP Message Type: control
        "1a2b3c4d"  # Magic Cookie
        f"{control_type:04x}"  # Control Message Type
        "0000"  # Reserved0
    )


@pytest.mark.parametrize("mtype", list(MsgType))
def test_every_message_has_its_rfc_length_and_header(mtype):
    """§2: each message type has a fixed length and the common 12-octet header."""
    message = ctl.MESSAGE_CLASSES[mtype]()
    raw = bytes(message)
    assert len(raw) == RFC_LENGTHS[mtype] == message.length
    assert raw[:12] == header(RFC_LENGTHS[mtype], mtype)
    assert ctl.unpack_message(raw).__class__ is ctl.MESSAGE_CLASSES[mtype]


def test_start_control_connection_request_bytes():
    """§2.1: SCCRQ field offsets, strings NUL-padded to 64 octets."""
    raw = (
        header(156, 1)
        + bytes.fromhex(
            "0100"  # Protocol Version 1.0
            "0000"  # Reserved1
            "00000001"  # Framing Capabilities: asynchronous
            "00000002"  # Bearer Capabilities: digital
            "0000"  # Maximum Channels
            "0a28"  # Firmware Revision
        )
        + b"local".ljust(64, b"\0")  # Host Name
        + b"linux".ljust(64, b"\0")  # Vendor Name
    )
    built = ctl.StartControlConnectionRequest(
        framing_capabilities=1,
        bearer_capabilities=2,
        firmware_revision=0x0A28,
        host_name=b"local",
        vendor_name=b"linux",
    )
    assert bytes(built) == raw
    parsed = ctl.unpack_message(raw)
    assert (parsed.protocol_version, parsed.framing_capabilities, parsed.bearer_capabilities) == (
        0x0100,
        1,
        2,
    )
    assert parsed.truth()["pptp_ctrl.host_name"] == "local"
    assert parsed.truth()["pptp_ctrl.vendor_name"] == "linux"


def test_outgoing_call_reply_bytes():
    """§2.8: OCRP carries the PAC's Call ID, then the PNS's as Peer Call ID."""
    raw = header(32, 8) + bytes.fromhex(
        "7800"  # Call ID (PAC) 30720
        "0000"  # Peer's Call ID (PNS) 0
        "01"  # Result Code: Connected
        "00"  # Error Code: None
        "0000"  # Cause Code
        "05f5e100"  # Connect Speed 100000000
        "0040"  # Packet Receive Window Size 64
        "0000"  # Packet Processing Delay
        "00000000"  # Physical Channel ID
    )
    assert bytes(ctl.OutgoingCallReply(call_id=30720, peer_call_id=0)) == raw
    truth = ctl.unpack_message(raw).truth()
    assert truth["pptp_ctrl.call_id"] == 30720
    assert truth["pptp_ctrl.peer_call_id"] == 0
    assert truth["pptp_ctrl.out_result"] == 1
    assert truth["pptp_ctrl.error"] == 0


def test_call_disconnect_notify_has_128_octets_of_statistics():
    """§2.13: Call Statistics is 128 octets, so the message is 148."""
    stats = b"x" * 100
    raw = header(148, 13) + bytes.fromhex("0007040000000000") + stats.ljust(128, b"\0")
    built = ctl.CallDisconnectNotify(call_id=7, result_code=4, call_statistics=stats)
    assert bytes(built) == raw
    assert ctl.unpack_message(raw).truth()["pptp_ctrl.call_statistics"] == "x" * 100


def test_echo_reply_and_set_link_info_bytes():
    """§2.6 and §2.15: identifier and result; peer Call ID and the two ACCMs."""
    assert bytes(ctl.EchoReply(identifier=0x01020304)) == header(20, 6) + bytes.fromhex(
        "0102030401000000"
    )
    assert bytes(ctl.SetLinkInfo(peer_call_id=9, send_accm=0, receive_accm=0xFFFFFFFF)) == header(
        24, 15
    ) + bytes.fromhex("0009000000000000ffffffff")


def test_result_fields_are_named_per_message_type():
    """The result code field takes the built-in's per-message name (pptp.control_result, ...)."""
    names = {
        mtype: [k for k in ctl.MESSAGE_CLASSES[mtype]().truth() if k.endswith("_result")]
        for mtype in MsgType
    }
    assert names[MsgType.SCCRP] == ["pptp_ctrl.control_result"]
    assert names[MsgType.STOPCCRP] == ["pptp_ctrl.stop_result"]
    assert names[MsgType.ECHORP] == ["pptp_ctrl.echo_result"]
    assert names[MsgType.OCRP] == ["pptp_ctrl.out_result"]
    assert names[MsgType.ICRP] == ["pptp_ctrl.in_result"]
    assert names[MsgType.CDN] == ["pptp_ctrl.disc_result"]
    assert not names[MsgType.SCCRQ]


def test_reserved_fields_never_named_in_truth():
    for cls in ctl.MESSAGE_CLASSES.values():
        assert not any("reserved" in name for name in cls().truth())


def test_unpack_rejects_unknown_type_and_short_input():
    with pytest.raises(dpkt.UnpackError):
        ctl.unpack_message(header(16, 16) + bytes(4))
    with pytest.raises(dpkt.NeedData):
        ctl.unpack_message(header(16, 5)[:8])
    with pytest.raises(dpkt.NeedData):
        ctl.unpack_message(header(156, 1) + bytes(10))


def test_defaults_are_rfc_valid():
    """Default values lie in the RFC's tables: version 1.0, cookie, success result codes."""
    assert ctl.StartControlConnectionRequest().protocol_version == 0x0100
    assert all(cls().magic_cookie == MAGIC_COOKIE for cls in ctl.MESSAGE_CLASSES.values())
    assert ctl.StartControlConnectionReply().result_code == 1
    assert ctl.OutgoingCallReply().result_code == 1
    assert ctl.IncomingCallReply().result_code == 1
