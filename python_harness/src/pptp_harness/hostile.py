"""Hostile versions of a capture: what a corrupted link, a capture artefact or a spoofing
attacker adds to real PPTP traffic, built from the capture's own frames (issue 24).

- ``altered_copies``: after chosen GRE frames, copies with a few octets of the GRE packet
  (header and payload) changed; the IP header is left as it was (its checksum does not cover
  the payload), so every copy reaches the analyzers;
- ``gre_only``: the GRE frames alone, as a capture taken where the control connection does
  not pass;
- ``followed_by_itself``: the frames, then the same frames again after an idle gap (a
  reconnect that reuses the Call IDs and sequence numbers);
- ``write``: the records as a pcap (nanosecond timestamps, the frames' own link type).

Each built record keeps the number of the frame it came from (``original``: None for an
inserted one), so the truth of the originals can be held against what analyzers show.
The captures are built at test time from ``../shared/captures``; none is kept in the tree.
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

import dpkt

from . import captures, ppp
from .constants import GRE_FLAG_ACK, GRE_FLAG_SEQ, IP_PROTO_GRE, PppProto

IDLE_GAP = Decimal(600)  # "followed 10 minutes later by itself"
GRE_SEQ_OFFSET = 8  # enhanced GRE: flags, version, protocol, payload length, Call ID, then seq


@dataclass(frozen=True)
class Record:
    """One frame of a built capture; ``original`` is the source frame's number, None for a
    frame inserted by a hostile step."""

    ts: Decimal
    linktype: int
    frame: bytes
    original: int | None


def read_records(path: str | Path) -> list[Record]:
    return [Record(ts, lt, frame, number) for number, ts, lt, frame in captures.records(path)]


def gre_offset(linktype: int, frame: bytes) -> int | None:
    """Where the GRE header of a frame starts (IPv4 or IPv6 carrying GRE directly), or None."""
    packet = captures.network_packet(linktype, frame)
    if packet is None:
        return None
    at = len(frame) - len(packet)
    version = packet[0] >> 4
    if version == 4 and len(packet) >= 20:
        ihl = (packet[0] & 0x0F) * 4
        (fragment,) = struct.unpack_from(">H", packet, 6)
        if packet[9] != IP_PROTO_GRE or fragment & 0x3FFF or len(packet) < ihl + 8:
            return None
        return at + ihl
    if version == 6 and len(packet) >= 48 and packet[6] == IP_PROTO_GRE:
        return at + 40
    return None


def is_gre(record: Record) -> bool:
    return gre_offset(record.linktype, record.frame) is not None


def alter(frame: bytes, start: int, rng: random.Random, changes: int = 3) -> bytes:
    """``frame`` with ``changes`` octets from ``start`` on set to other values (positions and
    values from ``rng``)."""
    data = bytearray(frame)
    for _ in range(changes):
        at = rng.randrange(start, len(data))
        data[at] = (data[at] + rng.randrange(1, 256)) % 256
    return bytes(data)


def altered_copies(
    records: list[Record],
    rng: random.Random,
    *,
    frames: int | None = None,
    copies: int = 1,
    changes: tuple[int, int] = (1, 3),
) -> list[Record]:
    """After ``frames`` GRE frames drawn at random (all of them when None), ``copies`` copies
    each, every copy with ``changes`` (a range) octets of its GRE packet changed."""
    gre = [i for i, r in enumerate(records) if is_gre(r)]
    chosen = set(gre if frames is None else rng.sample(gre, min(frames, len(gre))))
    built: list[Record] = []
    for index, record in enumerate(records):
        built.append(record)
        if index not in chosen:
            continue
        start = gre_offset(record.linktype, record.frame)
        for _ in range(copies):
            frame = alter(record.frame, start, rng, rng.randint(*changes))
            built.append(Record(record.ts, record.linktype, frame, None))
    return built


def gre_only(records: list[Record]) -> list[Record]:
    """The GRE frames alone (the control connection not captured)."""
    return [r for r in records if is_gre(r)]


def followed_by_itself(records: list[Record], gap: Decimal = IDLE_GAP) -> list[Record]:
    """The frames, then the same frames again ``gap`` seconds after the last one (a reconnect
    reusing the Call IDs and sequence numbers). The repeat's frames count as originals too:
    they are what the peers sent; their ``original`` is their own frame number."""
    if not records:
        return []
    shift = records[-1].ts + gap - records[0].ts
    numbered = [replace(r, original=n) for n, r in enumerate(records, 1)]
    again = [
        replace(r, ts=r.ts + shift, original=len(records) + n) for n, r in enumerate(records, 1)
    ]
    return numbered + again


def gre_seq(record: Record) -> int | None:
    """The sequence number of a GRE frame, if it carries one."""
    start = gre_offset(record.linktype, record.frame)
    if start is None or len(record.frame) < start + GRE_SEQ_OFFSET + 4:
        return None
    if not record.frame[start] & (GRE_FLAG_SEQ >> 8):
        return None
    return struct.unpack_from(">I", record.frame, start + GRE_SEQ_OFFSET)[0]


def mppe_header_offset(record: Record) -> int | None:
    """Where the MPPE header (flags and coherency count) of a GRE frame carrying MPPE is."""
    start = gre_offset(record.linktype, record.frame)
    frame = record.frame
    if start is None or len(frame) < start + 8:
        return None
    flags, _, length = struct.unpack_from(">HHH", frame, start)
    at = start + 8 + 4 * bool(flags & GRE_FLAG_SEQ) + 4 * bool(flags & GRE_FLAG_ACK)
    payload = frame[at : at + length]
    protocol, info = ppp.split(payload) if payload else (None, b"")
    if protocol != PppProto.MPPE or len(info) < 2:
        return None
    return at + len(payload) - len(info)


def original_numbers(records: list[Record]) -> dict[int, int]:
    """Source frame number -> frame number in the built capture, for the originals."""
    return {r.original: n for n, r in enumerate(records, 1) if r.original is not None}


def write(records: list[Record], out: str | Path) -> Path:
    """The records as a pcap with nanosecond timestamps (they are all one link type)."""
    out = Path(out)
    linktypes = {r.linktype for r in records}
    if len(linktypes) > 1:
        raise ValueError(f"frames of several link types {sorted(linktypes)}: one pcap holds one")
    with open(out, "wb") as f:
        writer = dpkt.pcap.Writer(
            f, snaplen=262144, linktype=linktypes.pop() if linktypes else 1, nano=True
        )
        for record in records:
            writer.writepkt(record.frame, ts=record.ts)
    return out


def as_the_issue_says(source: str | Path, folder: str | Path, seed: int = 24) -> dict[str, Path]:
    """The three hostile captures issue 24 measures, from a real capture: 10 altered copies
    (one after each of 10 GRE frames), 3 altered copies after every GRE frame, and the GRE
    alone followed 10 minutes later by itself."""
    folder = Path(folder)
    records = read_records(source)
    built = {
        "ten_altered": altered_copies(records, random.Random(seed), frames=10),
        "three_after_every": altered_copies(records, random.Random(seed), copies=3),
        "gre_only_twice": followed_by_itself(gre_only(records)),
    }
    return {name: write(found, folder / f"{name}.pcap") for name, found in built.items()}
