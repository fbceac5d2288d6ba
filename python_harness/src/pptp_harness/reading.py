"""The ground truth of a capture we did not synthesize, read from its bytes with dpkt.

Captures of real peers come with no truth of their own, so this module works it out by the
protocol's rules, independently of both analyzers: TCP port 1723 streams are put back in order
and cut into control messages by their length field; calls are set up by Outgoing/Incoming-Call
Request and Reply; each GRE packet belongs to the call whose receiver gave out its Call ID, on the
control connection between the two addresses; sequence numbers are analysed per call and
direction with the same ``SequenceTracker`` as the synthesized truth; PPP is followed as its peers
follow it (``PppPeers``, issue 24's rule 3). The result has the shape of
``Capture.ground_truth()`` (``calls`` with the per-call summary, ``frames`` with what each frame
must show), so the same comparisons hold both analyzers to it.
"""

from __future__ import annotations

import contextlib
import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import dpkt

from . import captures, ppp
from . import control as ctl
from .constants import (
    AUTH_NONE,
    CCP_OPT_MPPE,
    CHAP_CHALLENGE,
    CHAP_RESPONSE,
    GRE_FLAG_ACK,
    GRE_FLAG_SEQ,
    GRE_PROTO_PPP,
    GRE_VERSION_PPTP,
    HEADER_LENGTH,
    IP_PROTO_GRE,
    LCP_OPT_AUTH_PROTOCOL,
    MAGIC_COOKIE,
    TCP_PORT,
    CpCode,
    MsgType,
    PppProto,
)
from .expected import (
    SEQ_MOD,
    Direction,
    call_ending,
    call_notices,
    disconnect_ending,
    fresh,
    gre_blocked,
    gre_seen,
    pair_flows,
    refusal_ending,
    tcp_close_text,
)
from .gre import EnhancedGRE

# What ``read`` hands each GRE packet to, where asked: frame, timestamp, source, destination, GRE.
GreHandler = Callable[[int, Decimal, str, str, bytes], None]

# The authentication protocol named by an LCP Authentication-Protocol option's data.
AUTH_NAMES = {data: name for name, data in ppp.AUTH_OPTION.items()}


# Configure-Requests and Challenges each side's peer remembers (issue 24's rule 3).
REMEMBERED = 8


@dataclass
class PppPeers:
    """PPP as a call's two peers follow it (issue 24's rule 3, RFC 1661 §5.2): per sender and
    control protocol (LCP, CCP) its last 8 Configure-Requests as (identifier, options
    octets), and per sender its last 8 CHAP Challenges' identifiers. Only a Configure-Ack that
    echoes one of the other side's remembered Requests exactly, and only a CHAP Response with
    the identifier of one of the other side's remembered Challenges, count."""

    requests: dict[tuple[str, int], deque] = field(default_factory=dict)
    challenges: dict[str, deque] = field(default_factory=dict)

    def request(self, sender: str, protocol: int, identifier: int, options: bytes) -> None:
        remembered = self.requests.setdefault((sender, protocol), deque(maxlen=REMEMBERED))
        remembered.append((identifier, options))

    def ack_counts(self, sender: str, protocol: int, identifier: int, options: bytes) -> bool:
        return any(
            (identifier, options) == request
            for (side, kind), requests in self.requests.items()
            if side != sender and kind == protocol
            for request in requests
        )

    def joined(self, other: PppPeers) -> PppPeers:
        """These peers with what ``other`` (the other direction's flow) remembered."""
        self.requests.update(other.requests)
        self.challenges.update(other.challenges)
        return self

    def challenge(self, sender: str, identifier: int) -> None:
        self.challenges.setdefault(sender, deque(maxlen=REMEMBERED)).append(identifier)

    def response_counts(self, sender: str, identifier: int) -> bool:
        return any(
            identifier in identifiers
            for side, identifiers in self.challenges.items()
            if side != sender
        )


@dataclass
class Connection:
    stream: int
    client: tuple[str, int]
    server: tuple[str, int]
    pending: dict[bool, bytes] = field(default_factory=lambda: {True: b"", False: b""})
    next_seq: dict[bool, int | None] = field(default_factory=lambda: {True: None, False: None})
    calls: list[RealCall] = field(default_factory=list)
    stopped_at: float | None = None
    tcp_closed: str | None = None  # its first FIN or RST, as the analyzers say it
    started: bool = False  # its Start-Control-Connection-Request is in the capture
    last_segment: int = 0  # frame of its latest TCP segment


@dataclass
class RealCall:
    conn: Connection
    kind: str
    first_frame: int
    start: float
    client_call_id: int | None = None
    server_call_id: int | None = None
    serial: int = 0
    result: int | None = None
    reply_frame: int | None = None
    connected_at: float | None = None
    cleared_at: float | None = None
    cleared_by: str = ""
    disconnect_result: int | None = None
    last_frame: int = 0
    end_time: float = 0.0
    id_frames: dict[bool, int] = field(default_factory=dict)  # whose Call ID -> frame
    sides: dict[bool, Direction] = field(
        default_factory=lambda: {True: Direction(), False: Direction()}
    )
    protocols: set[str] = field(default_factory=set)
    auth: str = AUTH_NONE
    mppe_negotiated: bool = False
    mppe_packets: int = 0
    cleartext: bool = False
    extra_notices: list[str] = field(default_factory=list)
    ending: str | None = None  # the control message that ended it, in words
    lcp_terminated: int | None = None  # frame of its first LCP Terminate-Ack
    learnt_in: int | None = None  # set up before the capture: the message that named it
    user: str | None = None  # the name the client authenticated with
    peers: PppPeers = field(default_factory=PppPeers)

    def touch(self, number: int, time: float) -> None:
        self.last_frame, self.end_time = number, time

    @property
    def cleared(self) -> bool:
        """Disconnected, stopped or refused (a Clear-Request alone does not clear a call)."""
        refused = self.result is not None and self.result != 1
        return self.disconnect_result is not None or self.conn.stopped_at is not None or refused

    @property
    def gre_seen(self) -> str:
        if self.kind == "unseen":
            return "-"  # connected before the capture: no grace period to watch
        first = self.sides[True].first_time, self.sides[False].first_time
        return gre_seen(self.connected_at or 0.0, *first)

    def gre_problem(self, watched_until: float) -> str | None:
        if self.result != 1 or self.connected_at is None:
            return None
        end = self.cleared_at if self.cleared_at is not None else watched_until
        return gre_blocked(self.gre_seen, self.connected_at, end)

    def summary(self, watched_until: float) -> dict:
        nat_editor = self.client_call_id == self.conn.client[1]
        notices = call_notices(
            self.gre_problem(watched_until),
            nat_editor,
            self.auth,
            self.cleartext,
            self.extra_notices,
            self.user,
        )
        return {
            "tcp_stream": self.conn.stream,
            "kind": self.kind,
            "client": "{}:{}".format(*self.conn.client),
            "server": "{}:{}".format(*self.conn.server),
            "gre_client": self.conn.client[0],
            "client_call_id": self.client_call_id,
            "server_call_id": self.server_call_id,
            "call_serial_number": self.serial,
            "result": self.result,
            "first_frame": self.first_frame,
            "last_frame": self.last_frame,
            "start": self.start,
            "duration": round(self.end_time - self.start, 6),
            "client_to_server": self.sides[True].summary(),
            "server_to_client": self.sides[False].summary(),
            "ppp_protocols": sorted(self.protocols),
            "auth": self.auth,
            "user": self.user,
            "encrypted": self.mppe_negotiated and self.mppe_packets > 0,
            "disconnect_result": self.disconnect_result,
            "cleared_by": self.cleared_by,
            "ended": call_ending(self.ending, self.conn.tcp_closed, self.lcp_terminated),
            "gre_seen": self.gre_seen,
            "notices": notices,
        }


@dataclass
class OrphanFlow:
    """GRE no call claimed (yet): what a call would keep of it."""

    side: Direction = field(default_factory=Direction)
    frames: list[dict] = field(default_factory=list)
    protocols: set[str] = field(default_factory=set)
    mppe_packets: int = 0
    cleartext: bool = False
    auth: str = AUTH_NONE
    mppe_negotiated: bool = False
    lcp_terminated: int | None = None
    user: str | None = None
    call: RealCall | None = None
    peers: PppPeers = field(default_factory=PppPeers)  # shared by a paired tunnel's two flows


@dataclass
class CaptureTruth:
    """What the capture holds: per frame, the messages and the GRE analysis; per call, its
    summary."""

    name: str
    frames: dict[int, dict] = field(default_factory=dict)
    connections: dict[tuple, Connection] = field(default_factory=dict)
    calls: list[RealCall] = field(default_factory=list)
    # (receiver, sender, Call ID) and (receiver, Call ID) -> (call, whether the client receives)
    receivers: dict[tuple, tuple[RealCall, bool]] = field(default_factory=dict)
    receiver_ids: dict[tuple, tuple[RealCall, bool]] = field(default_factory=dict)
    watched_until: float = 0.0  # time of the last PPTP message or GRE packet
    frame_count: int = 0
    notices: set[str] = field(default_factory=set)
    # GRE no call claimed, per (receiver, sender, Call ID): its counters, PPP protocols and
    # frames, until a later message names the call it belongs to
    orphan_flows: dict[tuple, OrphanFlow] = field(default_factory=dict)

    def frame(self, number: int, time: float) -> dict:
        return self.frames.setdefault(number, {"number": number, "time": time})

    def truth(self) -> dict:
        """The capture's truth in the shape of ``Capture.ground_truth()``."""
        frames = {n: dict(f) for n, f in self.frames.items()}
        for call in self.calls:
            problem = call.gre_problem(self.watched_until)
            if problem:
                frame = frames[call.reply_frame]
                frame["problems"] = [*frame.get("problems", ()), problem]
        return {
            "scenario": self.name,
            "description": f"real capture {self.name}",
            "valid": True,
            "frames": [frames[n] for n in sorted(frames)],
            "calls": [c.summary(self.watched_until) for c in self.calls],
            "gre_without_call": [
                {
                    "sender": sender,
                    "receiver": receiver,
                    "call_id": call_id,
                    **flow.side.summary(),
                    "paired_call_id": flow.side.paired_call_id,
                }
                for (receiver, sender, call_id), flow in self.orphan_flows.items()
                if flow.call is None
            ],
            "notices": sorted(self.notices),
        }

    # control connection ----------------------------------------------------------------------

    def tcp(self, number: int, time: float, src: str, dst: str, segment: dpkt.tcp.TCP) -> None:
        if TCP_PORT not in (segment.sport, segment.dport):
            return
        from_client = segment.dport == TCP_PORT
        client = (src, segment.sport) if from_client else (dst, segment.dport)
        server = (dst, segment.dport) if from_client else (src, segment.sport)
        key = (client, server)
        conn = self.connections.get(key)
        if conn is None:
            conn = self.connections[key] = Connection(len(self.connections), client, server)
        conn.last_segment = number
        closing = segment.flags & (dpkt.tcp.TH_FIN | dpkt.tcp.TH_RST)
        if closing and conn.tcp_closed is None:
            fin = bool(segment.flags & dpkt.tcp.TH_FIN)
            conn.tcp_closed = tcp_close_text(fin, from_client, number)
        syn = 1 if segment.flags & dpkt.tcp.TH_SYN else 0
        expected = conn.next_seq[from_client]
        if expected is None:
            expected = segment.seq + syn
        data = segment.data
        offset = (expected - segment.seq - syn) % 2**32
        if offset >= 2**31:  # a gap: these captures have none; take the data as it comes
            offset = 0
        data = data[offset:] if offset < len(data) else b""
        conn.next_seq[from_client] = (segment.seq + syn + len(segment.data)) % 2**32
        if not data:
            return
        buffer = conn.pending[from_client] + data
        while len(buffer) >= HEADER_LENGTH:
            length = struct.unpack(">H", buffer[:2])[0]
            if length < HEADER_LENGTH or len(buffer) < length:
                break
            message, buffer = buffer[:length], buffer[length:]
            self.control(number, time, conn, from_client, message)
        conn.pending[from_client] = buffer

    def control(
        self, number: int, time: float, conn: Connection, from_client: bool, raw: bytes
    ) -> None:
        frame = self.frame(number, time)
        frame.setdefault("tcp_stream", conn.stream)
        (cookie,) = struct.unpack_from(">I", raw, 4)
        try:
            message = ctl.unpack_message(raw)
        except dpkt.UnpackError:
            message = None
        mtype = struct.unpack_from(">H", raw, 8)[0]
        frame.setdefault("messages", []).append(mtype)
        if message is None or cookie != MAGIC_COOKIE:
            return
        self.watched_until = max(self.watched_until, time)
        client_ip = conn.client[0]
        if mtype == MsgType.SCCRQ:
            conn.started = True
        if mtype == MsgType.OCRQ and from_client:
            call = RealCall(conn, "outgoing", number, time, client_call_id=message.call_id)
            call.serial = message.call_serial_number
            call.touch(number, time)
            call.id_frames[True] = number
            if self._collides(conn, message.call_id):
                frame.setdefault("problems", []).append("call_id_collision")
                call.extra_notices.append("Call_ID_Collision")
            self._add_call(conn, call, client_ip, conn.server[0], True)
        elif mtype == MsgType.ICRQ and not from_client:
            call = RealCall(conn, "incoming", number, time, server_call_id=message.call_id)
            call.serial = message.call_serial_number
            call.touch(number, time)
            call.id_frames[False] = number
            self._add_call(conn, call, conn.server[0], client_ip, False)
        elif mtype in (MsgType.OCRP, MsgType.ICRP):
            replier_is_client = mtype == MsgType.ICRP
            call = self._call(conn, not replier_is_client, message.peer_call_id)
            if call is not None:
                if replier_is_client:
                    call.client_call_id = message.call_id
                else:
                    call.server_call_id = message.call_id
                call.id_frames[replier_is_client] = number
                call.result = message.result_code
                call.reply_frame = number
                if call.result == 1:
                    call.connected_at = time
                else:
                    call.ending = refusal_ending(call.kind, call.result)
                address = client_ip if replier_is_client else conn.server[0]
                peer = conn.server[0] if replier_is_client else client_ip
                self.receivers[(address, peer, message.call_id)] = (call, replier_is_client)
                self.receiver_ids[(address, message.call_id)] = (call, replier_is_client)
                call.touch(number, time)
        elif mtype == MsgType.ICCN:
            call = self._call(conn, True, message.peer_call_id)
            if call is not None:
                call.touch(number, time)
        elif mtype == MsgType.CCRQ:
            call = self._call(conn, True, message.call_id)
            call = call or self._learn(conn, True, message.call_id, number, time)
            if call is not None:
                call.touch(number, time)
                call.cleared_by = call.cleared_by or "client"
                call.cleared_at = time if call.cleared_at is None else call.cleared_at
                call.ending = call.ending or "Call-Clear-Request from the client"
        elif mtype == MsgType.CDN:
            call = self._call(conn, False, message.call_id)
            call = call or self._learn(conn, False, message.call_id, number, time)
            if call is not None:
                call.touch(number, time)
                call.disconnect_result = message.result_code
                call.ending = disconnect_ending(message.result_code)
                call.cleared_by = call.cleared_by or "server"
                call.cleared_at = time if call.cleared_at is None else call.cleared_at
        elif mtype in (MsgType.SLI, MsgType.WEN):
            # Set-Link-Info from the client names the server's Call ID; WAN-Error-Notify (and
            # Set-Link-Info from a server) the client's.
            client_id = mtype == MsgType.WEN or not from_client
            call = self._call(conn, client_id, message.peer_call_id)
            call = call or self._call(conn, True, message.peer_call_id)
            call = call or self._learn(conn, client_id, message.peer_call_id, number, time)
            if call is not None:
                call.touch(number, time)
        elif mtype == MsgType.STOPCCRQ:
            conn.stopped_at = time
            by = "client" if from_client else "server"
            for call in conn.calls:
                if call.cleared_at is None:
                    call.cleared_at = time
                call.ending = call.ending or f"Stop-Control-Connection-Request from the {by}"

    def _learn(
        self, conn: Connection, client_id: bool, call_id: int, number: int, time: float
    ) -> RealCall | None:
        """A call set up before the capture started, named by a later message of a connection
        whose start is not in the capture either: a call learnt before from the other side's
        Call ID gets this one, else a new call does (its set-up noted as unseen). GRE to that
        side that no call claimed so far is its."""
        if conn.started:
            return None
        call = next(
            (
                c
                for c in reversed(conn.calls)
                if c.kind == "unseen"
                and (c.client_call_id if client_id else c.server_call_id) is None
                and c.disconnect_result is None
            ),
            None,
        )
        if call is None:
            call = RealCall(conn, "unseen", number, time, learnt_in=number)
            self.frames[number].setdefault("problems", []).append("setup_unseen")
            conn.calls.append(call)
            self.calls.append(call)
        if client_id:
            call.client_call_id = call_id
        else:
            call.server_call_id = call_id
        call.id_frames[client_id] = number
        call.touch(number, time)
        receiver = conn.client[0] if client_id else conn.server[0]
        peer = conn.server[0] if client_id else conn.client[0]
        self.receivers[(receiver, peer, call_id)] = (call, client_id)
        self.receiver_ids[(receiver, call_id)] = (call, client_id)
        flow = self.orphan_flows.get((receiver, peer, call_id))
        if flow is not None and flow.call is None:
            flow.call = call
            call.sides[not client_id] = flow.side
            call.protocols |= flow.protocols
            call.mppe_packets += flow.mppe_packets
            call.cleartext = call.cleartext or flow.cleartext
            call.user = call.user or flow.user
            call.peers.joined(flow.peers)  # what the flow's peer asked for, the call's now
            for frame in flow.frames:
                frame["call_frame"] = number
                frame["tied_later"] = True  # a one-pass read shows it without a call
                if "gre_without_call" in frame.get("problems", ()):
                    frame["problems"].remove("gre_without_call")
            if flow.frames and flow.frames[0]["number"] < call.first_frame:
                call.first_frame = flow.frames[0]["number"]
                call.start = flow.frames[0]["time"]
        return call

    def _add_call(self, conn, call, receiver: str, sender: str, client_id: bool) -> None:
        conn.calls.append(call)
        self.calls.append(call)
        call_id = call.client_call_id if client_id else call.server_call_id
        self.receivers[(receiver, sender, call_id)] = (call, client_id)
        self.receiver_ids[(receiver, call_id)] = (call, client_id)

    def _collides(self, conn: Connection, call_id: int) -> bool:
        """Another live call from the same client address to the same server has this Call ID
        on a different control connection (clients behind one NAT, no NAT editor)."""
        return any(
            call.conn is not conn
            and call.conn.client[0] == conn.client[0]
            and call.conn.server[0] == conn.server[0]
            and call.client_call_id == call_id
            and call.disconnect_result is None
            and call.conn.stopped_at is None
            for call in self.calls
        )

    @staticmethod
    def _call(conn: Connection, client_id: bool, call_id: int) -> RealCall | None:
        """The newest call of the connection that has this Call ID (client's or server's)."""
        for call in reversed(conn.calls):
            if (call.client_call_id if client_id else call.server_call_id) == call_id:
                return call
        return None

    # GRE ---------------------------------------------------------------------------------------

    def gre(self, number: int, time: float, src: str, dst: str, raw: bytes) -> None:
        try:
            packet = EnhancedGRE(raw)
        except dpkt.UnpackError:
            return
        if packet.version != GRE_VERSION_PPTP or packet.protocol != GRE_PROTO_PPP:
            return
        frame = self.frame(number, time)
        frame["gre"] = True
        self.watched_until = max(self.watched_until, time)
        problems = frame.setdefault("problems", [])
        found = self.receivers.get((dst, src, packet.call_id))
        if found is None:
            # Only the receiver and the Call ID match: GRE from another address than the
            # control connection's peer (an inconsistent NAT).
            found = self.receiver_ids.get((dst, packet.call_id))
            # A cleared call claims no GRE from another address.
            if found is None or found[0].cleared:
                self._orphan(frame, dst, src, packet)
                return
            problems.append("gre_address_mismatch")
            if "GRE_Address_Mismatch" not in found[0].extra_notices:
                found[0].extra_notices.append("GRE_Address_Mismatch")
        call, to_client = found
        from_client = not to_client
        side, back = call.sides[from_client], call.sides[to_client]
        frame["call_frame"] = call.id_frames[to_client]
        # A call learnt from a later message: its stream once TCP's tap saw a segment after it.
        if call.learnt_in is None or call.conn.last_segment > call.learnt_in:
            frame["tcp_stream"] = call.conn.stream
        side.packets += 1
        side.bytes += len(packet.data)
        if side.first_time is None:
            side.first_time = time
        call.touch(number, time)
        analysis = {}
        if packet.flags & GRE_FLAG_SEQ:
            analysis = side.tracker.observe(packet.seq, time)
        frame["analysis"] = analysis
        if packet.flags & GRE_FLAG_ACK and back.tracker.highest is not None:
            ahead = (packet.ack - back.tracker.highest) % SEQ_MOD
            if 0 < ahead < SEQ_MOD // 2:
                problems.append("gre_ack_unseen")
        if packet.data:
            self.ppp(call, packet.data, number, src, fresh(analysis))

    def _orphan(self, frame: dict, receiver: str, sender: str, packet: EnhancedGRE) -> None:
        """GRE no call claims: noted on the first packet of its flow, analyzed as a call's."""
        key = (receiver, sender, packet.call_id)
        flow = self.orphan_flows.get(key)
        if flow is None:
            flow = self.orphan_flows[key] = OrphanFlow()
            frame["problems"].append("gre_without_call")
        self.notices.add("GRE_Without_Control")
        flow.frames.append(frame)
        flow.side.packets += 1
        flow.side.bytes += len(packet.data)
        if flow.side.first_time is None:
            flow.side.first_time = frame["time"]
        frame["analysis"] = (
            flow.side.tracker.observe(packet.seq, frame["time"])
            if packet.flags & GRE_FLAG_SEQ
            else {}
        )
        if packet.flags & GRE_FLAG_ACK:
            reverse = [
                (call_id, other.side)
                for (other_receiver, other_sender, call_id), other in self.orphan_flows.items()
                if (other_receiver, other_sender) == (sender, receiver) and other.call is None
            ]
            pair_flows(flow.side, packet.call_id, reverse, packet.ack)
            other = self.orphan_flows.get((sender, receiver, flow.side.paired_call_id))
            if other is not None and other.peers is not flow.peers:
                flow.peers = other.peers.joined(flow.peers)  # a paired tunnel is one call
        if packet.data:
            self.ppp(flow, packet.data, frame["number"], sender, fresh(frame["analysis"]))

    @staticmethod
    def ppp(
        call: RealCall | OrphanFlow, payload: bytes, number: int, sender: str, fresh: bool
    ) -> None:
        """One PPP frame of a call from ``sender``, followed as the peers follow it: a frame
        no peer would accept (a Configure-Ack that echoes no Configure-Request, a CHAP
        Response to no Challenge) never changes the authentication, user or MPPE; one whose
        sequence number is not ``fresh`` adds no protocol and no IP in clear."""
        protocol, info = ppp.split(payload)
        if protocol is None:
            return
        try:
            name = PppProto(protocol).name
        except ValueError:
            return
        if fresh:
            call.protocols.add(name)
        peers = call.peers
        if protocol == PppProto.CHAP and len(info) >= 4:
            if info[0] == CHAP_CHALLENGE:
                peers.challenge(sender, info[1])
            elif info[0] == CHAP_RESPONSE and not peers.response_counts(sender, info[1]):
                return  # answers no Challenge: no user from it
        name = ppp.identity(protocol, info)
        if name is not None and call.user is None:
            call.user = name.decode("utf-8", "replace")
        if protocol == PppProto.MPPE:
            call.mppe_packets += 1
        elif protocol == PppProto.IP and fresh:
            call.cleartext = True
        elif protocol == PppProto.LCP and info[:1] == bytes([CpCode.TERMINATE_ACK]):
            if call.lcp_terminated is None:
                call.lcp_terminated = number
        elif protocol in (PppProto.LCP, PppProto.CCP) and len(info) >= 4:
            code, identifier = info[0], info[1]
            length = struct.unpack_from(">H", info, 2)[0]
            if not 4 <= length <= len(info):
                return  # a length no peer would take
            options = bytes(info[4:length])
            if code == CpCode.CONFIGURE_REQUEST:
                peers.request(sender, protocol, identifier, options)
            elif code == CpCode.CONFIGURE_ACK and peers.ack_counts(
                sender, protocol, identifier, options
            ):
                CaptureTruth._settle(call, protocol, ppp.parse_options(options))

    @staticmethod
    def _settle(call: RealCall | OrphanFlow, protocol: int, options: dict[int, bytes]) -> None:
        """What a counting Configure-Ack settles: LCP the authentication, CCP MPPE."""
        if protocol == PppProto.LCP and LCP_OPT_AUTH_PROTOCOL in options:
            option = options[LCP_OPT_AUTH_PROTOCOL]
            chap = option[:2] == struct.pack(">H", PppProto.CHAP)
            call.auth = AUTH_NAMES.get(option[:3] if chap else option[:2], AUTH_NONE)
        if protocol == PppProto.CCP and CCP_OPT_MPPE in options:
            call.mppe_negotiated = True


def read(pcap: str | Path, gre: GreHandler | None = None) -> CaptureTruth:
    """Read a capture (pcap or pcapng, any link layer ``captures`` reads) into its ground
    truth; times count from the capture's first frame. With ``gre``, each GRE packet goes to
    it (frame number, exact timestamp, source, destination, GRE octets) instead of the truth's
    GRE analysis, and a control message too broken to parse names no call: the decryption
    tools read their captures this way."""
    pcap = Path(pcap)
    truth = CaptureTruth(pcap.stem)
    start = None
    for number, ts, linktype, frame in captures.records(pcap):
        start = ts if start is None else start
        truth.frame_count = number
        packet = captures.network_packet(linktype, frame)
        found = captures.transport(packet) if packet is not None else None
        if found is None:
            continue
        src, dst, proto, payload = found
        time = float(ts - start)
        if proto == dpkt.ip.IP_PROTO_TCP:
            try:
                segment = dpkt.tcp.TCP(payload)
            except (dpkt.UnpackError, struct.error):
                continue
            if gre is None:
                truth.tcp(number, time, src, dst, segment)
            else:
                with contextlib.suppress(dpkt.UnpackError, struct.error):
                    truth.tcp(number, time, src, dst, segment)
        elif proto == IP_PROTO_GRE:
            if gre is None:
                truth.gre(number, time, src, dst, payload)
            else:
                gre(number, ts, src, dst, payload)
    return truth
