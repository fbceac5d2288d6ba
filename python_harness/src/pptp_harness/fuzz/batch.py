"""A batch: many fuzz cases in one capture, each from client addresses of its own, and which of
its frames still have a truth (none at or after a case's first mutation).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from .. import oracle
from ..capture import (
    Capture,
    Host,
    host,
)


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
