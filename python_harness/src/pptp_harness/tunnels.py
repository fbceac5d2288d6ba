"""The PPTP calls of a capture and the MS-CHAPv2 handshakes in them, for decryption.

A call is found from its control connection (Outgoing/Incoming-Call Request and Reply, read by
``reading.CaptureTruth``), or, for GRE whose control connection is not in the capture, from
GRE flows between two addresses: paired when one flow acknowledges the other's sequence
numbers (issue 24's rule 2), else by address and by their CHAP Challenge and Response. A flow
no control connection claims becomes part of a call only if it is paired that way or its own
sequence numbers confirm it (a later packet within the acceptance window ahead of an earlier
one): one altered or forged packet (a copy with another Call ID) makes no call.

Each call's PPP is walked in capture order as its peers follow it (issue 24's rule 3): a
Configure-Ack counts only if it echoes one of the other side's last 8 Configure-Requests
(identifier and options), a CHAP Response only if it has the identifier of one of the other
side's last 8 Challenges; a Success or Failure belongs to the Responses with its identifier.
What is walked: the MS-CHAPv2 handshakes, the MPPE modes CCP settles each way, the MPPE
packets and the IP in clear. Captures are read by
``captures``: pcap or pcapng, every link layer it accepts, GRE over IPv4 or IPv6, also inside
IP-in-IP.

Entry points: ``scan`` (calls and their handshakes) and ``find_handshakes``.
"""

from __future__ import annotations

import struct
from collections import deque
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
    GRE_FLAG_ACK,
    GRE_FLAG_SEQ,
    GRE_PROTO_PPP,
    GRE_VERSION_PPTP,
    LCP_OPT_AUTH_PROTOCOL,
    MPPE_BIT_40,
    MPPE_BIT_56,
    MPPE_BIT_128,
    MPPE_BIT_STATELESS,
    CpCode,
    PppProto,
)
from .expected import SEQ_MOD
from .gre import EnhancedGRE
from .reading import RealCall, read

CHALLENGE_SIZE = 16  # MS-CHAPv2 authenticator challenge (RFC 2759 §4)
RESPONSE_SIZE = 49  # peer challenge 16, reserved 8, NT-Response 24, flags 1
SEQ_WINDOW = 4096  # GRE sequence numbers this far ahead of the highest are a flow's own
REMEMBERED = 8  # Configure-Requests and Challenges remembered per side


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
    ack: int | None = None


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
    # The other side's remembered Challenges with this identifier (value, frame, server
    # name), newest last; the newest is taken until a credential tells which one it answers.
    challenges: list[tuple[bytes, int, bytes]] = field(default_factory=list, repr=False)
    # Every Success (3) or Failure (4) with this identifier after the Response: (frame,
    # code, message); the first is shown until a credential tells which one is genuine.
    outcomes: list[tuple[int, int, str]] = field(default_factory=list, repr=False)

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
        against). Of several remembered Challenges with the Response's identifier (a copy
        with another value), the one the NT-Response answers is taken as the Challenge."""
        if self.authenticator_challenge is None:
            return None
        for value, frame, name in reversed(self.challenges or [self._challenge()]):
            if mppe.check_nt_response(
                value, self.peer_challenge, self.user, nt_hash, self.nt_response
            ):
                self.authenticator_challenge, self.challenge_frame = value, frame
                self.server_name = name
                return True
        return False

    def _challenge(self) -> tuple[bytes, int, bytes]:
        return self.authenticator_challenge, self.challenge_frame, self.server_name

    def authenticator_matches(self, nt_hash: bytes) -> bool | None:
        """Whether a Success's "S=" authenticator response agrees with this NT hash (RFC 2759
        §8.8); None without a Success or a Challenge. Of several Successes with the
        identifier, the one that agrees is taken as the server's."""
        successes = [o for o in self.outcomes if o[1] == CHAP_SUCCESS]
        if self.success is not None and not successes:
            successes = [(self.outcome_frame, CHAP_SUCCESS, self.success)]
        if not successes or self.authenticator_challenge is None:
            return None
        for frame, _, text in successes:
            # "S=" and hex digits are ASCII; anything else cannot agree
            if text[:42].isascii() and mppe.check_authenticator_response(
                nt_hash,
                self.nt_response,
                self.peer_challenge,
                self.authenticator_challenge,
                self.user,
                text,
            ):
                self.outcome_frame, self.success, self.failure = frame, text, None
                return True
        return False

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
    # GRE flows no control connection claims that neither pair with another flow nor are
    # confirmed by their own sequence numbers: part of no call
    unconfirmed: list[Flow] = field(default_factory=list)

    @property
    def handshakes(self) -> list[Handshake]:
        found = [h for c in self.calls for h in c.handshakes]
        return sorted(found, key=lambda h: h.number)


def scan(path: str | Path) -> Scan:
    """Find every call of a capture, its MS-CHAPv2 handshakes, CCP MPPE negotiation, MPPE
    packets and cleartext IP."""
    gre: list[GrePacket] = []

    def collect(number: int, ts: Decimal, src: str, dst: str, payload: bytes) -> None:
        try:
            header = EnhancedGRE(payload)
        except (dpkt.UnpackError, struct.error):
            return
        if header.version != GRE_VERSION_PPTP or header.protocol != GRE_PROTO_PPP:
            return
        seq = header.seq if header.flags & GRE_FLAG_SEQ else None
        ack = header.ack if header.flags & GRE_FLAG_ACK else None
        packet = GrePacket(number, ts, src, dst, header.call_id, seq, bytes(header.data), ack)
        gre.append(packet)  # ack-only too: its acknowledgment pairs flows

    truth = read(path, gre=collect)
    calls, unconfirmed = _calls(truth.calls, gre)
    for call in calls:
        _walk_ppp(call)
    ordered = sorted(calls, key=lambda c: (c.first_frame, c.number))
    for number, call in enumerate(ordered, 1):
        call.number = number
    # Handshakes numbered in capture order across calls.
    for number, handshake in enumerate(
        sorted((h for c in ordered for h in c.handshakes), key=lambda h: h.response_frame), 1
    ):
        handshake.number = number
    return Scan(ordered, truth.frame_count, unconfirmed)


def find_handshakes(path: str | Path) -> list[Handshake]:
    """Every MS-CHAPv2 handshake of a capture, in capture order."""
    return scan(path).handshakes


def _calls(
    control_calls: list[RealCall], packets: list[GrePacket]
) -> tuple[list[Call], list[Flow]]:
    """GRE flows tied to the calls their control connections set up; the rest paired into
    calls (``_orphan_calls``). Returns the calls and the flows no call took."""
    # (sender, receiver, Call ID carried) -> the control calls it can belong to
    index: dict[tuple[str, str, int], list[RealCall]] = {}
    for real in control_calls:
        client, server = real.conn.client[0], real.conn.server[0]
        if real.server_call_id is not None:
            index.setdefault((client, server, real.server_call_id), []).append(real)
        if real.client_call_id is not None:
            index.setdefault((server, client, real.client_call_id), []).append(real)
    calls: dict[int, Call] = {}  # id(RealCall) -> Call
    orphans: list[GrePacket] = []
    for packet in packets:
        key = (packet.sender, packet.receiver, packet.call_id)
        candidates = index.get(key)
        if not candidates:
            orphans.append(packet)
            continue
        if not packet.ppp:
            continue  # ack-only: nothing to decrypt or walk
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
    groups, unconfirmed = _orphan_calls(orphans)
    found += [Call(0, None, group) for group in groups]
    return found, unconfirmed


@dataclass
class _Numbers:
    """A flow's sequence numbers as far as pairing needs them: the first and highest of its
    numbers within the acceptance window (a number far from the highest moves nothing), and
    whether a later number ever followed an earlier one (the flow confirms itself)."""

    first: int | None = None
    highest: int | None = None
    confirmed: bool = False

    def observe(self, seq: int) -> None:
        if self.highest is None:
            self.first = self.highest = seq
            return
        ahead = (seq - self.highest) % SEQ_MOD
        if 0 < ahead <= SEQ_WINDOW:
            self.highest, self.confirmed = seq, True
        elif 0 < (self.highest - seq) % SEQ_MOD <= SEQ_WINDOW and (
            (self.first - seq) % SEQ_MOD < SEQ_MOD // 2
        ):
            self.first = seq  # behind the first one seen: the numbers start here

    def acknowledged_by(self, ack: int) -> bool:
        """Issue 24's rule 2: ``ack`` is one of this flow's numbers, at most the window (and
        at most the flow's span) behind its highest."""
        if self.highest is None:
            return False
        span = min(SEQ_WINDOW, (self.highest - self.first) % SEQ_MOD)
        return (self.highest - ack) % SEQ_MOD <= span


def _orphan_calls(packets: list[GrePacket]) -> tuple[list[list[Flow]], list[Flow]]:
    """GRE no control connection claims, per flow (sender, receiver, Call ID). Flow F pairs
    with the opposite flow G at F's first packet whose acknowledgment acknowledges G's
    numbers, neither paired yet (issue 24's rule 2). A pair is a call if the numbers of one
    of its flows confirm it; the flows left unpaired are paired by address and CHAP
    (``_pair_flows``) if their own numbers confirm them. The rest make no call."""
    flows: dict[tuple[str, str, int], Flow] = {}
    numbers: dict[tuple[str, str, int], _Numbers] = {}
    partner: dict[tuple[str, str, int], tuple[str, str, int]] = {}
    pairs: list[tuple[tuple, tuple]] = []
    for packet in packets:
        key = (packet.sender, packet.receiver, packet.call_id)
        flow = flows.setdefault(key, Flow(*key))
        if packet.ppp:
            flow.packets.append(packet)
        own = numbers.setdefault(key, _Numbers())
        if packet.seq is not None:
            own.observe(packet.seq)
        if packet.ack is None or key in partner:
            continue
        for other, theirs in numbers.items():
            opposite = other[0] == packet.receiver and other[1] == packet.sender
            if opposite and other not in partner and theirs.acknowledged_by(packet.ack):
                partner[key], partner[other] = other, key
                pairs.append((other, key))
                break
    groups, unconfirmed = [], []
    for pair in pairs:
        group = [flows[key] for key in pair if flows[key].packets]
        # A pair of single packets (two altered copies that happen to agree) is no call.
        if any(numbers[key].confirmed for key in pair):
            groups.append(group)
        else:
            unconfirmed += group
    left = [f for k, f in flows.items() if k not in partner and f.packets]
    unconfirmed += [f for f in left if not numbers[f.key].confirmed]
    confirmed = [f for f in left if numbers[f.key].confirmed]
    return [g for g in groups if g] + _pair_flows(confirmed), unconfirmed


def _chap(flow: Flow, code: int) -> list[tuple[int, int]]:
    """(identifier, frame) of the CHAP packets with ``code`` in a flow."""
    found = []
    for packet in flow.packets:
        protocol, info = ppp.split(packet.ppp)
        if protocol == PppProto.CHAP and len(info) >= 4 and info[0] == code:
            found.append((info[1], packet.number))
    return found


def _pair_flows(flows: list[Flow]) -> list[list[Flow]]:
    """GRE without a control connection whose acknowledgments paired nothing: the two
    directions of a call are the flows between the same two addresses; where there are
    several, the flow carrying a Response goes with the one that carried its Challenge (same
    CHAP identifier, the latest before it)."""
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


@dataclass
class _Peers:
    """What the two sides of a call have asked for so far (issue 24's rule 3): per side and
    control protocol its last Configure-Requests (identifier, options octets), whether each
    has been acknowledged; per side its last CHAP Challenges."""

    requests: dict[tuple[str, int], deque] = field(default_factory=dict)
    challenges: dict[str, deque] = field(default_factory=dict)

    def request(self, sender: str, protocol: int, identifier: int, options: bytes) -> None:
        remembered = self.requests.setdefault((sender, protocol), deque(maxlen=REMEMBERED))
        remembered.append([identifier, options, False])

    def ack(self, receiver: str, protocol: int, identifier: int, options: bytes) -> bool | None:
        """A Configure-Ack to ``receiver``: None if it echoes no remembered Request of the
        receiver's (it counts for nothing), else whether the Request it echoes is answered for
        the first time (a repeat settles nothing new)."""
        for remembered in reversed(self.requests.get((receiver, protocol), ())):
            if remembered[0] == identifier and remembered[1] == options:
                first, remembered[2] = not remembered[2], True
                return first
        return None


def _walk_ppp(call: Call) -> None:
    """Walk a call's PPP in capture order as its peers follow it: MS-CHAPv2, CCP MPPE
    negotiation per direction, MPPE packets and IP in the clear. A CCP Configure-Request asks
    for what its sender will receive, so the Configure-Ack a side sends settles what that
    side sends; an Ack that answers a Request already answered starts no new key stream."""
    packets = sorted((p for f in call.flows for p in f.packets), key=lambda p: p.number)
    peers = _Peers()
    algorithm = None  # the CHAP algorithm LCP settled on, if the capture shows it
    current: dict[str, Epoch] = {}  # sender -> its epoch
    for packet in packets:
        protocol, info = ppp.split(packet.ppp)
        if protocol == PppProto.CHAP and len(info) >= 4:
            _chap_packet(call, peers, packet, info, algorithm)
        elif protocol in (PppProto.LCP, PppProto.CCP) and len(info) >= 4:
            code, identifier = info[0], info[1]
            length = struct.unpack_from(">H", info, 2)[0]
            options = info[4:length] if 4 <= length <= len(info) else None
            if options is None:
                continue
            if code == CpCode.CONFIGURE_REQUEST:
                peers.request(packet.sender, protocol, identifier, options)
                continue
            if code != CpCode.CONFIGURE_ACK:
                continue
            fresh = peers.ack(packet.receiver, protocol, identifier, options)
            if fresh is None:
                continue  # echoes no Configure-Request: no peer would take it
            parsed = ppp.parse_options(options)
            if protocol == PppProto.LCP:
                auth = parsed.get(LCP_OPT_AUTH_PROTOCOL, b"")
                if auth[:2] == struct.pack(">H", PppProto.CHAP) and len(auth) >= 3:
                    algorithm = auth[2]
                continue
            bits = parsed.get(CCP_OPT_MPPE)
            if bits is not None and len(bits) == 4:
                key_bits, stateless = mppe_option(struct.unpack(">I", bits)[0])
                epoch = current.get(packet.sender)
                if epoch is None or (epoch.packets and fresh):
                    epoch = current[packet.sender] = Epoch(packet.sender)
                    call.epochs.append(epoch)
                if fresh or epoch.key_bits is None:
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


def _chap_packet(
    call: Call, peers: _Peers, packet: GrePacket, info: bytes, algorithm: int | None
) -> None:
    """A Challenge is remembered (the last 8 per side); a Response counts only if it has the
    identifier of a remembered Challenge of the other side, or if the capture holds no
    Challenge of that side at all (it started after it); a Success or Failure goes to the
    counting Responses with its identifier."""
    code, identifier, length = info[0], info[1], struct.unpack_from(">H", info, 2)[0]
    body = info[4 : max(4, min(length, len(info)))]
    if code in (CHAP_SUCCESS, CHAP_FAILURE):
        _outcome(call, packet, identifier, code, body)
        return
    if code not in (CHAP_CHALLENGE, CHAP_RESPONSE) or not body:
        return
    value, name = bytes(body[1 : 1 + body[0]]), bytes(body[1 + body[0] :])
    if code == CHAP_CHALLENGE:
        remembered = peers.challenges.setdefault(packet.sender, deque(maxlen=REMEMBERED))
        remembered.append((identifier, value, packet.number, name))
        return
    if len(value) != RESPONSE_SIZE:
        return
    remembered = peers.challenges.get(packet.receiver)
    answered = [(v, f, n) for i, v, f, n in remembered or () if i == identifier]
    if remembered and not answered:
        return  # answers no Challenge the server sent: no peer would take it
    if not _is_mschapv2(value, answered[-1][0] if answered else None, algorithm):
        return
    repeat = (identifier, name, packet.sender, value[:16], value[24:48])
    for handshake in call.handshakes:
        known = (handshake.identifier, handshake.user, handshake.client)
        if (*known, handshake.peer_challenge, handshake.nt_response) == repeat:
            return  # the same Response again (a GRE duplicate or a replay)
    handshake = _handshake(call, packet, identifier, value, name)
    call.handshakes.append(handshake)
    if answered:
        handshake.challenges = answered
        value, frame, server_name = answered[-1]
        handshake.authenticator_challenge, handshake.challenge_frame = value, frame
        handshake.server_name = server_name


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
    """Success or Failure: it answers every Response from the other side with its identifier
    (a copy of a Response cannot be told from the genuine one without the password); the
    first it answers takes it as its outcome, until a credential tells which one is
    genuine. One that answers no Response changes nothing."""
    text = body.decode("latin-1")
    for handshake in call.handshakes:
        if handshake.identifier == identifier and handshake.server == packet.sender:
            handshake.outcomes.append((packet.number, code, text))
            if handshake.outcome_frame is None:
                handshake.outcome_frame = packet.number
                if code == CHAP_SUCCESS:
                    handshake.success = text
                else:
                    handshake.failure = text


def mppe_option(bits: int) -> tuple[int | None, bool]:
    """Key length and stateless mode from the MPPE option's supported bits (RFC 3078 §2.1):
    S (128-bit), M (56-bit), L (40-bit), H (stateless); the strongest if several are set."""
    for flag, key_bits in ((MPPE_BIT_128, 128), (MPPE_BIT_56, 56), (MPPE_BIT_40, 40)):
        if bits & flag:
            return key_bits, bool(bits & MPPE_BIT_STATELESS)
    return None, bool(bits & MPPE_BIT_STATELESS)


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


def is_network_protocol(protocol: int | None) -> bool:
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
