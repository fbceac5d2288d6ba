"""The plugin under stray GRE sequence numbers, restarted flows and GRE-only tunnels (issue 24):
the acceptance window's verdicts are made once, on the first pass, and read the same on one
pass and on two; the calls table, the report and the experts say what the truth says."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from pptp_harness import oracle, ppp, scenarios, tshark
from pptp_harness.capture import Capture, orphan_gre
from pptp_harness.expected import SEQ_WINDOW, SequenceTracker

PLUGIN = Path(__file__).resolve().parents[2] / "lua_dissector" / "pptp.lua"
HOSTILE = ["sequence_out_of_window", "sequence_restart", "gre_only_tunnel"]
SEQUENCE_FIELDS = [
    "pptp_gre.analysis.lost",
    "pptp_gre.analysis.duplicate",
    "pptp_gre.analysis.out_of_order",
    "pptp_gre.analysis.out_of_window",
    "pptp_gre.analysis.restart",
]


@pytest.fixture(scope="module")
def pcaps(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    paths = {}
    for name in HOSTILE:
        paths[name] = folder / f"{name}.pcap"
        scenarios.build(name).write(paths[name])
    return paths


def _sequence_verdicts(pcap: Path, two_pass: bool) -> dict[int, dict[str, int]]:
    """Each GRE frame's sequence findings as {field: value}, from one tshark run."""
    decoded = tshark.decode(pcap, SEQUENCE_FIELDS, lua_scripts=[str(PLUGIN)], two_pass=two_pass)
    assert not decoded.missing_fields
    assert not decoded.lua_errors()
    verdicts = {}
    for number in decoded.frames:
        found = {}
        for name in SEQUENCE_FIELDS:
            values = decoded.values(number, name)
            if values:
                (value,) = values
                found[name] = 1 if value == "True" else int(value)
        verdicts[number] = found
    return verdicts


@pytest.mark.parametrize("name", ["sequence_out_of_window", "sequence_restart"])
def test_one_pass_and_two_give_the_truths_sequence_verdicts(pcaps, name):
    """Every GRE frame reports exactly the truth's sequence findings (none where it has none),
    and a single pass reports the same as two."""
    truth = oracle.load_truth(pcaps[name])
    expected = {
        frame["number"]: {
            key: int(value[0]) for key, value in frame["fields"].items() if key in SEQUENCE_FIELDS
        }
        for frame in truth["frames"]
        if frame["kind"] == "pptp_gre"
    }
    assert any(expected.values())
    for two_pass in (False, True):
        shown = _sequence_verdicts(pcaps[name], two_pass)
        assert {n: shown.get(n, {}) for n in expected} == expected, f"two_pass={two_pass}"


def test_gre_only_tunnel_is_paired_in_the_calls_table(pcaps):
    """The flows of GRE without a call, their counts and which flow the other way each is
    paired with, as the truth says; and the tunnel as one line among the calls, of kind
    gre_only (the side whose GRE came first as the client), as Zeek's pptp.log has it."""
    truth = oracle.load_truth(pcaps["gre_only_tunnel"])
    table = oracle.calls_table(pcaps["gre_only_tunnel"], PLUGIN)
    assert any(flow["paired_call_id"] is not None for flow in truth["gre_without_call"])
    assert not oracle.calls_table_mismatches(table, truth["calls"], truth["gre_without_call"])
    (tunnel,) = table.tunnels
    assert (tunnel["call"], tunnel["tcp_stream"], tunnel["auth"], tunnel["ppp"]) == (
        "1",
        "-",
        "-",
        "LCP",
    )
    first, second = (int(tunnel[k]) for k in ("first_frame", "last_frame"))
    paired = [f for f in table.orphans if f["paired_call_id"] != "-"]
    assert (first, second) == (
        min(int(f["first_frame"]) for f in paired),
        max(int(f["last_frame"]) for f in paired),
    )


def test_paired_flows_carry_the_other_ways_call_id(pcaps):
    """On two passes every packet of a paired GRE-only flow names the Call ID of the flow the
    other way (pptp_gre.paired_call_id); unpaired flows name none."""
    pcap = pcaps["gre_only_tunnel"]
    truth = oracle.load_truth(pcap)
    pairs = {flow["call_id"]: flow["paired_call_id"] for flow in truth["gre_without_call"]}
    fields = ["pptp_gre.call_id", "pptp_gre.paired_call_id"]
    decoded = tshark.decode(pcap, fields, lua_scripts=[str(PLUGIN)], two_pass=True)
    checked = 0
    for number in decoded.frames:
        (call_id,) = decoded.values(number, "pptp_gre.call_id")
        paired = pairs[int(call_id)]
        assert decoded.values(number, "pptp_gre.paired_call_id") == (
            [] if paired is None else [str(paired)]
        )
        checked += 1
    assert checked == len(truth["frames"])


def test_report_says_strays_restarts_and_tunnels_in_words(pcaps):
    """`-z pptp,report`: a direction's strays ("N out of window") and restarts ("restarted N
    time(s)") with the truth's figures, and a paired GRE-only flow as one tunnel."""
    for name in ("sequence_out_of_window", "sequence_restart"):
        truth = oracle.load_truth(pcaps[name])
        text = tshark.statistics(pcaps[name], "pptp,report", [str(PLUGIN)])
        call = truth["calls"][0]
        for side, label in (
            ("client_to_server", "client to server"),
            ("server_to_client", "server to client"),
        ):
            counts = call[side]
            (line,) = [line for line in text.splitlines() if line.startswith(f"  {label} ")]
            strays, restarts = counts["out_of_window"], counts["restarts"]
            assert (f"{strays} out of window" in line) == (strays > 0), line
            times = f"restarted {restarts} time{'' if restarts == 1 else 's'}"
            assert (times in line) == (restarts > 0), line
            assert (f"{counts['lost']} lost" in line) == (counts["lost"] > 0), line
    text = tshark.statistics(pcaps["gre_only_tunnel"], "pptp,report", [str(PLUGIN)])
    truth = oracle.load_truth(pcaps["gre_only_tunnel"])
    paired = [flow for flow in truth["gre_without_call"] if flow["paired_call_id"] is not None]
    assert paired
    for flow in paired:
        assert f"one tunnel with Call ID {flow['paired_call_id']} the other way" in text
    assert text.count("one tunnel with Call ID") == len(paired)
    lone = [flow for flow in truth["gre_without_call"] if flow["paired_call_id"] is None]
    assert all(flow["packets"] == 1 for flow in lone) and len(lone) > 1
    flows = len(truth["gre_without_call"])
    assert text.splitlines()[1] == (
        f"GRE without a call: {flows} flows, {len(paired)} of them the ways of 1 tunnel learnt "
        "from GRE alone"
    )
    assert f"  {len(lone)} flows of one or two packets each, paired with none" in text
    assert text.count(" -> ") == len(paired)  # the lone flows are told as a group


def test_experts_name_the_stray_and_where_the_flow_restarted(tmp_path):
    """A stray half the number space away loses nothing and says which number the window was
    measured from (the highest seen while none is confirmed, then the highest confirmed); a
    lone number beyond the flow shows its gap but adds no loss, and on two passes says so; a
    flow that goes on just after a stray says it restarted there (frame and number), and the
    stray, on two passes, that the flow restarted at it; the experts filter by name."""
    cap = Capture("strays", "strays, a lone number beyond the flow, then a restart", valid=False)
    client, server = scenarios.CLIENT, scenarios.SERVER
    numbers = (0, 2**31, 1, 2, 2**31 + 2, 3, 4, 900, 5, 900_000, 900_002)
    for seq in numbers:
        orphan_gre(cap, client, server, 7, ppp.lcp_echo(identifier=seq % 256), seq)
    pcap = tmp_path / "strays.pcap"
    cap.write(pcap)
    # What each expert must say, replaying the truth's tracker: the window's reference is
    # read before the packet, the restart names the stray it continued from.
    tracker, stray = SequenceTracker(), None
    expected: dict[int, list[str]] = {}
    references = []
    for number, seq in enumerate(numbers, start=1):
        confirmed = tracker.highest_confirmed
        reference = (
            f"highest {tracker.highest}" if confirmed is None else f"highest confirmed {confirmed}"
        )
        verdict = tracker.observe(seq)
        if "pptp_gre.analysis.out_of_window" in verdict:
            expected[number] = [
                f"Sequence number {seq} out of the acceptance window ({reference}): counted apart"
            ]
            references.append(reference)
            stray = (seq, number)
        if "pptp_gre.analysis.restart" in verdict:
            expected[number] = [f"Flow restarted at sequence number {stray[0]} (frame {stray[1]})"]
            went_on = f"the flow restarted here (frame {number} went on from it)"
            expected[stray[1]] = [expected[stray[1]][0].replace("counted apart", went_on)]
    lone = numbers.index(900) + 1
    expected[lone] = [
        "895 skipped by sequence number 900, which no number near it confirms (a damaged or "
        "forged copy?): not counted as lost"
    ]
    assert any("confirmed" in ref for ref in references)
    assert any("confirmed" not in ref for ref in references)
    decoded = tshark.decode(pcap, SEQUENCE_FIELDS, lua_scripts=[str(PLUGIN)], two_pass=True)
    assert not decoded.lua_errors()
    messages = {n: decoded.values(n, "_ws.expert.message") for n in decoded.frames}
    for number, wanted in expected.items():
        for message in wanted:
            assert message in messages[number], (number, messages[number])
    truth = oracle.load_truth(pcap)
    lost_at = {
        frame["number"]: frame["fields"]["pptp_gre.analysis.lost"]
        for frame in truth["frames"]
        if "pptp_gre.analysis.lost" in frame["fields"]
    }
    assert len(lost_at) == 2  # the lone 900 and the restarted flow's gap
    for number, value in lost_at.items():
        assert decoded.values(number, "pptp_gre.analysis.lost") == [str(value[0])]
    base = ["-n", "-2", "-r", str(pcap), "-X", f"lua_script:{PLUGIN}", "-T", "fields"]
    out = tshark.run([*base, "-Y", "pptp_gre.expert.skipped_unconfirmed", "-e", "frame.number"])
    assert out.stdout.split() == [str(lone)]
    for expert in ("out_of_window", "restart"):
        frames = [
            str(frame["number"])
            for frame in truth["frames"]
            if f"pptp_gre.analysis.{expert}" in frame["fields"]
        ]
        assert frames, expert
        out = tshark.run([*base, "-Y", f"pptp_gre.expert.{expert}", "-e", "frame.number"])
        assert out.stdout.split() == frames, expert
    (flow,) = truth["gre_without_call"]
    assert (flow["lost"], flow["restarts"]) == (tracker.lost, 1)
    assert tracker.lost < sum(value[0] for value in lost_at.values())  # 900 added no loss
    table = oracle.calls_table(pcap, PLUGIN)
    assert not oracle.calls_table_mismatches(table, truth["calls"], truth["gre_without_call"])


def test_copies_creeping_ahead_neither_push_the_window_nor_add_loss(tmp_path):
    """Each packet of a flow in order is followed by a copy whose number lands farther ahead
    than the last: the window stays with the confirmed numbers, the copies' gaps are shown on
    their packets but the flow's figures are the truth's (no loss, no restart)."""
    cap = Capture("creeping", "copies whose numbers creep ahead", valid=False)
    client, server = scenarios.CLIENT, scenarios.SERVER
    for seq in range(20):
        for number in (seq, seq + 3000 * (seq + 1)):
            orphan_gre(cap, client, server, 9, ppp.lcp_echo(identifier=number % 256), number)
    pcap = tmp_path / "creeping.pcap"
    cap.write(pcap)
    truth = oracle.load_truth(pcap)
    (flow,) = truth["gre_without_call"]
    assert flow["out_of_window"] > 0
    expected = {
        frame["number"]: {
            key: int(value[0]) for key, value in frame["fields"].items() if key in SEQUENCE_FIELDS
        }
        for frame in truth["frames"]
    }
    for two_pass in (False, True):
        shown = _sequence_verdicts(pcap, two_pass)
        assert {n: shown.get(n, {}) for n in expected} == expected, f"two_pass={two_pass}"
    table = oracle.calls_table(pcap, PLUGIN)
    assert not oracle.calls_table_mismatches(table, truth["calls"], truth["gre_without_call"])


def _hostile_numbers(rng: random.Random, count: int) -> list[tuple[int, float]]:
    """``count`` sequence numbers of one flow, each with the wait before it: runs in order,
    losses, late and repeated packets (some beyond the window), strays anywhere in the number
    space, strays that the flow goes on from, and silences after which it starts again."""
    numbers, seq = [], rng.randrange(1 << 32)
    while len(numbers) < count:
        roll, wait = rng.random(), 0.001
        if roll < 0.6:
            seq = (seq + 1) % (1 << 32)
            numbers.append((seq, wait))
        elif roll < 0.7:
            seq = (seq + rng.randint(2, 300)) % (1 << 32)
            numbers.append((seq, wait))
        elif roll < 0.8:
            numbers.append(
                (
                    (seq - rng.choice([1, 2, 50, SEQ_WINDOW - 1, SEQ_WINDOW, SEQ_WINDOW + 1, 9000]))
                    % (1 << 32),
                    wait,
                )
            )
        elif roll < 0.9:
            numbers.append((rng.randrange(1 << 32), wait))
        elif roll < 0.95:
            seq = (seq + rng.choice([5000, 1 << 31, rng.randrange(1 << 32)])) % (1 << 32)
            numbers.append((seq, wait))
        else:
            seq = (seq - rng.randint(0, 3000)) % (1 << 32)
            numbers.append((seq, rng.choice([59.0, 61.0, 120.0])))
    return numbers


@pytest.mark.parametrize("seed", range(3))
def test_random_hostile_numbers_as_the_truth(tmp_path, seed):
    """Flows of GRE without a call with hostile numbers (fixed seeds): every packet's verdicts
    on one pass and on two, and each flow's figures and pairing, equal the truth's."""
    rng = random.Random(seed)
    cap = Capture(f"hostile_{seed}", "hostile sequence numbers", valid=False)
    client, server = scenarios.CLIENT, scenarios.SERVER
    flows = {True: _hostile_numbers(rng, 6000), False: _hostile_numbers(rng, 3000)}
    sent = {True: [], False: []}
    while flows[True] or flows[False]:
        way = bool(flows[True]) and (not flows[False] or rng.random() < 0.66)
        seq, wait = flows[way].pop(0)
        cap.wait(wait)
        others = sent[not way]
        ack = rng.choice(others) if others and rng.random() < 0.05 else None
        src, dst, call_id = (client, server, 40) if way else (server, client, 41)
        orphan_gre(cap, src, dst, call_id, ppp.lcp_echo(identifier=seq % 256), seq, ack=ack)
        sent[way].append(seq)
    pcap = tmp_path / "hostile.pcap"
    cap.write(pcap)
    truth = oracle.load_truth(pcap)
    expected = {
        frame["number"]: {
            key: int(value[0]) for key, value in frame["fields"].items() if key in SEQUENCE_FIELDS
        }
        for frame in truth["frames"]
    }
    assert sum(1 for found in expected.values() if "pptp_gre.analysis.restart" in found) > 0
    for two_pass in (False, True):
        shown = _sequence_verdicts(pcap, two_pass)
        wrong = {n: (want, shown.get(n)) for n, want in expected.items() if shown.get(n) != want}
        assert not wrong, (
            f"two_pass={two_pass}: {len(wrong)} frames, e.g. {list(wrong.items())[:3]}"
        )
    table = oracle.calls_table(pcap, PLUGIN)
    assert not oracle.calls_table_mismatches(table, truth["calls"], truth["gre_without_call"])
