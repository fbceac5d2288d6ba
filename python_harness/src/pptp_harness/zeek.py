"""Runs the real Zeek with our package over a pcap and compares pptp.log, notice.log and
weird.log with the ground truth. Zeek is optional: ``available()`` says whether it is here,
found on the PATH or in the usual install prefixes."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from . import oracle

ZEEK_SCRIPTS = Path(__file__).resolve().parents[3] / "zeek_scripts"
PACKAGE = ZEEK_SCRIPTS / "scripts"
ANALYZER_SOURCES = ZEEK_SCRIPTS / "analyzer"
# Where the analyzer's build script puts the compiled GRE analyzer.
ANALYZER_DIR = ZEEK_SCRIPTS / "build"
ANALYZER = ANALYZER_DIR / "pptp_gre.hlto"
# Where Zeek is usually installed when it is not on the PATH (Zeek's own build and packages).
PREFIXES = (Path("/opt/zeek"), Path("/usr/local/zeek"))
DIRECTIONS = {"client_to_server": "orig", "server_to_client": "resp"}


@cache
def zeek_bin() -> Path | None:
    """The folder of the ``zeek`` this harness runs: the PATH's, else a usual prefix's."""
    found = shutil.which("zeek")
    if found:
        return Path(found).resolve().parent
    for prefix in PREFIXES:
        if (prefix / "bin" / "zeek").is_file():
            return prefix / "bin"
    return None


def available() -> bool:
    return zeek_bin() is not None


def has_spicy() -> bool:
    """This Zeek can compile the package's Spicy GRE analyzer."""
    folder = zeek_bin()
    return folder is not None and (folder / "spicyz").is_file()


def environment(analyzer: bool = True) -> dict[str, str]:
    """The environment Zeek runs in: its folder first on the PATH (zeek-cut, spicyz), and the
    package's compiled GRE analyzer as the only Spicy module Zeek discovers (an installed
    copy of the package must not load beside the tree's). ``analyzer=False``: none."""
    env = dict(os.environ)
    folder = zeek_bin()
    if folder is not None:
        env["PATH"] = f"{folder}{os.pathsep}{env.get('PATH', '')}"
    env["ZEEK_PLUGIN_PATH"] = str(ANALYZER_DIR if analyzer else ANALYZER_DIR / "none")
    return env


def build_analyzer() -> Path | None:
    """Compile the GRE analyzer if a source is newer than it (the build script, as zkg runs
    it); None where this Zeek has no Spicy."""
    if not has_spicy():
        return None
    sources = [p for p in ANALYZER_SOURCES.iterdir() if p.is_file()]

    def stale() -> bool:
        newest = max(p.stat().st_mtime for p in sources)
        return not ANALYZER.exists() or newest > ANALYZER.stat().st_mtime

    if stale():
        # One build at a time: parallel fuzzing workers find it stale together.
        ANALYZER.parent.mkdir(parents=True, exist_ok=True)
        with open(ANALYZER.parent / ".build.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if stale():
                subprocess.run(
                    [str(ANALYZER_SOURCES / "build")],
                    env=environment(),
                    check=True,
                    capture_output=True,
                )
    return ANALYZER


@dataclass
class Logs:
    pptp: list[dict]
    notices: list[dict]
    weirds: list[dict]
    reporter: list[dict]
    stderr: str


SEED_FILE = ZEEK_SCRIPTS / "testing" / "random.seed"


def invoke(
    pcap: str | Path,
    args: list[str],
    folder: Path,
    analyzer: bool = True,
    timeout: float = 600,
) -> subprocess.CompletedProcess:
    """``zeek -C -r pcap ARGS`` in ``folder`` with a fixed seed (so connection uids repeat
    from run to run); with ``analyzer`` the package's GRE analyzer is built if need be and
    is the only Spicy module Zeek finds, otherwise none is."""
    hlto = build_analyzer() if analyzer else None
    env = environment(hlto is not None)
    env["ZEEK_SEED_FILE"] = str(SEED_FILE)
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [str(zeek_bin() / "zeek"), "-C", "-r", str(Path(pcap).resolve()), *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"zeek exited {done.returncode}: {done.stderr.strip()}")
    return done


def read_log(folder: Path, name: str) -> list[dict]:
    """The rows of a JSON log Zeek wrote in ``folder`` (none if it wrote no such log)."""
    path = folder / f"{name}.log"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def run(
    pcap: str | Path,
    *scripts: str,
    package: Path = PACKAGE,
    timeout: float = 600,
    analyzer: bool = True,
) -> Logs:
    """``zeek -r pcap`` with our package (and ``scripts``), JSON logs, in a scratch folder.
    With ``analyzer`` (where this Zeek has Spicy) the GRE analyzer must load: a run that
    silently lacks it would prove nothing about GRE."""
    with tempfile.TemporaryDirectory(prefix="pptp-zeek-") as scratch:
        folder = Path(scratch)
        done = invoke(
            pcap, [str(package), *scripts, "LogAscii::use_json=T"], folder, analyzer, timeout
        )
        logs = Logs(
            *(read_log(folder, name) for name in ("pptp", "notice", "weird", "reporter")),
            done.stderr,
        )
    if analyzer and has_spicy() and any(GRE_OFF in r.get("message", "") for r in logs.reporter):
        raise RuntimeError(f"zeek did not load the GRE analyzer {ANALYZER}: {logs.reporter}")
    return logs


def demo_logs(pcap: str | Path, folder: Path) -> str:
    """pptp.log and notice.log of ``pcap`` as Zeek writes them (the columns that have a value
    in some row), for ``make demo``."""
    invoke(pcap, [str(PACKAGE)], folder)
    shown = []
    for name in ("pptp", "notice"):
        path = folder / f"{name}.log"
        if not path.exists():
            shown.append(f"({name}.log: nothing logged)")
            continue
        lines = path.read_text().splitlines()
        fields = next(line.split("\t")[1:] for line in lines if line.startswith("#fields"))
        rows = [line.split("\t") for line in lines if not line.startswith("#")]
        used = [i for i in range(len(fields)) if any(r[i] != "-" for r in rows)]
        shown.append(f"{path}:")
        for row in rows:
            shown += [f"  {fields[i]:<24} {row[i]}" for i in used]
            shown.append("")
    return "\n".join(shown)


# The start of the reporter message of a package that runs without its GRE analyzer.
GRE_OFF = "pptp-analysis: GRE is not counted"


@dataclass
class ZeekReport:
    scenario: str
    mismatches: list[str] = field(default_factory=list)
    checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.mismatches


# Diagnoses that Zeek reports as notices (GRE_Blocked, NAT_Detected), not as weirds.
DIAGNOSES = oracle.CAPTURE_DIAGNOSES | {"nat_editor"}


# Sequence findings Zeek reports as weirds too: a stray (once per flow) and each restart.
SEQUENCE_WEIRDS = {
    "pptp_gre.analysis.out_of_window": "pptp_gre_out_of_window",
    "pptp_gre.analysis.restart": "pptp_gre_restart",
}


def expected_weirds(truth: dict) -> set[str]:
    """The weird names the truth's problems call for: pptp_<problem>, pptp_gre_<...>; and
    those of the sequence findings that are weirds in Zeek (the frames' analysis fields, in a
    synthesized capture's truth, or their ``analysis``, in a read one's)."""
    weirds = {
        f"pptp_{p}"
        for frame in truth["frames"]
        for p in frame.get("problems", ())
        if p not in DIAGNOSES
    }
    for frame in truth["frames"]:
        found = {**frame.get("fields", {}), **(frame.get("analysis") or {})}
        weirds |= {weird for name, weird in SEQUENCE_WEIRDS.items() if name in found}
    return weirds


def _same_key(one: dict, other: dict) -> bool:
    return (one["client"], one["client_call_id"]) == (other["client"], other["client_call_id"])


def _row_for(rows: list[dict], call: dict, used: set[int]) -> dict | None:
    """The first row not matched yet for this call (a reused Call ID has one row per call,
    in call order)."""
    client, port = call["client"].rsplit(":", 1)
    for index, row in enumerate(rows):
        if (
            index not in used
            and row.get("client_call_id") == call["client_call_id"]
            and row.get("server_call_id") == call["server_call_id"]
            and row["id.orig_h"] == client
            and row["id.orig_p"] == int(port)
        ):
            used.add(index)
            return row
    return None


def without_control_counts(flow: dict) -> str:
    """How the GRE_Without_Control notice gives the counts of one flow of GRE without a call."""
    return (
        f"{flow['sender']} to {flow['receiver']} Call ID {flow['call_id']}: "
        f"{flow['packets']} packets ({flow['bytes']} PPP octets), {flow['lost']} lost, "
        f"{flow['duplicate']} duplicate, {flow['out_of_order']} out of order, "
        f"{flow['out_of_window']} out of window, {flow['restarts']} restarts"
    )


def compare(truth: dict, logs: Logs) -> ZeekReport:
    """Every call of the truth has its pptp.log row with the same values, every notice the
    truth names is raised for its call and no other, and the pptp weirds are the truth's."""
    report = ZeekReport(truth["scenario"])
    if logs.reporter:
        report.mismatches.append(f"reporter.log: {logs.reporter}")
    used: set[int] = set()
    for call in truth["calls"]:
        row = _row_for(logs.pptp, call, used)
        if row is None:
            report.mismatches.append(f"no pptp.log row for call {call['client_call_id']}")
            continue
        expected = {
            "call_kind": call["kind"],
            # A call set up before the capture began has its serial number only in the
            # request the capture lacks: the truth's 0 is its builder's placeholder, and
            # pptp.log leaves the column unset.
            "call_serial_number": None if call["kind"] == "unseen" else call["call_serial_number"],
            "call_result": call["result"],
            "disconnect_result": call["disconnect_result"],
            "auth": call["auth"],
            "user": call["user"],
            "encrypted": call["encrypted"],
            "ppp_protocols": sorted(call["ppp_protocols"]),
            "gre_client": call["gre_client"],
            "gre_seen": call["gre_seen"] if call["result"] == 1 else None,
        }
        for direction, prefix in DIRECTIONS.items():
            counts = call[direction]
            expected[f"{prefix}_gre_pkts"] = counts["packets"]
            expected[f"{prefix}_gre_bytes"] = counts["bytes"]
            expected[f"{prefix}_gre_lost"] = counts["lost"]
            expected[f"{prefix}_gre_duplicate"] = counts["duplicate"]
            expected[f"{prefix}_gre_out_of_order"] = counts["out_of_order"]
            expected[f"{prefix}_gre_out_of_window"] = counts["out_of_window"]
            expected[f"{prefix}_gre_restarts"] = counts["restarts"]
        for name, value in expected.items():
            actual = row.get(name)
            if name == "ppp_protocols":
                actual = sorted(actual or [])
            report.checked += 1
            if actual != value:
                report.mismatches.append(
                    f"call {call['client_call_id']}: {name}: expected {value!r}, got {actual!r}"
                )
        # Calls of one connection that reuse a Call ID share uid and sub: their notices
        # are compared together.
        expected_notices = sorted(
            {n for other in truth["calls"] if _same_key(other, call) for n in other["notices"]}
        )
        raised = sorted(
            {
                n["note"].removeprefix("PPTP::")
                for n in logs.notices
                if n.get("uid") == row["uid"]
                and n["note"].startswith("PPTP::")
                and n.get("sub") == f"call {call['client_call_id']}"
            }
        )
        report.checked += 1
        if raised != expected_notices:
            report.mismatches.append(
                f"call {call['client_call_id']}: notices: expected {expected_notices}, got {raised}"
            )
    # Notices not tied to a call (floods, failed attempts, GRE without control).
    general = {
        n["note"].removeprefix("PPTP::")
        for n in logs.notices
        if n["note"].startswith("PPTP::") and not str(n.get("sub", "")).startswith("call ")
    }
    report.checked += 1
    if general != set(truth.get("notices", ())):
        report.mismatches.append(
            f"notices: expected {sorted(truth.get('notices', ()))}, got {sorted(general)}"
        )
    # GRE without control: its notice gives each flow's counts.
    reported = " ".join(
        n.get("msg", "") for n in logs.notices if n["note"] == "PPTP::GRE_Without_Control"
    )
    for flow in truth.get("gre_without_call", ()):
        counts = without_control_counts(flow)
        report.checked += 1
        if counts not in reported:
            report.mismatches.append(f"GRE_Without_Control: no {counts!r} in {reported!r}")
    weirds = {w["name"] for w in logs.weirds if w["name"].startswith("pptp_")}
    report.checked += 1
    if weirds != expected_weirds(truth):
        report.mismatches.append(
            f"weirds: expected {sorted(expected_weirds(truth))}, got {sorted(weirds)}"
        )
    return report
