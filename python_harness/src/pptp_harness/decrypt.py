"""Offline decryption of PPTP calls from MS-CHAPv2 (RFC 2759) and MPPE (RFC 3078, RFC 3079).

A capture of a PPTP call holds everything but the password: the server's Challenge, the
client's Response (peer challenge, NT-Response, user name) and the server's Success
("S=<authenticator response>") travel in the call's GRE, then every data packet is MPPE
(PPP protocol 0x00FD) under keys derived from the NT hash of the password and the NT-Response.
Given a password or its NT hash, this module finds each call's handshake, checks the credential
against it, derives both directions' keys and decrypts every MPPE packet; it also lists the
handshakes in the formats offline crackers read, and tries a wordlist against them.

Entry points: ``scan`` (calls and their handshakes), ``find_handshakes``, ``decrypt`` (per
frame number the decrypted PPP plaintext, per call what happened, the inner IP packets),
``write_packets`` (those packets as a raw-IP pcap) and ``try_wordlist``.

Reading: pcap or pcapng (every interface with its own link type and time resolution), on
Ethernet (802.1Q/802.1ad tags skipped), Linux cooked v1/v2, raw IP, IPv4/IPv6 link types and
BSD loopback; GRE over IPv4 or IPv6, also inside IP-in-IP. Fragmented outer IP is not
reassembled. A call is found from its control connection (Outgoing/Incoming-Call Request and
Reply, read by ``reading.Reading``), or, for GRE whose control connection is not in the capture,
from the GRE flows between two addresses (paired by their CHAP Challenge and Response).

Secrets: a ``Credential`` keeps only the NT hash; neither it nor the password appears in a
repr, a message or an output file.
"""

from __future__ import annotations

import contextlib
import ipaddress
import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import dpkt

from . import mppe, ppp
from .constants import (
    CCP_OPT_MPPE,
    CHAP_ALGORITHM_MSCHAP_V2,
    CHAP_CHALLENGE,
    CHAP_FAILURE,
    CHAP_RESPONSE,
    CHAP_SUCCESS,
    GRE_FLAG_SEQ,
    GRE_PROTO_PPP,
    GRE_VERSION_PPTP,
    IP_PROTO_GRE,
    LCP_OPT_AUTH_PROTOCOL,
    MPPE_BIT_40,
    MPPE_BIT_56,
    MPPE_BIT_128,
    MPPE_BIT_STATELESS,
    MPPE_FLAG_ENCRYPTED,
    MPPE_FLAG_FLUSHED,
    CpCode,
    PppProto,
)
from .gre import EnhancedGRE
from .linktypes import (
    DLT_RAW_BSD,
    ETH_IPV4,
    ETH_IPV6,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    LINKTYPE_RAW,
)
from .reading import Reading, RealCall

# Link types (tcpdump.org/linktypes.html) beyond those linktypes.py writes.
LINKTYPE_NULL = 0  # BSD loopback: 4-octet address family in host order
LINKTYPE_ETHERNET = 1
DLT_RAW_OPENBSD = 14
LINKTYPE_LOOP = 108  # OpenBSD loopback: the family in network order
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
VLAN_TAGS = (0x8100, 0x88A8, 0x9100)
RAW_LINKTYPES = (LINKTYPE_RAW, DLT_RAW_BSD, DLT_RAW_OPENBSD, LINKTYPE_IPV4, LINKTYPE_IPV6)
IP_PROTO_IPV4, IP_PROTO_IPV6 = 4, 41  # IP-in-IP
IPV6_EXTENSIONS = (0, 43, 60)  # hop-by-hop, routing, destination options: skipped
IPV6_FRAGMENT = 44

PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
PCAPNG_BYTE_ORDER_LE = b"\x4d\x3c\x2b\x1a"

CHALLENGE_SIZE = 16  # MS-CHAPv2 authenticator challenge (RFC 2759 §4)
RESPONSE_SIZE = 49  # peer challenge 16, reserved 8, NT-Response 24, flags 1
# The output: raw IP (one IPv4 or IPv6 packet per record), which tcpdump, Zeek, Suricata and
# Wireshark all read; no link layer to make up.
OUTPUT_LINKTYPE = LINKTYPE_RAW
OUTPUT_SNAPLEN = 65535
# Packets tried per candidate when the CCP negotiation is missing and the key length and mode
# have to be found from the packets themselves.
GUESS_SAMPLE = 16
KEY_CANDIDATES = [(bits, stateless) for bits in (128, 56, 40) for stateless in (True, False)]


# ---------------------------------------------------------------------------------------------
# Reading captures
# ---------------------------------------------------------------------------------------------


def records(path: str | Path) -> Iterator[tuple[int, Decimal, int, bytes]]:
    """(frame number, timestamp, link type, frame) of every packet of a pcap or pcapng file,
    numbered from 1 as Wireshark numbers them; timestamps exact (``Decimal`` seconds)."""
    with open(path, "rb") as f:
        magic = f.read(4)
        f.seek(0)
        if magic == PCAPNG_MAGIC:
            yield from _pcapng_records(f)
            return
        try:
            reader = dpkt.pcap.Reader(f)
        except (ValueError, dpkt.UnpackError):
            raise ValueError(f"{path}: not a pcap or pcapng capture") from None
        linktype = reader.datalink()
        for number, (ts, frame) in enumerate(reader, 1):
            yield number, _exact(ts), linktype, bytes(frame)


def _exact(ts: float | Decimal) -> Decimal:
    """dpkt gives microsecond pcap timestamps as floats: back to whole microseconds."""
    if isinstance(ts, Decimal):
        return ts
    return Decimal(round(ts * 1_000_000)) / 1_000_000


_PCAPNG_BLOCKS = {
    # block type -> (little-endian class, big-endian class)
    dpkt.pcapng.PCAPNG_BT_IDB: (
        dpkt.pcapng.InterfaceDescriptionBlockLE,
        dpkt.pcapng.InterfaceDescriptionBlock,
    ),
    dpkt.pcapng.PCAPNG_BT_EPB: (
        dpkt.pcapng.EnhancedPacketBlockLE,
        dpkt.pcapng.EnhancedPacketBlock,
    ),
    dpkt.pcapng.PCAPNG_BT_PB: (dpkt.pcapng.PacketBlockLE, dpkt.pcapng.PacketBlock),
}


def _pcapng_records(f) -> Iterator[tuple[int, Decimal, int, bytes]]:
    """dpkt's pcapng Reader takes the first interface's link type and time resolution for
    every packet; a capture on several interfaces (or in several sections) needs each packet's
    own. A truncated last block ends the capture."""
    little = True
    interfaces: list[tuple[int, Decimal, int]] = []  # link type, units per second, offset
    number, ts = 0, Decimal(0)
    while True:
        head = f.read(8)
        if len(head) < 8:
            return
        if head[:4] == PCAPNG_MAGIC:  # a section: its byte order, and interfaces anew
            little = f.read(4) == PCAPNG_BYTE_ORDER_LE
            (length,) = struct.unpack("<I" if little else ">I", head[4:])
            f.read(length - 12)
            interfaces = []
            continue
        kind, length = struct.unpack("<II" if little else ">II", head)
        block = head + f.read(max(length, 12) - 8)
        if length < 12 or len(block) < length:
            return
        classes = _PCAPNG_BLOCKS.get(kind)
        try:
            parsed = classes[0 if little else 1](block) if classes else None
        except (dpkt.UnpackError, struct.error, ValueError):  # ValueError: a broken comment
            number += kind != dpkt.pcapng.PCAPNG_BT_IDB  # a packet all the same
            continue
        if kind == dpkt.pcapng.PCAPNG_BT_IDB:
            interfaces.append(_interface(parsed, little))
        elif parsed is not None and parsed.iface_id < len(interfaces):
            linktype, units, offset = interfaces[parsed.iface_id]
            number += 1
            ts = Decimal((parsed.ts_high << 32) | parsed.ts_low) / units + offset
            yield number, ts, linktype, bytes(parsed.pkt_data)
        elif kind == dpkt.pcapng.PCAPNG_BT_SPB and interfaces:
            # No timestamp: the previous packet's stands for it.
            (original,) = struct.unpack_from("<I" if little else ">I", block, 8)
            number += 1
            yield number, ts, interfaces[0][0], bytes(block[12 : 12 + min(original, length - 16)])


def _interface(idb, little: bool) -> tuple[int, Decimal, int]:
    units, offset = Decimal(1_000_000), 0
    for opt in idb.opts:
        if opt.code == dpkt.pcapng.PCAPNG_OPT_IF_TSRESOL and opt.data:
            value = opt.data[0]
            units = Decimal(2 if value & 0x80 else 10) ** (value & 0x7F)
        elif opt.code == dpkt.pcapng.PCAPNG_OPT_IF_TSOFFSET and len(opt.data) >= 8:
            (offset,) = struct.unpack("<q" if little else ">q", opt.data[:8])
    return idb.linktype, units, offset


def network_packet(linktype: int, frame: bytes) -> bytes | None:
    """The IPv4 or IPv6 packet a frame carries, or None."""
    at = None
    if linktype == LINKTYPE_ETHERNET and len(frame) >= 14:
        at, (ethertype,) = 14, struct.unpack_from(">H", frame, 12)
        while ethertype in VLAN_TAGS and len(frame) >= at + 4:
            (ethertype,) = struct.unpack_from(">H", frame, at + 2)
            at += 4
        at = at if ethertype in (ETH_IPV4, ETH_IPV6) else None
    elif linktype == LINKTYPE_LINUX_SLL and len(frame) >= 16:
        at = 16 if struct.unpack_from(">H", frame, 14)[0] in (ETH_IPV4, ETH_IPV6) else None
    elif linktype == LINKTYPE_LINUX_SLL2 and len(frame) >= 20:
        at = 20 if struct.unpack_from(">H", frame, 0)[0] in (ETH_IPV4, ETH_IPV6) else None
    elif linktype in RAW_LINKTYPES:
        at = 0
    elif linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        at = 4  # the family's value differs between systems: the IP version nibble decides
    if at is None or len(frame) <= at or frame[at] >> 4 not in (4, 6):
        return None
    return frame[at:]


def transport(packet: bytes) -> tuple[str, str, int, bytes] | None:
    """(source, destination, protocol, payload) of an IP packet, IP-in-IP unwrapped; None for
    a fragment or a truncated header."""
    for _ in range(8):
        if not packet:
            return None
        version = packet[0] >> 4
        if version == 4 and len(packet) >= 20:
            ihl = (packet[0] & 0x0F) * 4
            total, fragment, proto = struct.unpack_from(">H2xHxB", packet, 2)
            if ihl < 20 or fragment & 0x3FFF:  # MF set or a non-zero offset
                return None
            src, dst = packet[12:16], packet[16:20]
            payload = packet[ihl : max(total, ihl)]
        elif version == 6 and len(packet) >= 40:
            length, proto = struct.unpack_from(">HB", packet, 4)
            src, dst = packet[8:24], packet[24:40]
            payload = packet[40 : 40 + length]
            while proto in IPV6_EXTENSIONS and len(payload) >= 8:
                proto, size = payload[0], (payload[1] + 1) * 8
                payload = payload[size:]
            if proto == IPV6_FRAGMENT:
                return None
        else:
            return None
        if proto in (IP_PROTO_IPV4, IP_PROTO_IPV6):
            packet = payload
            continue
        return (
            str(ipaddress.ip_address(src)),
            str(ipaddress.ip_address(dst)),
            proto,
            payload,
        )
    return None


# ---------------------------------------------------------------------------------------------
# Credentials
# ---------------------------------------------------------------------------------------------


class CredentialError(ValueError):
    """A credential that cannot be used; the message never holds the secret."""


class Credential:
    """A password's NT hash (RFC 2759 §8.3), optionally for one user only.

    Only the hash is kept, and it never shows: not in ``repr``, ``str`` or any message.
    """

    __slots__ = ("_nt_hash", "user")

    def __init__(self, nt_hash: bytes, user: str | None = None) -> None:
        if len(nt_hash) != 16:
            raise CredentialError("an NT hash is 16 octets (32 hexadecimal digits)")
        self._nt_hash = bytes(nt_hash)
        self.user = user

    @classmethod
    def from_password(cls, password: str, user: str | None = None) -> Credential:
        return cls(mppe.nt_password_hash(password), user)

    @classmethod
    def from_nt_hash(cls, text: str, user: str | None = None) -> Credential:
        text = text.strip()
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raw = b""
        if len(text) != 32 or len(raw) != 16:
            raise CredentialError("an NT hash is 32 hexadecimal digits") from None
        return cls(raw, user)

    @property
    def nt_hash(self) -> bytes:
        return self._nt_hash

    def applies_to(self, user: bytes) -> bool:
        """Whether this credential is for ``user`` (every user if it names none)."""
        return self.user is None or user_matches(user, self.user)

    def __repr__(self) -> str:
        who = "any user" if self.user is None else f"user {self.user!r}"
        return f"Credential({who}, secret hidden)"

    __str__ = __repr__


def user_matches(name: bytes, wanted: str) -> bool:
    """A handshake's user name is ``wanted``: the whole name or the part after ``DOMAIN\\``
    (Windows user names are case-insensitive)."""
    text = name.decode("utf-8", "replace").casefold()
    wanted = wanted.casefold()
    return wanted in (text, text.rsplit("\\", 1)[-1])


def write_credentials(folder: str | Path, lines: Iterable[str]) -> Path:
    """``folder``/credentials holding ``lines`` in the format ``read_credentials`` reads (and
    the plugin's pptp_gre.credentials_file), made readable by its owner alone before anything
    is written to it."""
    path = Path(folder) / "credentials"
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def read_credentials(path: str | Path) -> list[Credential]:
    """Credentials from a file in contract 4's format, one per line: ``PASSWORD``,
    ``USER:PASSWORD``, ``nthash:HEX32`` or ``USER:nthash:HEX32``; blank lines and lines whose
    first non-blank character is ``#`` are skipped. A line is taken as it is, spaces included
    (only its line ending is cut)."""
    credentials = []
    for number, raw in enumerate(Path(path).read_bytes().splitlines(), 1):
        line = password_text(raw)
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        user, sep, rest = line.partition(":")
        try:
            if user.lower() == "nthash" and sep:
                credentials.append(Credential.from_nt_hash(rest))
            elif sep and rest[:7].lower() == "nthash:":
                credentials.append(Credential.from_nt_hash(rest[7:], user))
            elif sep:
                credentials.append(Credential.from_password(rest, user))
            else:
                credentials.append(Credential.from_password(line))
        except CredentialError as exc:
            raise CredentialError(f"{path}, line {number}: {exc}") from None
    return credentials


def password_text(raw: bytes) -> str:
    """A password given as bytes (a file's line): UTF-8, or Latin-1 where it is not UTF-8."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


# ---------------------------------------------------------------------------------------------
# Calls and handshakes
# ---------------------------------------------------------------------------------------------


@dataclass
class GrePacket:
    """One enhanced GRE packet with a PPP frame."""

    number: int
    ts: Decimal
    sender: str
    receiver: str
    call_id: int
    seq: int | None
    ppp: bytes


@dataclass
class Flow:
    """GRE from one address to another with one Call ID (the receiver's): one direction of
    a call."""

    sender: str
    receiver: str
    call_id: int
    packets: list[GrePacket] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str, int]:
        return self.sender, self.receiver, self.call_id


@dataclass
class Handshake:
    """One MS-CHAPv2 exchange (RFC 2759 §4): the server's Challenge, the client's Response and
    the server's Success or Failure, as far as the capture holds them."""

    number: int  # in the order of the Responses in the capture, from 1
    call: Call = field(repr=False)
    client: str
    server: str
    identifier: int
    user: bytes
    peer_challenge: bytes
    nt_response: bytes
    flags: int
    response_frame: int
    authenticator_challenge: bytes | None = None
    challenge_frame: int | None = None
    server_name: bytes = b""
    outcome_frame: int | None = None
    success: str | None = None  # "S=<40 hex digits> M=<message>"
    failure: str | None = None  # "E=691 R=0 C=... V=3 M=..."

    @property
    def user_text(self) -> str:
        return self.user.decode("utf-8", "replace")

    @property
    def challenge_hash(self) -> bytes | None:
        """ChallengeHash (RFC 2759 §8.2): the 8 octets the NT-Response encrypts."""
        if self.authenticator_challenge is None:
            return None
        return mppe.challenge_hash(self.peer_challenge, self.authenticator_challenge, self.user)

    def hashcat(self) -> str | None:
        """hashcat mode 5500 (NetNTLMv1): ``user::domain:LM:NT:challenge`` with the domain and
        LM response empty and the challenge hash as the 8-octet challenge."""
        challenge = self.challenge_hash
        if challenge is None:
            return None
        # The user field is only a label (at most 60 characters, no separator).
        label = self.user_text.replace(":", "_")[:60]
        return f"{label}::::{self.nt_response.hex()}:{challenge.hex()}"

    def john(self) -> str | None:
        """John the Ripper's mschapv2 format: ``$MSCHAPv2$`` authenticator challenge, NT-Response,
        peer challenge and the user name without its domain (the one ChallengeHash takes)."""
        if self.authenticator_challenge is None:
            return None
        name = mppe.user_name_for_hash(self.user).decode("utf-8", "replace")
        return (
            f"$MSCHAPv2${self.authenticator_challenge.hex()}${self.nt_response.hex()}"
            f"${self.peer_challenge.hex()}${name}"
        )

    def opened_by(self, nt_hash: bytes) -> bool | None:
        """Whether the NT-Response was made from this NT hash (None: no Challenge to check
        against)."""
        if self.authenticator_challenge is None:
            return None
        return mppe.check_nt_response(
            self.authenticator_challenge, self.peer_challenge, self.user, nt_hash, self.nt_response
        )

    def authenticator_matches(self, nt_hash: bytes) -> bool | None:
        """Whether the server's "S=" authenticator response agrees with this NT hash (RFC 2759
        §8.8); None without a Success or a Challenge."""
        if self.success is None or self.authenticator_challenge is None:
            return None
        if not self.success[:42].isascii():
            return False  # "S=" and hex digits are ASCII; anything else cannot agree
        return mppe.check_authenticator_response(
            nt_hash,
            self.nt_response,
            self.peer_challenge,
            self.authenticator_challenge,
            self.user,
            self.success,
        )

    @property
    def outcome(self) -> str:
        if self.success is not None:
            return "Success"
        if self.failure is not None:
            return "Failure"
        return "no Success or Failure in the capture"

    def frames(self) -> str:
        parts = []
        if self.challenge_frame is not None:
            parts.append(f"{self.challenge_frame} (Challenge)")
        parts.append(f"{self.response_frame} (Response)")
        if self.outcome_frame is not None:
            parts.append(f"{self.outcome_frame} ({'Success' if self.success else 'Failure'})")
        return ", ".join(parts)

    def describe(self) -> str:
        server = self.server
        if self.server_name:
            server += f" ({self.server_name.decode('utf-8', 'replace')})"
        return (
            f"user {self.user_text}, client {self.client}, server {server}; "
            f"call {self.call.number}: {self.call.describe()}; frames {self.frames()}; "
            f"{self.outcome}"
        )


@dataclass
class Epoch:
    """The MPPE packets one side sends under one CCP negotiation: one key stream."""

    sender: str
    key_bits: int | None = None
    stateless: bool | None = None
    packets: list[GrePacket] = field(default_factory=list)


@dataclass
class Call:
    """One PPTP call: its control connection's call (if the capture has it) and its GRE both
    ways, with the handshakes, MPPE packets and cleartext IP found in it."""

    number: int
    control: RealCall | None
    flows: list[Flow]
    handshakes: list[Handshake] = field(default_factory=list)
    epochs: list[Epoch] = field(default_factory=list)
    clear: list[tuple[GrePacket, bytes]] = field(default_factory=list)  # cleartext IP

    @property
    def first_frame(self) -> int:
        frames = [p.number for f in self.flows for p in f.packets[:1]]
        if self.control is not None:
            frames.append(self.control.first_frame)
        return min(frames)

    def describe(self) -> str:
        if self.control is not None:
            conn = self.control.conn
            client, server = "{}:{}".format(*conn.client), "{}:{}".format(*conn.server)
            ids = f"client {_id(self.control.client_call_id)} / server "
            ids += _id(self.control.server_call_id)
            return f"control connection {client} -> {server}, Call IDs {ids}"
        flows = "; ".join(f"{f.sender} -> {f.receiver} Call ID {f.call_id}" for f in self.flows)
        return f"GRE without its control connection: {flows}"

    @property
    def mppe_packets(self) -> int:
        return sum(len(e.packets) for e in self.epochs)


def _id(call_id: int | None) -> str:
    return "?" if call_id is None else str(call_id)


@dataclass
class Scan:
    """What a capture holds for decryption: its calls (in order of first frame) and the
    handshakes in them (numbered in capture order)."""

    calls: list[Call]
    frames: int

    @property
    def handshakes(self) -> list[Handshake]:
        found = [h for c in self.calls for h in c.handshakes]
        return sorted(found, key=lambda h: h.number)


def scan(path: str | Path) -> Scan:
    """Find every call of a capture, its MS-CHAPv2 handshakes, CCP MPPE negotiation, MPPE
    packets and cleartext IP."""
    reading = Reading(Path(path).stem)
    gre: list[GrePacket] = []
    frames = 0
    start: Decimal | None = None
    for number, ts, linktype, frame in records(path):
        frames = number
        start = ts if start is None else start
        packet = network_packet(linktype, frame)
        found = transport(packet) if packet else None
        if found is None:
            continue
        src, dst, proto, payload = found
        if proto == dpkt.ip.IP_PROTO_TCP:
            try:
                segment = dpkt.tcp.TCP(payload)
            except (dpkt.UnpackError, struct.error):
                continue
            # A broken control message names no call.
            with contextlib.suppress(dpkt.UnpackError, struct.error):
                reading.tcp(number, float(ts - start), src, dst, segment)
        elif proto == IP_PROTO_GRE:
            try:
                header = EnhancedGRE(payload)
            except (dpkt.UnpackError, struct.error):
                continue
            if header.version != GRE_VERSION_PPTP or header.protocol != GRE_PROTO_PPP:
                continue
            if not header.data:
                continue  # ack-only
            seq = header.seq if header.flags & GRE_FLAG_SEQ else None
            gre.append(GrePacket(number, ts, src, dst, header.call_id, seq, bytes(header.data)))
    calls = _calls(reading.calls, gre)
    for call in calls:
        _analyze(call)
    ordered = sorted(calls, key=lambda c: (c.first_frame, c.number))
    for number, call in enumerate(ordered, 1):
        call.number = number
    # Handshakes numbered in capture order across calls.
    for number, handshake in enumerate(
        sorted((h for c in ordered for h in c.handshakes), key=lambda h: h.response_frame), 1
    ):
        handshake.number = number
    return Scan(ordered, frames)


def find_handshakes(path: str | Path) -> list[Handshake]:
    """Every MS-CHAPv2 handshake of a capture, in capture order."""
    return scan(path).handshakes


def _calls(control_calls: list[RealCall], packets: list[GrePacket]) -> list[Call]:
    """GRE flows tied to the calls their control connections set up; the rest paired into
    calls by address and CHAP."""
    # (sender, receiver, Call ID carried) -> the control calls it can belong to
    index: dict[tuple[str, str, int], list[RealCall]] = {}
    for real in control_calls:
        client, server = real.conn.client[0], real.conn.server[0]
        if real.server_call_id is not None:
            index.setdefault((client, server, real.server_call_id), []).append(real)
        if real.client_call_id is not None:
            index.setdefault((server, client, real.client_call_id), []).append(real)
    calls: dict[int, Call] = {}  # id(RealCall) -> Call
    orphans: dict[tuple[str, str, int], Flow] = {}
    for packet in packets:
        key = (packet.sender, packet.receiver, packet.call_id)
        candidates = index.get(key)
        if not candidates:
            orphans.setdefault(key, Flow(*key)).packets.append(packet)
            continue
        # Call IDs are reused: the latest call set up before this packet, else the first.
        earlier = [c for c in candidates if c.first_frame <= packet.number]
        real = earlier[-1] if earlier else candidates[0]
        call = calls.get(id(real))
        if call is None:
            call = calls[id(real)] = Call(0, real, [])
        flow = next((f for f in call.flows if f.key == key), None)
        if flow is None:
            flow = Flow(*key)
            call.flows.append(flow)
        flow.packets.append(packet)
    found = [calls.get(id(real)) or Call(0, real, []) for real in control_calls]
    found += [Call(0, None, group) for group in _pair_flows(list(orphans.values()))]
    return found


def _chap(flow: Flow, code: int) -> list[tuple[int, int]]:
    """(identifier, frame) of the CHAP packets with ``code`` in a flow."""
    found = []
    for packet in flow.packets:
        protocol, info = ppp.split(packet.ppp)
        if protocol == PppProto.CHAP and len(info) >= 4 and info[0] == code:
            found.append((info[1], packet.number))
    return found


def _pair_flows(flows: list[Flow]) -> list[list[Flow]]:
    """GRE without a control connection: the two directions of a call are the flows between
    the same two addresses; where there are several, the flow carrying a Response goes with
    the one that carried its Challenge (same CHAP identifier, the latest before it)."""
    groups: dict[frozenset, list[Flow]] = {}
    for flow in flows:
        groups.setdefault(frozenset((flow.sender, flow.receiver)), []).append(flow)
    calls = []
    for group in groups.values():
        senders = [f.sender for f in group]
        if all(senders.count(s) == 1 for s in senders):
            calls.append(group)
            continue
        unpaired = list(group)
        for responder in group:
            for identifier, frame in _chap(responder, CHAP_RESPONSE):
                if responder not in unpaired:
                    break
                challengers = [
                    (challenge_frame, f)
                    for f in unpaired
                    if f.sender == responder.receiver and f.receiver == responder.sender
                    for ident, challenge_frame in _chap(f, CHAP_CHALLENGE)
                    if ident == identifier and challenge_frame < frame
                ]
                if challengers:
                    partner = max(challengers, key=lambda c: c[0])[1]
                    unpaired.remove(responder)
                    unpaired.remove(partner)
                    calls.append([partner, responder])
        calls.extend([flow] for flow in unpaired)
    return calls


def _analyze(call: Call) -> None:
    """Walk a call's PPP in capture order: MS-CHAPv2, CCP MPPE negotiation per direction, MPPE
    packets and IP in the clear. A CCP Configure-Request asks for what its sender will
    receive, so the Configure-Ack a side sends settles what that side sends."""
    packets = sorted((p for f in call.flows for p in f.packets), key=lambda p: p.number)
    challenges: dict[tuple[str, int], tuple[bytes, int, bytes]] = {}
    algorithm = None  # the CHAP algorithm LCP settled on, if the capture shows it
    current: dict[str, Epoch] = {}  # sender -> its epoch
    for packet in packets:
        protocol, info = ppp.split(packet.ppp)
        if protocol == PppProto.CHAP and len(info) >= 4:
            code, identifier, length = info[0], info[1], struct.unpack_from(">H", info, 2)[0]
            body = info[4 : max(4, min(length, len(info)))]
            if code in (CHAP_CHALLENGE, CHAP_RESPONSE) and body:
                value, name = body[1 : 1 + body[0]], body[1 + body[0] :]
                if code == CHAP_CHALLENGE:
                    challenges[(packet.sender, identifier)] = (value, packet.number, name)
                elif len(value) == RESPONSE_SIZE:
                    challenge = challenges.get((packet.receiver, identifier))
                    if _is_mschapv2(value, challenge and challenge[0], algorithm):
                        handshake = _handshake(call, packet, identifier, value, name)
                        call.handshakes.append(handshake)
                        if challenge is not None:
                            handshake.authenticator_challenge = challenge[0]
                            handshake.challenge_frame = challenge[1]
                            handshake.server_name = challenge[2]
            elif code in (CHAP_SUCCESS, CHAP_FAILURE):
                _outcome(call, packet, identifier, code, body)
        elif protocol == PppProto.LCP and info[:1] == bytes([CpCode.CONFIGURE_ACK]):
            auth = ppp.parse_options(info[4:]).get(LCP_OPT_AUTH_PROTOCOL, b"")
            if auth[:2] == struct.pack(">H", PppProto.CHAP) and len(auth) >= 3:
                algorithm = auth[2]
        elif protocol == PppProto.CCP and info[:1] == bytes([CpCode.CONFIGURE_ACK]):
            options = ppp.parse_options(info[4:])
            bits = options.get(CCP_OPT_MPPE)
            if bits is not None and len(bits) == 4:
                key_bits, stateless = mppe_option(struct.unpack(">I", bits)[0])
                epoch = current.get(packet.sender)
                if epoch is None or epoch.packets:
                    epoch = current[packet.sender] = Epoch(packet.sender)
                    call.epochs.append(epoch)
                epoch.key_bits, epoch.stateless = key_bits, stateless
        elif protocol == PppProto.MPPE:
            epoch = current.get(packet.sender)
            if epoch is None:
                epoch = current[packet.sender] = Epoch(packet.sender)
                call.epochs.append(epoch)
            epoch.packets.append(packet)
        elif protocol in (PppProto.IP, PppProto.IPV6):
            inner = inner_packet(protocol, info)
            if inner is not None:
                call.clear.append((packet, inner))
    call.epochs = [e for e in call.epochs if e.packets]


def _is_mschapv2(value: bytes, challenge: bytes | None, algorithm: int | None) -> bool:
    """A 49-octet CHAP Response is MS-CHAPv2's or MS-CHAPv1's (LM and NT responses and a
    flag, RFC 2433): the Challenge tells (16 octets against 8), else the algorithm LCP agreed
    on, else the v2 layout (reserved octets and flags zero, RFC 2759 §4)."""
    if challenge is not None:
        return len(challenge) == CHALLENGE_SIZE
    if algorithm is not None:
        return algorithm == CHAP_ALGORITHM_MSCHAP_V2
    return value[16:24] == bytes(8) and value[48] == 0


def _handshake(call: Call, packet: GrePacket, identifier: int, value: bytes, name: bytes):
    return Handshake(
        number=0,
        call=call,
        client=packet.sender,
        server=packet.receiver,
        identifier=identifier,
        user=bytes(name),
        peer_challenge=value[:16],
        nt_response=value[24:48],
        flags=value[48],
        response_frame=packet.number,
    )


def _outcome(call: Call, packet: GrePacket, identifier: int, code: int, body: bytes) -> None:
    """Success or Failure: the latest Response with this identifier from the other side."""
    for handshake in reversed(call.handshakes):
        if handshake.identifier == identifier and handshake.server == packet.sender:
            if handshake.outcome_frame is None:
                handshake.outcome_frame = packet.number
                text = body.decode("latin-1")
                if code == CHAP_SUCCESS:
                    handshake.success = text
                else:
                    handshake.failure = text
            return


def mppe_option(bits: int) -> tuple[int | None, bool]:
    """Key length and stateless mode from the MPPE option's supported bits (RFC 3078 §2.1):
    S (128-bit), M (56-bit), L (40-bit), H (stateless); the strongest if several are set."""
    for flag, key_bits in ((MPPE_BIT_128, 128), (MPPE_BIT_56, 56), (MPPE_BIT_40, 40)):
        if bits & flag:
            return key_bits, bool(bits & MPPE_BIT_STATELESS)
    return None, bool(bits & MPPE_BIT_STATELESS)


# ---------------------------------------------------------------------------------------------
# Plaintext
# ---------------------------------------------------------------------------------------------


def split_plaintext(plaintext: bytes) -> tuple[int | None, bytes]:
    """PPP protocol and information field of a decrypted packet: MPPE encrypts the protocol
    field as the sender framed it, one octet when compressed (RFC 3078 §3)."""
    if not plaintext:
        return None, b""
    if plaintext[0] & 1:
        return plaintext[0], plaintext[1:]
    if len(plaintext) < 2:
        return None, b""
    return struct.unpack_from(">H", plaintext)[0], plaintext[2:]


def _network_protocol(protocol: int | None) -> bool:
    """A network-layer PPP protocol other than IP and IPv6 (RFC 1661 §2: 0x0001-0x3FFF, the
    high octet even, the low octet odd), which MPPE may carry but this module does not write."""
    if protocol is None or protocol in (PppProto.IP, PppProto.IPV6):
        return False
    return protocol < 0x4000 and protocol & 0x0100 == 0 and protocol & 1 == 1


def _checksum_ok(header: bytes) -> bool:
    total = sum(struct.unpack(f">{len(header) // 2}H", header))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return total == 0xFFFF


def inner_packet(protocol: int | None, info: bytes) -> bytes | None:
    """The IPv4 (header checksum correct) or IPv6 packet a PPP frame of ``protocol`` carries,
    cut to its own length; None if it is not one."""
    if protocol == PppProto.IP and len(info) >= 20 and info[0] >> 4 == 4:
        ihl = (info[0] & 0x0F) * 4
        (total,) = struct.unpack_from(">H", info, 2)
        if ihl >= 20 and ihl <= total <= len(info) and _checksum_ok(info[:ihl]):
            return info[:total]
    elif protocol == PppProto.IPV6 and len(info) >= 40 and info[0] >> 4 == 6:
        (length,) = struct.unpack_from(">H", info, 4)
        if 40 + length <= len(info):
            return info[: 40 + length]
    return None


# ---------------------------------------------------------------------------------------------
# Decryption
# ---------------------------------------------------------------------------------------------


@dataclass
class DirectionResult:
    """What became of one side's MPPE packets."""

    sender: str
    receiver: str
    mppe: int = 0
    decrypted: int = 0  # to a valid IPv4/IPv6 packet
    not_ip: int = 0  # decrypted to another PPP protocol (not written)
    invalid: int = 0  # decrypted to something that is no valid packet
    failed: int = 0  # not decryptable (see reasons)
    reasons: dict[str, int] = field(default_factory=dict)

    def fail(self, reason: str, count: int = 1) -> None:
        self.failed += count
        self.reasons[reason] = self.reasons.get(reason, 0) + count


@dataclass
class CallResult:
    """What decryption made of one call."""

    call: Call
    status: str  # "decrypted", "partly decrypted", "not decrypted", "no MPPE"
    reason: str = ""  # why not, in words
    handshake: Handshake | None = None
    key_bits: int | None = None
    stateless: bool | None = None
    guessed: bool = False  # key length and mode found by trial, no CCP Configure-Ack seen
    verified: str = ""  # how the credential was checked, in words
    directions: dict[str, DirectionResult] = field(default_factory=dict)
    clear: int = 0  # cleartext IP packets

    @property
    def decrypted(self) -> int:
        return sum(d.decrypted for d in self.directions.values())


@dataclass
class Decryption:
    """The result of ``decrypt``: per frame number the PPP plaintext of every MPPE packet
    decrypted (protocol field and information, as MPPE encrypted them), per call what
    happened, and the inner IP packets (decrypted or in the clear) in capture order."""

    calls: list[CallResult]
    plaintexts: dict[int, bytes]
    packets: list[tuple[int, Decimal, bytes]]  # frame number, timestamp, IP packet

    @property
    def decrypted(self) -> int:
        return sum(c.decrypted for c in self.calls)


def decrypt(
    path: str | Path | Scan, credentials: Sequence[Credential], user: str | None = None
) -> Decryption:
    """Decrypt every call of a capture whose MS-CHAPv2 handshake one of ``credentials`` opens
    (only ``user``'s handshakes with ``user``)."""
    found = path if isinstance(path, Scan) else scan(path)
    results, plaintexts, packets = [], {}, []
    for call in found.calls:
        result = _decrypt_call(call, credentials, user, plaintexts, packets)
        for packet, inner in call.clear:
            packets.append((packet.number, packet.ts, inner))
        result.clear = len(call.clear)
        results.append(result)
    packets.sort(key=lambda p: p[0])
    return Decryption(results, plaintexts, packets)


def _directions(call: Call) -> dict[str, DirectionResult]:
    directions = {}
    for flow in call.flows:
        directions.setdefault(flow.sender, DirectionResult(flow.sender, flow.receiver))
    for epoch in call.epochs:
        directions[epoch.sender].mppe += len(epoch.packets)
    return directions


def _decrypt_call(
    call: Call,
    credentials: Sequence[Credential],
    user: str | None,
    plaintexts: dict[int, bytes],
    packets: list,
) -> CallResult:
    result = CallResult(call, "not decrypted", directions=_directions(call))
    if not call.epochs:
        result.status = "no MPPE"
        result.reason = "no GRE in the capture" if not call.flows else "no MPPE packets"
        return result
    handshakes = call.handshakes
    if not handshakes:
        return _fail_all(result, "no MS-CHAPv2 handshake in the capture for this call")
    if user is not None:
        handshakes = [h for h in handshakes if user_matches(h.user, user)]
        if not handshakes:
            names = ", ".join(sorted({h.user_text for h in call.handshakes}))
            return _fail_all(result, f"user not selected: the handshake is {names}'s")
    for epoch in call.epochs:
        direction = result.directions[epoch.sender]
        handshake = _handshake_for(handshakes, epoch.packets[0].number)
        result.handshake = result.handshake or handshake
        candidates = _credentials_for(handshake, credentials)
        if not candidates:
            reason = f"credential does not match user {handshake.user_text}'s handshake"
            if not any(c.applies_to(handshake.user) for c in credentials):
                reason = f"no credential for user {handshake.user_text}"
            direction.fail(reason, len(epoch.packets))
            continue
        key_bits, stateless = _parameters(call, epoch)
        from_client = epoch.sender == handshake.client
        outcome = None
        for nt_hash, verified in candidates:
            outcome = _decrypt_epoch(epoch, handshake, nt_hash, key_bits, stateless, from_client)
            # Without a Challenge only the plaintext can tell whether a credential fits.
            if outcome is not None and not verified and not any(d[2] for d in outcome[0]):
                outcome = None
            if outcome is not None:
                break
        if outcome is None:
            if all(verified for _, verified in candidates):
                reason = "key length and mode not found (no CCP Configure-Ack in the capture)"
            else:
                reason = (
                    f"credential does not match user {handshake.user_text}'s handshake "
                    "(no Challenge in the capture, and nothing decrypted to a valid packet)"
                )
            direction.fail(reason, len(epoch.packets))
            continue
        done, key_bits, stateless, guessed = outcome
        result.verified = _verification(handshake, nt_hash, verified)
        result.key_bits, result.stateless = key_bits, stateless
        result.guessed = result.guessed or guessed
        for packet, plaintext, inner, reason in done:
            if plaintext is None:
                direction.fail(reason)
                continue
            plaintexts[packet.number] = plaintext
            if inner is not None:
                direction.decrypted += 1
                packets.append((packet.number, packet.ts, inner))
            elif _network_protocol(split_plaintext(plaintext)[0]):
                direction.not_ip += 1
            else:
                direction.invalid += 1
    total = call.mppe_packets
    decrypted = sum(d.decrypted + d.not_ip for d in result.directions.values())
    if decrypted and decrypted == total:
        result.status = "decrypted"
    elif decrypted:
        result.status = "partly decrypted"
    if result.status != "decrypted":
        reasons = [r for d in result.directions.values() for r in d.reasons]
        invalid = sum(d.invalid for d in result.directions.values())
        if invalid:
            reasons.append(f"{invalid} decrypted to no valid IP packet")
        result.reason = "; ".join(dict.fromkeys(reasons))
    return result


def _fail_all(result: CallResult, reason: str) -> CallResult:
    result.reason = reason
    for epoch in result.call.epochs:
        result.directions[epoch.sender].fail(reason, len(epoch.packets))
    return result


def _handshake_for(handshakes: list[Handshake], frame: int) -> Handshake:
    """The handshake whose keys packets from ``frame`` on use: the latest before it that did
    not fail (a retry after a Failure replaces it), else the latest of all."""
    before = [h for h in handshakes if h.response_frame < frame] or handshakes
    accepted = [h for h in before if h.failure is None]
    return (accepted or before)[-1]


def _credentials_for(
    handshake: Handshake, credentials: Sequence[Credential]
) -> list[tuple[bytes, bool]]:
    """The NT hashes to decrypt with, each with whether it was verified against the
    NT-Response: the one that opens the handshake; where the capture has no Challenge to
    check against, every credential for the user (decryption tells)."""
    applicable = [c for c in credentials if c.applies_to(handshake.user)]
    for credential in applicable:
        if handshake.opened_by(credential.nt_hash):
            return [(credential.nt_hash, True)]
    if handshake.authenticator_challenge is None:
        return [(c.nt_hash, False) for c in applicable]
    return []


def _verification(handshake: Handshake, nt_hash: bytes, verified: bool) -> str:
    if not verified:
        return "decrypts to valid packets (no Challenge in the capture to check it against)"
    agrees = handshake.authenticator_matches(nt_hash)
    if agrees is None:
        return "matches the NT-Response"
    if agrees:
        return "matches the NT-Response and the server's authenticator response"
    return "matches the NT-Response, but the server's authenticator response does not agree"


def _parameters(call: Call, epoch: Epoch) -> tuple[int | None, bool | None]:
    """The epoch's own negotiation, else the other side's latest one before it (MPPE is
    negotiated alike both ways in practice)."""
    if epoch.key_bits is not None:
        return epoch.key_bits, epoch.stateless
    first = epoch.packets[0].number
    others = [
        e
        for e in call.epochs
        if e.sender != epoch.sender and e.key_bits is not None and e.packets[0].number <= first
    ]
    if others:
        return others[-1].key_bits, others[-1].stateless
    return None, epoch.stateless


def _sending_order(packets: list[GrePacket]) -> list[tuple[int, GrePacket]]:
    """The packets in the order their sender encrypted them: by coherency count, unwrapped
    (12 bits) relative to the packet before in the capture, so that reordered packets go
    back in place."""
    ordered, last = [], None
    for packet in packets:
        count = _mppe_header(packet)[1]
        if last is None:
            extended = count
        else:
            delta = (count - last) % mppe.COUNT_SPACE
            if delta >= mppe.COUNT_SPACE // 2:
                delta -= mppe.COUNT_SPACE
            extended = last + delta
        last = extended
        ordered.append((extended, packet))
    ordered.sort(key=lambda item: item[0])
    return ordered


def _mppe_header(packet: GrePacket) -> tuple[int, int]:
    info = ppp.split(packet.ppp)[1]
    if len(info) < 2:
        return 0, 0
    return mppe.parse_header(info)


def _decrypt_epoch(
    epoch: Epoch,
    handshake: Handshake,
    nt_hash: bytes,
    key_bits: int | None,
    stateless: bool | None,
    from_client: bool,
):
    """Decrypt one key stream. Returns (per packet: packet, plaintext or None, inner IP packet
    or None, reason), key bits, stateless, whether those were guessed; None if no key length
    and mode decrypts anything."""
    ordered = _sending_order(epoch.packets)
    guessed = key_bits is None
    candidates = [(key_bits, stateless)] if not guessed else KEY_CANDIDATES
    if guessed and stateless is not None:
        candidates = [c for c in candidates if c[1] == stateless]
    best = None
    for bits, mode in candidates:
        start = mppe.session_start_keys(nt_hash, handshake.nt_response, bits)
        key = start["client_to_server" if from_client else "server_to_client"]
        variants = [False]
        # A stateful sender's reset is where implementations differ: the RFC's sender only
        # re-initializes RC4, the Linux kernel's also changes the key. Try both, keep the
        # one that yields valid packets.
        if not mode and _has_reset(ordered):
            variants.append(True)
        for rekey in variants:
            sample = ordered[:GUESS_SAMPLE] if guessed else ordered
            done = _run(sample, key, bits, mode, rekey)
            score = sum(inner is not None for _, _, inner, _ in done)
            if best is None or score > best[0]:
                best = (score, bits, mode, rekey, done)
    if best is None or (guessed and best[0] == 0):
        return None
    score, bits, mode, rekey, done = best
    if guessed:
        key = mppe.session_start_keys(nt_hash, handshake.nt_response, bits)[
            "client_to_server" if from_client else "server_to_client"
        ]
        done = _run(ordered, key, bits, mode, rekey)
    return sorted(done, key=lambda d: d[0].number), bits, mode, guessed


def _has_reset(ordered: list[tuple[int, GrePacket]]) -> bool:
    """A flushed packet that is neither the first nor a flag packet: a reset happened."""
    for _, packet in ordered[1:]:
        flags, count = _mppe_header(packet)
        if flags & MPPE_FLAG_FLUSHED and count & 0xFF != 0xFF:
            return True
    return False


def _run(
    ordered: list[tuple[int, GrePacket]], key: bytes, bits: int, stateless: bool, rekey: bool
) -> list[tuple[GrePacket, bytes | None, bytes | None, str]]:
    cipher = mppe.MppeCipher(key, bits, stateless, rekey_on_flush=rekey)
    seen: dict[int, tuple[bytes, bytes | None, str]] = {}
    done = []
    for extended, packet in ordered:
        body = ppp.split(packet.ppp)[1]
        if extended in seen and seen[extended][0] == body:
            # The same packet twice (a GRE duplicate): the same plaintext.
            plaintext, reason = seen[extended][1], seen[extended][2]
        else:
            plaintext, reason = None, ""
            flags = mppe.parse_header(body)[0] if len(body) >= 2 else 0
            if not flags & MPPE_FLAG_ENCRYPTED:
                reason = "MPPE packet without the D (encrypted) bit"
            else:
                try:
                    plaintext = cipher.decrypt(body)
                except mppe.MppeError as exc:
                    reason = str(exc)
            seen[extended] = (body, plaintext, reason)
        inner = None
        if plaintext is not None:
            inner = inner_packet(*split_plaintext(plaintext))
        done.append((packet, plaintext, inner, reason))
    return done


_LAST_SECOND = Decimal(2**32 - 1)


def write_packets(packets: Iterable[tuple[int, Decimal, bytes]], out: str | Path) -> int:
    """Write IP packets as a raw-IP pcap (link type 101) with their timestamps; nanosecond
    resolution if any timestamp needs it. Returns the number written."""
    packets = list(packets)
    nano = any((ts * 1_000_000) % 1 for _, ts, _ in packets)
    with open(out, "wb") as f:
        writer = dpkt.pcap.Writer(f, snaplen=OUTPUT_SNAPLEN, linktype=OUTPUT_LINKTYPE, nano=nano)
        for _, ts, packet in packets:
            # A pcap record holds 32-bit seconds: a timestamp outside is clamped to fit.
            writer.writepkt(packet, ts=min(max(ts, Decimal(0)), _LAST_SECOND))
    return len(packets)


# ---------------------------------------------------------------------------------------------
# Wordlists
# ---------------------------------------------------------------------------------------------


@dataclass
class WordlistResult:
    opened: dict[int, int]  # handshake number -> number (from 1) of the line that opens it
    tried: int  # lines tried


def try_wordlist(handshakes: Sequence[Handshake], lines: Iterable[bytes]) -> WordlistResult:
    """Try each line (its line ending cut) as a password against every handshake that has a
    Challenge, until every one is open."""
    targets = [(h, h.challenge_hash) for h in handshakes if h.authenticator_challenge is not None]
    opened: dict[int, int] = {}
    tried = 0
    for number, line in enumerate(lines, 1):
        if len(opened) == len(targets):
            break
        tried = number
        nt_hash = mppe.nt_password_hash(password_text(line.rstrip(b"\r\n")))
        for handshake, challenge in targets:
            if handshake.number in opened:
                continue
            if mppe.challenge_response(challenge, nt_hash) == handshake.nt_response:
                opened[handshake.number] = number
    return WordlistResult(opened, tried)


# ---------------------------------------------------------------------------------------------
# Reports (what the CLI prints: never a credential)
# ---------------------------------------------------------------------------------------------


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def handshake_report(found: Scan) -> list[str]:
    """Every handshake, and the lines hashcat (mode 5500) and John the Ripper (mschapv2) read."""
    lines = []
    for handshake in found.handshakes:
        lines.append(f"handshake {handshake.number}: {handshake.describe()}")
        hashcat, john = handshake.hashcat(), handshake.john()
        if hashcat is None or john is None:
            lines.append("  no Challenge in the capture: nothing for a cracker to check against")
            continue
        lines.append(f"  hashcat -m 5500: {hashcat}")
        lines.append(f"  john --format=mschapv2: {john}")
    return lines


def wordlist_report(found: Scan, result: WordlistResult, name: str) -> list[str]:
    lines = [f"wordlist {name}: {_plural(result.tried, 'line')} tried"]
    for handshake in found.handshakes:
        line = result.opened.get(handshake.number)
        who = f"handshake {handshake.number} (user {handshake.user_text})"
        if handshake.authenticator_challenge is None:
            lines.append(f"  {who}: not tried (no Challenge in the capture)")
        elif line is None:
            lines.append(f"  {who}: not opened")
        else:
            lines.append(f"  {who}: opened by line {line}")
    return lines


def decryption_report(found: Scan, result: Decryption) -> list[str]:
    """Per call: its handshake, whether the credential matched, what was decrypted each way
    and why not."""
    lines = []
    for call in result.calls:
        lines.append(f"call {call.call.number}: {call.call.describe()}")
        handshake = call.handshake
        if handshake is not None:
            line = f"  user {handshake.user_text}, handshake {handshake.number} "
            line += f"(frames {handshake.frames()})"
            if call.verified:
                line += f": the credential {call.verified}"
            lines.append(line)
        if call.key_bits is not None:
            mode = "stateless" if call.stateless else "stateful"
            how = " (found by trial: no CCP Configure-Ack in the capture)" if call.guessed else ""
            lines.append(f"  MPPE {call.key_bits}-bit {mode}{how}")
        for direction in call.directions.values():
            lines.append(f"  {direction.sender} -> {direction.receiver}: {_direction(direction)}")
        if call.clear:
            lines.append(f"  {_plural(call.clear, 'IP packet')} in the clear")
        status = call.status if not call.reason else f"{call.status}: {call.reason}"
        lines.append(f"  {status}")
    return lines


def _direction(direction: DirectionResult) -> str:
    if not direction.mppe:
        return "no MPPE packets"
    text = f"{direction.decrypted} of {_plural(direction.mppe, 'MPPE packet')} decrypted to IP"
    if direction.not_ip:
        text += f", {direction.not_ip} to other PPP protocols (not written)"
    if direction.invalid:
        text += f", {direction.invalid} to no valid packet"
    for reason, count in direction.reasons.items():
        text += f"; {count} not decrypted: {reason}"
    return text


# ---------------------------------------------------------------------------------------------
# Building genuine exchanges (tests, and anyone who needs a capture with a known password)
# ---------------------------------------------------------------------------------------------
