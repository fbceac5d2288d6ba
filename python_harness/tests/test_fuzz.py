"""The regression-fuzzing tier of ``make test``: seeded grammar and mutation batches through
the real tshark with our plugin, the call-lifecycle state machine, a replay of every saved
regression, and proof that a campaign finds, shrinks, saves and replays a planted bug."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings

from pptp_harness import cli, fuzz, oracle
from pptp_harness.fuzz import hostile_traffic

PLUGIN = Path(__file__).resolve().parents[2] / "lua_dissector" / "pptp.lua"
REGRESSION_PCAPS = sorted(fuzz.REGRESSIONS.glob("*.pcap"))
HOSTILE_RECIPES = sorted(fuzz.REGRESSIONS.glob("hostile-*.case.json"))


@settings(max_examples=12)
@given(fuzz.session_batches(1, 10))
def test_session_batches_decode_exactly(cases):
    """Whole sessions, some with one named step broken: every frame equals its truth, each
    broken step raises its named problem and nothing else does."""
    failures = fuzz.check_batch(fuzz.build_sessions(cases), PLUGIN)
    assert not failures, "\n".join(map(str, failures))


@settings(max_examples=12)
@given(fuzz.mutation_batches(1, 24))
def test_mutated_scenarios_never_break_the_plugin(cases):
    """Flipped, stomped, cut and extended PPTP and GRE octets: no Lua error, every frame
    dissected, and every frame before a case's first mutation still decoded as the truth."""
    failures = fuzz.check_batch(fuzz.build_mutations(cases), PLUGIN)
    assert not failures, "\n".join(map(str, failures))


class PluginLifecycles(fuzz.CheckedLifecycles):
    lua = PLUGIN


TestCallLifecycles = PluginLifecycles.TestCase
TestCallLifecycles.settings = settings(max_examples=10, stateful_step_count=60)


def test_regression_corpus_is_not_empty():
    assert REGRESSION_PCAPS, f"no regressions in {fuzz.REGRESSIONS}"


@pytest.mark.parametrize("pcap", REGRESSION_PCAPS, ids=lambda p: p.stem)
def test_regression_replays_clean(pcap):
    """Every case a campaign ever saved: the bug it found stays fixed."""
    assert fuzz.replay(pcap, PLUGIN) == []


@pytest.mark.parametrize("recipe", HOSTILE_RECIPES, ids=lambda p: p.name.split(".")[0])
def test_hostile_regression_replays_clean(recipe):
    """Every hostile-traffic case a campaign saved (the recipe that rebuilds it from its
    source session): the plugin, Zeek where installed and ``pptp-harness decrypt`` hold to the
    truth of its originals."""
    case = hostile_traffic.load_case(recipe)
    if case.source not in hostile_traffic.sources():
        pytest.skip(f"its source {case.source} is not here (../shared/captures)")
    problems, _ = hostile_traffic.check_case(case, PLUGIN)
    assert not problems, "\n".join(map(str, problems))


def _planted(tmp_path: Path) -> Path:
    """A copy of our plugin with a bug planted: a Lua error on any GRE packet whose payload
    length field disagrees with the octets that follow (what cutting or extending GRE
    produces). Its entry's path."""
    copy = tmp_path / "planted"
    shutil.copytree(PLUGIN.parent, copy)
    module = copy / "pptp_analysis" / "gre.lua"
    source = module.read_text()
    anchor = '        found[#found + 1] = { "payload_length_mismatch", string.format('
    assert anchor in source
    module.write_text(source.replace(anchor, '        error("planted bug")\n' + anchor))
    return copy / PLUGIN.name


def test_campaign_finds_shrinks_saves_and_replays_a_planted_bug(tmp_path):
    planted = _planted(tmp_path)
    corpus = tmp_path / "regressions"
    outcome = fuzz.run_unit("mutations", 1, 30, str(planted), str(corpus), (1, 4))
    assert outcome.failures, "the planted bug was not found"
    (kind, saved, _), *_ = outcome.failures
    assert kind == "lua_error"
    truth = oracle.load_truth(saved)
    assert len(truth["regression"]["cases"]) == 1  # shrunk to the one case that fails
    assert fuzz.replay(saved, planted)  # still found by the broken plugin ...
    assert fuzz.replay(saved, PLUGIN) == []  # ... and fine with the real one


def test_make_fuzz_entry_point_runs_a_parallel_campaign(tmp_path, capsys):
    status = cli.main(
        ["fuzz", "--lua", str(PLUGIN), "--cases", "60", "--jobs", "2", "--corpus", str(tmp_path)]
    )
    out = capsys.readouterr().out
    assert status == 0, out
    assert "packets/s verified" in out and "failures: none" in out
    assert not list(tmp_path.iterdir())
