"""PPTP control messages (RFC 2637 §2), one dpkt ``Packet`` class per message type.

Every class lays out the whole message in wire order, the 12-octet common header included, so
``len(cls())`` is the fixed length the RFC gives (156 octets for Start-Control-Connection-Request)
and ``bytes(cls(...))`` is a valid message. ``unpack_message`` picks the class from the control
message type. ``truth()`` gives the field values an analyzer must show, under contract 1's names.
"""

from __future__ import annotations

import struct
from typing import ClassVar

import dpkt

from .constants import (
    BEARER_ANALOG,
    BEARER_DIGITAL,
    FRAMING_ASYNC,
    FRAMING_SYNC,
    HEADER_LENGTH,
    MAGIC_COOKIE,
    PROTOCOL_VERSION,
    MsgType,
    PptpMessageType,
)

PREFIX = "pptp_ctrl."
_STRING = "64s"

# attribute -> contract field name, where the two differ; reserved fields are never named.
_RENAMED = {"error_code": "error", "cause_code": "cause", "call_statistics": "call_statistics"}


def _layout(message_type: MsgType, *body: tuple[str, str, object]) -> tuple:
    """The common header followed by ``body``, with the length default set to the fixed size."""
    size = HEADER_LENGTH + struct.calcsize(">" + "".join(fmt for _, fmt, _ in body))
    return (
        ("length", "H", size),
        ("pptp_type", "H", PptpMessageType.CONTROL),
        ("magic_cookie", "I", MAGIC_COOKIE),
        ("control_type", "H", int(message_type)),
        ("reserved0", "H", 0),
        *body,
    )


def _text(raw: bytes) -> str:
    """A fixed-size string field as an analyzer shows it: up to the first NUL."""
    return raw.split(b"\0", 1)[0].decode("latin-1")


class ControlMessage(dpkt.Packet):
    """Base of all control messages: common header only.

    Fields: length (2), pptp_type (2, 1 = control), magic_cookie (4, 0x1A2B3C4D),
    control_type (2), reserved0 (2).
    """

    __hdr__ = _layout(MsgType.SCCRQ)  # replaced by every subclass
    MESSAGE_TYPE: ClassVar[MsgType]
    RESULT_FIELD: ClassVar[str] = ""  # contract name of result_code; it differs per message

    def truth(self) -> dict[str, object]:
        """Field name -> value, as a correct decoder reports this message."""
        values: dict[str, object] = {
            PREFIX + "length": self.length,
            PREFIX + "type": self.pptp_type,
            PREFIX + "magic_cookie": self.magic_cookie,
            PREFIX + "control_message_type": self.control_type,
        }
        for name, fmt, _ in self.__hdr__[5:]:
            if name.startswith("reserved"):
                continue
            value = getattr(self, name)
            if fmt == _STRING:
                value = _text(value)
            if name == "result_code":
                name = self.RESULT_FIELD
            values[PREFIX + _RENAMED.get(name, name)] = value
        return values


class StartControlConnectionRequest(ControlMessage):
    """SCCRQ (§2.1), 156 octets, sent by either end to open the control connection.

    protocol_version (2), reserved1 (2), framing_capabilities (4), bearer_capabilities (4),
    maximum_channels (2), firmware_revision (2), host_name (64), vendor_name (64).
    """

    MESSAGE_TYPE = MsgType.SCCRQ
    __hdr__ = _layout(
        MsgType.SCCRQ,
        ("protocol_version", "H", PROTOCOL_VERSION),
        ("reserved1", "H", 0),
        ("framing_capabilities", "I", FRAMING_ASYNC | FRAMING_SYNC),
        ("bearer_capabilities", "I", BEARER_ANALOG | BEARER_DIGITAL),
        ("maximum_channels", "H", 0),
        ("firmware_revision", "H", 1),
        ("host_name", _STRING, b"pns.example"),
        ("vendor_name", _STRING, b"pptp-analysis"),
    )


class StartControlConnectionReply(ControlMessage):
    """SCCRP (§2.2), 156 octets.

    protocol_version (2), result_code (1), error_code (1), framing_capabilities (4),
    bearer_capabilities (4), maximum_channels (2), firmware_revision (2), host_name (64),
    vendor_name (64).
    """

    MESSAGE_TYPE = MsgType.SCCRP
    RESULT_FIELD = "control_result"
    __hdr__ = _layout(
        MsgType.SCCRP,
        ("protocol_version", "H", PROTOCOL_VERSION),
        ("result_code", "B", 1),
        ("error_code", "B", 0),
        ("framing_capabilities", "I", FRAMING_ASYNC | FRAMING_SYNC),
        ("bearer_capabilities", "I", BEARER_ANALOG | BEARER_DIGITAL),
        ("maximum_channels", "H", 1),
        ("firmware_revision", "H", 1),
        ("host_name", _STRING, b"pac.example"),
        ("vendor_name", _STRING, b"pptp-analysis"),
    )


class StopControlConnectionRequest(ControlMessage):
    """StopCCRQ (§2.3), 16 octets: reason (1), reserved1 (1), reserved2 (2)."""

    MESSAGE_TYPE = MsgType.STOPCCRQ
    __hdr__ = _layout(
        MsgType.STOPCCRQ,
        ("reason", "B", 1),
        ("reserved1", "B", 0),
        ("reserved2", "H", 0),
    )


class StopControlConnectionReply(ControlMessage):
    """StopCCRP (§2.4), 16 octets: result_code (1), error_code (1), reserved1 (2)."""

    MESSAGE_TYPE = MsgType.STOPCCRP
    RESULT_FIELD = "stop_result"
    __hdr__ = _layout(
        MsgType.STOPCCRP,
        ("result_code", "B", 1),
        ("error_code", "B", 0),
        ("reserved1", "H", 0),
    )


class EchoRequest(ControlMessage):
    """Echo-Request (§2.5), 16 octets: identifier (4)."""

    MESSAGE_TYPE = MsgType.ECHORQ
    __hdr__ = _layout(MsgType.ECHORQ, ("identifier", "I", 1))


class EchoReply(ControlMessage):
    """Echo-Reply (§2.6), 20 octets.

    identifier (4), result_code (1), error_code (1), reserved1 (2).
    """

    MESSAGE_TYPE = MsgType.ECHORP
    RESULT_FIELD = "echo_result"
    __hdr__ = _layout(
        MsgType.ECHORP,
        ("identifier", "I", 1),
        ("result_code", "B", 1),
        ("error_code", "B", 0),
        ("reserved1", "H", 0),
    )


class OutgoingCallRequest(ControlMessage):
    """OCRQ (§2.7), 168 octets, PNS to PAC.

    call_id (2), call_serial_number (2), minimum_bps (4), maximum_bps (4), bearer_type (4),
    framing_type (4), packet_receive_window_size (2), packet_processing_delay (2),
    phone_number_length (2), reserved1 (2), phone_number (64), subaddress (64).
    """

    MESSAGE_TYPE = MsgType.OCRQ
    __hdr__ = _layout(
        MsgType.OCRQ,
        ("call_id", "H", 0),
        ("call_serial_number", "H", 0),
        ("minimum_bps", "I", 2400),
        ("maximum_bps", "I", 10_000_000),
        ("bearer_type", "I", BEARER_ANALOG | BEARER_DIGITAL),
        ("framing_type", "I", FRAMING_ASYNC | FRAMING_SYNC),
        ("packet_receive_window_size", "H", 64),
        ("packet_processing_delay", "H", 0),
        ("phone_number_length", "H", 0),
        ("reserved1", "H", 0),
        ("phone_number", _STRING, b""),
        ("subaddress", _STRING, b""),
    )


class OutgoingCallReply(ControlMessage):
    """OCRP (§2.8), 32 octets, PAC to PNS.

    call_id (2), peer_call_id (2), result_code (1), error_code (1), cause_code (2),
    connect_speed (4), packet_receive_window_size (2), packet_processing_delay (2),
    physical_channel_id (4).
    """

    MESSAGE_TYPE = MsgType.OCRP
    RESULT_FIELD = "out_result"
    __hdr__ = _layout(
        MsgType.OCRP,
        ("call_id", "H", 0),
        ("peer_call_id", "H", 0),
        ("result_code", "B", 1),
        ("error_code", "B", 0),
        ("cause_code", "H", 0),
        ("connect_speed", "I", 100_000_000),
        ("packet_receive_window_size", "H", 64),
        ("packet_processing_delay", "H", 0),
        ("physical_channel_id", "I", 0),
    )


class IncomingCallRequest(ControlMessage):
    """ICRQ (§2.9), 220 octets, PAC to PNS.

    call_id (2), call_serial_number (2), bearer_type (4), physical_channel_id (4),
    dialed_number_length (2), dialing_number_length (2), dialed_number (64),
    dialing_number (64), subaddress (64).
    """

    MESSAGE_TYPE = MsgType.ICRQ
    __hdr__ = _layout(
        MsgType.ICRQ,
        ("call_id", "H", 0),
        ("call_serial_number", "H", 0),
        ("bearer_type", "I", BEARER_DIGITAL),
        ("physical_channel_id", "I", 0),
        ("dialed_number_length", "H", 0),
        ("dialing_number_length", "H", 0),
        ("dialed_number", _STRING, b""),
        ("dialing_number", _STRING, b""),
        ("subaddress", _STRING, b""),
    )


class IncomingCallReply(ControlMessage):
    """ICRP (§2.10), 24 octets, PNS to PAC.

    call_id (2), peer_call_id (2), result_code (1), error_code (1),
    packet_receive_window_size (2), packet_processing_delay (2) (the RFC's "Packet Transmit
    Delay"), reserved1 (2).
    """

    MESSAGE_TYPE = MsgType.ICRP
    RESULT_FIELD = "in_result"
    __hdr__ = _layout(
        MsgType.ICRP,
        ("call_id", "H", 0),
        ("peer_call_id", "H", 0),
        ("result_code", "B", 1),
        ("error_code", "B", 0),
        ("packet_receive_window_size", "H", 64),
        ("packet_processing_delay", "H", 0),
        ("reserved1", "H", 0),
    )


class IncomingCallConnected(ControlMessage):
    """ICCN (§2.11), 28 octets, PAC to PNS.

    peer_call_id (2), reserved1 (2), connect_speed (4), packet_receive_window_size (2),
    packet_processing_delay (2) (the RFC's "Packet Transmit Delay"), framing_type (4).
    """

    MESSAGE_TYPE = MsgType.ICCN
    __hdr__ = _layout(
        MsgType.ICCN,
        ("peer_call_id", "H", 0),
        ("reserved1", "H", 0),
        ("connect_speed", "I", 100_000_000),
        ("packet_receive_window_size", "H", 64),
        ("packet_processing_delay", "H", 0),
        ("framing_type", "I", FRAMING_ASYNC),
    )


class CallClearRequest(ControlMessage):
    """Call-Clear-Request (§2.12), 16 octets, PNS to PAC: call_id (2), reserved1 (2)."""

    MESSAGE_TYPE = MsgType.CCRQ
    __hdr__ = _layout(MsgType.CCRQ, ("call_id", "H", 0), ("reserved1", "H", 0))


class CallDisconnectNotify(ControlMessage):
    """Call-Disconnect-Notify (§2.13), 148 octets, PAC to PNS.

    call_id (2), result_code (1), error_code (1), cause_code (2), reserved1 (2),
    call_statistics (128).
    """

    MESSAGE_TYPE = MsgType.CDN
    RESULT_FIELD = "disc_result"
    __hdr__ = _layout(
        MsgType.CDN,
        ("call_id", "H", 0),
        ("result_code", "B", 4),
        ("error_code", "B", 0),
        ("cause_code", "H", 0),
        ("reserved1", "H", 0),
        ("call_statistics", "128s", b""),
    )

    def truth(self) -> dict[str, object]:
        values = super().truth()
        values[PREFIX + "call_statistics"] = _text(self.call_statistics)
        return values


class WanErrorNotify(ControlMessage):
    """WAN-Error-Notify (§2.14), 40 octets, PAC to PNS.

    peer_call_id (2), reserved1 (2), crc_errors (4), framing_errors (4), hardware_overruns (4),
    buffer_overruns (4), timeout_errors (4), alignment_errors (4).
    """

    MESSAGE_TYPE = MsgType.WEN
    __hdr__ = _layout(
        MsgType.WEN,
        ("peer_call_id", "H", 0),
        ("reserved1", "H", 0),
        ("crc_errors", "I", 0),
        ("framing_errors", "I", 0),
        ("hardware_overruns", "I", 0),
        ("buffer_overruns", "I", 0),
        ("timeout_errors", "I", 0),
        ("alignment_errors", "I", 0),
    )


class SetLinkInfo(ControlMessage):
    """Set-Link-Info (§2.15), 24 octets, PNS to PAC (real PACs send it too).

    peer_call_id (2), reserved1 (2), send_accm (4), receive_accm (4).
    """

    MESSAGE_TYPE = MsgType.SLI
    __hdr__ = _layout(
        MsgType.SLI,
        ("peer_call_id", "H", 0),
        ("reserved1", "H", 0),
        ("send_accm", "I", 0xFFFFFFFF),
        ("receive_accm", "I", 0xFFFFFFFF),
    )


MESSAGE_CLASSES: dict[MsgType, type[ControlMessage]] = {
    cls.MESSAGE_TYPE: cls
    for cls in (
        StartControlConnectionRequest,
        StartControlConnectionReply,
        StopControlConnectionRequest,
        StopControlConnectionReply,
        EchoRequest,
        EchoReply,
        OutgoingCallRequest,
        OutgoingCallReply,
        IncomingCallRequest,
        IncomingCallReply,
        IncomingCallConnected,
        CallClearRequest,
        CallDisconnectNotify,
        WanErrorNotify,
        SetLinkInfo,
    )
}

FIXED_LENGTH = {mtype: cls.__hdr_len__ for mtype, cls in MESSAGE_CLASSES.items()}


def unpack_message(buf: bytes) -> ControlMessage:
    """Parse one control message; the class comes from the control message type.

    Raises ``dpkt.UnpackError`` (``dpkt.NeedData`` when short) for an unknown type or too
    few octets. Octets past the fixed length stay in ``.data``.
    """
    if len(buf) < HEADER_LENGTH:
        raise dpkt.NeedData(f"{len(buf)} octets, a PPTP header needs {HEADER_LENGTH}")
    (control_type,) = struct.unpack_from(">H", buf, 8)
    try:
        cls = MESSAGE_CLASSES[MsgType(control_type)]
    except ValueError:
        raise dpkt.UnpackError(f"unknown control message type {control_type}") from None
    return cls(buf)
