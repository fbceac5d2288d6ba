"""The PPP peer that stands in for pppd in the real-peer captures: its HDLC framing, and a
whole session between two of them."""

from __future__ import annotations

import socket
import subprocess
import sys

from hypothesis import given
from hypothesis import strategies as st

from pptp_harness import ppp_peer


@given(st.binary(min_size=1, max_size=300))
def test_hdlc_frames_round_trip_with_a_good_fcs(frame):
    encoded = ppp_peer.hdlc_encode(frame)
    body = encoded[1:-1]
    assert ppp_peer.FLAG not in body  # flags only at the ends
    assert all(octet >= 0x20 for octet in body)  # the default ACCM escapes control octets
    assert list(ppp_peer.HdlcReader().feed(encoded)) == [frame]


def test_fcs_of_a_frame_with_its_fcs_is_the_good_value():
    frame = b"\xff\x03\xc0\x21\x01\x01\x00\x04"
    fcs = ppp_peer.fcs16(frame) ^ 0xFFFF
    assert ppp_peer.fcs16(frame + fcs.to_bytes(2, "little")) == ppp_peer.FCS_GOOD


def test_a_frame_with_a_bad_fcs_is_dropped():
    encoded = bytearray(ppp_peer.hdlc_encode(b"\xff\x03\xc0\x21\x09\x01\x00\x08abcd"))
    encoded[-3] ^= 0x01
    assert list(ppp_peer.HdlcReader().feed(bytes(encoded))) == []


def _session(server_args: list[str], client_args: list[str]) -> tuple[int, int]:
    server_end, client_end = socket.socketpair()
    command = [sys.executable, "-m", "pptp_harness.ppp_peer", "--timeout", "20"]
    peers = [
        subprocess.Popen([*command, "--role", role, *args], stdin=end, stdout=end)
        for role, args, end in (
            ("server", server_args, server_end),
            ("client", client_args, client_end),
        )
    ]
    server_end.close()
    client_end.close()
    return tuple(p.wait(timeout=60) for p in peers)


def test_two_peers_negotiate_and_hang_up():
    """LCP, CHAP-MD5, CCP with MPPE, IPCP, echoes, then LCP Terminate: both ends finish."""
    both = ["--auth", "CHAP-MD5", "--mppe", "--restart", "0.5"]
    assert _session(both, [*both, "--pings", "3", "--hang-up"]) == (0, 0)


def test_pap_without_mppe_and_a_server_hang_up():
    server = ["--auth", "PAP", "--pings", "2", "--hang-up", "--restart", "0.5"]
    assert _session(server, ["--auth", "PAP", "--pings", "2", "--restart", "0.5"]) == (0, 0)


def test_a_peer_that_never_answers_is_a_failure():
    mute, end = socket.socketpair()
    peer = subprocess.run(
        [sys.executable, "-m", "pptp_harness.ppp_peer", "--role", "client", "--timeout", "2"],
        stdin=end,
        stdout=end,
        timeout=30,
    )
    mute.close()
    end.close()
    assert peer.returncode == 1
