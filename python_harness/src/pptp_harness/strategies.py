"""Hypothesis strategies for control messages, enhanced GRE packets and whole sessions.

Each strategy draws the simplest case first (small numbers, empty strings), so failures shrink
to readable examples. ``*_capture`` helpers turn drawn values into one capture with ground truth,
so a whole list of examples costs one tshark run.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from dataclasses import dataclass

from hypothesis import strategies as st

from . import control as ctl
from . import ppp
from .capture import Call, Capture, ControlConnection, Host, Pdu, gre_frame
from .constants import (
    AUTH_CHAP_MD5,
    AUTH_EAP,
    AUTH_MSCHAP_V1,
    AUTH_MSCHAP_V2,
    AUTH_PAP,
    CpCode,
    MsgType,
)
from .gre import EnhancedGRE, enhanced_gre
from .scenarios import CLIENT, SERVER

# Printable text without backslash (tshark escapes it) and short of the field so a NUL ends it.
TEXT = st.text(alphabet=string.ascii_letters + string.digits + ".-_ ", max_size=63)
UINT = {"B": st.integers(0, 0xFF), "H": st.integers(0, 0xFFFF), "I": st.integers(0, 0xFFFFFFFF)}
ALL_TYPES = st.sampled_from(list(MsgType))
AUTHS = (AUTH_PAP, AUTH_CHAP_MD5, AUTH_MSCHAP_V1, AUTH_MSCHAP_V2, AUTH_EAP)


def _field_value(fmt: str) -> st.SearchStrategy:
    if fmt in UINT:
        return UINT[fmt]
    return TEXT.map(str.encode)


@st.composite
def control_messages(draw, types: st.SearchStrategy[MsgType] = ALL_TYPES) -> ctl.ControlMessage:
    """Any of the 15 control messages with every field drawn; reserved fields stay zero."""
    cls = ctl.MESSAGE_CLASSES[draw(types)]
    values = {
        name: draw(_field_value(fmt))
        for name, fmt, _ in cls.__hdr__[5:]
        if not name.startswith("reserved")
    }
    return cls(**values)


def ppp_frames() -> st.SearchStrategy[ppp.PppFrame]:
    """PPP frames of every kind the harness builds, with and without ACFC/PFC."""
    ids = st.integers(0, 0xFF)
    frames = st.one_of(
        st.builds(ppp.lcp_echo, identifier=ids),
        st.builds(ppp.lcp_configure, identifier=ids, auth=st.sampled_from((None, *AUTHS))),
        st.builds(ppp.lcp_terminate, ack=st.booleans()),
        st.builds(ppp.pap_request),
        st.sampled_from(AUTHS).flatmap(
            lambda auth: st.sampled_from([f for _, f in ppp.auth_exchange(auth)])
        ),
        st.builds(
            ppp.ccp_mppe, code=st.sampled_from((CpCode.CONFIGURE_REQUEST, CpCode.CONFIGURE_ACK))
        ),
        st.builds(ppp.ipcp_configure, identifier=ids),
        st.builds(
            ppp.ipv4_ping, st.just("10.0.0.2"), st.just("10.0.0.1"), seq=st.integers(0, 0xFFFF)
        ),
        st.builds(
            ppp.mppe_data, st.integers(0, 0xFFF), flushed=st.booleans(), size=st.integers(1, 200)
        ),
    )
    return st.tuples(frames, st.booleans()).map(lambda fc: fc[0].compressed() if fc[1] else fc[0])


@st.composite
def gre_packets(draw) -> tuple[EnhancedGRE, ppp.PppFrame | None]:
    """A valid enhanced GRE packet: payload with sequence number (and maybe ack), or ack-only."""
    call_id = draw(UINT["H"])
    if draw(st.booleans()):
        frame = draw(ppp_frames())
        ack = draw(st.none() | UINT["I"])
        return enhanced_gre(call_id, bytes(frame), draw(UINT["I"]), ack), frame
    return enhanced_gre(call_id, b"", None, draw(UINT["I"])), None


@dataclass(frozen=True)
class SessionPlan:
    """What a drawn session does; ``build`` turns it into a capture."""

    incoming: bool
    auth: str
    mppe: bool
    compression: bool
    client_call_id: int
    server_call_id: int
    data_packets: int
    client_tears_down: bool

    def build(self) -> Capture:
        cap = Capture("hypothesis_session", repr(self))
        self.build_into(cap, CLIENT)
        return cap

    def build_into(
        self,
        cap: Capture,
        client: Host = CLIENT,
        after_setup: Callable[[ControlConnection, Call], None] | None = None,
    ) -> ControlConnection:
        """Add this session to ``cap`` as a control connection from ``client``;
        ``after_setup`` runs once the call is set up (the fuzzer breaks a step there)."""
        conn = ControlConnection(cap, client, SERVER, 40000)
        conn.start()
        if self.incoming:
            call = conn.incoming_call(self.client_call_id, self.server_call_id)
        else:
            call = conn.outgoing_call(self.client_call_id, self.server_call_id)
        if after_setup:
            after_setup(conn, call)
        call.ppp_session(
            self.auth, mppe=self.mppe, data_packets=self.data_packets, compression=self.compression
        )
        call.lcp_terminate(by_client=self.client_tears_down)
        if self.client_tears_down:
            call.clear_by_client()
        else:
            call.disconnect_by_server()
        conn.stop(by_client=self.client_tears_down)
        return conn


@st.composite
def sessions(draw) -> SessionPlan:
    """A whole PPTP session: control setup, one call, PPP negotiation, data, teardown."""
    return SessionPlan(
        incoming=draw(st.booleans()),
        auth=draw(st.sampled_from(AUTHS)),
        mppe=draw(st.booleans()),
        compression=draw(st.booleans()),
        client_call_id=draw(UINT["H"]),
        server_call_id=draw(UINT["H"]),
        data_packets=draw(st.integers(0, 8)),
        client_tears_down=draw(st.booleans()),
    )


def messages_capture(messages: list[ctl.ControlMessage]) -> Capture:
    """One control connection carrying ``messages``, one per TCP segment."""
    cap = Capture("hypothesis_messages", f"{len(messages)} drawn control messages")
    conn = ControlConnection(cap, CLIENT, SERVER, 40000)
    conn.tcp.open()
    for message in messages:
        conn.send(True, message)
    return cap


def gre_capture(packets: list[tuple[EnhancedGRE, ppp.PppFrame | None]]) -> Capture:
    """Every drawn GRE packet in its own IP packet, client to server."""
    cap = Capture("hypothesis_gre", f"{len(packets)} drawn enhanced GRE packets")
    for packet, frame in packets:
        fields = {**packet.truth(), **(frame.truth() if frame else {})}
        gre_frame(cap, CLIENT, SERVER, bytes(packet), fields, (), frame.stack if frame else "")
    return cap


@st.composite
def hostile_control_stream(draw) -> list[bytes]:
    """TCP payloads for port 1723: drawn messages with octets overwritten, cut or extended,
    and plain garbage, so the dissector meets lengths, types and cookies it cannot trust."""
    chunks = []
    for _ in range(draw(st.integers(1, 12))):
        raw = bytearray(bytes(draw(control_messages())))
        for _ in range(draw(st.integers(0, 4))):
            raw[draw(st.integers(0, len(raw) - 1))] = draw(UINT["B"])
        raw = raw[: draw(st.integers(0, len(raw)))] + draw(st.binary(max_size=24))
        chunks.append(bytes(raw))
    return chunks


@st.composite
def hostile_gre(draw) -> bytes:
    """A GRE version 1 packet with drawn flags, protocol, key, numbers and payload."""
    flags = (draw(UINT["H"]) & ~0x7) | 1
    return (
        flags.to_bytes(2, "big")
        + draw(st.sampled_from([0x880B, 0x0800, draw(UINT["H"])])).to_bytes(2, "big")
        + draw(st.binary(max_size=16))
        + bytes(draw(ppp_frames()))[: draw(st.integers(0, 80))]
    )


def hostile_capture(control: list[bytes], gre: list[bytes]) -> Capture:
    """One control connection carrying ``control`` (one chunk per segment) and the GRE
    packets ``gre`` between the same hosts; no ground truth beyond "nothing crashes"."""
    cap = Capture("hostile", f"{len(control)} control chunks, {len(gre)} GRE packets", valid=False)
    conn = ControlConnection(cap, CLIENT, SERVER, 40000)
    conn.tcp.open()
    for chunk in control:
        if chunk:
            conn.tcp.send(True, [Pdu(chunk, {}, "hostile")])
    for packet in gre:
        gre_frame(cap, CLIENT, SERVER, packet, {})
    return cap
