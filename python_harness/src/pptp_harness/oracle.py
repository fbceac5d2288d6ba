"""Compares what an analyzer decoded with the ground truth, frame by frame and field by field.

Ground truth names fields as contract 1 does (``pptp_ctrl.*``, ``pptp_gre.*``, plus the
Wireshark PPP fields). An ``Analyzer`` says how it names each of them: our plugin uses the
contract names, Wireshark's built-in dissectors their ``pptp.*``/``gre.*`` twins, and have no
analysis fields at all.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import tshark
from .capture import truth_path_for
from .constants import MsgType
from .control import FIXED_LENGTH

# Problems only the whole capture decides (two passes): GRE that never came one or both ways.
# A mutation later in a capture can change them on earlier frames, like the links.
CAPTURE_DIAGNOSES = frozenset({"no_gre_both_ways", "no_gre_from_client", "no_gre_from_server"})
ANALYSIS_PREFIXES = (
    "pptp_ctrl.response_",
    "pptp_gre.call_frame",
    "pptp_gre.tcp_stream",
    "pptp_gre.analysis.",
)
# Ground-truth fields whose built-in counterparts are named otherwise (packet-pptp.c, packet-gre.c).
BUILTIN_NAMES = {
    "pptp_ctrl.call_statistics": "pptp.call_Statistics",
    "pptp_gre.flags": "gre.flags_and_version",
    "pptp_gre.version": "gre.flags.version",
    "pptp_gre.protocol": "gre.proto",
    "pptp_gre.payload_length": "gre.key.payload_length",
    "pptp_gre.call_id": "gre.key.call_id",
    "pptp_gre.seq": "gre.sequence_number",
    "pptp_gre.ack": "gre.ack_number",
}


def builtin_name(name: str) -> str | None:
    """The built-in dissectors' name for a ground-truth field; None for analysis fields."""
    if name.startswith(ANALYSIS_PREFIXES):
        return None
    if name in BUILTIN_NAMES:
        return BUILTIN_NAMES[name]
    if name.startswith("pptp_ctrl."):
        return "pptp." + name[len("pptp_ctrl.") :]
    return name


@dataclass(frozen=True)
class Analyzer:
    """How one analyzer is run and how it names fields."""

    name: str
    field_name: Callable[[str], str | None]
    gre_layer: str
    # Frames this analyzer is known not to decode as the truth says, with the reason.
    limit: Callable[[dict], str | None] = lambda frame: None
    # Field and value that name a ground-truth problem; None: problems are not compared.
    # Every value of those fields must be a problem the truth names for that frame.
    problem_field: Callable[[str], tuple[str, str]] | None = None
    # Problems this analyzer may show beyond the truth (consequences of its known limits).
    tolerated_problems: frozenset[str] = frozenset()
    lua_scripts: tuple[str, ...] = ()
    prefs: tuple[str, ...] = ()
    two_pass: bool = False


def plugin_problem(problem: str) -> tuple[str, str]:
    """Where the plugin names a ground-truth problem: gre_* in pptp_gre.problem, the rest in
    pptp_ctrl.problem (each raised with the ProtoExpert pptp_*.expert.<name>)."""
    if problem.startswith("gre_"):
        return "pptp_gre.problem", problem[len("gre_") :]
    return "pptp_ctrl.problem", problem


def _split_message(frame: dict) -> str | None:
    segment = frame.get("segment")
    if segment and (segment["starts_mid_message"] or segment["ends_mid_message"]):
        return "message split across segments, reassembly off"
    return None


# Why a reassembling dissector never shows a message: the connection closed before its end.
NEVER_DELIVERED = (
    "a message cut off by the connection's close never reaches a reassembling dissector"
)


def never_delivered(frame: dict) -> str | None:
    """``NEVER_DELIVERED`` for a frame whose message the truth calls truncated, else None."""
    return NEVER_DELIVERED if "truncated" in frame.get("problems", ()) else None


def _decode_fields_only(name: str) -> str | None:
    return None if name.startswith(ANALYSIS_PREFIXES) else name


# Security findings the plugin names in pptp_gre.problem too: the truth holds them per call
# (its notices), and test_plugin holds each frame's to its expert.
SECURITY_FINDINGS = frozenset({"weak_auth", "cleartext", "pap_in_clear", "mschapv2_in_clear"})


def plugin(script: str | Path, reassemble: bool = True) -> Analyzer:
    """Our Lua plugin, with its message reassembly on (the default) or off.

    With reassembly off, messages split across segments are not decoded, so the links, call
    state and GRE-to-call ties that depend on them are not compared: only decoded fields and
    the problems of what it does see."""
    return Analyzer(
        "plugin" if reassemble else "plugin, reassembly off",
        (lambda n: n) if reassemble else _decode_fields_only,
        "pptp_gre",
        limit=never_delivered if reassemble else _split_message,
        problem_field=plugin_problem,
        tolerated_problems=SECURITY_FINDINGS
        if reassemble
        else SECURITY_FINDINGS | {"without_call", "out_of_state", "setup_unseen"},
        lua_scripts=(str(script),),
        prefs=() if reassemble else ("pptp_ctrl.reassemble:FALSE",),
        two_pass=True,
    )


def decrypting(truth: dict) -> dict:
    """The truth as the plugin shows it with a credentials file that opens every login of the
    capture: each encrypted packet's decryption (the PPP frame inside, or why not)."""
    frames = []
    for frame in truth["frames"]:
        decryption = frame.get("decryption")
        if decryption:
            frame = {
                **frame,
                "fields": {**frame["fields"], **decryption.get("fields", {})},
                "problems": [*frame.get("problems", []), *decryption.get("problems", [])],
                "inner_stack": decryption.get("inner_stack", frame.get("inner_stack")),
            }
        frames.append(frame)
    return {**truth, "frames": frames}


def load_truth(pcap: str | Path) -> dict:
    return json.loads(truth_path_for(pcap).read_text())


def same_value(expected: object, actual: str) -> bool:
    """Whether tshark's text for a field is the expected value (ints in any base tshark uses)."""
    if isinstance(expected, int):  # bool included
        if actual in ("True", "False"):
            return int(expected) == (actual == "True")
        try:
            return int(actual, 0) == int(expected)
        except ValueError:
            return False
    if isinstance(expected, float):
        try:
            return abs(float(actual) - expected) < 1e-6
        except ValueError:
            return False
    return str(expected) == actual


def builtin_limit(frame: dict) -> str | None:
    """Why Wireshark's built-in ``pptp`` cannot show this frame as the truth does, or None.

    It dissects each TCP segment as exactly one message from offset 0 and does not reassemble,
    and splits the GRE key into payload length and Call ID only for protocol 0x880B.
    """
    if "gre_wrong_protocol" in frame.get("problems", ()):
        return "GRE key shown whole for a protocol other than 0x880B"
    if frame.get("kind") != "pptp_ctrl":
        return None
    segment = frame["segment"]
    if segment["starts_mid_message"]:
        return "segment starts inside a message"
    if segment["ends_mid_message"] or "truncated" in frame["problems"]:
        return "segment ends inside a message"
    if segment["messages_complete"] > 1:
        return "several messages in one segment"
    lengths = frame["fields"].get("pptp_ctrl.length", [])
    types = frame["fields"].get("pptp_ctrl.control_message_type", [])
    if lengths and types:
        try:
            fixed = FIXED_LENGTH[MsgType(types[0])]
        except ValueError:
            return None
        if lengths[0] < fixed:
            return "length shorter than the message type needs"
    return None


BUILTIN = Analyzer("built-in", builtin_name, "gre", builtin_limit)


@dataclass
class Mismatch:
    frame: int
    field: str
    expected: object
    actual: list[str]

    def __str__(self) -> str:
        return f"frame {self.frame}: {self.field}: expected {self.expected!r}, got {self.actual!r}"


@dataclass
class Report:
    scenario: str
    analyzer: str
    frames_checked: int = 0
    fields_checked: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)
    malformed: list[int] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)
    missing_fields: frozenset[str] = frozenset()
    lua_errors: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches and not self.malformed and not self.lua_errors

    def format(self) -> str:
        lines = [str(m) for m in self.mismatches]
        lines += [f"frame {n}: malformed" for n in self.malformed]
        lines += [f"frame {n}: Lua error" for n in self.lua_errors]
        lines += [f"frame {n}: not compared ({why})" for n, why in sorted(self.skipped.items())]
        if self.missing_fields:
            lines.append(
                "fields this tshark does not know: " + ", ".join(sorted(self.missing_fields))
            )
        verdict = "OK" if self.ok else "FAIL"
        lines.append(
            f"{verdict} {self.scenario} [{self.analyzer}]: {self.frames_checked} frames, "
            f"{self.fields_checked} fields checked, {len(self.mismatches)} mismatches, "
            f"{len(self.malformed)} malformed, {len(self.skipped)} not compared"
        )
        return "\n".join(lines)


def wanted_fields(truth: dict, analyzer: Analyzer) -> list[str]:
    names = {name for frame in truth["frames"] for name in frame.get("fields", {})}
    mapped = (analyzer.field_name(n) for n in sorted(names))
    problem_fields = (
        [analyzer.problem_field("gre_"), analyzer.problem_field("")]
        if analyzer.problem_field
        else []
    )
    return [n for n in mapped if n] + [name for name, _ in problem_fields]


def inner_stack(protocols: str, gre_layer: str) -> str | None:
    """The layers after the GRE layer in frame.protocols (None if there is no GRE layer)."""
    layers = protocols.split(":")
    if gre_layer not in layers:
        return None
    return ":".join(layers[layers.index(gre_layer) + 1 :])


def compare(truth: dict, decoded: tshark.Decode, analyzer: Analyzer) -> Report:
    """Check every frame of ``truth`` against ``decoded``; frames the analyzer's ``limit``
    names are skipped."""
    report = Report(truth["scenario"], analyzer.name, missing_fields=decoded.missing_fields)
    report.lua_errors = decoded.lua_errors()
    # A malformed frame is a failure unless the truth says the frame is broken.
    broken = {f["number"] for f in truth["frames"] if f.get("problems")}
    report.malformed = [n for n in decoded.malformed() if n not in broken]
    for frame in truth["frames"]:
        number = frame["number"]
        why = analyzer.limit(frame)
        if why:
            report.skipped[number] = why
            report.malformed = [n for n in report.malformed if n != number]
            continue
        report.frames_checked += 1
        protocols = (decoded.values(number, "frame.protocols") or [""])[0]
        if frame["kind"] == "pptp_gre":
            report.fields_checked += 1
            stack = inner_stack(protocols, analyzer.gre_layer)
            if stack != frame["inner_stack"]:
                report.mismatches.append(
                    Mismatch(
                        number,
                        "frame.protocols",
                        f"…{analyzer.gre_layer}:{frame['inner_stack']}",
                        [protocols],
                    )
                )
        elif frame["kind"] == "tcp" and "pptp" in protocols:
            report.mismatches.append(
                Mismatch(number, "frame.protocols", "no PPTP layer", [protocols])
            )
        if analyzer.problem_field:
            report.fields_checked += 1
            expected_problems = {analyzer.problem_field(p) for p in frame.get("problems", ())}
            fields = {analyzer.problem_field("gre_")[0], analyzer.problem_field("")[0]}
            shown = {(f, v) for f in fields for v in decoded.values(number, f)}
            shown = {
                p
                for p in shown
                if p in expected_problems or p[1] not in analyzer.tolerated_problems
            }
            if shown != expected_problems:
                report.mismatches.append(
                    Mismatch(number, "problems", sorted(expected_problems), sorted(shown))
                )
        for name, expected in frame.get("fields", {}).items():
            shown_as = analyzer.field_name(name)
            if not shown_as:
                continue
            # tshark's field output cannot show an empty string: compare the non-empty ones.
            expected = [e for e in expected if e != ""]
            actual = [a for a in decoded.values(number, shown_as) if a != ""]
            report.fields_checked += 1
            if len(actual) != len(expected) or not all(
                same_value(e, a) for e, a in zip(expected, actual)
            ):
                report.mismatches.append(
                    Mismatch(
                        number, shown_as, expected if len(expected) > 1 else expected[0], actual
                    )
                )
    return report


def decode_for(
    pcap: str | Path,
    truth: dict,
    analyzer: Analyzer,
    extra: Sequence[str] = (),
    timeout: float = 900,
) -> tshark.Decode:
    """One tshark run over ``pcap`` giving every field the truth names (plus ``extra``)."""
    return tshark.decode(
        pcap,
        [*wanted_fields(truth, analyzer), *extra],
        lua_scripts=analyzer.lua_scripts,
        prefs=analyzer.prefs,
        two_pass=analyzer.two_pass,
        timeout=timeout,
    )


def check_pcap(pcap: str | Path, analyzer: Analyzer = BUILTIN) -> Report:
    """Decode ``pcap`` with one tshark run and compare it with the truth written beside it."""
    truth = load_truth(pcap)
    return compare(truth, decode_for(pcap, truth, analyzer), analyzer)


@dataclass
class CallsTable:
    """The plugin's ``tshark -z pptp,calls`` output: one dict per call (column -> value), one
    per flow of GRE without a call, and one per tunnel learnt from GRE alone (the calls
    section's lines of kind ``gre_only``)."""

    calls: list[dict[str, str]]
    orphans: list[dict[str, str]]
    tunnels: list[dict[str, str]] = field(default_factory=list)


def parse_calls_table(text: str) -> CallsTable:
    """Sections start with a "#" line, then a header line of column names; each following
    line is one row of tab-separated values."""
    sections: list[list[dict[str, str]]] = []
    header: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("#"):
            sections.append([])
            header = None
        elif not line.strip() or not sections:
            continue
        elif header is None:
            header = line.split("\t")
        else:
            sections[-1].append(dict(zip(header, line.split("\t"))))
    rows = sections[0] if sections else []
    return CallsTable(
        [row for row in rows if row.get("kind") != "gre_only"],
        sections[1] if len(sections) > 1 else [],
        [row for row in rows if row.get("kind") == "gre_only"],
    )


def calls_table(pcap: str | Path, script: str | Path, prefs: Sequence[str] = ()) -> CallsTable:
    """The plugin's ``tshark -z pptp,calls`` table of ``pcap`` (two passes), with ``prefs``."""
    return parse_calls_table(tshark.statistics(pcap, "pptp,calls", [str(script)], prefs))


def call_lines(pcap: str | Path, script: str | Path, two_pass: bool) -> dict[int, str]:
    """Per GRE frame of ``pcap``, the call line the plugin shows in its tree (``-V``, one pass
    or two): "Call #N: Call IDs ...; ...", one tshark run."""
    args = ["-n", "-r", str(pcap), "-X", f"lua_script:{script}", "-V", "-O", "pptp_gre"]
    text = tshark.run([*args, "-2"] if two_pass else args).stdout
    lines, frame = {}, 0
    for line in text.splitlines():
        if started := re.match(r"Frame (\d+):", line):
            frame = int(started[1])
        elif found := re.match(r"\s+\[(Call #\d+[^:]*: Call IDs .*)\]$", line):
            lines[frame] = found[1]
    return lines


DIRECTION_COUNTS = (
    "packets",
    "bytes",
    "lost",
    "duplicate",
    "out_of_order",
    "out_of_window",
    "restarts",
)


# The columns of a tunnel's line the truth knows.
TUNNEL_COLUMNS = (
    "kind",
    "client",
    "server",
    "client_call_id",
    "server_call_id",
    *(f"{prefix}_{name}" for prefix in ("c2s", "s2c") for name in DIRECTION_COUNTS),
)


def orphan_mismatches(table: CallsTable, flows: list[dict]) -> list[str]:
    """How the table's GRE without a call, and its tunnels learnt from GRE alone, differ from
    the truth's (none: equal)."""
    names = ("sender", "receiver", "call_id", *DIRECTION_COUNTS, "paired_call_id")
    shown = [{name: row.get(name) for name in names} for row in table.orphans]
    expected = [
        {name: "-" if flow[name] is None else str(flow[name]) for name in names} for flow in flows
    ]
    found = [] if shown == expected else [f"GRE without a call: expected {expected}, got {shown}"]
    tunnels = [{name: row.get(name) for name in TUNNEL_COLUMNS} for row in table.tunnels]
    wanted = [tunnel_expected(first, second) for first, second in tunnel_pairs(flows)]
    if tunnels != wanted:
        found.append(f"tunnels: expected {wanted}, got {tunnels}")
    return found


def tunnel_pairs(flows: list[dict]) -> list[tuple[dict, dict]]:
    """The truth's flows of GRE without a call paired into tunnels, in the order the first of
    each was seen, with the flow the other way."""
    pairs = []
    for index, first in enumerate(flows):
        for second in flows[index + 1 :]:
            if (first["paired_call_id"], second["paired_call_id"]) == (
                second["call_id"],
                first["call_id"],
            ) and (first["sender"], first["receiver"]) == (second["receiver"], second["sender"]):
                pairs.append((first, second))
    return pairs


def tunnel_expected(first: dict, second: dict) -> dict[str, str]:
    """The calls-table line of a tunnel learnt from GRE alone, as far as the truth knows it:
    the side whose GRE came first is the client."""
    expected = {
        "kind": "gre_only",
        "client": first["sender"],
        "server": first["receiver"],
        "client_call_id": str(second["call_id"]),
        "server_call_id": str(first["call_id"]),
    }
    for prefix, flow in (("c2s", first), ("s2c", second)):
        for name in DIRECTION_COUNTS:
            expected[f"{prefix}_{name}"] = str(flow[name])
    return expected


def calls_table_mismatches(
    table: CallsTable, calls: list[dict], orphans: list[dict] | None = None
) -> list[str]:
    """How the per-call table differs from the truth's per-call summaries and, where given,
    its GRE without a call (none: equal)."""
    found = [] if orphans is None else orphan_mismatches(table, orphans)
    rows = table.calls
    if len(rows) != len(calls):
        return [*found, f"{len(rows)} rows for {len(calls)} calls"]
    for number, (row, call) in enumerate(zip(rows, calls), start=1):
        expected = {
            "call": str(number),
            "kind": call["kind"],
            "tcp_stream": str(call["tcp_stream"]),
            "client": call["client"],
            "server": call["server"],
            "client_call_id": str(call["client_call_id"]),
            "server_call_id": str(
                "-" if call["server_call_id"] is None else call["server_call_id"]
            ),
            "first_frame": str(call["first_frame"]),
            "last_frame": str(call["last_frame"]),
            "auth": call["auth"],
            "user": call.get("user") or "-",
            "encrypted": str(call["encrypted"]).lower(),
            "disconnect_result": str(
                "-" if call["disconnect_result"] is None else call["disconnect_result"]
            ),
            "ended": call["ended"],
            "gre_seen": call["gre_seen"] if call["result"] == 1 else "-",
            "ppp": ",".join(call["ppp_protocols"]) or "-",
        }
        for prefix, side in (("c2s", "client_to_server"), ("s2c", "server_to_client")):
            for name in DIRECTION_COUNTS:
                expected[f"{prefix}_{name}"] = str(call[side][name])
        found += [
            f"call {number}: {name}: expected {want!r}, got {row.get(name)!r}"
            for name, want in expected.items()
            if row.get(name) != want
        ]
        duration = float(row.get("duration", "nan"))
        if not abs(duration - call["duration"]) <= 0.001:  # printed with three decimals
            found.append(f"call {number}: duration {duration} != {call['duration']}")
    return found
