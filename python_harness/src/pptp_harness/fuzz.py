"""Regression fuzzing: grammar-based and mutation-based cases, many per pcap, one tshark run each.

Two kinds of generation, both driven by hypothesis so that every failure shrinks:

- grammar: whole sessions (``strategies.sessions``) with at most one step broken in a named way,
  and the ``CallLifecycles`` state machine, which interleaves control connections, calls, GRE
  both ways and broken steps. Every frame has ground truth, so the oracle is exact equality.
- mutation: valid and malformed scenario captures whose PPTP and GRE payloads get bits flipped,
  octets stomped, cut or extended, with IP and TCP lengths, checksums and the TCP sequence
  numbers that follow kept right so the hostile octets reach the dissector. Frames before a
  case's first mutation are still held to the truth; the rest must not raise a Lua error.

Cases of one batch use their own client addresses, so they cannot disturb each other: a state
leak from one case into the next shows up as a mismatch. A failing batch is shrunk by hypothesis
(fewer cases, fewer steps, smaller mutations) and saved into ``testdata/regressions/`` as pcap
plus expected result; ``replay`` holds the analyzers to every saved case from then on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dpkt
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis.internal.conjecture import engine
from hypothesis.stateful import (
    RuleBasedStateMachine,
    get_state_machine_test,
    initialize,
    invariant,
    precondition,
    rule,
)

from . import oracle, ppp, scenarios, strategies, tshark, zeek
from .capture import (
    SEQ_MOD,
    Call,
    Capture,
    ControlConnection,
    Host,
    gre_frame,
    host,
)
from .gre import enhanced_gre

REGRESSIONS = Path(__file__).resolve().parents[3] / "testdata" / "regressions"
SERVER = scenarios.SERVER
# Call IDs that no call of a generated case uses: "wrong Call ID" steps draw from here.
UNKNOWN_CALL_IDS = range(0xF000, 0x10000)
FRAME_FIELDS = ("pptp_ctrl.response_in", "pptp_ctrl.response_to", "pptp_gre.call_frame")
TSHARK_TIMEOUT = 300
SHRINK_SECONDS = 120
ETHERNET_HEADER = 14


# -- batches -----------------------------------------------------------------------------------
@dataclass
class Case:
    """One case of a batch: its frames, and from which frame on the truth no longer holds."""

    kind: str
    description: str
    first_frame: int
    last_frame: int = 0
    mutated_from: int | None = None
    source: object = None  # what generated it (a MutationCase for mutation cases)


class Batch:
    """Many cases in one capture, each from client addresses of its own."""

    def __init__(self, name: str) -> None:
        self.cap = Capture(name, "fuzz batch", valid=False)
        self.cases: list[Case] = []
        self._hosts = 0
        # Whether a mutation hit a control message: only those parse differently with the
        # plugin's reassembly off.
        self.control_mutated = False

    def new_client(self) -> Host:
        self._hosts += 1
        n = self._hosts
        return host(f"fuzz{n}", f"10.{64 + (n >> 16) % 64}.{(n >> 8) & 0xFF}.{n & 0xFF}")

    def new_server(self) -> Host:
        self._hosts += 1
        n = self._hosts
        return host(f"fuzz-server{n}", f"10.{128 + (n >> 16) % 64}.{(n >> 8) & 0xFF}.{n & 0xFF}")

    @contextlib.contextmanager
    def case(self, kind: str, description: str) -> Iterator[Case]:
        case = Case(kind, description, len(self.cap.frames) + 1)
        self.cases.append(case)
        yield case
        case.last_frame = len(self.cap.frames)

    def case_of(self, frame: int) -> Case:
        return next(c for c in self.cases if c.first_frame <= frame <= c.last_frame)

    def checkable_truth(self) -> dict:
        """The ground truth of every frame that still has one (not at or after a mutation)."""
        truth = self.cap.ground_truth()
        truth["frames"] = [
            self._before_mutation(f) for f in truth["frames"] if self._checkable(f["number"])
        ]
        return truth

    def _before_mutation(self, frame: dict) -> dict:
        """Links and sequence analysis look at the whole capture (two passes), so a mutation
        may change them on earlier frames too: in a mutated case only decoded fields and
        problems are held to the truth."""
        if self.case_of(frame["number"]).mutated_from is None or "fields" not in frame:
            return frame
        fields = {
            name: values
            for name, values in frame["fields"].items()
            if not name.startswith(oracle.ANALYSIS_PREFIXES)
        }
        return {**frame, "fields": fields}

    def _checkable(self, number: int) -> bool:
        case = self.case_of(number)
        return case.mutated_from is None or number < case.mutated_from

    @property
    def packets(self) -> int:
        return len(self.cap.frames)


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

    The capture grows with every step; at the end one tshark run checks every frame against the
    truth the builders recorded."""

    lua: str | Path = ""  # set by the caller

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

    def teardown(self) -> None:
        if not self.lua or not self.batch.cap.frames:
            return
        failures = check_batch(self.batch, self.lua)
        assert not failures, "\n".join(str(f) for f in failures)


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
                data = _rewrite(frame.data, addresses, by_frame.get(index, ()), shift)
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


def _rewrite(data: bytes, addresses: dict[str, Host], mutations, shift: Counter) -> bytes:
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


# -- the oracle ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Failure:
    kind: str  # mismatch, lua_error, malformed, tshark_crash, tshark_timeout, not_utf8
    case: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail} [{self.case}]"


def _analyzer(lua: str | Path, mutated: bool) -> oracle.Analyzer:
    """Our plugin; with mutations, the capture-wide diagnoses of earlier frames may differ, and
    GRE a later message would have tied to its call may stay without one."""
    analyzer = oracle.plugin(lua)
    if not mutated:
        return analyzer
    tolerated = analyzer.tolerated_problems | oracle.CAPTURE_DIAGNOSES | {"without_call"}
    return dataclasses.replace(analyzer, tolerated_problems=tolerated)


def lua_errors_without_reassembly(pcap: str | Path, lua: str | Path) -> dict[int, str]:
    """The Lua errors of a run with the plugin's reassembly off, where hostile octets reach
    its message parser in other cuts than with it on. One pass, which shows its errors
    itself: the state is what the parser builds; the second pass's display code is held by
    the run with reassembly on."""
    decoded = tshark.decode(
        pcap,
        [],
        lua_scripts=[str(lua)],
        prefs=("pptp_ctrl.reassemble:FALSE",),
        timeout=TSHARK_TIMEOUT,
    )
    return {n: _lua_error(decoded, n) for n in decoded.lua_errors()}


def check_batch(batch: Batch, lua: str | Path) -> list[Failure]:
    """One tshark run (our plugin, two passes) over the batch, and where a mutation hit a
    control message one more with reassembly off; every failure with its case."""
    mutated = any(c.mutated_from for c in batch.cases)
    analyzer = _analyzer(lua, mutated)
    truth = batch.checkable_truth()
    with tempfile.TemporaryDirectory(prefix="pptp-fuzz-") as folder:
        pcap = batch.cap.write_pcap(Path(folder) / "batch.pcap")
        zeek_failures = check_zeek(batch, pcap) if zeek.available() else []
        try:
            decoded = oracle.decode_for(pcap, truth, analyzer, timeout=TSHARK_TIMEOUT)
            unassembled = lua_errors_without_reassembly(pcap, lua) if batch.control_mutated else {}
        except tshark.TsharkError as exc:
            return [Failure(exc.kind, f"{len(batch.cases)} cases", str(exc)[:500]), *zeek_failures]
    report = oracle.compare(truth, decoded, analyzer)
    failures = [
        Failure("lua_error", batch.case_of(n).description, f"frame {n}: " + _lua_error(decoded, n))
        for n in decoded.lua_errors()
    ]
    failures += [
        Failure("lua_error", batch.case_of(n).description, f"frame {n}, reassembly off: {error}")
        for n, error in unassembled.items()
    ]
    failures += [
        Failure("mismatch", batch.case_of(m.frame).description, str(m)) for m in report.mismatches
    ]
    # A mutated frame may be malformed for Wireshark's own dissectors; a checked one may not.
    checked = {f["number"] for f in truth["frames"]}
    failures += [
        Failure("malformed", batch.case_of(n).description, f"frame {n}")
        for n in report.malformed
        if n in checked
    ]
    missing = len(batch.cap.frames) - len(decoded.frames)
    if missing:
        failures.append(Failure("tshark_crash", "batch", f"{missing} frames not dissected"))
    return failures + zeek_failures


def check_zeek(batch: Batch, pcap: Path) -> list[Failure]:
    """Zeek with our package over the batch: never a crash or a reporter message, and where
    no case was mutated, pptp.log, notices and weirds exactly as the truth says."""
    where = f"{len(batch.cases)} cases"
    try:
        logs = zeek.run(pcap, timeout=TSHARK_TIMEOUT)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        return [Failure("zeek_crash", where, str(exc)[:500])]
    failures = [Failure("zeek_reporter", where, str(r)[:300]) for r in logs.reporter]
    if all(case.mutated_from is None for case in batch.cases):
        report = zeek.compare(batch.cap.ground_truth(), logs)
        failures += [Failure("zeek_mismatch", where, m) for m in report.mismatches]
    return failures


def _lua_error(decoded: tshark.Decode, frame: int) -> str:
    """The text of a frame's Lua errors (the expert's; ``_ws.lua.error`` itself has none)."""
    experts = decoded.values(frame, "_ws.expert.message")
    messages = [m for m in experts if m.startswith("Lua Error")]
    return "; ".join(messages or decoded.values(frame, "_ws.lua.error"))[:300]


# -- campaigns ----------------------------------------------------------------------------------
@dataclass
class Outcome:
    """What one unit of a campaign did."""

    kind: str
    cases: int = 0
    packets: int = 0
    seconds: float = 0.0
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # kind, saved pcap, text


GENERATORS = ("sessions", "mutations", "lifecycles")


def _fuzz_settings(examples: int, shrink: bool = True) -> settings:
    return settings(
        max_examples=examples,
        database=None,
        deadline=None,
        phases=(Phase.generate, Phase.shrink) if shrink else (Phase.generate,),
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
        print_blob=False,
    )


def run_unit(
    kind: str,
    unit_seed: int,
    examples: int,
    lua: str,
    corpus: str,
    sizes: tuple[int, int] = (1, 12),
) -> Outcome:
    """``examples`` hypothesis examples of ``kind`` from ``unit_seed``; a failure is shrunk,
    saved into ``corpus`` and reported."""
    outcome = Outcome(kind)
    started = time.monotonic()
    last_failure: list = []

    def check(batch: Batch, cases: list | None = None) -> None:
        failures = check_batch(batch, lua)
        outcome.cases += len(batch.cases)
        outcome.packets += batch.packets
        if failures:
            last_failure[:] = [batch, failures, cases]
            raise AssertionError("\n".join(map(str, failures)))

    if kind == "lifecycles":
        machine = type("Machine", (CallLifecycles,), {"lua": lua})
        machine.teardown = lambda self: check(self.batch) if self.batch.cap.frames else None
        steps = settings(_fuzz_settings(examples), stateful_step_count=max(sizes[1], 10))
        test = get_state_machine_test(machine, settings=steps)
    else:
        batches = session_batches if kind == "sessions" else mutation_batches
        strategy = batches(*sizes)
        builder = build_sessions if kind == "sessions" else build_mutations

        # Mutations are reduced octet-wise below; grammar cases by hypothesis's shrinking.
        @_fuzz_settings(examples, shrink=kind == "sessions")
        @given(strategy)
        def test(cases) -> None:
            check(builder(cases), cases)

    # Hypothesis shrinks for up to five minutes; a campaign moves on sooner (private knob).
    engine.MAX_SHRINKING_SECONDS = SHRINK_SECONDS
    try:
        seed(unit_seed)(test)()
    except Exception:  # hypothesis re-raises the shrunk failure
        if not last_failure:
            raise
        batch, failures, cases = last_failure
        if cases and len(cases) > 1:  # a batch's minimum size can keep innocent cases in
            batch, failures = _alone(cases, builder, lua, failures[0].kind) or (batch, failures)
        if kind == "mutations":
            batch, failures = reduce_mutation(batch, failures, lua)
        saved = save_regression(batch, failures, Path(corpus))
        outcome.failures = [(f.kind, str(saved), str(f)) for f in failures[:1]]
    outcome.seconds = time.monotonic() - started
    return outcome


def reduce_mutation(
    batch: Batch, failures: list[Failure], lua: str, budget: int = 40
) -> tuple[Batch, list[Failure]]:
    """Byte-level reduction of a one-case mutation batch: drop mutations, then make each one
    smaller (no extra octets, value 0, earlier position) while it still fails the same way."""
    if len(batch.cases) != 1:
        return batch, failures
    (case,) = batch.cases
    current: MutationCase = case.source
    kind = failures[0].kind

    def attempt(candidate: MutationCase) -> tuple[Batch, list[Failure]] | None:
        trial = build_mutations([candidate])
        found = check_batch(trial, lua)
        return (trial, found) if any(f.kind == kind for f in found) else None

    def simpler(m: Mutation) -> Iterator[Mutation]:
        if m.extra:
            yield Mutation(m.target, m.op, m.position, m.value, b"")
        if m.value:
            yield Mutation(m.target, m.op, m.position, 0, m.extra)
        if m.position:
            yield Mutation(m.target, m.op, m.position // 2, m.value, m.extra)

    progress = True
    while progress and budget > 0:
        progress = False
        options = [
            MutationCase(current.scenario, current.mutations[:i] + current.mutations[i + 1 :])
            for i in range(len(current.mutations))
            if len(current.mutations) > 1
        ]
        options += [
            MutationCase(
                current.scenario, (*current.mutations[:i], smaller, *current.mutations[i + 1 :])
            )
            for i, m in enumerate(current.mutations)
            for smaller in simpler(m)
        ]
        for candidate in options:
            budget -= 1
            result = attempt(candidate)
            if result:
                current, (batch, failures), progress = candidate, result, True
                break
            if budget <= 0:
                break
    return batch, failures


def _alone(cases: list, builder, lua: str, kind: str) -> tuple[Batch, list[Failure]] | None:
    """The first case that fails the same way on its own, as a batch of one."""
    for case in cases:
        batch = builder([case])
        failures = check_batch(batch, lua)
        if any(f.kind == kind for f in failures):
            return batch, failures
    return None


def save_regression(batch: Batch, failures: list[Failure], corpus: Path) -> Path:
    """Write the shrunk batch as NAME.pcap + NAME.truth.json; the name is its content hash."""
    corpus.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        scratch = batch.cap.write_pcap(Path(folder) / "case.pcap")
        digest = hashlib.sha256(scratch.read_bytes()).hexdigest()[:12]
    first = failures[0]
    pcap = corpus / f"{first.kind}-{digest}.pcap"
    batch.cap.description = f"{first.kind} found by fuzzing: {first.detail[:160]}"
    batch.cap.write(pcap)
    truth_path = oracle.truth_path_for(pcap)
    truth = json.loads(truth_path.read_text())
    checked = {f["number"] for f in batch.checkable_truth()["frames"]}
    truth["frames"] = [f for f in truth["frames"] if f["number"] in checked]
    truth["regression"] = {
        "found": first.kind,
        "mutated": any(c.mutated_from for c in batch.cases),
        "cases": [c.description for c in batch.cases],
        "frames": len(batch.cap.frames),
    }
    truth_path.write_text(json.dumps(truth, indent=1, sort_keys=True) + "\n")
    return pcap


def replay(pcap: str | Path, lua: str | Path) -> list[str]:
    """Problems the plugin has with a saved regression: any Lua error, a frame not dissected,
    or a checked frame that differs from its expected result."""
    truth = oracle.load_truth(pcap)
    analyzer = _analyzer(lua, truth["regression"]["mutated"])
    decoded = oracle.decode_for(pcap, truth, analyzer, timeout=TSHARK_TIMEOUT)
    report = oracle.compare(truth, decoded, analyzer)
    checked = {f["number"] for f in truth["frames"]}
    problems = [f"frame {n}: Lua error" for n in decoded.lua_errors()]
    problems += [
        f"frame {n}: Lua error, reassembly off" for n in lua_errors_without_reassembly(pcap, lua)
    ]
    problems += [str(m) for m in report.mismatches]
    problems += [f"frame {n}: malformed" for n in report.malformed if n in checked]
    if len(decoded.frames) != truth["regression"]["frames"]:
        problems.append(f"{len(decoded.frames)} of {truth['regression']['frames']} frames shown")
    return problems


@dataclass
class Summary:
    cases: int = 0
    packets: int = 0
    seconds: float = 0.0
    by_kind: Counter = field(default_factory=Counter)
    packets_by_kind: Counter = field(default_factory=Counter)
    failures: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        self.cases += outcome.cases
        self.packets += outcome.packets
        self.by_kind[outcome.kind] += outcome.cases
        self.packets_by_kind[outcome.kind] += outcome.packets
        self.failures += outcome.failures

    def table(self) -> str:
        rate = self.packets / self.seconds if self.seconds else 0.0
        lines = [
            "| generator | cases | packets |",
            "|---|---|---|",
            *(
                f"| {k} | {self.by_kind[k]:,} | {self.packets_by_kind[k]:,} |"
                for k in GENERATORS
                if self.by_kind[k]
            ),
            f"| **all** | {self.cases:,} | {self.packets:,} |",
            "",
            f"{self.packets:,} packets in {self.seconds:.1f} s: {rate:,.0f} packets/s verified",
        ]
        kinds = Counter(kind for kind, _, _ in self.failures)
        if kinds:
            lines.append("failures by kind: " + ", ".join(f"{k} {n}" for k, n in kinds.items()))
            lines += [f"  {path}: {text}" for _, path, text in self.failures]
        else:
            lines.append("failures: none")
        return "\n".join(lines)


# Batch sizes of a campaign: large enough that tshark's start-up is a small part of a run.
CAMPAIGN_BATCH = {"sessions": (16, 32), "mutations": (48, 96), "lifecycles": (0, 300)}


def _units(seed_value: int, examples: int) -> Iterator[tuple[str, int, int]]:
    n = 0
    while True:
        yield GENERATORS[n % len(GENERATORS)], seed_value * 1_000_003 + n, examples
        n += 1


def campaign(
    lua: str | Path,
    *,
    cases: int | None = None,
    packets: int | None = None,
    duration: float | None = None,
    seed_value: int = 0,
    jobs: int | None = None,
    corpus: Path = REGRESSIONS,
    examples: int = 4,
    progress: Callable[[Summary, float], None] | None = None,
) -> Summary:
    """Run units of every generator on ``jobs`` processes until ``cases`` cases, ``packets``
    packets or ``duration`` seconds are done (whichever comes first)."""
    if cases is None and packets is None and duration is None:
        cases = 1000
    jobs = jobs or os.cpu_count() or 1
    summary = Summary()
    started = time.monotonic()
    tshark.known_fields((str(lua),))  # fail early if tshark is missing

    def done() -> bool:
        elapsed = time.monotonic() - started
        return (
            (cases is not None and summary.cases >= cases)
            or (packets is not None and summary.packets >= packets)
            or (duration is not None and elapsed >= duration)
        )

    context = multiprocessing.get_context("fork")
    with context.Pool(jobs) as pool:
        pending: list = []
        units = _units(seed_value, examples)
        while not done() or pending:
            while not done() and len(pending) < jobs:
                kind, unit_seed, n = next(units)
                pending.append(
                    pool.apply_async(
                        run_unit, (kind, unit_seed, n, str(lua), str(corpus), CAMPAIGN_BATCH[kind])
                    )
                )
            ready = [p for p in pending if p.ready()]
            if not ready:
                time.sleep(0.05)
                continue
            for result in ready:
                pending.remove(result)
                summary.add(result.get())
            summary.seconds = time.monotonic() - started
            if progress:
                progress(summary, _fraction(summary, cases, packets, duration))
    summary.seconds = time.monotonic() - started
    return summary


def _fraction(
    summary: Summary, cases: int | None, packets: int | None, duration: float | None
) -> float:
    parts = []
    if cases:
        parts.append(summary.cases / cases)
    if packets:
        parts.append(summary.packets / packets)
    if duration:
        parts.append(summary.seconds / duration)
    return min(1.0, max(parts, default=0.0))


def progress_bar(summary: Summary, fraction: float, stream=sys.stderr) -> None:
    width = 30
    filled = int(fraction * width)
    rate = summary.packets / summary.seconds if summary.seconds else 0
    stream.write(
        f"\r[{'#' * filled}{'.' * (width - filled)}] {fraction:4.0%} "
        f"{summary.cases:,} cases {summary.packets:,} pkts {rate:,.0f} pkt/s "
        f"{len(summary.failures)} failures"
    )
    stream.flush()
