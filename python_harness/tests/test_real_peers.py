"""Both analyzers against captures of real pptpd and pptp-linux (testdata/real).

The truth of each capture is read from its bytes by ``reading`` (the protocol's rules, not
either analyzer); ``reading`` itself is first held to the synthesized scenarios' truth.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pptp_harness import oracle, reading, real_peers, scenarios, tshark, zeek

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "lua_dissector" / "pptp.lua"
REAL = ROOT / "testdata" / "real"
NAMES = sorted(p.stem for p in REAL.glob("*.pcap"))
SUMMARY_KEYS = (
    "tcp_stream",
    "kind",
    "client",
    "server",
    "client_call_id",
    "server_call_id",
    "result",
    "first_frame",
    "last_frame",
    "client_to_server",
    "server_to_client",
    "ppp_protocols",
    "auth",
    "user",
    "encrypted",
    "disconnect_result",
    "gre_seen",
    "notices",
)
ANALYSIS = ("lost", "duplicate", "out_of_order")


def test_every_real_scenario_has_its_capture():
    assert sorted(real_peers.SCENARIO_NAMES) == NAMES


@pytest.mark.parametrize("name", scenarios.names(valid=True))
def test_reading_agrees_with_synthesized_truth(tmp_path, name):
    """Read back from the bytes, a synthesized capture gives the calls its generator knew."""
    pcap = tmp_path / f"{name}.pcap"
    cap = scenarios.build(name)
    cap.write(pcap)
    truth = cap.ground_truth()
    read = reading.read(pcap).truth()
    assert [{k: c[k] for k in SUMMARY_KEYS} for c in read["calls"]] == [
        {k: c[k] for k in SUMMARY_KEYS} for c in truth["calls"]
    ]


@pytest.fixture(scope="module")
def truths():
    return {name: reading.read(REAL / f"{name}.pcap").truth() for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_plugin_holds_to_real_capture(truths, name):
    """Every control message decoded; every GRE packet tied to the message that gave out its
    Call ID and to its TCP stream; sequence analysis and problems as the truth says."""
    pcap, truth = REAL / f"{name}.pcap", truths[name]
    names = [f"pptp_gre.analysis.{a}" for a in ANALYSIS]
    fields = [
        "pptp_ctrl.control_message_type",
        "pptp_ctrl.problem",
        "pptp_gre.call_frame",
        "pptp_gre.tcp_stream",
        "pptp_gre.problem",
        *names,
    ]
    decoded = tshark.decode(pcap, fields, lua_scripts=[str(PLUGIN)], two_pass=True)
    assert not decoded.lua_errors()
    assert not decoded.malformed()
    expected = {f["number"]: f for f in truth["frames"]}
    for number in decoded.frames:
        frame = expected.get(number, {})
        messages = [int(v) for v in decoded.values(number, "pptp_ctrl.control_message_type")]
        assert messages == frame.get("messages", []), number
        shown = {
            (name, value)
            for name in ("pptp_ctrl.problem", "pptp_gre.problem")
            for value in decoded.values(number, name)
            if value not in oracle.SECURITY_FINDINGS
        }
        assert shown == {oracle.plugin_problem(p) for p in frame.get("problems", [])}, number
        if not frame.get("gre") or "without_call" in frame.get("problems", []):
            continue
        assert decoded.values(number, "pptp_gre.call_frame") == [str(frame["call_frame"])]
        stream = frame.get("tcp_stream")
        assert decoded.values(number, "pptp_gre.tcp_stream") == (
            [] if stream is None else [str(stream)]
        )
        for analysis, field in zip(ANALYSIS, names):
            value = frame["analysis"].get(f"pptp_gre.analysis.{analysis}")
            shown = decoded.values(number, field)
            if value is None:
                assert shown == [], (number, field)
            else:  # booleans are 1/0 before Wireshark 4.2, True/False since
                assert len(shown) == 1 and oracle.same_value(value, shown[0]), (number, field)
    assert sum(len(f.get("messages", [])) for f in truth["frames"]) > 0


@pytest.mark.parametrize("name", NAMES)
def test_plugin_call_table_on_real_capture(truths, name):
    rows = oracle.calls_table(REAL / f"{name}.pcap", PLUGIN)
    assert not oracle.calls_table_mismatches(rows, truths[name]["calls"])


@pytest.mark.skipif(not zeek.available(), reason="zeek is not installed")
@pytest.mark.parametrize("name", NAMES)
def test_zeek_holds_to_real_capture(truths, name):
    """pptp.log, notices and weirds from the real Zeek equal the capture's truth."""
    logs = zeek.run(REAL / f"{name}.pcap")
    report = zeek.compare(truths[name], logs)
    assert report.ok, report.mismatches
