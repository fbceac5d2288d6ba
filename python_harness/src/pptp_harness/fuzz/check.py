"""Running a batch through the analyzers and holding them to its truth: one tshark run (our
plugin, two passes) per batch, one more with reassembly off where a mutation hit a control
message, and Zeek with our package where it is installed. Every failure names its case.
"""

from __future__ import annotations

import dataclasses
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .. import oracle, tshark, zeek
from .batch import Batch
from .generate import CallLifecycles

TSHARK_TIMEOUT = 300


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
    mutated = any(case.mutated_from is not None for case in batch.cases)
    truth = None if mutated else batch.cap.ground_truth()
    return zeek_failures(pcap, truth, f"{len(batch.cases)} cases")


def zeek_failures(pcap: Path, truth: dict | None, where: str) -> list[Failure]:
    """Zeek with our package over ``pcap``: never a crash or a reporter message, and with a
    ``truth``, pptp.log, notices and weirds exactly as it says."""
    try:
        logs = zeek.run(pcap, timeout=TSHARK_TIMEOUT)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        return [Failure("zeek_crash", where, str(exc)[:500])]
    failures = [Failure("zeek_reporter", where, str(r)[:300]) for r in logs.reporter]
    if truth is not None:
        report = zeek.compare(truth, logs)
        failures += [Failure("zeek_mismatch", where, m) for m in report.mismatches]
    return failures


def _lua_error(decoded: tshark.Decode, frame: int) -> str:
    """The text of a frame's Lua errors (the expert's; ``_ws.lua.error`` itself has none)."""
    experts = decoded.values(frame, "_ws.expert.message")
    messages = [m for m in experts if m.startswith("Lua Error")]
    return "; ".join(messages or decoded.values(frame, "_ws.lua.error"))[:300]


class CheckedLifecycles(CallLifecycles):
    """The call-lifecycle state machine held at the end of every run to its truth by the plugin
    ``lua`` (and Zeek, where installed)."""

    lua: str | Path = ""  # set by the subclass

    def teardown(self) -> None:
        if not self.lua or not self.batch.cap.frames:
            return
        failures = check_batch(self.batch, self.lua)
        assert not failures, "\n".join(str(f) for f in failures)
