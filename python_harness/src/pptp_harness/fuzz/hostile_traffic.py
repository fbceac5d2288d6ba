"""The hostile-traffic fuzz class (issue 24): real and synthesized sessions with hostile packets
inserted after originals, held to the analysis of the originals.

Each case takes a source session (a scenario, or a real capture of ``../shared/captures`` where
it is present) and inserts, each right after a GRE frame of the source:
- ``altered_copy``: the frame again with one to three octets of its GRE packet changed;
- ``replay``: an earlier GRE frame of the same flow again, unchanged;
- ``extreme_seq``: the frame again with its sequence number's top half set to an extreme
  (0x0000, 0x7FFF, 0x8000, 0xFFFF);
- ``forged_lcp``, ``forged_ccp``, ``forged_chap``: the frame's GRE header (its own sequence
  number: a duplicate) carrying an LCP or CCP Configure-Ack that echoes no Configure-Request,
  a CHAP Response with an identifier no Challenge had, or a CHAP Success with an identifier
  no Response had: frames no peer would accept;
and may end with a ``restart``: the source's GRE alone, followed 10 minutes later by itself (a
reconnect reusing the Call IDs and numbers; both copies are originals).

A hostile packet changes a sequence number only in its top 16 bits (altered copies and
extremes), and never lands on another flow of the source: a number within the acceptance window
ahead of a flow is a loss no analyzer can tell from a real one, so such a packet would be no
test. The truth (the harness's reading of the originals alone) then holds the analyzers to:
the same calls, the same authentication, user and encryption, lost counts never above the
truth's, and every original MPPE packet that an analyzer decrypts without the hostile packets
still decrypted with them (the plugin with a credentials file, ``pptp-harness decrypt``); no
Lua error and no Zeek reporter message.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hypothesis import strategies as st

from .. import captures, decrypt, oracle, ppp, reading, scenarios, tshark, zeek
from .. import hostile as built
from ..constants import GRE_FLAG_ACK, GRE_FLAG_KEY, GRE_FLAG_SEQ, PppProto
from ..credentials import read_credentials, write_credentials
from .check import Failure

REAL_CAPTURES = Path(__file__).resolve().parents[5] / "shared" / "captures"
# Real captures with the credentials that open them (those without a known password are
# still held to everything but decryption).
REAL_SOURCES = {
    "pptpd-windows-mschapv2-mppe.pcapng": "jm:123",
    "chapcrack-sample.pcap": None,
    "packetlife-PPTP_negotiation.pcap": None,
}
# Synthesized sessions with PPP, MPPE (stateless and stateful), several calls and losses.
SCENARIO_SOURCES = (
    "mschapv2_mppe",
    "unencrypted_session",
    "decrypt_stateless_128",
    "decrypt_stateful_40",
    "decrypt_two_users",
    "sequence_loss",
    "two_calls",
)
KINDS = ("altered_copy", "replay", "extreme_seq", "forged_lcp", "forged_ccp", "forged_chap")
EXTREMES = (0x0000, 0x7FFF, 0x8000, 0xFFFF)
# An option type no peer sends: a forged Configure-Ack carrying it echoes no real Request.
FORGED_OPTION = b"\x7e\x02"
TIMEOUT = 300


@dataclass(frozen=True)
class Insertion:
    kind: str
    after: int  # which GRE frame of the source (modulo their number)
    value: int  # what the insertion draws its octets from


@dataclass(frozen=True)
class HostileCase:
    source: str  # a scenario's name, or "real:" and a file of REAL_CAPTURES
    insertions: tuple[Insertion, ...]
    restart: bool = False


def sources() -> list[str]:
    """The scenarios, and the real captures present beside the repository."""
    real = [f"real:{name}" for name in REAL_SOURCES if (REAL_CAPTURES / name).is_file()]
    return [*SCENARIO_SOURCES, *real]


@st.composite
def hostile_cases(draw, max_insertions: int = 12) -> HostileCase:
    insertion = st.builds(
        Insertion, st.sampled_from(KINDS), st.integers(0, 10_000), st.integers(0, 2**32 - 1)
    )
    return HostileCase(
        draw(st.sampled_from(sources())),
        tuple(draw(st.lists(insertion, min_size=1, max_size=max_insertions))),
        draw(st.booleans()),
    )


def credentials() -> list[str]:
    """Lines of a credentials file that opens every source's logins (test data only)."""
    lines = [f"{login.user}:{login.password}" for login in scenarios.LOGINS.values()]
    return lines + [c for c in REAL_SOURCES.values() if c]


# -- building ------------------------------------------------------------------------------------
def source_records(source: str, folder: Path) -> list[built.Record]:
    if source.startswith("real:"):
        return built.read_records(REAL_CAPTURES / source.removeprefix("real:"))
    pcap = scenarios.build(source).write_pcap(folder / f"{source}.pcap")
    return built.read_records(pcap)


@dataclass
class _Gre:
    """Where the parts of a GRE frame are: the GRE header's start, its sequence number's
    offset (None without one), the PPP frame's start and end."""

    start: int
    seq_at: int | None
    ppp_at: int
    end: int
    key: tuple[str, str, int]


def _parse(record: built.Record) -> _Gre | None:
    start = built.gre_offset(record.linktype, record.frame)
    if start is None or len(record.frame) < start + 8:
        return None
    frame = record.frame
    flags, _, length, call_id = struct.unpack_from(">HHHH", frame, start)
    if not flags & GRE_FLAG_KEY:
        return None
    at = start + 8
    seq_at = at if flags & GRE_FLAG_SEQ else None
    at += 4 * bool(flags & GRE_FLAG_SEQ) + 4 * bool(flags & GRE_FLAG_ACK)
    packet = captures.network_packet(record.linktype, frame)
    found = captures.transport(packet) if packet is not None else None
    if found is None or at + length > len(frame):
        return None
    return _Gre(start, seq_at, at, at + length, (found[0], found[1], call_id))


def _with_gre(record: built.Record, gre: bytes) -> built.Record:
    """The frame with its GRE packet replaced and its IP length (and IPv4 checksum) set."""
    frame = record.frame
    start = built.gre_offset(record.linktype, frame)
    packet = captures.network_packet(record.linktype, frame)
    ip_at = len(frame) - len(packet)
    header = bytearray(frame[ip_at:start])
    if header[0] >> 4 == 4:
        struct.pack_into(">H", header, 2, len(header) + len(gre))
        struct.pack_into(">H", header, 10, 0)
        total = sum(struct.unpack(f">{len(header) // 2}H", header))
        while total > 0xFFFF:
            total = (total & 0xFFFF) + (total >> 16)
        struct.pack_into(">H", header, 10, ~total & 0xFFFF)
    else:
        struct.pack_into(">H", header, 4, len(header) - 40 + len(gre))
    return built.Record(record.ts, record.linktype, frame[:ip_at] + bytes(header) + gre, None)


def _forged_ppp(kind: str, value: int, challenges: set[int], responses: set[int]) -> bytes:
    rng = random.Random(value)
    if kind == "forged_lcp":
        auth = b"\x03\x05\xc2\x23\x80" if value % 2 else b"\x03\x04\xc0\x23"  # MS-CHAPv1, PAP
        protocol, code, data = PppProto.LCP, 2, auth + FORGED_OPTION
    elif kind == "forged_ccp":
        mppe = b"\x12\x06" + struct.pack(">I", rng.choice((0x20, 0x40, 0x01000020)))
        protocol, code, data = PppProto.CCP, 2, mppe + FORGED_OPTION
    elif value % 2:
        unused = [i for i in range(256) if i not in challenges]
        response = rng.randbytes(16) + bytes(8) + rng.randbytes(24) + b"\x00"
        protocol, code, data = PppProto.CHAP, 2, b"\x31" + response + b"mallory"
        identifier = rng.choice(unused)
        return _ppp(protocol, code, identifier, data)
    else:
        unused = [i for i in range(256) if i not in responses]
        text = "S=" + rng.randbytes(20).hex().upper() + " M=forged"
        return _ppp(PppProto.CHAP, 3, rng.choice(unused), text.encode())
    return _ppp(protocol, code, rng.randrange(256), data)


def _ppp(protocol: int, code: int, identifier: int, data: bytes) -> bytes:
    info = struct.pack(">BBH", code, identifier, 4 + len(data)) + data
    return b"\xff\x03" + struct.pack(">H", protocol) + info


def _chap_identifiers(records: list[built.Record], code: int) -> set[int]:
    found = set()
    for record in records:
        gre = _parse(record)
        if gre is None:
            continue
        protocol, info = _split(record.frame[gre.ppp_at : gre.end])
        if protocol == PppProto.CHAP and len(info) >= 2 and info[0] == code:
            found.add(info[1])
    return found


def _split(frame: bytes) -> tuple[int | None, bytes]:
    return ppp.split(frame) if frame else (None, b"")


def _insertion(
    record: built.Record,
    gre: _Gre,
    insertion: Insertion,
    earlier: list[built.Record],
    keys: set[tuple[str, str, int]],
    identifiers: tuple[set[int], set[int]],
) -> built.Record | None:
    rng = random.Random(insertion.value)
    frame = record.frame
    if insertion.kind == "altered_copy":
        # Not the low half of the sequence number, and not onto another flow of the source.
        kept = set() if gre.seq_at is None else {gre.seq_at + 2, gre.seq_at + 3}
        positions = [p for p in range(gre.start, len(frame)) if p not in kept]
        for _ in range(16):
            data = bytearray(frame)
            for at in rng.sample(positions, min(len(positions), rng.randint(1, 3))):
                data[at] = (data[at] + rng.randrange(1, 256)) % 256
            call_id = struct.unpack_from(">H", data, gre.start + 6)[0]
            key = (gre.key[0], gre.key[1], call_id)
            if key == gre.key or key not in keys:
                return built.Record(record.ts, record.linktype, bytes(data), None)
        return None
    if insertion.kind == "replay":
        same = [r for r in earlier if (_parse(r) or gre).key == gre.key and _parse(r)]
        if not same:
            return None
        old = same[rng.randrange(len(same))]
        return built.Record(record.ts, old.linktype, old.frame, None)
    if insertion.kind == "extreme_seq":
        if gre.seq_at is None:
            return None
        top = struct.unpack_from(">H", frame, gre.seq_at)[0]
        choices = [e for e in EXTREMES if e != top]
        data = bytearray(frame)
        struct.pack_into(">H", data, gre.seq_at, rng.choice(choices))
        return built.Record(record.ts, record.linktype, bytes(data), None)
    if gre.seq_at is None:
        return None
    head = bytearray(frame[gre.start : gre.ppp_at])
    forged = _forged_ppp(insertion.kind, insertion.value, *identifiers)
    struct.pack_into(">H", head, 4, len(forged))
    return _with_gre(record, bytes(head) + forged)


def build(case: HostileCase, folder: Path) -> tuple[Path, Path, dict[int, int]]:
    """The case's capture of originals and its hostile capture, and for each original frame
    its number in the hostile one."""
    records = source_records(case.source, folder)
    if case.restart:
        records = built.followed_by_itself(built.gre_only(records))
    records = [built.Record(r.ts, r.linktype, r.frame, n) for n, r in enumerate(records, 1)]
    parsed = [_parse(r) for r in records]
    gre = [i for i, p in enumerate(parsed) if p is not None]
    keys = {p.key for p in parsed if p is not None}
    identifiers = (_chap_identifiers(records, 1), _chap_identifiers(records, 2))
    after: dict[int, list[Insertion]] = {}
    for insertion in case.insertions if gre else ():
        after.setdefault(gre[insertion.after % len(gre)], []).append(insertion)
    hostile: list[built.Record] = []
    for index, record in enumerate(records):
        hostile.append(record)
        for insertion in after.get(index, ()):
            made = _insertion(record, parsed[index], insertion, records[:index], keys, identifiers)
            if made is not None:
                hostile.append(made)
    original = built.write(records, folder / "original.pcap")
    attacked = built.write(hostile, folder / "hostile.pcap")
    return original, attacked, built.original_numbers(hostile)


# -- checking ------------------------------------------------------------------------------------
def check_case(
    case: HostileCase, lua: str | Path, folder: Path | None = None
) -> tuple[list[Failure], int]:
    """The case held to the truth of its originals by the plugin (where ``lua`` is given),
    Zeek (where installed) and ``pptp-harness decrypt``; and how many frames it has."""
    with tempfile.TemporaryDirectory(prefix="pptp-hostile-") as scratch:
        work = Path(folder or scratch)
        original, attacked, numbers = build(case, work)
        frames = sum(1 for _ in captures.records(attacked))
        creds = write_credentials(work, credentials())
        truth = reading.read(original).truth()
        name = f"{case.source}: {case.insertions!r}, restart={case.restart}"
        failures = []
        if lua:
            failures += plugin_failures(truth, original, attacked, numbers, lua, creds)
        if zeek.available():
            failures += zeek_failures(truth, attacked)
        failures += decrypt_failures(original, attacked, numbers, creds)
        return [Failure(kind, name, detail) for kind, detail in failures], frames


def save_case(case: HostileCase, failures: list[Failure], corpus: Path) -> Path:
    """A failing case saved as the recipe that rebuilds it (its source may be a real capture,
    which is not copied into the tree), with what failed."""
    recipe = {
        "source": case.source,
        "insertions": [[i.kind, i.after, i.value] for i in case.insertions],
        "restart": case.restart,
        "failures": [str(f) for f in failures],
    }
    text = json.dumps(recipe, indent=1, sort_keys=True) + "\n"
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    corpus.mkdir(parents=True, exist_ok=True)
    path = corpus / f"hostile-{failures[0].kind}-{digest}.case.json"
    path.write_text(text)
    return path


def load_case(path: str | Path) -> HostileCase:
    recipe = json.loads(Path(path).read_text())
    insertions = tuple(Insertion(*i) for i in recipe["insertions"])
    return HostileCase(recipe["source"], insertions, recipe["restart"])


def _calls(truth: dict) -> list[dict]:
    return truth["calls"]


def plugin_failures(truth, original, attacked, numbers, lua, creds) -> list[tuple[str, str]]:
    prefs = (f"pptp_gre.credentials_file:{creds}",)
    fields = ("pptp_gre.decrypted",)
    try:
        before = tshark.decode(original, fields, lua_scripts=[str(lua)], prefs=prefs, two_pass=True)
        after = tshark.decode(attacked, fields, lua_scripts=[str(lua)], prefs=prefs, two_pass=True)
        table = oracle.calls_table(attacked, lua, prefs)
    except tshark.TsharkError as exc:
        return [(exc.kind, str(exc)[:300])]
    found = [("lua_error", f"frame {n}") for n in after.lua_errors()]
    opened = [
        n
        for n in before.frames
        if any(oracle.same_value(True, v) for v in before.values(n, "pptp_gre.decrypted"))
    ]
    lost = [
        n
        for n in opened
        if after.values(numbers[n], "pptp_gre.decrypted") != before.values(n, "pptp_gre.decrypted")
    ]
    if lost:
        found.append(
            (
                "plugin_decryption",
                _no_longer(lost, opened),
            )
        )
    found += [("plugin_calls", m) for m in _call_mismatches(table.calls, _calls(truth))]
    found += [
        ("plugin_orphans", m) for m in _orphan_mismatches(table.orphans, truth["gre_without_call"])
    ]
    return found


def _no_longer(lost: list[int], opened: list[int]) -> str:
    return (
        f"{len(lost)} of {len(opened)} original MPPE packets no longer decrypted "
        f"(original frames {lost[:5]})"
    )


def _within(shown: str, limit: int) -> bool:
    """A lost count shown as a number from 0 to the truth's."""
    return shown.isdigit() and int(shown) <= limit


def _shown(value: object) -> str:
    return "-" if value is None else str(value)


def _call_mismatches(rows: list[dict], calls: list[dict]) -> list[str]:
    if len(rows) != len(calls):
        return [f"{len(rows)} calls for the truth's {len(calls)}"]
    found = []
    for number, (row, call) in enumerate(zip(rows, calls), 1):
        expected = {
            "client": call["client"],
            "server": call["server"],
            "client_call_id": str(call["client_call_id"]),
            "server_call_id": "-"
            if call["server_call_id"] is None
            else str(call["server_call_id"]),
            "auth": call["auth"],
            "user": call["user"] or "-",
            "encrypted": str(call["encrypted"]).lower(),
        }
        found += [
            f"call {number}: {k}: expected {v!r}, got {row.get(k)!r}"
            for k, v in expected.items()
            if row.get(k) != v
        ]
        for prefix, side in (("c2s", "client_to_server"), ("s2c", "server_to_client")):
            shown, limit = row.get(f"{prefix}_lost", "?"), call[side]["lost"]
            if not _within(shown, limit):
                found.append(f"call {number}: {prefix}_lost {shown}, the truth's {limit}")
    return found


def _orphan_mismatches(rows: list[dict], flows: list[dict]) -> list[str]:
    found = []
    for flow in flows:
        key = (flow["sender"], flow["receiver"], str(flow["call_id"]))
        shown = [r for r in rows if (r.get("sender"), r.get("receiver"), r.get("call_id")) == key]
        if not shown:
            found.append(f"GRE without a call {key}: not shown")
            continue
        lost = shown[0].get("lost", "?")
        if not _within(lost, flow["lost"]):
            found.append(f"GRE without a call {key}: lost {lost}, the truth's {flow['lost']}")
        for name in ("restarts", "paired_call_id"):
            if name in flow and shown[0].get(name) != _shown(flow[name]):
                found.append(
                    f"GRE without a call {key}: {name} {shown[0].get(name, 'not shown')!r}, "
                    f"the truth's {_shown(flow[name])!r}"
                )
    return found


_WITHOUT_CONTROL = re.compile(
    r"(\S+) to (\S+) Call ID (\d+): \d+ packets \(\d+ PPP octets\), (\d+) lost"
)


def zeek_failures(truth: dict, attacked: Path) -> list[tuple[str, str]]:
    try:
        logs = zeek.run(attacked, timeout=TIMEOUT)
    except (RuntimeError, OSError) as exc:
        return [("zeek_crash", str(exc)[:300])]
    found = [("zeek_reporter", str(r)[:300]) for r in logs.reporter]
    rows = list(logs.pptp)
    for call in _calls(truth):
        client, port = call["client"].rsplit(":", 1)
        row = next(
            (
                r
                for r in rows
                if r.get("client_call_id") == call["client_call_id"]
                and r.get("server_call_id") == call["server_call_id"]
                and r["id.orig_h"] == client
                and r["id.orig_p"] == int(port)
            ),
            None,
        )
        if row is None:
            found.append(("zeek_calls", f"no pptp.log row for call {call['client_call_id']}"))
            continue
        rows.remove(row)
        for name in ("auth", "user", "encrypted"):
            if row.get(name) != call[name]:
                found.append(
                    ("zeek_calls", f"{name}: expected {call[name]!r}, got {row.get(name)!r}")
                )
        for prefix, side in (("orig", "client_to_server"), ("resp", "server_to_client")):
            shown = row.get(f"{prefix}_gre_lost", 0)
            if shown > call[side]["lost"]:
                found.append(
                    (
                        "zeek_lost",
                        f"{prefix}_gre_lost {shown} above the truth's {call[side]['lost']}",
                    )
                )
    # A tunnel learnt from GRE alone is a row of its own ("gre_only"): its lost counts are
    # bounded by the truth's flows between its two addresses, each way.
    tunnels = [r for r in rows if r.get("call_kind") == "gre_only"]
    for row in tunnels:
        ends = (row["id.orig_h"], row["id.resp_h"])
        for prefix, (sender, receiver) in (("orig", ends), ("resp", ends[::-1])):
            limit = sum(
                f["lost"]
                for f in truth["gre_without_call"]
                if (f["sender"], f["receiver"]) == (sender, receiver)
            )
            if row.get(f"{prefix}_gre_lost", 0) > limit:
                found.append(
                    (
                        "zeek_lost",
                        f"GRE-only tunnel {ends}: {prefix}_gre_lost "
                        f"{row.get(f'{prefix}_gre_lost')} above the truth's {limit}",
                    )
                )
    others = [r for r in rows if r not in tunnels and r.get("call_kind") is not None]
    if others:
        found.append(("zeek_calls", f"{len(others)} pptp.log rows the truth has no call for"))
    lost: dict[tuple, int] = {}
    for notice in logs.notices:
        if notice.get("note") == "PPTP::GRE_Without_Control":
            for sender, receiver, call_id, count in _WITHOUT_CONTROL.findall(notice.get("msg", "")):
                key = (sender, receiver, int(call_id))
                lost[key] = lost.get(key, 0) + int(count)
    for flow in truth["gre_without_call"]:
        key = (flow["sender"], flow["receiver"], flow["call_id"])
        if lost.get(key, 0) > flow["lost"]:
            found.append(
                ("zeek_lost", f"GRE without control {key}: {lost[key]} lost, truth {flow['lost']}")
            )
    return found


def decrypt_failures(
    original: Path, attacked: Path, numbers: dict[int, int], creds_file: Path
) -> list[tuple[str, str]]:
    creds = read_credentials(creds_file)
    before, after = decrypt.decrypt(original, creds), decrypt.decrypt(attacked, creds)
    found = []
    opened = sorted(before.plaintexts)
    lost = [n for n in opened if after.plaintexts.get(numbers[n]) != before.plaintexts[n]]
    if lost:
        found.append(
            (
                "decrypt",
                _no_longer(lost, opened),
            )
        )
    if len(after.calls) != len(before.calls):
        found.append(
            (
                "decrypt_calls",
                f"{len(after.calls)} calls, {len(before.calls)} without the hostile packets",
            )
        )
    return found
