"""Builds a capture frame by frame and keeps the ground truth of every frame and session.

Layers: ``Capture`` (frames, clock, pcap + JSON output) ← ``TcpConnection`` (handshake, correct
sequence/acknowledgment numbers, segmentation, teardown) ← ``ControlConnection`` (PPTP control
messages with their request/reply links) ← ``Call`` (enhanced GRE both ways with per-direction
sequence analysis, PPP phases). Scenarios are written against the last two.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import dpkt

from . import control as ctl
from . import mppe, ppp
from .constants import (
    AUTH_MSCHAP_V2,
    AUTH_NONE,
    CCP_OPT_MPPE,
    IP_PROTO_GRE,
    MESSAGE_NAMES,
    MPPE_BIT_40,
    MPPE_BIT_56,
    MPPE_BIT_128,
    MPPE_BIT_STATELESS,
    PROTOCOL_VERSION,
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
from .gre import EnhancedGRE, enhanced_gre

BASE_TIME = 1_767_225_600.0  # 2026-01-01T00:00:00Z: fixed so captures are reproducible
SNAPLEN = 65535
TRUTH_SUFFIX = ".truth.json"


@dataclass(frozen=True)
class Host:
    """An addressable end of the capture."""

    name: str
    ip: str
    mac: bytes

    @property
    def ip_bytes(self) -> bytes:
        return socket.inet_aton(self.ip)


def host(name: str, ip: str) -> Host:
    """A host with a locally administered MAC derived from its address."""
    return Host(name, ip, b"\x02\x00" + socket.inet_aton(ip))


@dataclass
class Frame:
    number: int
    time: float
    data: bytes
    truth: dict


@dataclass
class Pdu:
    """One control message on the wire, with the decode it must get and its known problems."""

    data: bytes
    fields: dict[str, object]
    name: str
    problems: tuple[str, ...] = ()


def pdu(message: ctl.ControlMessage, problems: Iterable[str] = ()) -> Pdu:
    try:
        name = MESSAGE_NAMES[MsgType(message.control_type)]
    except ValueError:
        name = f"Unknown ({message.control_type})"
    return Pdu(bytes(message), message.truth(), name, tuple(problems))


def add_field(fields: dict[str, list], name: str, value: object) -> None:
    fields.setdefault(name, []).append(value)


def add_fields(fields: dict[str, list], values: Mapping[str, object]) -> dict[str, list]:
    """Append every value of ``values`` to ``fields`` (name -> values in tree order)."""
    for name, value in values.items():
        add_field(fields, name, value)
    return fields


@dataclass(frozen=True)
class Login:
    """Who a call authenticates as with MS-CHAPv2, and the MPPE its data then uses: the key
    length (40, 56 or 128 bits) and mode (stateless, or stateful)."""

    user: str
    password: str
    key_bits: int = 128
    stateless: bool = True

    @property
    def mppe_bits(self) -> int:
        """The MPPE option's supported bits (RFC 3078 §2.1) that settle on this."""
        strength = {40: MPPE_BIT_40, 56: MPPE_BIT_56, 128: MPPE_BIT_128}[self.key_bits]
        return strength | (MPPE_BIT_STATELESS if self.stateless else 0)


class Capture:
    """Frames in order, each with its ground truth; writes FILE.pcap and FILE.truth.json."""

    def __init__(self, name: str, description: str, *, valid: bool = True) -> None:
        self.name = name
        self.description = description
        self.valid = valid
        self.frames: list[Frame] = []
        self._clock_us = int(BASE_TIME * 1_000_000)  # whole microseconds: no float drift
        self.connections: list[ControlConnection] = []
        self.calls: list[Call] = []
        self.watched_until = 0.0
        # Notices not tied to one call (floods, failed attempts, GRE without control).
        self.notices: list[str] = []
        # GRE no call claims, per (sender, receiver, Call ID), in the order first seen.
        self.orphan_flows: dict[tuple[str, str, int], Direction] = {}
        self._ip_id: dict[str, int] = {}

    # -- clock and frames ------------------------------------------------------------------
    @property
    def time(self) -> float:
        return self._clock_us / 1_000_000

    def wait(self, seconds: float) -> None:
        self._clock_us += round(seconds * 1_000_000)

    def add(self, data: bytes, truth: dict | None = None, gap: float = 0.001) -> Frame:
        self.wait(gap)
        frame = Frame(len(self.frames) + 1, self.time, data, truth or {"kind": "other"})
        self.frames.append(frame)
        if frame.truth.get("kind") == "pptp_gre" or frame.truth.get("messages"):
            self.watched_until = frame.time  # the last PPTP message or GRE packet so far
        return frame

    def ip_packet(self, src: Host, dst: Host, proto: int, payload: dpkt.Packet | bytes) -> bytes:
        """Ethernet + IPv4 around ``payload``, checksums computed."""
        ident = self._ip_id.get(src.ip, 0x100) + 1
        self._ip_id[src.ip] = ident & 0xFFFF
        packet = dpkt.ip.IP(
            src=src.ip_bytes, dst=dst.ip_bytes, p=proto, ttl=64, id=ident & 0xFFFF, data=payload
        )
        packet.df = 1
        return bytes(
            dpkt.ethernet.Ethernet(
                src=src.mac, dst=dst.mac, type=dpkt.ethernet.ETH_TYPE_IP, data=packet
            )
        )

    # -- output ----------------------------------------------------------------------------
    def ground_truth(self) -> dict:
        for call in self.calls:
            call.decryption_truth()
        return {
            "scenario": self.name,
            "description": self.description,
            "valid": self.valid,
            "frames": [self._frame_truth(f) for f in self.frames],
            "connections": [c.summary() for c in self.connections],
            "calls": [c.summary() for c in self.calls],
            "gre_without_call": [
                {
                    "sender": sender,
                    "receiver": receiver,
                    "call_id": call_id,
                    **flow.summary(),
                    "paired_call_id": flow.paired_call_id,
                }
                for (sender, receiver, call_id), flow in self.orphan_flows.items()
            ],
            "notices": self.notices,
        }

    def _frame_truth(self, frame: Frame) -> dict:
        """A frame's truth, plus the diagnoses only the whole capture decides (GRE blocked
        one or both ways, shown on the reply that connected the call)."""
        truth = {"number": frame.number, "time": frame.time, **frame.truth}
        found = [c.gre_problem for c in self.calls if c.reply_frame is frame and c.gre_problem]
        found += ["nat_editor" for c in self.calls if c.nat_editor and c.id_frames[True] is frame]
        if found:
            truth["problems"] = [*truth.get("problems", ()), *found]
        return truth

    def write_pcap(self, pcap_path: str | Path) -> Path:
        """Write only the pcap (the fuzzer keeps the truth in memory)."""
        pcap_path = Path(pcap_path)
        with pcap_path.open("wb") as out:
            writer = dpkt.pcap.Writer(out, snaplen=SNAPLEN, linktype=dpkt.pcap.DLT_EN10MB)
            for frame in self.frames:
                writer.writepkt(frame.data, ts=frame.time)
        return pcap_path

    def write(self, pcap_path: str | Path) -> Path:
        """Write the pcap and its ground truth beside it; returns the truth file's path."""
        pcap_path = self.write_pcap(pcap_path)
        truth_path = truth_path_for(pcap_path)
        truth_path.write_text(json.dumps(self.ground_truth(), indent=1, sort_keys=True) + "\n")
        return truth_path


def truth_path_for(pcap_path: str | Path) -> Path:
    pcap_path = Path(pcap_path)
    return pcap_path.with_name(pcap_path.stem + TRUTH_SUFFIX)


class TcpConnection:
    """A TCP connection with a real handshake, exact seq/ack numbers and teardown."""

    def __init__(
        self,
        cap: Capture,
        client: Host,
        server: Host,
        client_port: int,
        server_port: int = TCP_PORT,
    ) -> None:
        self.cap = cap
        self.ends = {True: (client, client_port), False: (server, server_port)}
        # Initial sequence numbers derived from the ports: fixed, but different per connection.
        self.next_seq = {
            True: 0x10000000 + client_port * 7919,
            False: 0x60000000 + client_port * 104729,
        }
        self.stream = sum(1 for f in cap.frames if f.truth.get("tcp_syn"))
        self.segments: list[int] = []  # frame numbers of its segments

    def _segment(
        self,
        from_client: bool,
        flags: int,
        payload: bytes = b"",
        truth: dict | None = None,
        gap: float = 0.001,
    ) -> Frame:
        (src, sport), (dst, dport) = self.ends[from_client], self.ends[not from_client]
        segment = dpkt.tcp.TCP(
            sport=sport,
            dport=dport,
            seq=self.next_seq[from_client] % SEQ_MOD,
            ack=self.next_seq[not from_client] % SEQ_MOD if flags & dpkt.tcp.TH_ACK else 0,
            flags=flags,
            win=64240,
            data=payload,
        )
        self.next_seq[from_client] += len(payload) + (
            1 if flags & (dpkt.tcp.TH_SYN | dpkt.tcp.TH_FIN) else 0
        )
        base = {"kind": "tcp", "tcp_stream": self.stream}
        frame = self.cap.add(
            self.cap.ip_packet(src, dst, dpkt.ip.IP_PROTO_TCP, segment),
            {**base, **(truth or {})},
            gap,
        )
        self.segments.append(frame.number)
        return frame

    def ack(self, from_client: bool) -> Frame:
        """A segment with no payload that acknowledges what the other side sent."""
        return self._segment(from_client, dpkt.tcp.TH_ACK)

    def open(self) -> None:
        self._segment(True, dpkt.tcp.TH_SYN, truth={"tcp_syn": True})
        self._segment(False, dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK)
        self._segment(True, dpkt.tcp.TH_ACK)

    def send(
        self, from_client: bool, pdus: Sequence[Pdu], cuts: Sequence[int] = (), gap: float = 0.001
    ) -> list[Frame]:
        """Send ``pdus`` as one byte stream, cut into segments at the stream offsets ``cuts``.

        Each message's truth goes on the frame that holds its last octet (where a reassembling
        decoder shows it). Returns, per message, that frame.
        """
        stream = b"".join(p.data for p in pdus)
        bounds = [0, *sorted(c for c in cuts if 0 < c < len(stream)), len(stream)]
        ends, offset = [], 0
        for p in pdus:
            offset += len(p.data)
            ends.append(offset)
        frames_of_message: list[Frame] = []
        for start, stop in zip(bounds, bounds[1:]):
            fields: dict[str, list] = {}
            names, problems, starts, complete = [], [], 0, 0
            for p, end in zip(pdus, ends):
                begin = end - len(p.data)
                if start <= begin < stop:
                    starts += 1
                    if end <= stop:
                        complete += 1
                if start < end <= stop:
                    names.append(p.name)
                    problems.extend(p.problems)
                    add_fields(fields, p.fields)
            truth = {
                "kind": "pptp_ctrl",
                "messages": names,
                "fields": fields,
                "problems": problems,
                "segment": {
                    "starts_mid_message": start
                    not in [e - len(p.data) for p, e in zip(pdus, ends)],
                    "messages_starting": starts,
                    "messages_complete": complete,
                    "ends_mid_message": stop not in ends,
                },
            }
            frame = self._segment(
                from_client, dpkt.tcp.TH_PUSH | dpkt.tcp.TH_ACK, stream[start:stop], truth, gap
            )
            frames_of_message.extend(frame for end in ends if start < end <= stop)
        return frames_of_message

    def close(self, client_first: bool = True) -> None:
        """FIN from one side, FIN+ACK from the other, final ACK."""
        self._segment(client_first, dpkt.tcp.TH_FIN | dpkt.tcp.TH_ACK)
        self._segment(not client_first, dpkt.tcp.TH_FIN | dpkt.tcp.TH_ACK)
        self._segment(client_first, dpkt.tcp.TH_ACK)


def link(request: Frame, reply: Frame) -> None:
    """Record the request/reply link an analyzer must show on both frames."""
    add_field(request.truth["fields"], "pptp_ctrl.response_in", reply.number)
    add_fields(
        reply.truth["fields"],
        {
            "pptp_ctrl.response_to": request.number,
            "pptp_ctrl.response_time": round(reply.time - request.time, 6),
        },
    )


class ControlConnection:
    """A PPTP control connection: the TCP client is the PNS, the server (port 1723) the PAC."""

    def __init__(
        self,
        cap: Capture,
        client: Host,
        server: Host,
        client_port: int = 40000,
        server_port: int = TCP_PORT,
        **names: str,
    ) -> None:
        self.cap = cap
        self.client, self.server = client, server
        self.tcp = TcpConnection(cap, client, server, client_port, server_port)
        self.server_port = server_port
        self.client_port = client_port
        self.names = {
            "client_host_name": "pns.example",
            "client_vendor_name": "pptp-analysis",
            "server_host_name": "pac.example",
            "server_vendor_name": "pptp-analysis",
            **names,
        }
        self.start_result: int | None = None
        self.stop_reason: int | None = None
        self.stop_result: int | None = None
        self.echoes = 0
        self.calls: list[Call] = []
        self.first_frame = self.last_frame = 0
        self.closed_by = ""
        self.tcp_closed: str | None = None  # how its TCP closed, as the analyzers say it
        cap.connections.append(self)

    @property
    def stream(self) -> int:
        return self.tcp.stream

    def send(
        self, from_client: bool, *messages: ctl.ControlMessage | Pdu, cuts: Sequence[int] = ()
    ) -> list[Frame]:
        pdus = [m if isinstance(m, Pdu) else pdu(m) for m in messages]
        frames = self.tcp.send(from_client, pdus, cuts)
        self.last_frame = frames[-1].number if frames else self.last_frame
        return frames

    def start(self, result: int = 1, cuts_request: Sequence[int] = ()) -> None:
        """TCP handshake, then Start-Control-Connection-Request and -Reply."""
        self.tcp.open()
        self.first_frame = self.cap.frames[-3].number
        request = ctl.StartControlConnectionRequest(
            host_name=self.names["client_host_name"].encode(),
            vendor_name=self.names["client_vendor_name"].encode(),
        )
        reply = ctl.StartControlConnectionReply(
            result_code=result,
            host_name=self.names["server_host_name"].encode(),
            vendor_name=self.names["server_vendor_name"].encode(),
        )
        (req_frame,) = self.send(True, request, cuts=cuts_request)
        (rep_frame,) = self.send(False, reply)
        link(req_frame, rep_frame)
        self.start_result = result

    def echo(self, from_client: bool, identifier: int) -> None:
        (req,) = self.send(from_client, ctl.EchoRequest(identifier=identifier))
        self.cap.wait(0.02)
        (rep,) = self.send(not from_client, ctl.EchoReply(identifier=identifier))
        link(req, rep)
        self.echoes += 1

    def stop(self, by_client: bool = True, reason: int = 1) -> None:
        """Stop-Control-Connection-Request/-Reply, then TCP close by the same side."""
        (req,) = self.send(by_client, ctl.StopControlConnectionRequest(reason=reason))
        (rep,) = self.send(not by_client, ctl.StopControlConnectionReply(result_code=1))
        link(req, rep)
        for call in self.calls:
            call.ended_at = req.time if call.ended_at is None else call.ended_at
            by = "client" if by_client else "server"
            call.ending = call.ending or f"Stop-Control-Connection-Request from the {by}"
        self.stop_reason, self.stop_result = reason, 1
        self.close(by_client)

    def close(self, by_client: bool = True) -> None:
        self.tcp.close(by_client)
        self.last_frame = self.cap.frames[-1].number
        self.closed_by = "client" if by_client else "server"
        self.tcp_closed = tcp_close_text(True, by_client, self.cap.frames[-3].number)

    def outgoing_call(
        self, client_call_id: int, server_call_id: int, serial: int = 0, result: int = 1
    ) -> Call:
        """Outgoing-Call-Request (PNS) and -Reply (PAC); the call exists if result is Connected."""
        call = Call(self, "outgoing", client_call_id, server_call_id, serial)
        (req,) = self.send(
            True, ctl.OutgoingCallRequest(call_id=client_call_id, call_serial_number=serial)
        )
        self.cap.wait(0.05)
        (rep,) = self.send(
            False,
            ctl.OutgoingCallReply(
                call_id=server_call_id, peer_call_id=client_call_id, result_code=result
            ),
        )
        link(req, rep)
        call.established(req, rep, result)
        return call

    def call_in_progress(self, client_call_id: int, server_call_id: int) -> Call:
        """A call set up before the capture started: no set-up frames. Analyzers learn it from
        a later message that names one of its Call IDs (Call-Clear-Request, Disconnect-Notify,
        Set-Link-Info, WAN-Error-Notify) and tie its GRE, earlier packets included, to it."""
        call = Call(self, "unseen", client_call_id, server_call_id, 0)
        self.calls.append(call)
        self.cap.calls.append(call)
        return call

    def incoming_call(self, client_call_id: int, server_call_id: int, serial: int = 0) -> Call:
        """Incoming-Call-Request (PAC), -Reply (PNS) and -Connected (PAC)."""
        call = Call(self, "incoming", client_call_id, server_call_id, serial)
        (req,) = self.send(
            False,
            ctl.IncomingCallRequest(
                call_id=server_call_id,
                call_serial_number=serial,
                dialing_number=b"5550100",
                dialing_number_length=7,
            ),
        )
        (rep,) = self.send(
            True, ctl.IncomingCallReply(call_id=client_call_id, peer_call_id=server_call_id)
        )
        link(req, rep)
        (conn,) = self.send(False, ctl.IncomingCallConnected(peer_call_id=client_call_id))
        link(rep, conn)
        # The PAC assigned its Call ID in the request, the PNS its own in the reply.
        call.established(rep, req, 1, connected=conn)
        return call

    def summary(self) -> dict:
        return {
            "tcp_stream": self.stream,
            "client": f"{self.client.ip}:{self.client_port}",
            "server": f"{self.server.ip}:{self.server_port}",
            **self.names,
            "protocol_version": PROTOCOL_VERSION,
            "start_result": self.start_result,
            "stop_reason": self.stop_reason,
            "stop_result": self.stop_result,
            "echoes": self.echoes,
            "calls": len(self.calls),
            "first_frame": self.first_frame,
            "last_frame": self.last_frame,
            "closed_by": self.closed_by,
        }


class Call:
    """One call of a control connection and its GRE data both ways.

    GRE from the client carries the server's Call ID and GRE from the server the client's
    (each side puts its peer's Call ID in the key, RFC 2637 §4.1).
    """

    def __init__(
        self,
        conn: ControlConnection,
        kind: str,
        client_call_id: int,
        server_call_id: int,
        serial: int,
    ) -> None:
        self.conn, self.cap = conn, conn.cap
        self.kind = kind
        self.call_id = {True: client_call_id, False: server_call_id}
        self.serial = serial
        self.sides = {True: Direction(), False: Direction()}
        self.client_ip = conn.client  # GRE source for the client side; NAT scenarios override
        self.id_frames: dict[bool, Frame] = {}
        self.reply_frame: Frame | None = None  # the reply that connected it
        self.first_frame = self.last_frame = 0
        self.start_time = self.end_time = 0.0
        self.result: int | None = None
        self.disconnect_result: int | None = None
        self.cleared_by = ""
        self.ppp_protocols: set[str] = set()
        self.auth = AUTH_NONE
        self.mppe_negotiated = False
        self.cleartext_data = False
        self.compressed = False
        self.mppe_count = 0
        self.encrypt = False
        self.extra_notices: list[str] = []
        self.ended_at: float | None = None  # first Call-Clear, Disconnect-Notify or Stop
        self.ending: str | None = None  # the control message that ended it, in words
        self.lcp_terminated: int | None = None  # frame of the first LCP Terminate-Ack
        # A call in progress when the capture started: the message that taught analyzers the
        # call, and GRE sent before a message named the Call ID it carries.
        self.learnt_in: Frame | None = None
        self.untied: list[tuple[Frame, bool]] = []
        self.user: str | None = None  # the name the client authenticated with
        # A genuine MS-CHAPv2 login: the MPPE senders of both directions (client: True), and
        # every encrypted packet sent, in the order built (frame, from client, packet, inner).
        self.login: Login | None = None
        self.senders: dict[bool, mppe.MppeCipher] = {}
        self.start_keys: dict[bool, bytes] = {}
        self.sent_encrypted: list[tuple[Frame, bool, bytes, ppp.PppFrame]] = []

    def established(
        self,
        client_id_frame: Frame,
        server_id_frame: Frame,
        result: int,
        connected: Frame | None = None,
    ) -> None:
        self.id_frames = {True: client_id_frame, False: server_id_frame}
        # The reply that connected the call: Outgoing-Call-Reply or Incoming-Call-Reply.
        self.reply_frame = max(client_id_frame, server_id_frame, key=lambda f: f.number)
        first = min(client_id_frame, server_id_frame, key=lambda f: f.number)
        self.first_frame, self.start_time = first.number, first.time
        last = connected or max(client_id_frame, server_id_frame, key=lambda f: f.number)
        self.last_frame, self.end_time = last.number, last.time
        self.result = result
        if result != 1:
            self.ending = refusal_ending(self.kind, result)
        self.conn.calls.append(self)
        self.cap.calls.append(self)

    # -- GRE -------------------------------------------------------------------------------
    def gre(
        self,
        from_client: bool,
        frame: ppp.PppFrame | None = None,
        *,
        seq: int | None = None,
        ack: bool = True,
        gap: float = 0.002,
    ) -> Frame:
        """Send one GRE packet: a PPP frame (sequenced) or, with ``frame=None``, an ack-only packet.

        ``seq`` overrides the next sequence number (for loss/duplicate/reorder scenarios);
        ``ack=True`` acknowledges the highest number received so far if there is a new one,
        ``ack=False`` sends none.
        """
        side, peer = self.sides[from_client], self.sides[not from_client]
        shown = None if frame is None else (frame.compressed() if self.compressed else frame)
        if shown is not None:
            seq = side.next_seq if seq is None else seq
            side.next_seq = (seq + 1) % SEQ_MOD
        else:
            seq = None
        ack_value = None
        # Piggyback an ack only when there is something new to acknowledge; ack-only always acks.
        new_to_ack = side.highest_received != side.acked
        if ack and side.highest_received is not None and (shown is None or new_to_ack):
            ack_value = side.acked = side.highest_received
        gre = enhanced_gre(self.call_id[not from_client], bytes(shown or b""), seq, ack_value)
        fields = {**gre.truth(), **self._ties(not from_client)}
        if shown is not None:
            fields.update(shown.truth())
            verdict = side.tracker.observe(seq, self.cap.time + gap)
            fields.update(verdict)
            ahead = (
                None if peer.highest_received is None else (seq - peer.highest_received) % SEQ_MOD
            )
            if ahead is None or 0 < ahead < SEQ_MOD // 2:
                peer.highest_received = seq
            self._note_ppp(shown, fresh(verdict))
        src, dst = (
            (self.client_ip, self.conn.server)
            if from_client
            else (self.conn.server, self.client_ip)
        )
        stack = shown.stack if shown is not None else ""
        out = gre_frame(self.cap, src, dst, gre, fields, stack=stack, gap=gap)
        if not self.first_frame:
            self.first_frame, self.start_time = out.number, out.time
        if "pptp_gre.call_frame" not in fields:
            self.untied.append((out, not from_client))
            out.truth["tied_later"] = True  # a one-pass read shows it without a call
        terminated = (
            shown is not None
            and shown.protocol == PppProto.LCP
            and shown.info[:1] == bytes([CpCode.TERMINATE_ACK])
        )
        if terminated and self.lcp_terminated is None:
            self.lcp_terminated = out.number
        side.packets += 1
        side.bytes += len(gre.data)
        if side.first_time is None:
            side.first_time = out.time
        self.last_frame, self.end_time = out.number, out.time
        return out

    def _ties(self, to_client: bool) -> dict[str, int]:
        """What ties GRE to the ``to_client`` side to this call: the message that gave out the
        Call ID it carries and its control connection's TCP stream. The stream of a call learnt
        from a later message shows once TCP's tap has seen a segment of the connection after
        that message."""
        frame = self.id_frames.get(to_client)
        if frame is None:
            return {}
        ties = {"pptp_gre.call_frame": frame.number}
        learnt = self.learnt_in
        if learnt is None or any(n > learnt.number for n in self.conn.tcp.segments):
            ties["pptp_gre.tcp_stream"] = self.conn.stream
        return ties

    def learnt(self, frame: Frame, client_side: bool) -> None:
        """``frame`` names this call's ``client_side`` Call ID: analyzers that missed its set-up
        learn the call (the first such message) and tie its GRE to that side to it."""
        if self.kind != "unseen" or client_side in self.id_frames:
            return
        self.id_frames[client_side] = frame
        if self.learnt_in is None:
            self.learnt_in = frame
            frame.truth["problems"].append("setup_unseen")
        for gre, to_client in self.untied:
            if to_client == client_side:
                add_field(gre.truth["fields"], "pptp_gre.call_frame", frame.number)
        if not self.first_frame or frame.number < self.first_frame:
            self.first_frame, self.start_time = frame.number, frame.time
        self.last_frame, self.end_time = frame.number, frame.time

    def set_link_info(self) -> Frame:
        """Set-Link-Info from the client (PNS), naming the server's Call ID."""
        (sent,) = self.conn.send(True, ctl.SetLinkInfo(peer_call_id=self.call_id[False]))
        self.learnt(sent, False)
        self.last_frame, self.end_time = sent.number, sent.time
        return sent

    def wan_error(self) -> Frame:
        """WAN-Error-Notify from the server (PAC), naming the client's Call ID."""
        (sent,) = self.conn.send(False, ctl.WanErrorNotify(peer_call_id=self.call_id[True]))
        self.learnt(sent, True)
        self.last_frame, self.end_time = sent.number, sent.time
        return sent

    def _note_ppp(self, frame: ppp.PppFrame, fresh: bool) -> None:
        """What a PPP frame tells of the call; one whose sequence number was not ``fresh``
        adds no protocol and no IP in clear."""
        proto = PppProto(frame.protocol)
        if fresh:
            self.ppp_protocols.add(proto.name)
        name = ppp.identity(frame.protocol, frame.info)
        if name is not None and self.user is None:
            self.user = name.decode("utf-8", "replace")
        if (
            proto == PppProto.CCP
            and frame.info[0] == CpCode.CONFIGURE_ACK
            and frame.info[4] == CCP_OPT_MPPE
        ):
            self.mppe_negotiated = True
        if proto == PppProto.IP and fresh:
            self.cleartext_data = True
        if proto == PppProto.MPPE:
            self.mppe_count += 1

    def exchange(self, pairs: Iterable[tuple[bool, ppp.PppFrame]]) -> None:
        for from_client, frame in pairs:
            self.gre(from_client, frame)

    def ppp_session(
        self, auth: str, *, mppe: bool, data_packets: int = 4, compression: bool = True
    ) -> None:
        """A whole PPP run: LCP (the server picks the auth), auth, CCP/MPPE, IPCP, data."""
        self.exchange(
            [
                (True, ppp.lcp_configure(identifier=1, magic=0x11111111, compression=compression)),
                (
                    False,
                    ppp.lcp_configure(
                        identifier=1, auth=auth, magic=0x22222222, compression=compression
                    ),
                ),
                (
                    True,
                    ppp.lcp_configure(
                        CpCode.CONFIGURE_ACK,
                        1,
                        auth=auth,
                        magic=0x22222222,
                        compression=compression,
                    ),
                ),
                (
                    False,
                    ppp.lcp_configure(
                        CpCode.CONFIGURE_ACK, 1, magic=0x11111111, compression=compression
                    ),
                ),
            ]
        )
        self.compressed = compression
        self.auth = auth
        self.exchange(ppp.auth_exchange(auth))
        if mppe:
            self.exchange(
                [
                    (False, ppp.ccp_mppe(identifier=1)),
                    (True, ppp.ccp_mppe(CpCode.CONFIGURE_ACK, 1)),
                    (True, ppp.ccp_mppe(identifier=1)),
                    (False, ppp.ccp_mppe(CpCode.CONFIGURE_ACK, 1)),
                ]
            )
        self.exchange(
            [
                (False, ppp.ipcp_configure(identifier=1, address="10.0.0.1")),
                (True, ppp.ipcp_configure(CpCode.CONFIGURE_ACK, 1, address="10.0.0.1")),
                (True, ppp.ipcp_configure(identifier=1, address="10.0.0.2")),
                (False, ppp.ipcp_configure(CpCode.CONFIGURE_ACK, 1, address="10.0.0.2")),
            ]
        )
        self.encrypt = mppe
        for n in range(data_packets):
            self.data(n % 2 == 0)
        # Each side acknowledges what it received last, as real peers do when idle.
        self.gre(True, None)
        self.gre(False, None)

    def encrypted_ping(
        self, from_client: bool, data: bytes = ppp.PING_DATA
    ) -> tuple[ppp.PppFrame, bytes, ppp.PppFrame]:
        """The next ping of a logged-in call encrypted with its MPPE keys: the MPPE frame, its
        packet (header and ciphertext) and the ping inside. Sent with ``send_encrypted`` (in
        any order, or never: a loss)."""
        side = self.sides[from_client]
        side.data_sent += 1
        src, dst = ("10.0.0.2", "10.0.0.1") if from_client else ("10.0.0.1", "10.0.0.2")
        ping = ppp.ipv4_ping(src, dst, seq=side.data_sent, reply=not from_client, data=data)
        packet = self.senders[from_client].encrypt(mppe.plaintext_of(PppProto.IP, ping.info))
        return ppp.PppFrame(PppProto.MPPE, packet), packet, ping

    def send_encrypted(
        self, from_client: bool, built: tuple[ppp.PppFrame, bytes, ppp.PppFrame], **gre_args
    ) -> Frame:
        frame, packet, ping = built
        out = self.gre(from_client, frame, **gre_args)
        self.sent_encrypted.append((out, from_client, packet, ping))
        return out

    def decryption_truth(self) -> None:
        """What a decrypting analyzer shows on each encrypted packet, worked out by receivers
        that see the packets in capture order (as an analyzer reading the capture does): the
        PPP frame inside, or that decryption failed (a stateful packet after a loss, before
        the next flushed one). They distrust as analyzers do (contract 5): a stateless count
        more than ``mppe.STATELESS_WINDOW`` ahead is not tried, and no packet that decrypts to
        no plausible PPP frame moves the keys."""
        if self.login is None:
            return
        receivers = {
            side: mppe.MppeCipher(
                key, self.login.key_bits, self.login.stateless, window=mppe.STATELESS_WINDOW
            )
            for side, key in self.start_keys.items()
        }
        for frame, from_client, packet, ping in sorted(
            self.sent_encrypted, key=lambda sent: sent[0].number
        ):
            try:
                clear = receivers[from_client].decrypt(packet, mppe.plausible_ppp)
            except mppe.MppeError:
                frame.truth["decryption"] = {"problems": ["gre_decryption_failed"]}
                continue
            assert clear == mppe.plaintext_of(PppProto.IP, ping.info)
            frame.truth["decryption"] = {
                "inner_stack": ping.stack,
                "fields": {
                    "ppp.protocol": [PppProto.IP],
                    "pptp_gre.decrypted": [1],
                    "pptp_gre.mppe.key_bits": [self.login.key_bits],
                    "pptp_gre.mppe.user": [self.login.user],
                },
            }

    def data(self, from_client: bool) -> Frame:
        """The next data packet: MPPE ciphertext if the call encrypts, else a cleartext ping."""
        if self.senders:
            return self.send_encrypted(from_client, self.encrypted_ping(from_client))
        side = self.sides[from_client]
        side.data_sent += 1
        if self.encrypt:
            return self.gre(from_client, ppp.mppe_data(side.data_sent - 1))
        src, dst = ("10.0.0.2", "10.0.0.1") if from_client else ("10.0.0.1", "10.0.0.2")
        return self.gre(
            from_client, ppp.ipv4_ping(src, dst, seq=side.data_sent, reply=not from_client)
        )

    def lcp_settles_mschapv2(self) -> None:
        """LCP both ways, the server asking for MS-CHAPv2; ACFC and PFC from then on."""
        self.exchange(
            [
                (True, ppp.lcp_configure(identifier=1, magic=0x11111111)),
                (False, ppp.lcp_configure(identifier=1, auth=AUTH_MSCHAP_V2, magic=0x22222222)),
                (
                    True,
                    ppp.lcp_configure(
                        CpCode.CONFIGURE_ACK, 1, auth=AUTH_MSCHAP_V2, magic=0x22222222
                    ),
                ),
                (False, ppp.lcp_configure(CpCode.CONFIGURE_ACK, 1, magic=0x11111111)),
            ]
        )
        self.compressed = True

    def encrypted_session(self, login: Login, data_packets: int = 0) -> None:
        """A PPP run authenticated with a genuine MS-CHAPv2 exchange for ``login`` (RFC 2759),
        then MPPE with the keys it gives (RFC 3079), and ``data_packets`` encrypted pings."""
        self.lcp_settles_mschapv2()
        self.auth, self.login = AUTH_MSCHAP_V2, login
        password_hash = mppe.nt_password_hash(login.password)
        seed = f"{self.call_id[True]}/{self.call_id[False]}/{login.user}"
        challenges = ppp.filler(seed + "/authenticator", 16), ppp.filler(seed + "/peer", 16)
        frames, nt_response = ppp.mschapv2_exchange(login.user, password_hash, *challenges)
        self.exchange(frames)
        bits = login.mppe_bits
        self.exchange(
            [
                (False, ppp.ccp_mppe(identifier=1, bits=bits)),
                (True, ppp.ccp_mppe(CpCode.CONFIGURE_ACK, 1, bits=bits)),
                (True, ppp.ccp_mppe(identifier=1, bits=bits)),
                (False, ppp.ccp_mppe(CpCode.CONFIGURE_ACK, 1, bits=bits)),
                (False, ppp.ipcp_configure(identifier=1, address="10.0.0.1")),
                (True, ppp.ipcp_configure(CpCode.CONFIGURE_ACK, 1, address="10.0.0.1")),
                (True, ppp.ipcp_configure(identifier=1, address="10.0.0.2")),
                (False, ppp.ipcp_configure(CpCode.CONFIGURE_ACK, 1, address="10.0.0.2")),
            ]
        )
        keys = mppe.session_start_keys(password_hash, nt_response, login.key_bits)
        self.start_keys = {True: keys["client_to_server"], False: keys["server_to_client"]}
        self.senders = {
            side: mppe.MppeCipher(key, login.key_bits, login.stateless)
            for side, key in self.start_keys.items()
        }
        self.encrypt = True
        for n in range(data_packets):
            self.data(n % 2 == 0)

    def lcp_terminate(self, by_client: bool = True) -> None:
        self.gre(by_client, ppp.lcp_terminate())
        self.gre(not by_client, ppp.lcp_terminate(ack=True))

    # -- teardown --------------------------------------------------------------------------
    def clear_by_client(self, result: int = 4) -> None:
        """Call-Clear-Request (PNS, its own Call ID) answered by Call-Disconnect-Notify (PAC's)."""
        (req,) = self.conn.send(True, ctl.CallClearRequest(call_id=self.call_id[True]))
        self.learnt(req, True)
        (rep,) = self.conn.send(
            False, ctl.CallDisconnectNotify(call_id=self.call_id[False], result_code=result)
        )
        self.learnt(rep, False)
        link(req, rep)
        self._cleared(rep, result, "client")
        self.ended_at = req.time
        self.ending = disconnect_ending(result)

    def disconnect_by_server(self, result: int = 3) -> None:
        """An unsolicited Call-Disconnect-Notify (PAC), e.g. the server shutting down."""
        (rep,) = self.conn.send(
            False,
            ctl.CallDisconnectNotify(
                call_id=self.call_id[False], result_code=result, call_statistics=b"admin shutdown"
            ),
        )
        self.learnt(rep, False)
        self._cleared(rep, result, "server")
        self.ended_at = rep.time
        self.ending = disconnect_ending(result)

    def _cleared(self, frame: Frame, result: int, by: str) -> None:
        self.disconnect_result, self.cleared_by = result, by
        self.last_frame, self.end_time = frame.number, frame.time

    # -- ground truth ----------------------------------------------------------------------
    @property
    def encrypted(self) -> bool:
        return self.mppe_negotiated and self.mppe_count > 0

    @property
    def gre_seen(self) -> str:
        if self.kind == "unseen":
            return "-"  # connected before the capture: no grace period to watch
        first = self.sides[True].first_time, self.sides[False].first_time
        return gre_seen(self.reply_frame.time, *first)

    @property
    def gre_problem(self) -> str | None:
        if self.result != 1:
            return None
        ended = self.ended_at if self.ended_at is not None else self.cap.watched_until
        return gre_blocked(self.gre_seen, self.reply_frame.time, ended)

    @property
    def nat_editor(self) -> bool:
        """The client's Call ID equals its TCP source port: what the Linux NAT helper does."""
        return self.call_id[True] == self.conn.client_port

    def notices(self) -> list[str]:
        return call_notices(
            self.gre_problem,
            self.nat_editor,
            self.auth,
            self.cleartext_data,
            self.extra_notices,
            self.user,
        )

    def summary(self) -> dict:
        return {
            "tcp_stream": self.conn.stream,
            "kind": self.kind,
            "client": f"{self.conn.client.ip}:{self.conn.client_port}",
            "server": f"{self.conn.server.ip}:{self.conn.server_port}",
            "gre_client": self.client_ip.ip,
            "client_call_id": self.call_id[True],
            "server_call_id": self.call_id[False],
            "call_serial_number": self.serial,
            "result": self.result,
            "first_frame": self.first_frame,
            "last_frame": self.last_frame,
            "start": self.start_time,
            "duration": round(self.end_time - self.start_time, 6),
            "client_to_server": self.sides[True].summary(),
            "server_to_client": self.sides[False].summary(),
            "ppp_protocols": sorted(self.ppp_protocols),
            "auth": self.auth,
            "user": self.user,
            "encrypted": self.encrypted,
            "disconnect_result": self.disconnect_result,
            "cleared_by": self.cleared_by,
            "ended": call_ending(self.ending, self.conn.tcp_closed, self.lcp_terminated),
            "gre_seen": self.gre_seen,
            "notices": self.notices(),
        }


def gre_frame(
    cap: Capture,
    src: Host,
    dst: Host,
    packet: EnhancedGRE | bytes,
    fields: Mapping[str, object],
    problems: Sequence[str] = (),
    stack: str = "",
    gap: float = 0.001,
) -> Frame:
    """One GRE packet from ``src`` to ``dst`` with the decode it must get: each field of
    ``fields`` once, ``stack`` the layers after GRE, ``problems`` what is wrong with it."""
    truth = {
        "kind": "pptp_gre",
        "fields": add_fields({}, fields),
        "inner_stack": stack,
        "problems": list(problems),
    }
    return cap.add(cap.ip_packet(src, dst, IP_PROTO_GRE, bytes(packet)), truth, gap)


def orphan_gre(
    cap: Capture,
    src: Host,
    dst: Host,
    call_id: int,
    frame: ppp.PppFrame | None,
    seq: int | None,
    gap: float = 0.002,
    ack: int | None = None,
) -> Frame:
    """GRE no call claims (its control connection is not in the capture): analyzers note it
    once per sender, receiver and Call ID, on the first packet, and analyze its sequence
    numbers as they do a call's; an acknowledgment of the reverse flow's numbers pairs the two
    into one tunnel."""
    key = (src.ip, dst.ip, call_id)
    flow = cap.orphan_flows.get(key)
    first = flow is None
    if flow is None:
        flow = cap.orphan_flows[key] = Direction()
    packet = enhanced_gre(call_id, bytes(frame or b""), seq, ack)
    fields = {**packet.truth(), **(frame.truth() if frame else {})}
    if seq is not None:
        fields.update(flow.tracker.observe(seq, cap.time + gap))
    if ack is not None:
        reverse = [
            (other_id, other)
            for (sender, receiver, other_id), other in cap.orphan_flows.items()
            if (sender, receiver) == (dst.ip, src.ip)
        ]
        pair_flows(flow, call_id, reverse, ack)
    problems = ["gre_without_call"] if first else []
    out = gre_frame(cap, src, dst, packet, fields, problems, frame.stack if frame else "", gap)
    flow.packets += 1
    flow.bytes += len(packet.data)
    return out
