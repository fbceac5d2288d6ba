"""Making a failing batch small before it is saved: the first case that fails the same way on
its own, and for a mutation, fewer and smaller mutations (octet-wise, while it still fails the
same way). Grammar cases are shrunk by hypothesis itself.
"""

from __future__ import annotations

from collections.abc import Iterator

from .check import Failure, check_batch
from .generate import Batch, Mutation, MutationCase, build_mutations


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


def first_alone(cases: list, builder, lua: str, kind: str) -> tuple[Batch, list[Failure]] | None:
    """The first case that fails the same way on its own, as a batch of one."""
    for case in cases:
        batch = builder([case])
        failures = check_batch(batch, lua)
        if any(f.kind == kind for f in failures):
            return batch, failures
    return None
