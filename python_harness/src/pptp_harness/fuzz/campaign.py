"""Fuzz campaigns: units of every generator (``generate``) on several processes until a number of
cases or packets, or a time, is done; each unit's failure is shrunk (``shrink``) and saved
(``corpus``); a progress bar (tqdm) while it runs and a table of what was done at the end.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.stateful import (
    get_state_machine_test,
)
from tqdm import tqdm

from .. import tshark
from . import hostile_traffic
from .batch import Batch
from .check import check_batch
from .corpus import REGRESSIONS, save_regression
from .generate import (
    CallLifecycles,
    build_mutations,
    build_sessions,
    mutation_batches,
    session_batches,
)
from .shrink import first_alone, reduce_mutation

# After a unit's first failure, shrinking has this long: every later candidate is then taken
# as passing without a run, and the smallest failure found so far is the one kept.
SHRINK_SECONDS = 120


# -- campaigns ----------------------------------------------------------------------------------
@dataclass
class Outcome:
    """What one unit of a campaign did."""

    kind: str
    cases: int = 0
    packets: int = 0
    seconds: float = 0.0
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # kind, saved pcap, text


GENERATORS = ("sessions", "mutations", "lifecycles", "hostile")


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
    first_failed: list[float] = []

    def check(batch: Batch, cases: list | None = None) -> None:
        if first_failed and time.monotonic() - first_failed[0] > SHRINK_SECONDS:
            return  # shrinking has had its time: the smallest failure so far is kept
        failures = check_batch(batch, lua)
        outcome.cases += len(batch.cases)
        outcome.packets += batch.packets
        if failures:
            last_failure[:] = [batch, failures, cases]
            first_failed[:] = first_failed or [time.monotonic()]
            raise AssertionError("\n".join(map(str, failures)))

    if kind == "hostile":
        return _hostile_unit(unit_seed, examples, lua, corpus, sizes, outcome, started)
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

    try:
        seed(unit_seed)(test)()
    except Exception:  # hypothesis re-raises the shrunk failure (or finds it flaky once cut)
        if not last_failure:
            raise
        batch, failures, cases = last_failure
        if cases and len(cases) > 1:  # a batch's minimum size can keep innocent cases in
            alone = first_alone(cases, builder, lua, failures[0].kind)
            batch, failures = alone or (batch, failures)
        if kind == "mutations":
            batch, failures = reduce_mutation(batch, failures, lua)
        saved = save_regression(batch, failures, Path(corpus))
        outcome.failures = [(f.kind, str(saved), str(f)) for f in failures[:1]]
    outcome.seconds = time.monotonic() - started
    return outcome


def _hostile_unit(
    unit_seed: int,
    examples: int,
    lua: str,
    corpus: str,
    sizes: tuple[int, int],
    outcome: Outcome,
    started: float,
) -> Outcome:
    """Hostile-traffic cases (``hostile_traffic``): one capture each, its first failure saved
    as the recipe that rebuilds it (no shrinking: a case is already a handful of packets
    added to one session)."""
    found: list = []

    @_fuzz_settings(examples, shrink=False)
    @given(hostile_traffic.hostile_cases(max(sizes[1], 1)))
    def test(case) -> None:
        failures, frames = hostile_traffic.check_case(case, lua)
        outcome.cases += 1
        outcome.packets += frames
        if failures and not found:
            found[:] = [case, failures]

    seed(unit_seed)(test)()
    if found:
        case, failures = found
        saved = hostile_traffic.save_case(case, failures, Path(corpus))
        outcome.failures = [(f.kind, str(saved), str(f)) for f in failures[:1]]
    outcome.seconds = time.monotonic() - started
    return outcome


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
CAMPAIGN_BATCH = {
    "sessions": (16, 32),
    "mutations": (48, 96),
    "lifecycles": (0, 300),
    "hostile": (1, 24),  # insertions per case
}


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


class ProgressBar:
    """A campaign's progress on standard error (tqdm): the share done, cases, packets, the
    rate and the failures so far; ``close`` when the campaign ends."""

    def __init__(self, stream=sys.stderr) -> None:
        self.bar = tqdm(total=100, file=stream, unit="%", bar_format="{l_bar}{bar:30}| {postfix}")

    def __call__(self, summary: Summary, fraction: float) -> None:
        rate = summary.packets / summary.seconds if summary.seconds else 0
        self.bar.n = round(fraction * 100)
        self.bar.set_postfix_str(
            f"{summary.cases:,} cases {summary.packets:,} pkts {rate:,.0f} pkt/s "
            f"{len(summary.failures)} failures"
        )

    def close(self) -> None:
        self.bar.close()
