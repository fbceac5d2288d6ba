"""The oracle before any analyzer of ours: Wireshark's built-in pptp/gre/ppp dissectors.

For every valid scenario the built-ins must decode every field the ground truth names exactly
as it says, with no malformed frame. Where the built-ins cannot (no reassembly of the control
stream; a GRE key not split for protocols other than PPP), and for every malformed case, these
tests state what the built-in does, so a change in Wireshark or in our truth shows up here.
"""

from __future__ import annotations

import pytest

from pptp_harness import oracle, scenarios, tshark
from pptp_harness.constants import MsgType
from pptp_harness.control import FIXED_LENGTH


@pytest.fixture(scope="module")
def builtin(tmp_path_factory):
    """Per scenario: its ground truth and the built-ins' decode, one tshark run each."""
    folder = tmp_path_factory.mktemp("scenarios")
    runs = {}

    def run(name):
        if name not in runs:
            pcap = folder / f"{name}.pcap"
            scenarios.build(name).write(pcap)
            truth = oracle.load_truth(pcap)
            runs[name] = truth, oracle.decode_for(pcap, truth, oracle.BUILTIN, ["gre.key"])
        return runs[name]

    return run


@pytest.mark.parametrize("name", scenarios.names(valid=True))
def test_builtin_decodes_valid_scenario_as_ground_truth(builtin, name):
    """Every named field of every frame equals the truth; zero malformed frames."""
    report = oracle.compare(*builtin(name), oracle.BUILTIN)
    assert report.ok, report.format()
    assert report.fields_checked > report.frames_checked
    assert not report.missing_fields
    reasons = set(report.skipped.values())
    assert reasons <= {
        "segment starts inside a message",
        "segment ends inside a message",
        "several messages in one segment",
    }
    assert bool(reasons) == (name in ("segmented_control", "echo_flood"))


def test_builtin_does_not_reassemble_the_control_stream(builtin):
    """Built-in pptp: one message per segment from offset 0. A second message in a segment is
    dropped; a segment starting inside a message is read as a header (wrong cookie) or throws."""
    truth, decoded = builtin("segmented_control")
    checked = 0
    for frame in truth["frames"]:
        why = oracle.builtin_limit(frame)
        if not why:
            continue
        checked += 1
        number = frame["number"]
        shown_types = [int(t) for t in decoded.values(number, "pptp.control_message_type")]
        segment = frame["segment"]
        if segment["starts_mid_message"]:
            cookie = decoded.values(number, "pptp.magic_cookie")
            assert cookie != ["0x1a2b3c4d"] or number in decoded.malformed(), number
        elif segment["messages_complete"]:  # the first message whole: shown, the rest dropped
            first = frame["fields"]["pptp_ctrl.control_message_type"][0]
            assert shown_types == [first] and number not in decoded.malformed(), number
        else:  # the only message continues in a later segment: read past the end, exception
            assert number in decoded.malformed(), number
    assert checked == 10


def test_builtin_reads_only_64_of_128_call_statistics_octets(pcap_path):
    """Built-in pptp shows 64 octets of Call-Disconnect-Notify statistics; §2.13 has 128."""
    from pptp_harness import control as ctl
    from pptp_harness.capture import Capture, ControlConnection

    cap = Capture("long_statistics", "CDN with 100 octets of call statistics")
    conn = ControlConnection(cap, scenarios.CLIENT, scenarios.SERVER)
    conn.tcp.open()
    conn.send(False, ctl.CallDisconnectNotify(call_statistics=b"s" * 100))
    cap.write(pcap_path)
    decoded = tshark.decode(pcap_path, ["pptp.call_Statistics"])
    assert decoded.values(cap.frames[-1].number, "pptp.call_Statistics") == ["s" * 64]


def _bad_frames(truth: dict) -> list[dict]:
    return [f for f in truth["frames"] if f.get("problems")]


@pytest.mark.parametrize("name", scenarios.names(valid=False))
def test_builtin_on_malformed_scenario(builtin, name):
    """What the built-in makes of each broken frame, and that every other frame still decodes."""
    truth, decoded = builtin(name)
    report = oracle.compare(truth, decoded, oracle.BUILTIN)
    assert report.ok, report.format()
    bad = _bad_frames(truth)
    assert bad, "a malformed scenario must contain a frame with a named problem"
    for frame in bad:
        number, problems = frame["number"], frame["problems"]
        experts = decoded.values(number, "_ws.expert.message")
        protocols = decoded.values(number, "frame.protocols")[0]
        malformed = number in decoded.malformed()
        if "bad_magic_cookie" in problems:
            assert experts == ["Incorrect Magic Cookie"] and not malformed
        elif "truncated" in problems:
            assert malformed  # reads fixed offsets past the end of the segment
        elif "length_mismatch" in problems:
            length = frame["fields"]["pptp_ctrl.length"][0]
            too_short = (
                length < FIXED_LENGTH[MsgType(frame["fields"]["pptp_ctrl.control_message_type"][0])]
            )
            assert (
                malformed == too_short
            )  # the length is not checked; a short one reads past the end
            assert oracle.builtin_limit(frame) == (
                "length shorter than the message type needs" if too_short else None
            )
        elif "unknown_message_type" in problems:
            assert protocols.endswith(":pptp:data") and not experts
        elif "gre_wrong_protocol" in problems:
            key = (
                frame["fields"]["pptp_gre.payload_length"][0] << 16
                | frame["fields"]["pptp_gre.call_id"][0]
            )
            assert [int(k, 16) for k in decoded.values(number, "gre.key")] == [key]
            assert protocols.endswith(":gre:ip:icmp:data") and not experts
        else:
            # Reserved bits and fields, a missing key, a wrong payload length, an ack-only packet
            # with payload, GRE of no known call: the built-ins check none of these.
            assert set(problems) <= {
                "reserved_nonzero",
                "out_of_state",
                "gre_key_missing",
                "gre_payload_length_mismatch",
                "gre_ack_only_with_payload",
                "gre_reserved_flags",
                "gre_without_call",
            }
            assert not experts and not malformed, number


def test_every_message_type_and_gre_flag_combination_is_generated():
    """All 15 control messages and the three valid K/S/A combinations appear in the scenarios."""
    types, flags = set(), set()
    for name in scenarios.names(valid=True):
        for frame in scenarios.build(name).ground_truth()["frames"]:
            types.update(frame.get("fields", {}).get("pptp_ctrl.control_message_type", []))
            flags.update(frame.get("fields", {}).get("pptp_gre.flags", []))
    assert types == {int(t) for t in MsgType}
    assert flags == {0x3001, 0x3081, 0x2081}
