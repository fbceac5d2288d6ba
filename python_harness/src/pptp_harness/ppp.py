"""PPP frames as PPTP peers put them in enhanced GRE, each with the decode an analyzer must show.

A ``PppFrame`` knows its protocol, its bytes (with or without address/control and protocol
field compression), the Wireshark layers it decodes to and the field values of its header.
"""

from __future__ import annotations

import hashlib
import socket
import struct
from dataclasses import dataclass, field

import dpkt

from . import mppe
from .constants import (
    AUTH_CHAP_MD5,
    AUTH_EAP,
    AUTH_MSCHAP_V1,
    AUTH_MSCHAP_V2,
    AUTH_PAP,
    CCP_OPT_MPPE,
    CHAP_ALGORITHM_MD5,
    CHAP_ALGORITHM_MSCHAP_V1,
    CHAP_ALGORITHM_MSCHAP_V2,
    CHAP_CHALLENGE,
    CHAP_RESPONSE,
    CHAP_SUCCESS,
    EAP_REQUEST,
    EAP_RESPONSE,
    EAP_SUCCESS,
    EAP_TYPE_IDENTITY,
    IPCP_OPT_IP_ADDRESS,
    LCP_OPT_ACFC,
    LCP_OPT_AUTH_PROTOCOL,
    LCP_OPT_MAGIC_NUMBER,
    LCP_OPT_MRU,
    LCP_OPT_PFC,
    MPPE_BIT_128,
    MPPE_BIT_STATELESS,
    MPPE_COHERENCY_MASK,
    MPPE_FLAG_ENCRYPTED,
    MPPE_FLAG_FLUSHED,
    PAP_AUTH_ACK,
    PAP_AUTH_REQUEST,
    PPP_LAYER_NAMES,
    CpCode,
    PppProto,
)

# LCP Authentication-Protocol option data for each authentication protocol (RFC 1334, 1994,
# 2433, 2759, 3748).
AUTH_OPTION = {
    AUTH_PAP: struct.pack(">H", PppProto.PAP),
    AUTH_CHAP_MD5: struct.pack(">HB", PppProto.CHAP, CHAP_ALGORITHM_MD5),
    AUTH_MSCHAP_V1: struct.pack(">HB", PppProto.CHAP, CHAP_ALGORITHM_MSCHAP_V1),
    AUTH_MSCHAP_V2: struct.pack(">HB", PppProto.CHAP, CHAP_ALGORITHM_MSCHAP_V2),
    AUTH_EAP: struct.pack(">H", PppProto.EAP),
}
_AUTH_PROTOCOL = {
    AUTH_PAP: PppProto.PAP,
    AUTH_CHAP_MD5: PppProto.CHAP,
    AUTH_MSCHAP_V1: PppProto.CHAP,
    AUTH_MSCHAP_V2: PppProto.CHAP,
    AUTH_EAP: PppProto.EAP,
}


@dataclass
class PppFrame:
    """One PPP frame: protocol, information field, and what its decode must show."""

    protocol: int
    info: bytes
    fields: dict[str, object] = field(default_factory=dict)
    layers: tuple[str, ...] = ()
    acfc: bool = False  # address/control field (ff 03) omitted
    pfc: bool = False  # protocol field compressed to one octet where allowed

    def __bytes__(self) -> bytes:
        head = b"" if self.acfc else b"\xff\x03"
        if self.pfc and self.protocol < 0x100:
            return head + bytes([self.protocol]) + self.info
        return head + struct.pack(">H", self.protocol) + self.info

    def compressed(self, acfc: bool = True, pfc: bool = True) -> PppFrame:
        """The same frame as sent after LCP agreed on ACFC/PFC (LCP itself is never compressed)."""
        if self.protocol == PppProto.LCP:
            return self
        return PppFrame(self.protocol, self.info, self.fields, self.layers, acfc, pfc)

    def truth(self) -> dict[str, object]:
        return {"ppp.protocol": self.protocol, **self.fields}

    @property
    def stack(self) -> str:
        """The layers below GRE as Wireshark's frame.protocols lists them."""
        return ":".join(("ppp", PPP_LAYER_NAMES[PppProto(self.protocol)], *self.layers))


def split(frame: bytes) -> tuple[int | None, bytes]:
    """Protocol and information field of a PPP frame, with or without the address/control
    field (ACFC) and with a one- or two-octet protocol field (PFC); None if too short."""
    if frame[:2] == b"\xff\x03":
        frame = frame[2:]
    if frame and frame[0] & 1:
        return frame[0], frame[1:]
    if len(frame) < 2:
        return None, b""
    return struct.unpack(">H", frame[:2])[0], frame[2:]


def identity(protocol: int, info: bytes) -> bytes | None:
    """The user name a client sends to authenticate, if this packet is where it does: a PAP
    Authenticate-Request's Peer-ID, a CHAP Response's Name (MS-CHAP included), an EAP
    Response/Identity."""
    if len(info) < 4:
        return None
    code, end = info[0], min(len(info), struct.unpack(">H", info[2:4])[0])
    if protocol == PppProto.PAP and code == PAP_AUTH_REQUEST and end > 4:
        return info[5 : 5 + info[4]]
    if protocol == PppProto.CHAP and code == CHAP_RESPONSE and end > 4:
        return info[5 + info[4] : end]
    if (
        protocol == PppProto.EAP
        and code == EAP_RESPONSE
        and end > 4
        and info[4] == EAP_TYPE_IDENTITY
    ):
        return info[5:end]
    return None


def parse_options(data: bytes) -> dict[int, bytes]:
    """Configuration options (type, length, data) by type; the first of a repeated type."""
    options: dict[int, bytes] = {}
    while len(data) >= 2 and data[1] >= 2:
        options.setdefault(data[0], data[2 : data[1]])
        data = data[data[1] :]
    return options


def option(kind: int, data: bytes = b"") -> bytes:
    """A configuration option: type, length, data (RFC 1661 §6)."""
    return struct.pack(">BB", kind, 2 + len(data)) + data


def control_packet(protocol: PppProto, code: int, identifier: int, data: bytes = b"") -> PppFrame:
    """An LCP, IPCP or CCP packet: code, identifier, length, data (RFC 1661 §5)."""
    info = struct.pack(">BBH", code, identifier, 4 + len(data)) + data
    return PppFrame(protocol, info, {"ppp.code": code})


def lcp_configure(
    code: int = CpCode.CONFIGURE_REQUEST,
    identifier: int = 1,
    *,
    auth: str | None = None,
    magic: int = 0x1A2B3C4D,
    mru: int = 1400,
    compression: bool = True,
) -> PppFrame:
    """LCP Configure-Request/Ack with MRU, magic number, ACFC/PFC and an auth option."""
    options = option(LCP_OPT_MRU, struct.pack(">H", mru))
    if auth:
        options += option(LCP_OPT_AUTH_PROTOCOL, AUTH_OPTION[auth])
    options += option(LCP_OPT_MAGIC_NUMBER, struct.pack(">I", magic))
    if compression:
        options += option(LCP_OPT_PFC) + option(LCP_OPT_ACFC)
    frame = control_packet(PppProto.LCP, code, identifier, options)
    if auth:
        frame.fields["lcp.opt.auth_protocol"] = _AUTH_PROTOCOL[auth]
        if len(AUTH_OPTION[auth]) == 3:
            frame.fields["lcp.opt.algorithm"] = AUTH_OPTION[auth][2]
    return frame


def lcp_terminate(ack: bool = False, identifier: int = 2) -> PppFrame:
    """LCP Terminate-Request (with a reason text) or Terminate-Ack."""
    if ack:
        return control_packet(PppProto.LCP, CpCode.TERMINATE_ACK, identifier)
    return control_packet(PppProto.LCP, CpCode.TERMINATE_REQUEST, identifier, b"User request")


def lcp_echo(
    code: int = CpCode.ECHO_REQUEST, identifier: int = 1, magic: int = 0x1A2B3C4D
) -> PppFrame:
    return control_packet(PppProto.LCP, code, identifier, struct.pack(">I", magic))


def pap_request(
    peer_id: bytes = b"alice", password: bytes = b"secret", identifier: int = 1
) -> PppFrame:
    """PAP Authenticate-Request: the password travels in clear (RFC 1334 §2.2.1)."""
    data = bytes([len(peer_id)]) + peer_id + bytes([len(password)]) + password
    info = struct.pack(">BBH", PAP_AUTH_REQUEST, identifier, 4 + len(data)) + data
    return PppFrame(PppProto.PAP, info, {"pap.code": PAP_AUTH_REQUEST})


def pap_ack(identifier: int = 1, message: bytes = b"Login ok") -> PppFrame:
    data = bytes([len(message)]) + message
    info = struct.pack(">BBH", PAP_AUTH_ACK, identifier, 4 + len(data)) + data
    return PppFrame(PppProto.PAP, info, {"pap.code": PAP_AUTH_ACK})


def chap(code: int, identifier: int, value: bytes = b"", name: bytes = b"") -> PppFrame:
    """CHAP Challenge/Response (value-size, value, name) or Success/Failure (message)."""
    data = bytes([len(value)]) + value + name if code in (CHAP_CHALLENGE, CHAP_RESPONSE) else name
    info = struct.pack(">BBH", code, identifier, 4 + len(data)) + data
    return PppFrame(PppProto.CHAP, info, {"chap.code": code})


def filler(label: str, size: int) -> bytes:
    """Deterministic stand-in bytes for challenges, hashes and ciphertext."""
    out = b""
    while len(out) < size:
        out += hashlib.sha256(f"{label}/{len(out)}".encode()).digest()
    return out[:size]


def mschapv2_exchange(
    user: str,
    password_hash: bytes,
    authenticator_challenge: bytes,
    peer_challenge: bytes,
    identifier: int = 1,
) -> tuple[list[tuple[bool, PppFrame]], bytes]:
    """A genuine MS-CHAPv2 exchange (RFC 2759 §4) for ``user`` whose NT password hash is
    ``password_hash``: Challenge, Response (peer challenge, 8 reserved octets, NT-Response,
    flags) and Success (the authenticator response). Returns the frames and the NT-Response."""
    nt_response = mppe.generate_nt_response(
        authenticator_challenge, peer_challenge, user, password_hash
    )
    success = mppe.generate_authenticator_response(
        password_hash, nt_response, peer_challenge, authenticator_challenge, user
    )
    frames = [
        (False, chap(CHAP_CHALLENGE, identifier, authenticator_challenge, b"pac")),
        (
            True,
            chap(
                CHAP_RESPONSE,
                identifier,
                peer_challenge + bytes(8) + nt_response + b"\0",
                user.encode(),
            ),
        ),
        (False, chap(CHAP_SUCCESS, identifier, name=success.encode() + b" M=Welcome")),
    ]
    return frames, nt_response


def chap_exchange(
    auth: str, identifier: int = 1, name: bytes = b"alice"
) -> list[tuple[bool, PppFrame]]:
    """Challenge (server), Response (client), Success (server) for a CHAP variant.

    Returns ``(from_client, frame)`` pairs. MS-CHAPv2's response value is 49 octets: peer
    challenge (16), reserved (8), NT-Response (24), flags (1) (RFC 2759 §4).
    """
    if auth == AUTH_MSCHAP_V2:
        challenge = filler("authenticator-challenge", 16)
        response = filler("peer-challenge", 16) + bytes(8) + filler("nt-response", 24) + b"\0"
        success = (
            b"S=" + filler("authenticator-response", 20).hex().upper().encode() + b" M=Welcome"
        )
    elif auth == AUTH_MSCHAP_V1:
        challenge = filler("challenge", 8)
        response = filler("lm-response", 24) + filler("nt-response", 24) + b"\x01"
        success = b""
    else:
        challenge = filler("challenge", 16)
        response = hashlib.md5(bytes([identifier]) + b"secret" + challenge).digest()
        success = b"Welcome"
    return [
        (False, chap(CHAP_CHALLENGE, identifier, challenge, b"pac")),
        (True, chap(CHAP_RESPONSE, identifier, response, name)),
        (False, chap(CHAP_SUCCESS, identifier, name=success)),
    ]


def eap(code: int, identifier: int, eap_type: int | None = None, data: bytes = b"") -> PppFrame:
    """EAP packet (RFC 3748 §4): code, identifier, length, then type and data if any."""
    body = b"" if eap_type is None else bytes([eap_type]) + data
    info = struct.pack(">BBH", code, identifier, 4 + len(body)) + body
    return PppFrame(PppProto.EAP, info, {"eap.code": code})


def eap_exchange(identity: bytes = b"alice") -> list[tuple[bool, PppFrame]]:
    """Identity request/response and success: the smallest EAP run."""
    return [
        (False, eap(EAP_REQUEST, 1, EAP_TYPE_IDENTITY)),
        (True, eap(EAP_RESPONSE, 1, EAP_TYPE_IDENTITY, identity)),
        (False, eap(EAP_SUCCESS, 1)),
    ]


def auth_exchange(auth: str) -> list[tuple[bool, PppFrame]]:
    """The authentication phase for ``auth`` as ``(from_client, frame)`` pairs."""
    if auth == AUTH_PAP:
        return [(True, pap_request()), (False, pap_ack())]
    if auth == AUTH_EAP:
        return eap_exchange()
    return chap_exchange(auth)


def ccp_mppe(
    code: int = CpCode.CONFIGURE_REQUEST,
    identifier: int = 1,
    bits: int = MPPE_BIT_128 | MPPE_BIT_STATELESS,
) -> PppFrame:
    """CCP Configure-Request/Ack with the MPPE option (RFC 3078 §2.1): type 18, supported bits."""
    frame = control_packet(
        PppProto.CCP, code, identifier, option(CCP_OPT_MPPE, struct.pack(">I", bits))
    )
    frame.fields["ccp.opt.supported_bits"] = bits
    return frame


def ipcp_configure(
    code: int = CpCode.CONFIGURE_REQUEST, identifier: int = 1, address: str = "10.0.0.2"
) -> PppFrame:
    return control_packet(
        PppProto.IPCP, code, identifier, option(IPCP_OPT_IP_ADDRESS, socket.inet_aton(address))
    )


PING_DATA = b"pptp-analysis ping"


def ipv4_ping(
    src: str, dst: str, ident: int = 1, seq: int = 1, reply: bool = False, data: bytes = PING_DATA
) -> PppFrame:
    """An ICMP echo inside PPP: the cleartext tunnel data an analyzer must notice."""
    echo = dpkt.icmp.ICMP.Echo(id=ident, seq=seq, data=data)
    icmp = dpkt.icmp.ICMP(type=0 if reply else 8, code=0, data=echo)
    packet = dpkt.ip.IP(
        src=socket.inet_aton(src),
        dst=socket.inet_aton(dst),
        p=dpkt.ip.IP_PROTO_ICMP,
        ttl=64,
        id=seq,
        data=icmp,
    )
    return PppFrame(PppProto.IP, bytes(packet), {}, ("icmp", "data"))


def mppe_data(coherency: int, flushed: bool = False, size: int = 60) -> PppFrame:
    """An MPPE-encrypted datagram (protocol 0x00FD): flags, 12-bit coherency count, ciphertext."""
    header = (
        MPPE_FLAG_ENCRYPTED
        | (MPPE_FLAG_FLUSHED if flushed else 0)
        | (coherency & MPPE_COHERENCY_MASK)
    )
    return PppFrame(PppProto.MPPE, struct.pack(">H", header) + filler(f"mppe/{coherency}", size))
