"""The regression corpus, ``testdata/regressions/``: every failing batch a campaign found, saved
as pcap plus expected result under its content hash; ``replay`` holds the plugin to each from
then on.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

from .. import oracle, zeek
from .check import (
    TSHARK_TIMEOUT,
    Failure,
    _analyzer,
    lua_errors_without_reassembly,
    zeek_failures,
)
from .generate import Batch

REGRESSIONS = Path(__file__).resolve().parents[4] / "testdata" / "regressions"


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
    or a checked frame that differs from its expected result; and, where Zeek is installed,
    Zeek's with it: a crash or a reporter message, and for a case Zeek's logs failed on, logs
    that differ from the truth."""
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
    if zeek.available():
        found = truth["regression"]["found"]
        held = truth if found == "zeek_mismatch" and not truth["regression"]["mutated"] else None
        problems += [str(f) for f in zeek_failures(Path(pcap), held, "regression")]
    return problems
