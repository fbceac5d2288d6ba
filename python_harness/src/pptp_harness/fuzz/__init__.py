"""Regression fuzzing: grammar-based and mutation-based cases, many per pcap, one tshark run each.

Both kinds of generation (``generate``) are driven by hypothesis so that every failure shrinks.
Cases of one batch use their own client addresses, so they cannot disturb each other: a state
leak from one case into the next shows up as a mismatch. Each batch is held to its truth by the
real tshark with our plugin and, where installed, Zeek with our package (``check``); a failing
batch is made small (``shrink``) and saved into ``testdata/regressions/`` as pcap plus expected
result, and ``replay`` holds the analyzers to every saved case from then on (``corpus``).
``campaign`` runs it all on several processes (``make fuzz``). The hostile-traffic class
(``hostile_traffic``, one capture per case) inserts altered copies, replays, extreme sequence
numbers and forged PPP frames into whole sessions and holds the plugin, Zeek and decrypt to the
truth of the originals.
"""

from .batch import Batch, Case
from .campaign import GENERATORS, Outcome, ProgressBar, Summary, campaign, run_unit
from .check import (
    CheckedLifecycles,
    Failure,
    check_batch,
    check_zeek,
    lua_errors_without_reassembly,
)
from .corpus import REGRESSIONS, replay, save_regression
from .generate import (
    CallLifecycles,
    build_mutations,
    build_sessions,
    mutation_batches,
    session_batches,
)
from .shrink import first_alone, reduce_mutation

__all__ = [
    "GENERATORS",
    "REGRESSIONS",
    "Batch",
    "CallLifecycles",
    "Case",
    "CheckedLifecycles",
    "Failure",
    "Outcome",
    "ProgressBar",
    "Summary",
    "build_mutations",
    "build_sessions",
    "campaign",
    "check_batch",
    "check_zeek",
    "first_alone",
    "lua_errors_without_reassembly",
    "mutation_batches",
    "reduce_mutation",
    "replay",
    "run_unit",
    "save_regression",
    "session_batches",
]
