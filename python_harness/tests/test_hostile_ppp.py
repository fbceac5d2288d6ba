"""The plugin follows PPP as its peers follow it and decrypts MPPE so that a bad packet cannot
derail it (issue 24, rules 3 and 4 of its shared rules): scenarios built by the harness, with
hostile frames inserted after some originals (forged LCP and CHAP frames, MPPE packets with
other coherency counts or random bytes), read through real tshark with the plugin. What the
call shows, its authentication, its user and which originals decrypt, must equal what it
shows for the clean capture; each frame no peer would accept must say it was ignored."""

from __future__ import annotations

import random
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import dpkt
import pytest

from pptp_harness import oracle, ppp, reading, scenarios, tshark, zeek
from pptp_harness.capture import SNAPLEN, Capture, ControlConnection, Frame
from pptp_harness.constants import (
    AUTH_CHAP_MD5,
    AUTH_MSCHAP_V2,
    CHAP_CHALLENGE,
    CHAP_RESPONSE,
    CHAP_SUCCESS,
    IP_PROTO_GRE,
    CpCode,
    PppProto,
)
from pptp_harness.credentials import write_credentials
from pptp_harness.gre import EnhancedGRE

PLUGIN = Path(__file__).resolve().parents[2] / "lua_dissector" / "pptp.lua"
IGNORED = {
    "ppp_unmatched_ack": "Configure-Ack that echoes no Configure-Request",
    "chap_unmatched_response": "CHAP Response with identifier",
    "chap_unmatched_success": "CHAP Success with identifier",
}


@dataclass
class PppInGre:
    """An original GRE frame of a capture, read back: who sent it and the PPP inside."""

    frame: Frame
    from_server: bool
    prefix: bytes  # address, control and protocol fields as the frame carries them
    protocol: int
    info: bytes

    def code(self) -> int | None:
        return self.info[0] if self.info else None

    def copy_with(self, info: bytes, protocol: int | None = None) -> bytes:
        """This frame with another information field (and protocol): same addresses, Call
        ID and GRE numbers, as a copy altered on the way would be."""
        prefix = self.prefix
        if protocol is not None and protocol != self.protocol:
            prefix = struct.pack(">H", protocol)
        eth = dpkt.ethernet.Ethernet(self.frame.data)
        ip = eth.data
        gre = EnhancedGRE(bytes(ip.data))
        gre.data = prefix + info
        gre.payload_length = len(gre.data)
        ip.data, ip.sum = bytes(gre), 0
        eth.data = ip
        return bytes(eth)


def ppp_frames(cap: Capture) -> list[PppInGre]:
    """Every GRE frame of ``cap`` that carries PPP, in capture order."""
    server = scenarios.SERVER.ip_bytes
    found = []
    for frame in cap.frames:
        ip = dpkt.ethernet.Ethernet(frame.data).data
        if not isinstance(ip, dpkt.ip.IP) or ip.p != IP_PROTO_GRE:
            continue
        carried = EnhancedGRE(bytes(ip.data)).data
        protocol, info = ppp.split(carried)
        if protocol is not None:
            prefix = carried[: len(carried) - len(info)]
            found.append(PppInGre(frame, ip.src == server, prefix, protocol, info))
    return found


def first(frames: Iterable[PppInGre], test: Callable[[PppInGre], bool]) -> PppInGre:
    return next(f for f in frames if test(f))


def write_with_inserted(cap: Capture, inserted: dict[int, list[bytes]], path: Path) -> dict:
    """``cap`` with, right after each frame numbered in ``inserted``, its hostile frames;
    returns each original's number in the new capture."""
    renumbered = {}
    with path.open("wb") as out:
        writer = dpkt.pcap.Writer(out, snaplen=SNAPLEN, linktype=dpkt.pcap.DLT_EN10MB)
        number = 0
        for frame in cap.frames:
            number += 1
            renumbered[frame.number] = number
            writer.writepkt(frame.data, ts=frame.time)
            for k, data in enumerate(inserted.get(frame.number, ()), start=1):
                number += 1
                writer.writepkt(data, ts=frame.time + k * 1e-5)
    return renumbered


def call_columns(pcap: Path) -> list[dict[str, str]]:
    """Each call's authentication, user and encryption in the calls table."""
    table = oracle.calls_table(pcap, PLUGIN)
    return [{k: row[k] for k in ("auth", "user", "encryption")} for row in table.calls]


def decode(pcap: Path, credentials: Path | None = None) -> tshark.Decode:
    prefs = [f"pptp_gre.credentials_file:{credentials}"] if credentials else []
    decoded = tshark.decode(
        pcap,
        ["pptp_gre.mppe", "pptp_gre.decrypted", "pptp_gre.problem"],
        lua_scripts=[str(PLUGIN)],
        prefs=prefs,
        two_pass=True,
    )
    assert not decoded.lua_errors(), decoded.lua_errors()
    return decoded


def decrypted(decoded: tshark.Decode) -> set[int]:
    return {
        n
        for n in decoded.frames
        if any(oracle.same_value(True, v) for v in decoded.values(n, "pptp_gre.decrypted"))
    }


def ignored_as(decoded: tshark.Decode, number: int) -> list[str]:
    """The problems of frame ``number`` that say a frame was ignored, each checked against
    its expert's words."""
    names = [p for p in decoded.values(number, "pptp_gre.problem") if p in IGNORED]
    messages = decoded.values(number, "_ws.expert.message")
    for name in names:
        assert any(IGNORED[name] in m and m.endswith(": ignored") for m in messages), messages
    return names


ALL_LOGINS = [f"{x.user}:{x.password}" for x in scenarios.LOGINS.values()]


def test_forged_lcp_frames_change_no_authentication(tmp_path):
    """RFC 1661 §5.2: a Configure-Ack echoes the Configure-Request it accepts, identifier and
    options. A forged copy of the server's Request asking for CHAP-MD5 is remembered, but the
    client's Ack echoes the genuine one; the client's Ack altered to MS-CHAPv1 (as the issue's
    capture had it) and a server's Ack of nothing echo no Request: ignored, and said so. The
    call line names the genuine Ack's frame on one pass and two."""
    cap = scenarios.build("mschapv2_mppe")
    frames = ppp_frames(cap)
    lcp = [f for f in frames if f.protocol == PppProto.LCP]
    request = first(lcp, lambda f: f.from_server and f.code() == CpCode.CONFIGURE_REQUEST)
    ack = first(lcp, lambda f: not f.from_server and f.code() == CpCode.CONFIGURE_ACK)
    identifier = request.info[1]
    forged_request = ppp.lcp_configure(identifier=identifier, auth=AUTH_CHAP_MD5, magic=0x22222222)
    assert ack.info.count(b"\xc2\x23\x81") == 1  # CHAP with MS-CHAPv2, in the Ack's options
    altered_ack = ack.info.replace(b"\xc2\x23\x81", b"\xc2\x23\x80")
    stray_ack = ppp.lcp_configure(CpCode.CONFIGURE_ACK, identifier + 7, magic=0x11111111)
    inserted = {
        request.frame.number: [request.copy_with(forged_request.info)],
        ack.frame.number: [ack.copy_with(altered_ack), request.copy_with(stray_ack.info)],
    }
    clean = cap.write_pcap(tmp_path / "clean.pcap")
    hostile = tmp_path / "hostile.pcap"
    renumbered = write_with_inserted(cap, inserted, hostile)

    assert call_columns(hostile) == call_columns(clean)
    assert call_columns(clean)[0]["auth"] == "MS-CHAPv2"
    decoded = decode(hostile)
    genuine_ack = renumbered[ack.frame.number]
    assert ignored_as(decoded, genuine_ack + 1) == ["ppp_unmatched_ack"]
    assert ignored_as(decoded, genuine_ack + 2) == ["ppp_unmatched_ack"]
    assert not ignored_as(decoded, genuine_ack)
    assert not ignored_as(decoded, renumbered[request.frame.number] + 1)  # a Request: kept
    agreed = f"authentication MS-CHAPv2 (agreed in frame {genuine_ack})"
    for two_pass in (False, True):
        lines = oracle.call_lines(hostile, PLUGIN, two_pass)
        after = [line for number, line in lines.items() if number >= genuine_ack]
        assert after and all(agreed in line for line in after), two_pass


def test_forged_chap_frames_change_no_user_and_keep_the_keys(tmp_path):
    """A Response counts only with a remembered Challenge's identifier, and names the user;
    the handshake that keys MPPE is the one the server's Success acknowledges, whose
    NT-Response the credential makes and whose S= it confirms. Inserted: a Response with an
    identifier no Challenge has (another user), a copy of the Challenge with another value, a
    copy of the Response with another NT-Response, a Success with another identifier, and a
    copy of the Success with another S=. The user and every decrypted original stay."""
    cap = scenarios.build("decrypt_stateless_128")
    frames = ppp_frames(cap)
    chap = [f for f in frames if f.protocol == PppProto.CHAP]
    challenge = first(chap, lambda f: f.code() == CHAP_CHALLENGE)
    response = first(chap, lambda f: f.code() == CHAP_RESPONSE)
    success = first(chap, lambda f: f.code() == CHAP_SUCCESS)
    identifier = challenge.info[1]
    other_value = ppp.filler("forged challenge", 16)
    forged_challenge = challenge.info[:5] + other_value + challenge.info[21:]
    unanswered = ppp.chap(CHAP_RESPONSE, (identifier + 1) % 256, bytes(49), b"mallory")
    value_at = 5 + 16 + 8  # NT-Response: after the value size, peer challenge and reserved
    nt_altered = bytearray(response.info)
    nt_altered[value_at : value_at + 24] = ppp.filler("forged nt-response", 24)
    s_at = success.info.index(b"S=") + 2
    s_altered = bytearray(success.info)
    s_altered[s_at : s_at + 40] = b"0" * 40
    unacknowledged = bytearray(success.info)
    unacknowledged[1] = (identifier + 2) % 256
    inserted = {
        challenge.frame.number: [
            response.copy_with(unanswered.info),
            challenge.copy_with(forged_challenge),
        ],
        response.frame.number: [response.copy_with(bytes(nt_altered))],
        success.frame.number: [
            success.copy_with(bytes(unacknowledged)),
            success.copy_with(bytes(s_altered)),
        ],
    }
    clean = cap.write_pcap(tmp_path / "clean.pcap")
    hostile = tmp_path / "hostile.pcap"
    renumbered = write_with_inserted(cap, inserted, hostile)

    assert call_columns(hostile) == call_columns(clean)
    assert call_columns(clean)[0]["user"] == "alice"
    credentials = write_credentials(tmp_path, ALL_LOGINS)
    before, after = decode(clean, credentials), decode(hostile, credentials)
    assert decrypted(before)
    assert decrypted(after) == {renumbered[n] for n in decrypted(before)}
    assert ignored_as(after, renumbered[challenge.frame.number] + 1) == ["chap_unmatched_response"]
    assert ignored_as(after, renumbered[success.frame.number] + 1) == ["chap_unmatched_success"]
    for n in (challenge, response, success):  # the originals count
        assert not ignored_as(after, renumbered[n.frame.number])


def _random_count(draw: random.Random, header: int) -> int:
    """``header`` (flags and coherency count) with another count."""
    count = header & 0x0FFF
    other = (count + draw.randrange(1, 0x1000)) & 0x0FFF
    return header & 0xF000 | other


@pytest.mark.parametrize("name", ["decrypt_stateless_128", "decrypt_stateful_40"])
def test_hostile_mppe_packets_leave_the_originals_decrypting(tmp_path, name):
    """After every original MPPE packet: a copy with another coherency count, random bytes
    under its own header, and random bytes under the next count's header. None of them
    decrypts (each says why), none moves the keys: exactly the originals that decrypt in the
    clean capture decrypt, and the call's authentication and user are the same."""
    draw = random.Random(f"hostile mppe/{name}")
    cap = scenarios.build(name)
    inserted = {}
    for original in ppp_frames(cap):
        if original.protocol != PppProto.MPPE:
            continue
        header = struct.unpack(">H", original.info[:2])[0]
        body = original.info[2:]
        noise = bytes(draw.randrange(256) for _ in body)
        following = header & 0xF000 | ((header & 0x0FFF) + 1) & 0x0FFF
        inserted[original.frame.number] = [
            original.copy_with(struct.pack(">H", _random_count(draw, header)) + body),
            original.copy_with(original.info[:2] + noise),
            original.copy_with(struct.pack(">H", following) + noise),
        ]
    assert len(inserted) > 10
    clean = cap.write_pcap(tmp_path / "clean.pcap")
    hostile = tmp_path / "hostile.pcap"
    renumbered = write_with_inserted(cap, inserted, hostile)

    assert call_columns(hostile) == call_columns(clean)
    credentials = write_credentials(tmp_path, ALL_LOGINS)
    before, after = decode(clean, credentials), decode(hostile, credentials)
    assert len(decrypted(before)) >= len(inserted) - 8  # all but a few after losses
    assert decrypted(after) == {renumbered[n] for n in decrypted(before)}
    for number in inserted:
        for k in (1, 2, 3):
            copy = renumbered[number] + k
            assert "decryption_failed" in after.values(copy, "pptp_gre.problem")
            said = [m for m in after.values(copy, "_ws.expert.message") if "Not decrypted" in m]
            assert said and all(len(m) > len("Not decrypted: ") for m in said)


def test_coherency_counts_far_from_the_last_are_no_gap(tmp_path):
    """Without credentials, the MPPE coherency counts are followed as decryption's window has
    them: a count more than 256 from the last (random, as damage makes it) moves nothing and
    is no gap, nor is the count after it; a small skip is a gap; a long jump that the next
    packet continues is one gap, on that packet."""
    cap = Capture("coherency_window", "MPPE counts with strays, a skip and a long jump")
    conn = ControlConnection(cap, scenarios.CLIENT, scenarios.SERVER, 40000)
    conn.start()
    call = conn.outgoing_call(1, 2)
    call.ppp_session(AUTH_MSCHAP_V2, mppe=True, data_packets=0)
    counts = [0, 1, 2, 2000, 4, 5, 3500, 7, 8, 9, 12, 13, 700, 701, 702]
    sent = {count: call.gre(True, ppp.mppe_data(count)).number for count in counts}
    call.clear_by_client()
    conn.stop()
    pcap = cap.write_pcap(tmp_path / "coherency_window.pcap")
    for two_pass in (False, True):
        decoded = tshark.decode(
            pcap, ["pptp_gre.problem"], lua_scripts=[str(PLUGIN)], two_pass=two_pass
        )
        assert not decoded.lua_errors()
        gaps = {
            n for n in decoded.frames if "coherency_gap" in decoded.values(n, "pptp_gre.problem")
        }
        assert gaps == {sent[12], sent[701]}


def test_a_copy_altered_into_ip_is_no_cleartext(tmp_path):
    """An encrypted call's MPPE packet, then a copy of it (the same sequence number: a
    duplicate) whose protocol became IP, as one changed octet makes it: neither the truth, nor
    the plugin's calls table, nor Zeek lists IP or raises the alarm of IP in clear (Zeek's
    Cleartext_Tunnel once came from such a copy of a real capture)."""
    cap = scenarios.build("mschapv2_mppe")
    mppe = [f for f in ppp_frames(cap) if f.protocol == PppProto.MPPE]
    inserted = {f.frame.number: [f.copy_with(f.info, PppProto.IP)] for f in mppe[:2]}
    clean = cap.write_pcap(tmp_path / "clean.pcap")
    hostile = tmp_path / "hostile.pcap"
    write_with_inserted(cap, inserted, hostile)

    def seen(pcap: Path) -> tuple:
        (call,) = reading.read(pcap).truth()["calls"]
        (row,) = oracle.calls_table(pcap, PLUGIN).calls
        return call["ppp_protocols"], call["notices"], row["ppp"]

    assert seen(hostile) == seen(clean)
    assert "IP" not in seen(clean)[0]
    if zeek.available():
        notices = [sorted(n["note"] for n in zeek.run(p).notices) for p in (clean, hostile)]
        assert notices[0] == notices[1]
        assert "PPTP::Cleartext_Tunnel" not in notices[1]


def test_real_windows_capture_with_altered_copies_after_every_gre_frame(tmp_path, real_captures):
    """The issue's case on a real Windows client and pptpd (user jm, password 123): three
    copies of every GRE frame with three octets changed in them, each after its original.
    The call still authenticated with MS-CHAPv2 as jm, and all 309 original MPPE packets
    decrypt (a copy altered past the inner header may decrypt too: it has its original's key)."""
    source = real_captures / "pptpd-windows-mschapv2-mppe.pcapng"
    draw = random.Random("altered copies")
    hostile = tmp_path / "altered.pcap"
    originals, number = set(), 0
    with source.open("rb") as read, hostile.open("wb") as out:
        reader = dpkt.pcapng.Reader(read)
        writer = dpkt.pcap.Writer(out, snaplen=SNAPLEN, linktype=reader.datalink())
        for when, data in reader:
            number += 1
            originals.add(number)
            writer.writepkt(data, ts=when)
            ip = dpkt.ethernet.Ethernet(data).data
            if not isinstance(ip, dpkt.ip.IP) or ip.p != IP_PROTO_GRE:
                continue
            after_header = 14 + ip.hl * 4 + 8  # past the GRE key: the Call ID is kept
            for k in range(1, 4):
                copy = bytearray(data)
                for _ in range(3):
                    copy[draw.randrange(after_header, len(copy))] = draw.randrange(256)
                writer.writepkt(bytes(copy), ts=when + k * 1e-7)
                number += 1
    assert call_columns(hostile) == call_columns(source)
    assert [c["user"] for c in call_columns(source)] == ["jm"]
    credentials = write_credentials(tmp_path, ["jm:123"])
    assert len(decrypted(decode(source, credentials))) == 309
    assert len(decrypted(decode(hostile, credentials)) & originals) == 309
