"""Our Wireshark plugin, held to the same ground truth as the built-ins, and beyond it.

Every scenario is decoded once per mode (reassembly on, off) in one tshark run per pcap: every
contract field, analysis field (request/reply links, call links, sequence analysis) and problem
must equal the truth, with no Lua error and no malformed frame the truth does not call broken.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

import dpkt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pptp_harness import (
    constants,
    decrypt,
    mppe,
    oracle,
    ppp,
    scenarios,
    strategies,
    tshark,
)
from pptp_harness.capture import Capture, ControlConnection
from pptp_harness.credentials import (
    Credential,
    CredentialError,
    read_credentials,
    write_credentials,
)

PLUGIN = Path(__file__).resolve().parents[2] / "lua_dissector" / "pptp.lua"


@pytest.fixture(scope="module")
def pcaps(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plugin")
    paths = {}
    for name in scenarios.names():
        paths[name] = folder / f"{name}.pcap"
        scenarios.build(name).write(paths[name])
    return paths


@pytest.mark.parametrize("reassemble", [True, False], ids=["reassembly", "no-reassembly"])
@pytest.mark.parametrize("name", scenarios.names())
def test_plugin_decodes_scenario_as_ground_truth(pcaps, name, reassemble):
    """Fields, links, call ties, sequence analysis and problems all equal the truth."""
    report = oracle.check_pcap(pcaps[name], oracle.plugin(PLUGIN, reassemble))
    assert report.ok, report.format()
    assert not report.missing_fields, report.missing_fields
    if reassemble:
        # With reassembly only a message the connection's close cut off stays unseen.
        assert set(report.skipped.values()) <= {oracle.NEVER_DELIVERED}


@pytest.mark.parametrize("name", scenarios.names(valid=True))
def test_single_pass_ties_gre_to_its_call(pcaps, name):
    """A plain one-pass read (no -2): every GRE packet already shows the control message that
    gave out its Call ID and that connection's TCP stream, learnt from TCP's tap."""
    truth = oracle.load_truth(pcaps[name])
    links = ("pptp_gre.call_frame", "pptp_gre.tcp_stream")
    decoded = tshark.decode(pcaps[name], links, lua_scripts=[str(PLUGIN)])
    assert not decoded.lua_errors()
    checked = 0
    for frame in truth["frames"]:
        if frame.get("tied_later"):
            continue  # GRE a later message ties to its call: no call yet on one pass
        for field in links:
            expected = frame.get("fields", {}).get(field)
            if expected is not None:
                checked += 1
                assert decoded.values(frame["number"], field) == [str(v) for v in expected], (
                    frame["number"],
                    field,
                )
    assert checked or not any(
        f["kind"] == "pptp_gre" and not f.get("tied_later") for f in truth["frames"]
    )


def _negotiation_parts(pcap: Path, two_pass: bool) -> dict[int, list[str]]:
    """Per GRE frame, what its call line (`-V`) says of authentication and of encryption."""
    lines = oracle.call_lines(pcap, PLUGIN, two_pass)
    return {frame: line.split("; ")[-2:] for frame, line in lines.items()}


@pytest.mark.parametrize("name", scenarios.names(valid=True))
def test_one_pass_says_what_was_agreed_as_two_passes_do(pcaps, name):
    """A GRE packet's call line on one pass names the authentication and encryption that two
    passes name, from the frame where they were agreed on, and "not negotiated yet" before it:
    never an outcome that a later frame of the capture changes."""
    once, twice = (_negotiation_parts(pcaps[name], two_pass) for two_pass in (False, True))
    assert once.keys() <= twice.keys()
    for frame, parts in once.items():
        for subject, said, settled in zip(("authentication", "encryption"), parts, twice[frame]):
            agreed = re.search(r"\(agreed in frame (\d+)\)$", settled)
            if agreed and frame >= int(agreed[1]):
                assert said == settled, frame
            elif agreed or said != settled:
                assert said.endswith(f"{subject} not negotiated yet"), (frame, said)


@pytest.mark.parametrize("name", scenarios.names())
def test_same_columns_with_and_without_a_tree(pcaps, name):
    """A plain `tshark -r` builds no tree and the plugin then skips its tree items; a display
    filter makes Wireshark build one. Every frame's summary line must be the same both ways."""
    plain = tshark.summary_lines(pcaps[name], [str(PLUGIN)])
    with_tree = tshark.summary_lines(pcaps[name], [str(PLUGIN)], display_filter="frame")
    assert plain.splitlines() == with_tree.splitlines()


@pytest.mark.parametrize(
    "name", [*scenarios.names(valid=True), "gre_without_control", "gre_only_loss"]
)
def test_per_call_summary_matches_ground_truth(pcaps, name):
    """`tshark -z pptp,calls`: one row per call, and one per flow of GRE without a call, as
    the truth says."""
    truth = oracle.load_truth(pcaps[name])
    table = oracle.calls_table(pcaps[name], PLUGIN)
    assert not oracle.calls_table_mismatches(table, truth["calls"], truth["gre_without_call"])


def _auth_shown(pcap: Path, call: dict) -> str:
    """How the calls window's overview names a call's authentication: the method; "none"
    where the client agreed to server's LCP options that ask for none (as Wireshark's own PPP
    dissector shows them); else "-" (not captured)."""
    if call["auth"] != "none":
        return call["auth"]
    # The client's GRE carries the server's Call ID (its source may be a NAT's address).
    client_to_server = (call["server"].rsplit(":", 1)[0], str(call["server_call_id"]), "2")
    fields = ["frame.protocols", "ip.dst", "gre.key.call_id", "ppp.code", "lcp.opt.type"]
    for frame in tshark.decode(pcap, fields).frames.values():
        if not frame.get("frame.protocols", [""])[0].endswith(":lcp"):
            continue
        way_and_code = tuple(frame.get(f, [""])[-1] for f in fields[1:4])
        agreed_by_client = way_and_code == client_to_server
        asks = str(constants.LCP_OPT_AUTH_PROTOCOL) in frame.get("lcp.opt.type", [])
        if agreed_by_client and not asks:
            return "none"
    return "-"


@pytest.mark.parametrize("name", [*scenarios.names(valid=True), "mid_call_clear", "gre_only_loss"])
def test_calls_report_reads_at_a_glance(pcaps, name):
    """`tshark -z pptp,report`, the Statistics > PPTP Calls text: an overview line per call
    with its addresses, authentication and GRE loss as the truth has them, then a block per
    call; no line wider than the window (72 characters beside its scroll bar)."""
    truth = oracle.load_truth(pcaps[name])
    text = tshark.statistics(pcaps[name], "pptp,report", [str(PLUGIN)])
    lines = text.splitlines()
    assert lines[0] == f"PPTP calls: {len(truth['calls'])} (set up or learnt in the capture)"
    assert max(len(line) for line in lines) <= 72
    for number, call in enumerate(truth["calls"], 1):
        (row,) = [line for line in lines if re.match(rf"  {number} +\S+ -> \S+ ", line)]
        client, server = (call[side].rsplit(":", 1)[0] for side in ("client", "server"))
        assert row.split()[1:4] == [client, "->", server]
        assert row.split()[4] == _auth_shown(pcaps[name], call)
        lost = call["client_to_server"]["lost"] + call["server_to_client"]["lost"]
        assert row.endswith(f"{lost} lost") if lost else "lost" not in row
        assert f"\nCall #{number}: " in text


def test_long_call_sequence_counts(tmp_path):
    """A call longer than the numbers the plugin remembers per direction: the per-call loss,
    duplicate and reordering counts still equal the truth, and so do the per-packet
    findings."""
    cap = scenarios.long_call()
    pcap = tmp_path / "long_call.pcap"
    cap.write(pcap)
    truth = oracle.load_truth(pcap)
    assert not oracle.calls_table_mismatches(oracle.calls_table(pcap, PLUGIN), truth["calls"])
    report = oracle.check_pcap(pcap, oracle.plugin(PLUGIN))
    assert report.ok, report.format()


@pytest.mark.parametrize("name", scenarios.names(valid=True))
def test_security_experts_match_call_notices(pcaps, name):
    """Weak authentication and cleartext tunnel data are flagged exactly for the calls that
    deserve those notices."""
    truth = oracle.load_truth(pcaps[name])
    decoded = tshark.decode(pcaps[name], [], lua_scripts=[str(PLUGIN)], two_pass=True)
    messages = {m for f in decoded.frames.values() for m in f.get("_ws.expert.message", [])}
    notices = {n for call in truth["calls"] for n in call["notices"]}
    assert any(m.startswith("Weak authentication") for m in messages) == (
        "Weak_Authentication" in notices
    )
    assert any(m.endswith("without MPPE encryption") for m in messages) == (
        "Cleartext_Tunnel" in notices
    )


@pytest.mark.parametrize(
    "name",
    [
        "gre_blocked_server_to_client",
        "gre_without_control",
        "malformed_bad_magic",
        "mschapv2_mppe",
        "unencrypted_session",
    ],
)
def test_experts_filter_by_their_documented_names(pcaps, name):
    """Each problem a frame shows (pptp_ctrl.problem, pptp_gre.problem) is also its expert:
    both documented filters, pptp_ctrl.expert.<name> / pptp_gre.expert.<name> and
    pptp_gre.problem == "<name>", find exactly those frames (two passes)."""
    base = ["-n", "-2", "-r", str(pcaps[name]), "-X", f"lua_script:{PLUGIN}"]
    fields = ["-T", "fields", "-e", "frame.number", "-e", "pptp_ctrl.problem"]
    frames: dict[str, set[str]] = {}
    for proto in ("pptp_ctrl", "pptp_gre"):
        out = tshark.run([*base, *fields[:-1], f"{proto}.problem"]).stdout
        for line in out.splitlines():
            number, _, problems = line.partition("\t")
            for problem in filter(None, problems.split(",")):
                frames.setdefault(f"{proto}.expert.{problem}", set()).add(number)
    assert frames
    for expert, expected in frames.items():
        out = tshark.run([*base, "-Y", expert, "-T", "fields", "-e", "frame.number"]).stdout
        assert set(out.split()) == expected, expert
        proto, _, problem = expert.partition(".expert.")
        by_field = f'{proto}.problem == "{problem}"'
        out = tshark.run([*base, "-Y", by_field, "-T", "fields", "-e", "frame.number"]).stdout
        assert set(out.split()) == expected, by_field


# What each security finding's expert message starts with.
SECURITY_MESSAGES = {
    "weak_auth": "Weak authentication: ",
    "cleartext": "IP inside call #",
    "mschapv2_in_clear": "MS-CHAPv2 handshake of user ",
    "pap_in_clear": "PAP password of user ",
}


@pytest.mark.parametrize("name", ["mschapv2_mppe", "unencrypted_session", "decrypt_two_users"])
def test_security_findings_are_filterable_problems(pcaps, name):
    """pptp_gre.problem == "weak_auth", "cleartext", "pap_in_clear" and "mschapv2_in_clear"
    (documented filters) find exactly the frames whose expert says that finding."""
    decoded = tshark.decode(pcaps[name], ["pptp_gre.problem"], lua_scripts=[PLUGIN], two_pass=True)
    found = False
    for problem, start in SECURITY_MESSAGES.items():
        by_message = {
            n
            for n, f in decoded.frames.items()
            if any(m.startswith(start) for m in f.get("_ws.expert.message", []))
        }
        by_problem = {n for n in decoded.frames if problem in decoded.values(n, "pptp_gre.problem")}
        assert by_problem == by_message, problem
        found = found or bool(by_problem)
    assert found


@pytest.mark.parametrize(
    "name, shown",
    [(b"al\xbdce", "al\\xbdce"), (b"jos\xc3\xa9", "jos\u00e9"), (b"D\\b\x01e", "D\\b\\x01e")],
)
def test_user_names_are_shown_as_valid_text(pcaps, tmp_path, name, shown):
    """A user name is octets from the wire: well-formed UTF-8 is shown as it is, any other
    octet as \\xNN, in the tree, the expert message and the calls table, so tshark's output
    stays UTF-8 (read here as JSON, which every Wireshark version escapes alike: its -T fields
    output doubles backslashes from 4.2 on)."""
    pcap = tmp_path / "user.pcap"
    pcap.write_bytes(pcaps["mschapv2_mppe"].read_bytes().replace(b"alice", name))
    fields = ["-e", "pptp_gre.user", "-e", "_ws.expert.message"]
    out = tshark.run(
        ["-n", "-2", "-r", str(pcap), "-X", f"lua_script:{PLUGIN}", "-T", "json", *fields]
    ).stdout
    layers = [packet["_source"]["layers"] for packet in json.loads(out)]
    assert {u for frame in layers for u in frame.get("pptp_gre.user", [])} == {shown}
    messages = {m for frame in layers for m in frame.get("_ws.expert.message", [])}
    assert f"MS-CHAPv2 handshake of user {shown} in clear: crackable offline" in messages
    (call,) = oracle.calls_table(pcap, PLUGIN).calls
    assert call["user"] == shown


@pytest.mark.parametrize("name", ["failed_call_attempts", "incoming_call", "two_calls"])
def test_refused_calls_say_why_in_the_packet_list_and_expert_information(pcaps, name):
    """An Outgoing- or Incoming-Call-Reply whose result is not a success says which result in
    the Info column and as an expert (RFC 2637's words); a successful one says nothing more."""
    truth = oracle.load_truth(pcaps[name])
    decoded = tshark.decode(pcaps[name], [], lua_scripts=[str(PLUGIN)])
    shown = tshark.run(
        [
            "-n",
            "-r",
            str(pcaps[name]),
            "-X",
            f"lua_script:{PLUGIN}",
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "_ws.col.Info",
        ]
    ).stdout
    infos = dict(line.split("\t", 1) for line in shown.splitlines())
    refusals = 0
    for frame in truth["frames"]:
        fields = frame.get("fields", {})
        for field, names in (
            ("pptp_ctrl.out_result", constants.OCRP_RESULTS),
            ("pptp_ctrl.in_result", constants.ICRP_RESULTS),
        ):
            for result in fields.get(field, []):
                info = infos[str(frame["number"])]
                experts = decoded.values(frame["number"], "_ws.expert.message")
                if result == 1:
                    assert "(" not in info and not any("refused" in m for m in experts)
                    continue
                refusals += 1
                assert f"({names[result]})" in info
                assert f"Call refused: {names[result]}" in experts
    assert refusals or name != "failed_call_attempts"


@pytest.mark.parametrize("name", scenarios.names(valid=True))
def test_info_column_names_each_message_once(pcaps, name):
    """The Info column of a control frame lists its messages, each once, in order (a refusal
    adds its result in brackets): also where TCP fences the column between two messages."""
    truth = oracle.load_truth(pcaps[name])
    columns = ["-T", "fields", "-e", "frame.number", "-e", "_ws.col.Info"]
    shown = tshark.run(["-n", "-r", str(pcaps[name]), "-X", f"lua_script:{PLUGIN}", *columns])
    infos = dict(line.split("\t", 1) for line in shown.stdout.splitlines())
    for frame in truth["frames"]:
        if frame.get("messages"):
            info = re.sub(r" \([^)]*\)|Call #\d+: ", "", infos[str(frame["number"])])
            assert info == ", ".join(frame["messages"]), frame["number"]


def test_mppe_counts_skip_no_more_than_the_sequence_numbers_lost(tmp_path):
    """MPPE packets with an LCP Echo between them, then a loss: the coherency count moves on
    by fewer than the GRE numbers (the Echo took one), which is no coherency gap. (Found by
    fuzzing.)"""
    cap = Capture("mppe_and_lcp_loss", "MPPE data, LCP Echo between, a loss")
    conn = ControlConnection(cap, scenarios.CLIENT, scenarios.SERVER, 40000)
    conn.start()
    call = conn.outgoing_call(1, 2)
    call.ppp_session(constants.AUTH_MSCHAP_V2, mppe=True, data_packets=0)
    count = 0
    for step in ("mppe", "mppe", "lcp", "lcp", "lost", "mppe", "mppe"):
        if step == "lost":
            call.sides[True].next_seq += 1
        elif step == "lcp":
            call.gre(True, ppp.lcp_echo(identifier=count + 1))
        else:
            call.gre(True, ppp.mppe_data(count))
            count += 1
    call.clear_by_client()
    conn.stop()
    pcap = cap.write_pcap(tmp_path / "mppe_and_lcp_loss.pcap")
    decoded = tshark.decode(
        pcap, ["pptp_gre.problem", "pptp_gre.analysis.lost"], lua_scripts=[str(PLUGIN)]
    )
    problems = [p for n in decoded.frames for p in decoded.values(n, "pptp_gre.problem")]
    assert any(decoded.values(n, "pptp_gre.analysis.lost") for n in decoded.frames)
    assert "coherency_gap" not in problems


REAL = [
    "chapcrack-sample.pcap",
    "packetlife-PPTP_negotiation.pcap",
    "tcpdump-pptp.pcap",
    "zeek-gre-pptp.pcap",
]


@pytest.mark.parametrize("name", REAL)
def test_real_capture(name, real_captures):
    """Real pptpd/pptp-linux/Windows traffic: no Lua error; GRE of a call set up in the capture
    is tied to it; the control fields equal the built-in's wherever it decodes them."""
    pcap = real_captures / name
    control = [
        *sorted(n for n in oracle.BUILTIN_NAMES if n.startswith("pptp_gre.")),
        "pptp_ctrl.control_message_type",
        "pptp_ctrl.call_id",
        "pptp_ctrl.peer_call_id",
        "pptp_ctrl.host_name",
        "pptp_ctrl.vendor_name",
        "pptp_ctrl.identifier",
    ]
    ours = tshark.decode(
        pcap,
        [*control, "pptp_gre.call_frame", "pptp_gre.problem", "ip.src", "ip.dst"],
        lua_scripts=[str(PLUGIN)],
        two_pass=True,
    )
    builtin = tshark.decode(pcap, [oracle.builtin_name(n) for n in control])
    assert not ours.lua_errors()
    assert not ours.malformed()
    compared = 0
    for number, frame in builtin.frames.items():
        if number in builtin.malformed():
            continue
        for name_ in control:
            theirs = frame.get(oracle.builtin_name(name_), [])
            mine = ours.values(number, name_)
            if theirs and len(theirs) == 1:
                compared += 1
                assert mine[:1] == theirs or int(mine[0], 0) == int(theirs[0], 0), (number, name_)
    assert compared > 0
    has_control = any(ours.values(n, "pptp_ctrl.control_message_type") for n in ours.frames)
    flows = set()  # GRE without a call is noted on the first packet of each flow
    for number, frame in ours.frames.items():
        if frame.get("pptp_gre.call_id"):
            linked = bool(frame.get("pptp_gre.call_frame"))
            assert linked == has_control, number
            flow = (*ours.values(number, "ip.src"), *ours.values(number, "ip.dst"))
            first = flow + tuple(frame["pptp_gre.call_id"]) not in flows
            flows.add(flow + tuple(frame["pptp_gre.call_id"]))
            without = "without_call" in frame.get("pptp_gre.problem", [])
            assert without == (not has_control and first), number


@settings(max_examples=20)
@given(strategies.hostile_control_stream(), st.lists(strategies.hostile_gre(), max_size=20))
def test_hostile_input_never_breaks_the_plugin(control, gre):
    """Mutated and garbage control streams and GRE packets: no Lua error, and every packet is
    still dissected (the plugin never gives up on the capture)."""
    cap = strategies.hostile_capture(control, gre)
    with tempfile.TemporaryDirectory() as folder:
        pcap = Path(folder) / "hostile.pcap"
        cap.write(pcap)
        for reassemble in (True, False):
            prefs = () if reassemble else ("pptp_ctrl.reassemble:FALSE",)
            decoded = tshark.decode(
                pcap, ["pptp_gre.flags"], lua_scripts=[str(PLUGIN)], prefs=prefs, two_pass=True
            )
            assert not decoded.lua_errors(), decoded.lua_errors()
            assert len(decoded.frames) == len(cap.frames)
            gre_frames = [n for n, f in decoded.frames.items() if "gre" in f["frame.protocols"][0]]
            assert all(decoded.values(n, "pptp_gre.flags") for n in gre_frames)


def _as_ordinary_user() -> dict:
    """subprocess options that run a command as an ordinary user: the caller, or the harness's
    unprivileged account when the tests run as root."""
    account = tshark.unprivileged_account()
    return {} if account is None else {"user": account[0], "group": account[1], "extra_groups": []}


def _loaded_lua_plugins(env: dict, **options) -> set[Path]:
    """The Lua plugins tshark loads (no -X), as ``tshark -G plugins`` names their files."""
    out = subprocess.run(
        ["tshark", "-G", "plugins"], capture_output=True, text=True, env=env, **options
    ).stdout
    return {Path(path) for path in tshark.lua_plugins_listed(out)}


def _installed_entry_works(folder: Path, pcap: Path, env: dict, **options) -> None:
    """tshark, with no -X, loads the plugin from ``folder`` (its entry and its modules) and
    decodes ``pcap`` with it, without a Lua error."""
    assert folder / "pptp.lua" in _loaded_lua_plugins(env, **options)
    done = subprocess.run(
        ["tshark", "-n", "-r", str(pcap), "-T", "fields", "-e", "pptp_ctrl.control_message_type"],
        capture_output=True,
        text=True,
        env=env,
        **options,
    )
    assert "Lua" not in done.stderr, done.stderr
    assert done.stdout.split() and set(done.stdout.split()) <= {str(n) for n in range(1, 16)}


def _copy_of_the_plugin(target: Path) -> None:
    """The plugin's folder (entry and modules) copied to ``target``."""
    shutil.copytree(PLUGIN.parent, target, ignore=shutil.ignore_patterns("*~", "*.orig"))


def _make(repo: Path, *args: str, env: dict | None = None, **options) -> str:
    return subprocess.run(
        ["make", "-s", "-C", str(repo), *args],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        **options,
    ).stdout


@pytest.fixture
def shared_tmp_path():
    """A fresh folder that the tests' unprivileged account can reach too (pytest's own are
    inside a folder only its user may enter)."""
    with tempfile.TemporaryDirectory(prefix="pptp-harness-test-") as folder:
        os.chmod(folder, 0o755)
        yield Path(folder)


def test_make_install_for_a_user_puts_the_plugin_where_wireshark_loads_it(shared_tmp_path, pcaps):
    """`make install` run by an ordinary user: the plugin's folder (its entry and modules) into
    the personal Lua plugin folder that `tshark -G folders` names, where tshark then loads it
    without -X and decodes with it; `make uninstall` takes it away again."""
    tmp_path = shared_tmp_path
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(PLUGIN.parents[1] / "Makefile", repo)
    _copy_of_the_plugin(repo / "lua_dissector")
    home = tmp_path / "home"
    home.mkdir()
    pcap = shutil.copy(pcaps["outgoing_call"], tmp_path / "call.pcap")
    options = _as_ordinary_user()
    if options:
        os.chown(home, options["user"], options["group"])
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    env.pop("WIRESHARK_PLUGIN_DIR", None)
    installed = home / ".local" / "lib" / "wireshark" / "plugins" / "pptp-analysis"

    assert str(installed) in _make(repo, "install", env=env, **options)
    assert (installed / "pptp.lua").read_bytes() == PLUGIN.read_bytes()
    modules = sorted(p.name for p in (PLUGIN.parent / "pptp_analysis").glob("*.lua"))
    assert sorted(p.name for p in (installed / "pptp_analysis").iterdir()) == modules
    _installed_entry_works(installed, pcap, env, **options)
    _make(repo, "uninstall", env=env, **options)
    assert not installed.exists()
    assert not any("pptp" in str(p) for p in _loaded_lua_plugins(env, **options))


def _global_lua_plugin_folder() -> Path:
    out = subprocess.run(["tshark", "-G", "folders"], capture_output=True, text=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("Global Lua Plugins:"))
    return Path(line.split(":", 1)[1].strip())


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_make_install_as_root_is_for_all_users(tmp_path, pcaps):
    """As root, `make install` goes to Wireshark's global Lua plugin folder (4.2 and later
    load no personal plugin for root); DESTDIR stages it there and LUA_PLUGIN_DIR overrides
    it. Where the machine may be changed (a throw-away root filesystem), the plugin is really
    installed and root's tshark then loads it and decodes with it."""
    repo = PLUGIN.parents[1]
    folder = _global_lua_plugin_folder()
    _make(repo, "install", f"DESTDIR={tmp_path}")
    assert (tmp_path / folder.relative_to("/") / "pptp-analysis" / "pptp.lua").exists()
    _make(repo, "install", f"DESTDIR={tmp_path}", "LUA_PLUGIN_DIR=/usr/lib/wireshark/plugins")
    assert (tmp_path / "usr/lib/wireshark/plugins/pptp-analysis/pptp_analysis/gre.lua").exists()
    if os.environ.get("PPTP_HARNESS_SYSTEM_INSTALL") != "1":
        return
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / ".config")}
    env.pop("WIRESHARK_PLUGIN_DIR", None)
    try:
        _make(repo, "install")
        _installed_entry_works(folder / "pptp-analysis", pcaps["outgoing_call"], env)
    finally:
        _make(repo, "uninstall")
    assert not any("pptp" in str(p) for p in _loaded_lua_plugins(env))


def _session_on_port(port: int) -> Capture:
    cap = Capture("other_port", f"A PPTP session with the server on TCP {port}")
    conn = ControlConnection(cap, scenarios.CLIENT, scenarios.SERVER, 40000, server_port=port)
    conn.start()
    conn.echo(True, 7)
    call = conn.outgoing_call(1, 2)
    call.gre(True, ppp.lcp_configure(identifier=1))
    call.gre(False, ppp.lcp_configure(identifier=1))
    call.clear_by_client()
    conn.stop()
    return cap


def test_heuristic_and_port_preference_find_pptp_on_other_ports(tmp_path):
    """PPTP on TCP 5555: found by the magic-cookie heuristic, or by the ports preference;
    with both off it is left to TCP."""
    pcap = tmp_path / "port5555.pcap"
    _session_on_port(5555).write(pcap)
    truth = oracle.load_truth(pcap)

    def check(*prefs):
        analyzer = oracle.plugin(PLUGIN)
        analyzer = oracle.Analyzer(**{**analyzer.__dict__, "prefs": prefs})
        return oracle.compare(truth, oracle.decode_for(pcap, truth, analyzer), analyzer)

    assert check().ok, check().format()
    assert check("pptp_ctrl.heuristic:FALSE", "pptp_ctrl.ports:5555").ok
    off = check("pptp_ctrl.heuristic:FALSE")
    assert not off.ok and all(
        m.field.startswith("pptp_ctrl.") for m in off.mismatches if m.frame < 10
    )


@pytest.mark.parametrize("grace, expected", [(10, ["no_gre_from_server"]), (20, [])])
def test_gre_grace_period_preference(tmp_path, grace, expected):
    """Server GRE 15 s after the call connected: GRE blocked with a 10 s grace, fine with 20."""
    pcap = tmp_path / "late.pcap"
    scenarios.late_server_gre(15).write(pcap)
    decoded = tshark.decode(
        pcap,
        ["pptp_ctrl.problem"],
        lua_scripts=[str(PLUGIN)],
        prefs=[f"pptp_gre.gre_grace:{grace}"],
        two_pass=True,
    )
    shown = [v for f in decoded.frames.values() for v in f.get("pptp_ctrl.problem", [])]
    assert shown == expected


def _expert_summaries(pcap: Path, scripts: list[str]) -> Counter:
    """What `tshark -q -z expert` lists after one pass, which builds no tree: each summary
    with its frequency (tshark prints "%12d %10s %18s  %s": count, group, protocol, text)."""
    lua = [arg for script in scripts for arg in ("-X", f"lua_script:{script}")]
    out = tshark.run(["-n", "-q", "-r", str(pcap), *lua, "-z", "expert"])
    found: Counter = Counter()
    for line in out.stdout.splitlines():
        if len(line) > 44 and line[:12].strip().isdigit():
            found[line[44:]] += int(line[:12])
    return found


@pytest.mark.parametrize("name", scenarios.names())
def test_experts_reach_expert_information_without_a_tree(pcaps, name):
    """Wireshark's first pass, and the Expert Information dialog's rescans, build no tree.
    One pass with `-z expert` must list the same experts as one pass that builds a tree, and
    those name every problem of the truth (the GRE-blocked diagnoses where the grace period ran
    out, as one pass cannot know the capture's end)."""
    truth = oracle.load_truth(pcaps[name])
    fields = ["pptp_ctrl.problem", "pptp_gre.problem"]
    decoded = tshark.decode(pcaps[name], fields, lua_scripts=[str(PLUGIN)])
    with_tree = Counter(m for f in decoded.frames.values() for m in f.get("_ws.expert.message", []))
    # Wireshark's own experts (TCP's) may differ between the two ways on some versions (4.6's
    # "exceeds MSS"): they are the same with and without the plugin, so they cancel out.
    builtin = tshark.decode(pcaps[name], [])
    builtin_tree = Counter(
        m for f in builtin.frames.values() for m in f.get("_ws.expert.message", [])
    )
    without_tree = _expert_summaries(pcaps[name], [str(PLUGIN)])
    builtin_without = _expert_summaries(pcaps[name], [])
    assert without_tree - builtin_without == with_tree - builtin_tree
    shown = {p for f in decoded.frames.values() for field in fields for p in f.get(field, [])}
    never_delivered = oracle.plugin(PLUGIN).limit
    named = {
        oracle.plugin_problem(p)[1]
        for f in truth["frames"]
        if not never_delivered(f)
        for p in f.get("problems", [])
    }
    assert named <= shown


def _fields_with_disabled(pcap: Path, disabled: list[str]) -> list[list[str]]:
    """-T fields of the plugin and the built-ins' PPTP fields, with ``disabled`` listed in the
    profile's disabled_protos (what Analyze > Enabled Protocols saves), in a configuration
    folder tshark's account can read. Asking for a field of the plugin makes tshark fail
    unless the plugin loaded."""
    with tempfile.TemporaryDirectory(prefix="pptp-profile-") as config:
        os.chmod(config, 0o755)
        listing = Path(config) / "disabled_protos"
        listing.write_text("".join(f"{name}\n" for name in disabled))
        listing.chmod(0o644)
        return _fields_in_profile(pcap, config)


def _fields_in_profile(pcap: Path, config: str) -> list[list[str]]:
    fields = ["pptp_gre.call", "pptp_ctrl.type", "gre.proto", "pptp.type"]
    args = ["-n", "-r", str(pcap), "-X", f"lua_script:{PLUGIN}", "-T", "fields"]
    for name in fields:
        args += ["-e", name]
    with tshark.invocation(args) as how:
        how["env"]["WIRESHARK_CONFIG_DIR"] = config
        done = subprocess.run(**how, capture_output=True, text=True, check=True)
    return [line.split("\t") for line in done.stdout.splitlines()]


def test_disabling_ours_gives_wireshark_its_own_dissectors_back(pcaps):
    """pptp_gre and pptp_ctrl disabled in the profile: GRE decodes as Wireshark's gre and
    TCP 1723 as its pptp, with the plugin loaded; enabled, ours decode them and theirs do not."""
    pcap = pcaps["mschapv2_mppe"]
    ours = _fields_with_disabled(pcap, [])
    assert any(row[0] for row in ours) and any(row[1] for row in ours)
    assert not any(row[2] or row[3] for row in ours)
    theirs = _fields_with_disabled(pcap, ["pptp_gre", "pptp_ctrl"])
    assert not any(row[0] or row[1] for row in theirs)
    assert any(row[2] == "0x880b" for row in theirs) and any(row[3] for row in theirs)


def _frame_protocols(pcap: Path, args: list[str], config: str | None = None) -> list[str]:
    """Each frame's protocol stack (frame.protocols) as tshark shows it with ``args``, in the
    configuration folder ``config`` (None: the harness's empty one)."""
    command = ["-n", "-r", str(pcap), *args, "-T", "fields", "-e", "frame.protocols"]
    tshark.require_loaded(tshark.lua_scripts_in(command))
    with tshark.invocation(command) as how:
        if config:
            how["env"]["WIRESHARK_CONFIG_DIR"] = config
        done = subprocess.run(**how, capture_output=True, text=True, check=True)
    assert "Lua" not in done.stderr, done.stderr
    return done.stdout.splitlines()


DISABLED_BY = {
    "the command line": ["--disable-protocol", "pptp_ctrl", "--disable-protocol", "pptp_gre"],
    "one option, a list": ["--disable-protocol=pptp_gre,pptp_ctrl"],
    "Enabled Protocols (disabled_protos)": [],
}


@pytest.mark.parametrize("how", list(DISABLED_BY))
@pytest.mark.parametrize(
    "name", ["mschapv2_mppe", "segmented_control", "gre_without_control", "gre_flags"]
)
def test_disabled_however_it_is_done_gives_exactly_the_builtin_decode(pcaps, name, how):
    """pptp_ctrl and pptp_gre disabled on the command line (tshark's and Wireshark's
    --disable-protocol) or in the profile: every frame's protocol stack is the one Wireshark
    shows without the plugin, GRE and TCP 1723 included."""
    builtin = _frame_protocols(pcaps[name], [])
    with tempfile.TemporaryDirectory(prefix="pptp-profile-") as config:
        os.chmod(config, 0o755)
        if not DISABLED_BY[how]:
            listing = Path(config) / "disabled_protos"
            listing.write_text("pptp_ctrl\npptp_gre\n")
            listing.chmod(0o644)
        args = ["-X", f"lua_script:{PLUGIN}", *DISABLED_BY[how]]
        assert _frame_protocols(pcaps[name], args, config) == builtin
    assert any("pptp_" in stack for stack in _frame_protocols(pcaps[name], args[:2]))


EARLIER_LOAD = Path(__file__).with_name("lua") / "earlier_load.lua"


def _gre_version_0(path: Path) -> Path:
    """Two frames of GRE version 0 (not PPTP's) carrying an ICMP echo and its reply."""
    cap = Capture("gre_version_0", "GRE version 0 carrying IPv4")
    client, server = scenarios.CLIENT, scenarios.SERVER
    for src, dst, kind in ((client, server, 8), (server, client, 0)):
        echo = dpkt.icmp.ICMP(type=kind, data=dpkt.icmp.ICMP.Echo(id=7, seq=1, data=b"ping"))
        inner = dpkt.ip.IP(src=src.ip_bytes, dst=dst.ip_bytes, p=dpkt.ip.IP_PROTO_ICMP, data=echo)
        gre = dpkt.gre.GRE(p=dpkt.ethernet.ETH_TYPE_IP, data=bytes(inner))
        cap.add(cap.ip_packet(src, dst, dpkt.ip.IP_PROTO_GRE, gre))
    return cap.write_pcap(path)


def test_after_a_reload_wiresharks_own_dissectors_are_still_found(pcaps, tmp_path):
    """Reloading the Lua plugins leaves the previous load's dissectors on IP protocol 47 and
    TCP port 1723: GRE that is not PPTP's still goes to Wireshark's GRE dissector, and with
    PPTP_CTRL disabled the control connection to Wireshark's PPTP (where Wireshark names it:
    4.4 and later), never to the dead load."""
    gre_v0 = _gre_version_0(tmp_path / "gre_v0.pcap")
    scripts = ["-X", f"lua_script:{EARLIER_LOAD}", "-X", f"lua_script:{PLUGIN}"]
    plugin_alone = _frame_protocols(gre_v0, scripts[2:])
    assert plugin_alone == ["eth:ethertype:ip:pptp_gre:gre:ip:icmp:data"] * 2
    assert _frame_protocols(gre_v0, scripts) == plugin_alone
    control = pcaps["outgoing_call"]
    stacks = _frame_protocols(control, [*scripts, "--disable-protocol", "pptp_ctrl"])
    assert not [stack for stack in stacks if "earlier_load" in stack]
    if (tshark.generation() or (0, 0)) >= (4, 4):  # 4.0 names no PPTP dissector
        builtin = _frame_protocols(control, [])
        assert [s for s in stacks if ":tcp" in s] == [s for s in builtin if ":tcp" in s]


def test_a_second_copy_stops_quietly_and_says_which_copy_is_in_use(shared_tmp_path, pcaps):
    """The plugin loaded twice, the second copy under another name and path (a copy for all
    users and one for the user, or -X beside an installed one): the second says in one line
    which copy is in use and stops, with no Lua error, and the first decodes."""
    first, second = shared_tmp_path / "first", shared_tmp_path / "elsewhere"
    _copy_of_the_plugin(first)
    _copy_of_the_plugin(second)
    (second / "pptp.lua").rename(second / "pptp-analysis.lua")
    pcap = shutil.copy(pcaps["outgoing_call"], shared_tmp_path / "call.pcap")
    home = shared_tmp_path / "home"
    home.mkdir()
    options = _as_ordinary_user()
    if options:
        os.chown(home, options["user"], options["group"])
    env = {**tshark.environment(), "HOME": str(home)}
    done = subprocess.run(
        [
            *("tshark", "-n", "-r", str(pcap), "-T", "fields", "-e", "pptp_ctrl.call"),
            *("-X", f"lua_script:{first / 'pptp.lua'}"),
            *("-X", f"lua_script:{second / 'pptp-analysis.lua'}"),
        ],
        capture_output=True,
        text=True,
        env=env,
        **options,
    )
    assert done.returncode == 0, done.stderr
    said = tshark.SECOND_COPY.findall(done.stderr)
    assert said == [(f"the plugin at {first / 'pptp.lua'}", str(second / "pptp-analysis.lua"))]
    assert "Lua" not in done.stderr
    assert "1" in done.stdout.split()


def test_a_protocol_of_the_same_name_from_elsewhere_stops_the_plugin_quietly(shared_tmp_path):
    """An earlier release (a single file, without this release's mark) or any other script that
    took the name pptp_ctrl first: the plugin says so in one line and stops, no Lua error."""
    other = shared_tmp_path / "earlier.lua"
    other.write_text('Proto("pptp_ctrl", "An earlier release")\n')
    other.chmod(0o644)
    with pytest.raises(tshark.TsharkError, match="an earlier release of the plugin") as raised:
        tshark.require_loaded((str(other), str(PLUGIN)))
    assert "Lua:" not in str(raised.value)


def test_the_harness_refuses_a_run_where_another_copy_took_the_plugins_place(shared_tmp_path):
    """A copy loaded before the one under test makes it stop: the harness's check says so
    instead of letting the run test the other copy."""
    other = shared_tmp_path / "installed"
    _copy_of_the_plugin(other)
    with pytest.raises(tshark.TsharkError, match="is loaded before the copy under test"):
        tshark.require_loaded((str(other / "pptp.lua"), str(PLUGIN)))


@pytest.mark.skipif(
    os.geteuid() != 0 or os.environ.get("PPTP_HARNESS_SYSTEM_INSTALL") != "1",
    reason="installs the plugin for all users: only in a throw-away root filesystem",
)
def test_the_harness_tests_the_working_tree_even_with_a_copy_installed_for_all_users(
    shared_tmp_path, pcaps
):
    """Another release of the plugin installed for all users (root's `make install` of a
    copy that says it is another): the harness's tshark loads the working tree's plugin and
    nothing of the installed copy."""
    repo = shared_tmp_path / "other-release"
    repo.mkdir()
    shutil.copy(PLUGIN.parents[1] / "Makefile", repo)
    _copy_of_the_plugin(repo / "lua_dissector")
    entry = repo / "lua_dissector" / "pptp.lua"
    entry.write_text(entry.read_text().replace('version = "', 'version = "0.0.0-other-'))
    try:
        _make(repo, "install")
        listed = tshark.run(["-G", "plugins", "-X", f"lua_script:{PLUGIN}"]).stdout
        lua = tshark.lua_plugins_listed(listed)
        assert lua and all(str(_global_lua_plugin_folder()) not in path for path in lua)
        assert "0.0.0-other" not in listed
        decode = tshark.decode(pcaps["outgoing_call"], ["pptp_ctrl.call"], lua_scripts=[PLUGIN])
        assert not decode.lua_errors() and "pptp-analysis:" not in decode.stderr
    finally:
        _make(repo, "uninstall")


# -- decryption (MPPE from MS-CHAPv2) -------------------------------------------------------------
DECRYPTION = [n for n in scenarios.names() if n.startswith("decrypt_")]


def _decrypting(script: Path, credentials: Path) -> oracle.Analyzer:
    analyzer = oracle.plugin(script)
    prefs = (f"pptp_gre.credentials_file:{credentials}",)
    return oracle.Analyzer(**{**analyzer.__dict__, "prefs": prefs})


@pytest.mark.parametrize("name", DECRYPTION)
def test_plugin_decrypts_scenario_as_ground_truth(pcaps, name, tmp_path):
    """With every login's password listed, each MPPE packet shows the PPP frame inside, as a
    receiver reading the capture in order decrypts it (or fails to: a stateful packet after a
    loss), and everything else is as without decryption."""
    logins = scenarios.LOGINS.values()
    credentials = write_credentials(tmp_path, [f"{x.user}:{x.password}" for x in logins])
    truth = oracle.decrypting(oracle.load_truth(pcaps[name]))
    assert any("decryption" in f for f in truth["frames"])
    analyzer = _decrypting(PLUGIN, credentials)
    report = oracle.compare(truth, oracle.decode_for(pcaps[name], truth, analyzer), analyzer)
    assert report.ok, report.format()


def _mppe_frames(pcap: Path, credentials: Path) -> tshark.Decode:
    return tshark.decode(
        pcap,
        ["pptp_gre.mppe", "pptp_gre.decrypted", "pptp_gre.problem"],
        lua_scripts=[str(PLUGIN)],
        prefs=[f"pptp_gre.credentials_file:{credentials}"],
        two_pass=True,
    )


def _decrypted_frames(decoded: tshark.Decode) -> list[int]:
    """The frames shown as decrypted (a boolean reads "1" or "True" by Wireshark's version)."""
    return [
        n
        for n in decoded.frames
        if any(oracle.same_value(True, v) for v in decoded.values(n, "pptp_gre.decrypted"))
    ]


def test_nt_hash_opens_as_the_password_does(pcaps, tmp_path):
    """USER:nthash:HEX32 and nthash:HEX32 (any user) decrypt as the password does."""
    login = scenarios.LOGINS["alice"]
    digest = mppe.nt_password_hash(login.password).hex()
    for line in (f"alice:nthash:{digest}", f"nthash:{digest.upper()}", login.password):
        decoded = _mppe_frames(pcaps["decrypt_stateless_128"], write_credentials(tmp_path, [line]))
        shown = [decoded.values(n, "pptp_gre.decrypted") for n in decoded.frames]
        assert [v for v in shown if v] and all(oracle.same_value(1, v[0]) for v in shown if v)


@pytest.mark.parametrize("name", DECRYPTION)
def test_wrong_credentials_decrypt_nothing_and_say_so(pcaps, name, tmp_path):
    """A password that opens no handshake, and another user's: nothing decrypted, one
    no_credential per call, no Lua error; the credential never appears in the output."""
    secret = "not-the-password-7f3a"
    credentials = write_credentials(tmp_path, [secret, f"alice:{secret}", "nthash:" + "ab" * 16])
    decoded = _mppe_frames(pcaps[name], credentials)
    assert not decoded.lua_errors()
    decrypted = [v for n in decoded.frames for v in decoded.values(n, "pptp_gre.decrypted")]
    assert decrypted and not any(oracle.same_value(1, v) for v in decrypted)
    problems = [p for n in decoded.frames for p in decoded.values(n, "pptp_gre.problem")]
    calls = len(oracle.load_truth(pcaps[name])["calls"])
    assert problems.count("no_credential") == calls
    shown = tshark.run(
        [
            "-n",
            "-2",
            "-V",
            "-r",
            str(pcaps[name]),
            "-X",
            f"lua_script:{PLUGIN}",
            "-o",
            f"pptp_gre.credentials_file:{credentials}",
            "-z",
            "pptp,calls",
        ]
    )
    assert secret not in shown.stdout + shown.stderr
    assert "ab" * 16 not in shown.stdout + shown.stderr


@pytest.mark.parametrize("where", ["missing", "folder"])
def test_an_unusable_credentials_file_is_said_on_every_pass(pcaps, tmp_path, where):
    """A credentials file that does not exist, or is a folder: one expert saying so, also on
    the second pass (what the GUI shows), no Lua error, everything else decoded."""
    path = tmp_path / "absent" if where == "missing" else Path(tempfile.gettempdir())
    args = ["-n", "-q", "-r", str(pcaps["decrypt_stateless_128"]), "-X", f"lua_script:{PLUGIN}"]
    args += ["-o", f"pptp_gre.credentials_file:{path}", "-z", "expert"]
    for passes in ([], ["-2"]):
        done = tshark.run([*args, *passes])
        assert "Lua" not in done.stderr
        assert done.stdout.count(f"the MPPE credentials file {path}") == 1


def test_credentials_file_reads_as_the_harness_reads_it(pcaps, tmp_path):
    """The one format (docs/decryption.md), read alike by the plugin and the harness: a user
    name without case, nthash in either case with spaces around its digits, lines of spaces
    skipped, and a line that cannot be used named by its number (never its contents) while
    the others are used."""
    login = scenarios.LOGINS["alice"]
    nt_hash = mppe.nt_password_hash(login.password).hex()
    lines = [
        "   ",
        "ALICE:nthash:" + "ab" * 15,  # 30 digits: unusable, line 2
        f"{login.user.upper()}:NTHASH: {nt_hash} ",
    ]
    credentials = write_credentials(tmp_path, lines)
    with pytest.raises(CredentialError, match="line 2: an NT hash is 32 hexadecimal digits"):
        read_credentials(credentials)
    decoded = _mppe_frames(pcaps["decrypt_stateless_128"], credentials)
    assert _decrypted_frames(decoded)
    messages = [m for f in decoded.frames.values() for m in f.get("_ws.expert.message", [])]
    # (the file's path is where the harness staged it for tshark's account)
    said = [m for m in messages if "credentials file" in m]
    assert len(said) == 1 and said[0].startswith("line 2 of the MPPE credentials file ")
    assert said[0].endswith("/credentials cannot be used: an NT hash is 32 hexadecimal digits")
    assert "ab" * 15 not in " ".join(messages)
    assert read_credentials(write_credentials(tmp_path, [":pw"]))[0].user is None


def test_capture_started_mid_call_cannot_decrypt_and_says_why(pcaps, tmp_path):
    """No handshake in the capture (it started mid-call): nothing decrypted, a note why."""
    logins = scenarios.LOGINS.values()
    credentials = write_credentials(tmp_path, [f"{x.user}:{x.password}" for x in logins])
    decoded = _mppe_frames(pcaps["mid_call_clear"], credentials)
    problems = [p for n in decoded.frames for p in decoded.values(n, "pptp_gre.problem")]
    assert "no_handshake" in problems
    assert not _decrypted_frames(decoded)


def test_real_windows_capture_decrypts_to_valid_ipv4(tmp_path, real_captures):
    """A real Windows client and pptpd, user jm with password 123 (the captures' README):
    every MPPE packet decrypts to an IPv4 packet whose header checksum is right."""
    pcap = real_captures / "pptpd-windows-mschapv2-mppe.pcapng"
    decoded = tshark.decode(
        pcap,
        ["pptp_gre.mppe", "pptp_gre.decrypted", "pptp_gre.mppe.user", "ip.checksum.status"],
        lua_scripts=[str(PLUGIN)],
        prefs=[
            "ip.check_checksum:TRUE",
            f"pptp_gre.credentials_file:{write_credentials(tmp_path, ['jm:123'])}",
        ],
        two_pass=True,
    )
    mppe_frames = [n for n in decoded.frames if decoded.values(n, "pptp_gre.mppe")]
    assert len(mppe_frames) == 309
    for number in mppe_frames:
        assert oracle.same_value(1, decoded.values(number, "pptp_gre.decrypted")[0]), number
        assert decoded.values(number, "pptp_gre.mppe.user") == ["jm"]
        assert decoded.values(number, "ip.checksum.status")[-1] == "1", number  # inner: good


def _decrypted_ppp(pcap: Path, credentials: Path) -> dict[int, bytes]:
    """Frame number -> the bytes of the plugin's "Decrypted PPP" data source, from tshark's
    hex dump (-x: one block per frame, a heading per data source where there are several)."""
    preference = f"pptp_gre.credentials_file:{credentials}"
    shown = tshark.run(
        ["-n", "-2", "-x", "-r", str(pcap), "-X", f"lua_script:{PLUGIN}", "-o", preference]
    ).stdout
    found = {}
    for number, block in enumerate(shown.strip("\n").split("\n\n"), start=1):
        _, heading, dump = block.partition("Decrypted PPP (")
        if heading:
            # Its hex lines, up to the next data source's heading (reassembled inner data).
            lines = itertools.takewhile(HEX_LINE.match, dump.splitlines()[1:])
            found[number] = bytes.fromhex("".join(line[6:53] for line in lines))
    return found


HEX_LINE = re.compile(r"[0-9a-f]{4,}  ")
DECRYPTED_CAPTURES = [(n, None) for n in DECRYPTION] + [
    ("pptpd-windows-mschapv2-mppe.pcapng", "jm:123")
]


@pytest.mark.parametrize(("name", "credential"), DECRYPTED_CAPTURES)
def test_plugin_decrypts_what_the_harness_decrypt_does(pcaps, tmp_path, request, name, credential):
    """The PPP frames the plugin shows decrypted are, byte for byte, those that
    ``pptp-harness decrypt`` finds: two independent implementations agree. The offline tool
    also opens stateful packets that arrived after a later one (it knows every packet's
    length); the plugin, reading in order, cannot, and the truth says so."""
    unopened = set()
    if credential is None:
        pcap = pcaps[name]
        lines = [f"{x.user}:{x.password}" for x in scenarios.LOGINS.values()]
        frames = oracle.load_truth(pcap)["frames"]
        unopened = {
            frame["number"]
            for frame in frames
            if "gre_decryption_failed" in frame.get("decryption", {}).get("problems", ())
        }
    else:
        pcap = request.getfixturevalue("real_captures") / name
        lines = [credential]
    listed = [Credential.from_password(p, u) for u, p in (x.split(":") for x in lines)]
    expected = decrypt.decrypt(pcap, listed).plaintexts
    shown = _decrypted_ppp(pcap, write_credentials(tmp_path, lines))
    assert shown
    assert shown == {n: p for n, p in expected.items() if n not in unopened}


@settings(max_examples=15)
@given(st.data())
def test_hostile_handshakes_and_mppe_never_break_decryption(pcaps, tmp_path_factory, data):
    """Mutated MS-CHAPv2 exchanges and MPPE packets, decrypted with the right and wrong
    credentials: no Lua error, every frame dissected."""
    name = data.draw(st.sampled_from(DECRYPTION))
    cap = scenarios.build(name)
    gre = [f for f in cap.frames if f.truth.get("kind") == "pptp_gre"]
    folder = tmp_path_factory.mktemp("hostile")
    for _ in range(data.draw(st.integers(1, 6))):
        frame = data.draw(st.sampled_from(gre))
        at = data.draw(st.integers(14 + 20 + 8, len(frame.data) - 1))
        octet = data.draw(st.integers(0, 255))
        frame.data = frame.data[:at] + bytes([octet]) + frame.data[at + 1 :]
    pcap = cap.write_pcap(folder / "hostile.pcap")
    logins = scenarios.LOGINS.values()
    for lines in ([f"{x.user}:{x.password}" for x in logins], ["wrong"]):
        decoded = _mppe_frames(pcap, write_credentials(folder, lines))
        assert not decoded.lua_errors(), decoded.lua_errors()
        assert len(decoded.frames) == len(cap.frames)
