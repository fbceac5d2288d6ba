"""Runs the real Zeek with our package over a pcap and compares pptp.log, notice.log and
weird.log with the ground truth. Zeek is optional: ``available()`` says whether it is here."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from . import oracle

PACKAGE = Path(__file__).resolve().parents[3] / "zeek_scripts" / "scripts"
DIRECTIONS = {"client_to_server": "orig", "server_to_client": "resp"}


def available() -> bool:
    return shutil.which("zeek") is not None


@dataclass
class Logs:
    pptp: list[dict]
    notices: list[dict]
    weirds: list[dict]
    reporter: list[dict]
    stderr: str


def run(pcap: str | Path, *scripts: str, package: Path = PACKAGE, timeout: float = 600) -> Logs:
    """``zeek -r pcap`` with our package (and ``scripts``), JSON logs, in a scratch folder."""
    with tempfile.TemporaryDirectory(prefix="pptp-zeek-") as folder:
        done = subprocess.run(
            [
                "zeek",
                "-C",
                "-r",
                str(Path(pcap).resolve()),
                str(package),
                *scripts,
                "LogAscii::use_json=T",
            ],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(f"zeek exited {done.returncode}: {done.stderr.strip()}")

        def read(name: str) -> list[dict]:
            path = Path(folder) / f"{name}.log"
            if not path.exists():
                return []
            return [json.loads(line) for line in path.read_text().splitlines() if line]

        return Logs(read("pptp"), read("notice"), read("weird"), read("reporter"), done.stderr)


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


def expected_weirds(truth: dict) -> set[str]:
    """The weird names the truth's problems call for: pptp_<problem>, pptp_gre_<...>."""
    return {
        f"pptp_{p}"
        for frame in truth["frames"]
        for p in frame.get("problems", ())
        if p not in DIAGNOSES
    }


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
            "call_serial_number": call["call_serial_number"],
            "call_result": call["result"],
            "disconnect_result": call["disconnect_result"],
            "auth": call["auth"],
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
    weirds = {w["name"] for w in logs.weirds if w["name"].startswith("pptp_")}
    report.checked += 1
    if weirds != expected_weirds(truth):
        report.mismatches.append(
            f"weirds: expected {sorted(expected_weirds(truth))}, got {sorted(weirds)}"
        )
    return report
