"""Generating fuzz cases: batches of cases, each with its own client addresses and its truth.

- grammar: whole sessions (``strategies.sessions``) with at most one step broken in a named way,
  and the ``CallLifecycles`` state machine, which interleaves control connections, calls, GRE
  both ways and broken steps. Every frame has ground truth, so the oracle is exact equality.
- mutation: valid and malformed scenario captures whose PPTP and GRE payloads get bits flipped,
  octets stomped, cut or extended, with IP and TCP lengths, checksums and the TCP sequence
  numbers that follow kept right so the hostile octets reach the dissector. Frames before a
  case's first mutation are still held to the truth; the rest must not raise a Lua error.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import dpkt
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from .. import ppp, scenarios, strategies
from ..capture import (
    SEQ_MOD,
    Call,
    Capture,
    ControlConnection,
    Host,
    gre_frame,
)
from ..gre import enhanced_gre
from .batch import Batch

SERVER = scenarios.SERVER
# Call IDs that no call of a generated case uses: "wrong Call ID" steps draw from here.
UNKNOWN_CALL_IDS = range(0xF000, 0x10000)
FRAME_FIELDS = ("pptp_ctrl.response_in", "pptp_ctrl.response_to", "pptp_gre.call_frame")
ETHERNET_HEADER = 14


# -- broken steps (one named defect each, with the truth the analyzers must show) ----------------
class Unknown:
    """Hands out Call IDs no generated call uses, each once."""

    def __init__(self) -> None:
        self._next = iter(UNKNOWN_CALL_IDS)

    def __call__(self) -> int:
        return next(self._next)


def _gre_unknown_call(conn: ControlConnection, unknown: Unknown) -> None:
    frame = ppp.lcp_echo()
    packet = enhanced_gre(unknown(), bytes(frame), seq=1)
    gre_frame(
        conn.cap,
        conn.client,
        conn.server,
        packet,
        {**packet.truth(), **frame.truth()},
        ["gre_without_call"],
        frame.stack,
    )
    if "GRE_Without_Control" not in conn.cap.notices:
        conn.cap.notices.append("GRE_Without_Control")


# Name -> step; each leaves the connection's and its calls' state as it was.
BROKEN_STEPS: dict[str, Callable[[ControlConnection, Unknown], None]] = {
    "bad_cookie": lambda conn, unknown: conn.send(True, scenarios.bad_magic_echo(unknown() & 0xFF)),
    "length_short": lambda conn, unknown: conn.send(True, scenarios.short_echo()),
    "length_long": lambda conn, unknown: conn.send(True, scenarios.long_echo(7)),
    "unknown_type": lambda conn, unknown: conn.send(True, scenarios.unknown_type_message()),
    "reserved_nonzero": lambda conn, unknown: conn.send(True, scenarios.reserved_echo(3)),
    "wrong_state": lambda conn, unknown: conn.send(
        False, scenarios.unrequested_reply(unknown(), unknown())
    ),
    "wrong_call_id": lambda conn, unknown: conn.send(
        True, scenarios.clear_of_unknown_call(unknown())
    ),
    "gre_wrong_call_id": _gre_unknown_call,
}


def truncate_and_close(conn: ControlConnection) -> None:
    """The last broken step a connection can take: a message cut off by the client's close."""
    conn.send(True, scenarios.truncated_request())
    conn.close(by_client=True)


def reorder(call: Call, from_client: bool) -> None:
    """Two sequenced packets sent in swapped order (the second is out of order)."""
    side = call.sides[from_client]
    first = side.next_seq
    call.gre(from_client, ppp.lcp_echo(identifier=1), seq=(first + 1) % SEQ_MOD)
    call.gre(from_client, ppp.lcp_echo(identifier=2), seq=first)
    side.next_seq = (first + 2) % SEQ_MOD


# -- grammar: sessions with at most one step broken ---------------------------------------------
@dataclass(frozen=True)
class SessionCase:
    plan: strategies.SessionPlan
    broken: str | None
    reorder: bool

    def add_to(self, batch: Batch, unknown: Unknown) -> None:
        with batch.case("session", f"{self.plan!r}, broken={self.broken}, reorder={self.reorder}"):
            self.plan.build_into(batch.cap, batch.new_client(), self._interrupt(unknown))

    def _interrupt(self, unknown: Unknown) -> Callable[[ControlConnection, Call], None]:
        def step(conn: ControlConnection, call: Call) -> None:
            if self.broken:
                BROKEN_STEPS[self.broken](conn, unknown)
            if self.reorder:
                reorder(call, True)

        return step


@st.composite
def session_batches(draw, min_cases: int = 1, max_cases: int = 12) -> list[SessionCase]:
    """Sessions, each valid or with one named step broken after its call is set up."""
    return draw(
        st.lists(
            st.builds(
                SessionCase,
                strategies.sessions(),
                st.none() | st.sampled_from(sorted(BROKEN_STEPS)),
                st.booleans(),
            ),
            min_size=min_cases,
            max_size=max_cases,
        )
    )


def build_sessions(cases: list[SessionCase]) -> Batch:
    batch, unknown = Batch("fuzz_sessions"), Unknown()
    for case in cases:
        case.add_to(batch, unknown)
    return batch


# -- grammar: the call-lifecycle state machine --------------------------------------------------
class CallLifecycles(RuleBasedStateMachine):
    """Control connections and calls in any valid order, interleaved, with broken steps mixed in.

    The capture grows with every step; what holds it to the truth the builders recorded at the
    end is the subclass's (``check.CheckedLifecycles``, or a campaign's own)."""

    def __init__(self) -> None:
        super().__init__()
        self.batch = Batch("fuzz_lifecycles")
        self.unknown = Unknown()
        self.started: list[ControlConnection] = []
        self.open_calls: list[Call] = []
        self.ppp_done: set[int] = set()
        self.next_port = 40000

    @initialize()
    def first_connection(self) -> None:
        self.open_connection()

    @rule()
    def open_connection(self) -> None:
        self.next_port += 1
        with self.batch.case("lifecycle", "control connection"):
            client = self.batch.new_client()
            conn = ControlConnection(self.batch.cap, client, SERVER, self.next_port)
            conn.start()
        self.started.append(conn)

    @precondition(lambda self: self.started)
    @rule(
        data=st.data(),
        incoming=st.booleans(),
        client_id=st.integers(0, UNKNOWN_CALL_IDS.start - 1),
        server_id=st.integers(0, UNKNOWN_CALL_IDS.start - 1),
    )
    def place_call(self, data, incoming: bool, client_id: int, server_id: int) -> None:
        conn = data.draw(st.sampled_from(self.started))
        in_use = {i for c in self._calls_of(conn) for i in c.call_id.values()}
        if client_id == server_id or {client_id, server_id} & in_use:
            return  # one Call ID per open call and side keeps the GRE of each call apart
        with self.batch.case("lifecycle", "call"):
            if incoming:
                call = conn.incoming_call(client_id, server_id)
            else:
                call = conn.outgoing_call(client_id, server_id)
        self.open_calls.append(call)

    @precondition(lambda self: self.open_calls)
    @rule(
        data=st.data(),
        auth=st.sampled_from(strategies.AUTHS),
        mppe=st.booleans(),
        compression=st.booleans(),
    )
    def negotiate_ppp(self, data, auth: str, mppe: bool, compression: bool) -> None:
        candidates = [c for c in self.open_calls if id(c) not in self.ppp_done]
        if not candidates:
            return
        call = data.draw(st.sampled_from(candidates))
        self.ppp_done.add(id(call))
        with self.batch.case("lifecycle", "ppp"):
            call.ppp_session(auth, mppe=mppe, data_packets=0, compression=compression)

    @precondition(lambda self: self.open_calls)
    @rule(data=st.data(), from_client=st.booleans(), what=st.sampled_from(["data", "ack", "lose"]))
    def traffic(self, data, from_client: bool, what: str) -> None:
        call = data.draw(st.sampled_from(self.open_calls))
        with self.batch.case("lifecycle", f"gre {what}"):
            if what == "lose":
                side = call.sides[from_client]
                side.next_seq = (side.next_seq + data.draw(st.integers(1, 5))) % SEQ_MOD
            if what == "ack":
                call.gre(from_client, None)
            else:
                call.data(from_client)

    @precondition(lambda self: self.open_calls)
    @rule(data=st.data(), from_client=st.booleans())
    def reordered_gre(self, data, from_client: bool) -> None:
        call = data.draw(st.sampled_from(self.open_calls))
        with self.batch.case("lifecycle", "reordered gre"):
            reorder(call, from_client)

    @precondition(lambda self: self.started)
    @rule(data=st.data(), from_client=st.booleans(), identifier=st.integers(0, 0xFFFFFFFF))
    def echo(self, data, from_client: bool, identifier: int) -> None:
        conn = data.draw(st.sampled_from(self.started))
        with self.batch.case("lifecycle", "echo"):
            conn.echo(from_client, identifier)

    @precondition(lambda self: self.open_calls)
    @rule(data=st.data(), by_client=st.booleans())
    def clear_call(self, data, by_client: bool) -> None:
        call = data.draw(st.sampled_from(self.open_calls))
        self.open_calls.remove(call)
        with self.batch.case("lifecycle", "clear"):
            call.lcp_terminate(by_client)
            if by_client:
                call.clear_by_client()
            else:
                call.disconnect_by_server()

    @precondition(lambda self: any(not self._calls_of(c) for c in self.started))
    @rule(data=st.data(), by_client=st.booleans())
    def stop_connection(self, data, by_client: bool) -> None:
        conn = data.draw(st.sampled_from([c for c in self.started if not self._calls_of(c)]))
        self.started.remove(conn)
        with self.batch.case("lifecycle", "stop"):
            conn.stop(by_client)

    @precondition(lambda self: self.started)
    @rule(data=st.data(), step=st.sampled_from(sorted(BROKEN_STEPS)))
    def broken_step(self, data, step: str) -> None:
        conn = data.draw(st.sampled_from(self.started))
        with self.batch.case("lifecycle", f"broken: {step}"):
            BROKEN_STEPS[step](conn, self.unknown)

    @precondition(lambda self: any(not self._calls_of(c) for c in self.started))
    @rule(data=st.data())
    def truncated_then_closed(self, data) -> None:
        conn = data.draw(st.sampled_from([c for c in self.started if not self._calls_of(c)]))
        self.started.remove(conn)
        with self.batch.case("lifecycle", "broken: truncated"):
            truncate_and_close(conn)

    def _calls_of(self, conn: ControlConnection) -> list[Call]:
        return [c for c in self.open_calls if c.conn is conn]

    @invariant()
    def bounded(self) -> None:
        assert len(self.batch.cap.frames) < 20_000


# -- mutation -----------------------------------------------------------------------------------
OPS = ("flip", "stomp", "truncate", "extend")


@dataclass(frozen=True)
class Mutation:
    target: int  # index among the case's PPTP and GRE frames (modulo their number)
    op: str
    position: int
    value: int
    extra: bytes

    def apply(self, payload: bytes) -> bytes:
        data = bytearray(payload)
        at = self.position % len(data) if data else 0
        if self.op == "flip" and data:
            data[at] ^= 1 << (self.value % 8)
        elif self.op == "stomp" and data:
            data[at] = self.value
        elif self.op == "truncate":
            del data[at:]
        elif self.op == "extend":
            data += self.extra or bytes([self.value])
        return bytes(data)


@dataclass(frozen=True)
class MutationCase:
    scenario: str
    mutations: tuple[Mutation, ...]


mutations = st.builds(
    Mutation,
    st.integers(0, 255),
    st.sampled_from(OPS),
    st.integers(0, 255),
    st.integers(0, 255),
    st.binary(max_size=24),
)


@st.composite
def mutation_batches(draw, min_cases: int = 1, max_cases: int = 24) -> list[MutationCase]:
    """Scenario captures (valid and malformed), each with one to four payload mutations."""
    case = st.builds(
        MutationCase,
        st.sampled_from(scenarios.names()),
        st.lists(mutations, min_size=1, max_size=4).map(tuple),
    )
    return draw(st.lists(case, min_size=min_cases, max_size=max_cases))


@functools.cache
def _scenario(name: str) -> tuple[Capture, list[dict]]:
    """A scenario's capture and the truth of its frames: the whole capture's, which has the
    diagnoses decided by all of its calls."""
    cap = scenarios.build(name)
    return cap, cap.ground_truth()["frames"]


def _payload_frames(cap: Capture) -> list[int]:
    return [i for i, f in enumerate(cap.frames) if f.truth.get("kind") in ("pptp_ctrl", "pptp_gre")]


def build_mutations(cases: list[MutationCase]) -> Batch:
    batch = Batch("fuzz_mutations")
    for case in cases:
        base, truths = _scenario(case.scenario)
        targets = _payload_frames(base)
        by_frame: dict[int, list[Mutation]] = {}
        for mutation in case.mutations:
            by_frame.setdefault(targets[mutation.target % len(targets)], []).append(mutation)
        if any(base.frames[i].truth.get("kind") == "pptp_ctrl" for i in by_frame):
            batch.control_mutated = True
        addresses = {h.ip: batch.new_client() for h in _clients_of(base)}
        # A server of its own too: what a mutated case leaves behind (a call never cleared,
        # its Call IDs still held) must not meet the next case's calls.
        addresses[SERVER.ip] = batch.new_server()
        with batch.case("mutation", f"{case.scenario}: {case.mutations!r}") as current:
            current.source = case
            offset = len(batch.cap.frames)
            shift: Counter = Counter()  # octets added per TCP flow, so later seq/ack follow
            previous = base.frames[0].time
            for index, frame in enumerate(base.frames):
                data = _mutated_frame(frame.data, addresses, by_frame.get(index, ()), shift)
                whole = {k: v for k, v in truths[index].items() if k not in ("number", "time")}
                truth = _offset_frames(whole, offset)
                batch.cap.add(data, truth, gap=max(frame.time - previous, 0.000001))
                previous = frame.time
                if index in by_frame and current.mutated_from is None:
                    current.mutated_from = offset + index + 1
    return batch


def _clients_of(cap: Capture) -> list[Host]:
    """Every address of a scenario but the server's, mapped to fresh ones per case."""
    return [h for h in (scenarios.CLIENT, scenarios.CLIENT_B, scenarios.NAT) if h.ip != SERVER.ip]


def _offset_frames(truth: dict, offset: int) -> dict:
    fields = truth.get("fields")
    if not fields:
        return truth
    moved = {
        name: [v + offset for v in values] if name in FRAME_FIELDS else values
        for name, values in fields.items()
    }
    return {**truth, "fields": moved}


def _mutated_frame(data: bytes, addresses: dict[str, Host], mutations, shift: Counter) -> bytes:
    """The frame with its addresses replaced, ``mutations`` applied to its PPTP or GRE octets,
    and lengths, checksums and TCP numbers recomputed."""
    eth = dpkt.ethernet.Ethernet(data)
    ip = eth.data
    src, dst = dpkt.utils.inet_to_str(ip.src), dpkt.utils.inet_to_str(ip.dst)
    new_src = addresses.get(src)
    new_dst = addresses.get(dst)
    if ip.p == dpkt.ip.IP_PROTO_TCP:
        tcp = ip.data
        flow = (src, tcp.sport, dst, tcp.dport)
        payload = tcp.data
        for mutation in mutations:
            payload = mutation.apply(payload)
        tcp.seq = (tcp.seq + shift[flow]) % SEQ_MOD
        if tcp.flags & dpkt.tcp.TH_ACK:
            tcp.ack = (tcp.ack + shift[(dst, tcp.dport, src, tcp.sport)]) % SEQ_MOD
        shift[flow] += len(payload) - len(tcp.data)
        tcp.data, tcp.sum = payload, 0
        inner: dpkt.Packet | bytes = tcp
    else:
        # The raw octets: dpkt's own GRE class does not re-pack enhanced GRE faithfully.
        start = ETHERNET_HEADER + ip.hl * 4
        inner = data[start : ETHERNET_HEADER + ip.len]
        for mutation in mutations:
            inner = mutation.apply(inner)
    packet = dpkt.ip.IP(
        src=(new_src.ip_bytes if new_src else ip.src),
        dst=(new_dst.ip_bytes if new_dst else ip.dst),
        p=ip.p,
        ttl=ip.ttl,
        id=ip.id,
        data=inner,
    )
    packet.df = 1
    return bytes(
        dpkt.ethernet.Ethernet(
            src=new_src.mac if new_src else eth.src,
            dst=new_dst.mac if new_dst else eth.dst,
            type=eth.type,
            data=packet,
        )
    )
