"""Offline decryption (``pptp-harness decrypt`` and ``handshakes``): captures built here with a
genuine MS-CHAPv2 exchange for a known user and password (RFC 2759) and MPPE data encrypted
with the RFC 3078/3079 keys, decrypted back to exactly the inner packets sent; the real
Windows-client capture; the cracker line formats."""

from __future__ import annotations

import ipaddress
import shutil
import socket
import struct
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import dpkt
import pytest

from pptp_harness import (
    captures,
    cli,
    decrypt,
    linktypes,
    mppe,
    ppp,
    tshark,
    tunnels,
    zeek,
)
from pptp_harness.capture import SNAPLEN, Call, Capture, Frame
from pptp_harness.constants import (
    AUTH_MSCHAP_V1,
    AUTH_MSCHAP_V2,
    MPPE_BIT_40,
    MPPE_BIT_56,
    MPPE_BIT_128,
    MPPE_BIT_STATELESS,
    CpCode,
    PppProto,
)
from pptp_harness.credentials import Credential
from pptp_harness.scenarios import connect

WINDOWS = "pptpd-windows-mschapv2-mppe.pcapng"
CHAPCRACK = "chapcrack-sample.pcap"

USER = "alice"
PASSWORD = "Tr0ub4dor&3-pptp"  # distinctive: searched for in every output
OTHER_USER, OTHER_PASSWORD = "EXAMPLE\\bob", "correct horse battery"
AUTHENTICATOR_CHALLENGE = bytes.fromhex("5B5D7C7D7B3F2F3E3C2C602132262628")
PEER_CHALLENGE = bytes.fromhex("21402324255E262A28295F2B3A337C7E")
MPPE_BITS = {40: MPPE_BIT_40, 56: MPPE_BIT_56, 128: MPPE_BIT_128}
LINKTYPE_RAW = 101


# ---------------------------------------------------------------------------------------------
# Building calls with genuine MS-CHAPv2 and MPPE
# ---------------------------------------------------------------------------------------------


@dataclass
class Sent:
    """One MPPE packet put on the wire: its frame, what it encrypts, and whether a receiver
    can decrypt it."""

    frame: Frame
    plaintext: bytes
    inner: bytes
    decryptable: bool


@dataclass
class Packet:
    index: int  # in the sender's encryption order
    plaintext: bytes
    inner: bytes
    ciphertext: bytes


def inner_packet(from_client: bool, index: int, ipv6: bool) -> tuple[int, bytes]:
    """A UDP datagram through the tunnel: IPv4 (checksum computed) or IPv6."""
    src, dst = ("10.0.0.2", "10.0.0.1") if from_client else ("10.0.0.1", "10.0.0.2")
    payload = f"pptp-analysis {'client' if from_client else 'server'} {index}".encode()
    payload += bytes(index % 7)
    if ipv6:
        udp = dpkt.udp.UDP(sport=40000, dport=40001, data=payload)
        udp.ulen = len(udp)
        ip6 = dpkt.ip6.IP6(
            src=ipaddress.IPv6Address(f"2001:db8::{src}").packed,
            dst=ipaddress.IPv6Address(f"2001:db8::{dst}").packed,
            nxt=dpkt.ip.IP_PROTO_UDP,
            hlim=64,
            data=udp,
        )
        ip6.plen = len(udp)
        return PppProto.IPV6, bytes(ip6)
    udp = dpkt.udp.UDP(sport=40000, dport=40001, data=payload)
    udp.ulen = len(udp)
    ip = dpkt.ip.IP(
        src=socket.inet_aton(src),
        dst=socket.inet_aton(dst),
        p=dpkt.ip.IP_PROTO_UDP,
        ttl=64,
        id=index,
        data=udp,
    )
    return PppProto.IP, bytes(ip)


@dataclass
class Tunnel:
    """One call's PPP: LCP, a genuine MS-CHAPv2 exchange, CCP settling MPPE, then data both
    ways encrypted as RFC 3078 says (``send``), with what was sent kept for the checks."""

    call: Call
    key_bits: int = 128
    stateless: bool = True
    user: str = USER
    password: str = PASSWORD
    rekey_on_flush: bool = False
    identifier: int = 1
    handshake: bool = True
    ccp: bool = True
    sent: list[Sent] = field(default_factory=list)

    def __post_init__(self) -> None:
        call = self.call
        call.lcp_settles_mschapv2()
        nt_hash = mppe.nt_password_hash(self.password)
        exchange, _ = ppp.mschapv2_exchange(
            self.user, nt_hash, AUTHENTICATOR_CHALLENGE, PEER_CHALLENGE, self.identifier
        )
        self.frames = {}
        for (from_client, frame), name in zip(exchange, ("challenge", "response", "success")):
            self.frames[name] = call.gre(from_client, frame)
        bits = MPPE_BITS[self.key_bits] | (MPPE_BIT_STATELESS if self.stateless else 0)
        ccp = []
        for from_client, frame in [
            (False, ppp.ccp_mppe(identifier=1, bits=bits)),
            (True, ppp.ccp_mppe(CpCode.CONFIGURE_ACK, 1, bits=bits)),
            (True, ppp.ccp_mppe(identifier=1, bits=bits)),
            (False, ppp.ccp_mppe(CpCode.CONFIGURE_ACK, 1, bits=bits)),
        ]:
            ccp.append(call.gre(from_client, frame))
        self.frames["ccp"] = ccp
        nt_response = mppe.generate_nt_response(
            AUTHENTICATOR_CHALLENGE, PEER_CHALLENGE, self.user, nt_hash
        )
        keys = mppe.session_start_keys(nt_hash, nt_response, self.key_bits)
        self.ciphers = {
            side: mppe.MppeCipher(
                keys["client_to_server" if side else "server_to_client"],
                self.key_bits,
                self.stateless,
                rekey_on_flush=self.rekey_on_flush,
            )
            for side in (True, False)
        }
        self.made = {True: 0, False: 0}
        self.base_seq = {side: call.sides[side].next_seq for side in (True, False)}

    def encrypt(self, from_client: bool, flush: bool = False) -> Packet:
        """The sender's next packet (IPv6 every fifth, a two-octet protocol field every third,
        as Windows sends)."""
        index = self.made[from_client]
        self.made[from_client] += 1
        protocol, inner = inner_packet(from_client, index, ipv6=index % 5 == 4)
        plaintext = mppe.plaintext_of(protocol, inner, pfc=index % 3 != 0)
        cipher = self.ciphers[from_client]
        if flush:
            cipher.flush()
        return Packet(index, plaintext, inner, cipher.encrypt(plaintext))

    def send(self, from_client: bool, packet: Packet, decryptable: bool = True) -> Frame:
        frame = self.call.gre(
            from_client,
            ppp.PppFrame(PppProto.MPPE, packet.ciphertext),
            seq=(self.base_seq[from_client] + packet.index) % 2**32,
        )
        self.sent.append(Sent(frame, packet.plaintext, packet.inner, decryptable))
        return frame

    def traffic(self) -> None:
        """Data both ways with loss, reordering and a duplicate. Stateful: the packet right
        after a loss cannot be decrypted (its RC4 state is unknown), the sender flushes the one
        after it (the receiver's Reset-Request)."""
        for _ in range(4):
            self.send(True, self.encrypt(True))
            self.send(False, self.encrypt(False))
        self.encrypt(True)  # lost
        self.send(True, self.encrypt(True), decryptable=self.stateless)
        if not self.stateless:
            self.call.gre(False, ppp.control_packet(PppProto.CCP, CCP_RESET_REQUEST, 1))
            self.call.gre(True, ppp.control_packet(PppProto.CCP, CCP_RESET_ACK, 1))
        self.send(True, self.encrypt(True, flush=not self.stateless))
        first, second = self.encrypt(False), self.encrypt(False)
        self.send(False, second)  # reordered on the way
        self.send(False, first)
        duplicate = self.encrypt(True)
        self.send(True, duplicate)
        self.send(True, duplicate)
        for _ in range(6):
            self.send(True, self.encrypt(True))
            self.send(False, self.encrypt(False))

    @property
    def expected(self) -> list[Sent]:
        return [s for s in self.sent if s.decryptable]


CCP_RESET_REQUEST, CCP_RESET_ACK = 14, 15


def one_call(**options) -> tuple[Capture, Tunnel]:
    cap = Capture("decrypt", "a call with genuine MS-CHAPv2 and MPPE")
    conn = connect(cap)
    tunnel = Tunnel(conn.outgoing_call(0, 30720), **options)
    tunnel.traffic()
    tunnel.call.clear_by_client()
    conn.stop()
    return cap, tunnel


def write(cap: Capture, path: Path, keep=lambda frame: True) -> dict[int, Frame]:
    """The capture's frames that ``keep`` keeps, as an Ethernet pcap; new number -> frame."""
    kept = [f for f in cap.frames if keep(f)]
    with path.open("wb") as out:
        writer = dpkt.pcap.Writer(out, snaplen=SNAPLEN, linktype=dpkt.pcap.DLT_EN10MB)
        for frame in kept:
            writer.writepkt(frame.data, ts=frame.time)
    return {n: f for n, f in enumerate(kept, 1)}


def read_output(path: Path) -> list[tuple[int, bytes]]:
    """(timestamp in microseconds, packet) of every record of a raw-IP pcap."""
    with path.open("rb") as f:
        reader = dpkt.pcap.Reader(f)
        assert reader.datalink() == LINKTYPE_RAW
        return [(round(ts * 1_000_000), bytes(buf)) for ts, buf in reader]


def expected_output(sent: list[Sent]) -> list[tuple[int, bytes]]:
    return [(round(s.frame.time * 1_000_000), s.inner) for s in sent]


def run(capsys, *args: str) -> tuple[int, str]:
    status = cli.main([str(a) for a in args])
    captured = capsys.readouterr()
    return status, captured.out + captured.err


# ---------------------------------------------------------------------------------------------
# Decrypting what was built
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stateless", [True, False], ids=["stateless", "stateful"])
@pytest.mark.parametrize("key_bits", [40, 56, 128])
def test_decrypt_writes_exactly_the_inner_packets(tmp_path, capsys, key_bits, stateless):
    """RFC 3078 §7-8 and RFC 3079 §3: both directions' keys from the MS-CHAPv2 exchange,
    stateless (a key change per packet) or stateful (one RC4 stream, resynchronized on a
    flushed packet); lost, reordered and duplicated packets. The output holds exactly the
    inner packets that can be decrypted, in capture order, with their frames' timestamps."""
    cap, tunnel = one_call(key_bits=key_bits, stateless=stateless)
    pcap, out = tmp_path / "in.pcap", tmp_path / "out.pcap"
    write(cap, pcap)
    status, text = run(capsys, "decrypt", pcap, "-o", out, "--password", PASSWORD)
    assert status == 0, text
    assert read_output(out) == expected_output(tunnel.expected)
    mode = "stateless" if stateless else "stateful"
    assert f"MPPE {key_bits}-bit {mode}" in text
    assert "the credential matches the NT-Response and the server's authenticator response" in text
    result = decrypt.decrypt(pcap, [Credential.from_password(PASSWORD)])
    # Per frame, the PPP plaintext exactly as it was encrypted (protocol field included).
    assert result.plaintexts == {s.frame.number: s.plaintext for s in tunnel.expected}
    (call,) = result.calls
    undecryptable = len(tunnel.sent) - len(tunnel.expected)
    assert call.status == ("decrypted" if stateless else "partly decrypted")
    assert sum(d.failed for d in call.directions.values()) == undecryptable
    assert PASSWORD not in text


def test_linux_style_stateful_reset(tmp_path):
    """A stateful sender that changes the key on a reset (the Linux kernel's MPPE) instead of
    only re-initializing RC4 (RFC 3078 §8.2): still decrypted, both before and after it."""
    cap, tunnel = one_call(stateless=False, rekey_on_flush=True)
    pcap = tmp_path / "in.pcap"
    write(cap, pcap)
    result = decrypt.decrypt(pcap, [Credential.from_password(PASSWORD)])
    assert result.plaintexts == {s.frame.number: s.plaintext for s in tunnel.expected}


@pytest.mark.parametrize("stateless", [True, False], ids=["stateless", "stateful"])
def test_coherency_count_wrap(tmp_path, stateless):
    """The 12-bit coherency count wraps after 4095 (RFC 3078 §3): packets on both sides of
    the wrap decrypt, across gaps of up to 1500 lost packets. Stateless: the first packet
    after a gap of more than 256 counts is out of the window and not tried; the next one
    continues from it and decrypts (issue 24's rule 4). Stateful: every flag packet (count's
    low octet 0xFF, a key change) is sent, a packet after a gap is not decryptable until the
    next flag packet."""
    cap = Capture("wrap", "MPPE coherency count wrap")
    conn = connect(cap)
    tunnel = Tunnel(conn.outgoing_call(1, 2), stateless=stateless)
    if stateless:
        chosen = {0, 1, 1500, 1501, 3000, 3001, 4095, 4096, 4097, 4200}
        out_of_window = {1500, 3000, 4095}
    else:
        chosen = {0, 1, *range(255, 4096, 256), 300, 4096, 4097}
        out_of_window = {300}
    wrapped = None
    for index in range(4201):
        packet = tunnel.encrypt(True)
        if index in chosen:
            tunnel.send(True, packet, decryptable=index not in out_of_window)
        if index == 4096:
            wrapped = mppe.parse_header(packet.ciphertext)[1]
    assert wrapped == 0
    pcap = tmp_path / "in.pcap"
    write(cap, pcap)
    result = decrypt.decrypt(pcap, [Credential.from_password(PASSWORD)])
    assert result.plaintexts == {s.frame.number: s.plaintext for s in tunnel.expected}
    assert [p[2] for p in result.packets] == [s.inner for s in tunnel.expected]


def test_wrong_password_decrypts_nothing_and_never_shows(tmp_path, capsys):
    """A credential the NT-Response refutes (RFC 2759 §8.1): nothing decrypted, exit status 1,
    the reason said, and neither the password nor its NT hash in any output."""
    cap, _ = one_call()
    pcap, out = tmp_path / "in.pcap", tmp_path / "out.pcap"
    write(cap, pcap)
    wrong = PASSWORD + "!"
    status, text = run(capsys, "decrypt", pcap, "-o", out, "--password", wrong)
    assert status == 1
    assert "credential does not match user alice's handshake" in text
    assert read_output(out) == []
    nt_hash = mppe.nt_password_hash(wrong).hex()
    for secret in (wrong, PASSWORD, nt_hash, nt_hash.upper()):
        assert secret not in text
        assert secret.encode() not in out.read_bytes()
    status, text = run(capsys, "decrypt", pcap, "-o", out, "--nt-hash", nt_hash)
    assert status == 1 and nt_hash not in text.lower()
    assert "secret hidden" in repr(Credential.from_password(wrong))
    assert wrong not in repr(Credential.from_password(wrong))


def test_malformed_nt_hash_is_not_echoed(tmp_path, capsys):
    cap, _ = one_call()
    pcap = tmp_path / "in.pcap"
    write(cap, pcap)
    status, text = run(capsys, "decrypt", pcap, "-o", tmp_path / "o", "--nt-hash", "s3cr3t-xyz")
    assert status == 2
    assert "32 hexadecimal digits" in text and "s3cr3t-xyz" not in text


def test_nt_hash_equals_password(tmp_path, capsys):
    """An NT hash stands for the password (RFC 2759 §8.3: every key comes from it)."""
    cap, _ = one_call(key_bits=56, stateless=False)
    pcap = tmp_path / "in.pcap"
    write(cap, pcap)
    by_password, by_hash = tmp_path / "a.pcap", tmp_path / "b.pcap"
    status_a, text_a = run(capsys, "decrypt", pcap, "-o", by_password, "--password", PASSWORD)
    nt_hash = mppe.nt_password_hash(PASSWORD).hex().upper()
    status_b, text_b = run(capsys, "decrypt", pcap, "-o", by_hash, "--nt-hash", nt_hash)
    assert status_a == status_b == 0
    assert by_password.read_bytes() == by_hash.read_bytes()
    assert text_a.replace(str(by_password), "OUT") == text_b.replace(str(by_hash), "OUT")
    assert nt_hash not in text_b and nt_hash.lower() not in text_b


def two_users(tmp_path) -> tuple[Path, Tunnel, Tunnel, Capture]:
    """Two calls on one control connection, each authenticated as another user."""
    cap = Capture("two", "two calls, two users")
    conn = connect(cap)
    first = Tunnel(conn.outgoing_call(0, 100))
    second = Tunnel(
        conn.outgoing_call(1, 101),
        user=OTHER_USER,
        password=OTHER_PASSWORD,
        key_bits=40,
        identifier=7,
    )
    for _ in range(5):
        first.send(True, first.encrypt(True))
        second.send(False, second.encrypt(False))
        second.send(True, second.encrypt(True))
        first.send(False, first.encrypt(False))
    pcap = tmp_path / "two.pcap"
    write(cap, pcap)
    return pcap, first, second, cap


def test_user_selects_handshakes(tmp_path, capsys):
    """--user: only that user's handshakes are tried (a DOMAIN\\ prefix may be left out)."""
    pcap, _, second, _ = two_users(tmp_path)
    out = tmp_path / "out.pcap"
    cred = ["--nt-hash", mppe.nt_password_hash(OTHER_PASSWORD).hex()]
    status, text = run(capsys, "decrypt", pcap, "-o", out, *cred, "--user", "bob")
    assert status == 0
    assert read_output(out) == expected_output(second.expected)
    assert "user not selected: the handshake is alice's" in text
    status, text = run(capsys, "decrypt", pcap, "-o", out, *cred, "--user", "carol")
    assert status == 1 and read_output(out) == []


def test_credentials_file(tmp_path, capsys):
    """Contract 4's credentials file: every user's calls with one file."""
    pcap, first, second, _ = two_users(tmp_path)
    creds = tmp_path / "creds"
    creds.write_text(
        f"# users\n{USER}:{PASSWORD}\nbob:nthash:{mppe.nt_password_hash(OTHER_PASSWORD).hex()}\n"
    )
    out = tmp_path / "out.pcap"
    status, text = run(capsys, "decrypt", pcap, "-o", out, "--credentials-file", creds)
    assert status == 0, text
    both = sorted(first.expected + second.expected, key=lambda s: s.frame.number)
    assert read_output(out) == expected_output(both)
    assert PASSWORD not in text and OTHER_PASSWORD not in text


def test_gre_without_control_connection(tmp_path):
    """A capture without the control connection: the two directions of each call are paired
    by address and by the Challenge each Response answers."""
    _, first, second, cap = two_users(tmp_path)
    frames = write(cap, tmp_path / "gre.pcap", lambda f: f.truth.get("kind") == "pptp_gre")
    creds = [
        Credential.from_password(PASSWORD, USER),
        Credential.from_password(OTHER_PASSWORD),
    ]
    result = decrypt.decrypt(tmp_path / "gre.pcap", creds)
    assert [c.status for c in result.calls] == ["decrypted", "decrypted"]
    number = {f.number: n for n, f in frames.items()}
    expected = {number[s.frame.number]: s.plaintext for s in first.expected + second.expected}
    assert result.plaintexts == expected


def test_without_challenge_or_ccp(tmp_path, capsys):
    """No Challenge: the credential cannot be checked against the NT-Response, but the keys
    need only the NT-Response (RFC 3079 §3.4), and valid packets show they fit. No CCP: the key
    length and mode are found by trying them."""
    cap, tunnel = one_call(key_bits=56, stateless=True)
    dropped = {tunnel.frames["challenge"].number} | {f.number for f in tunnel.frames["ccp"]}
    pcap, out = tmp_path / "in.pcap", tmp_path / "out.pcap"
    write(cap, pcap, lambda f: f.number not in dropped)
    status, text = run(capsys, "decrypt", pcap, "-o", out, "--password", PASSWORD)
    assert status == 0, text
    assert read_output(out) == expected_output(tunnel.expected)
    assert "found by trial" in text and "no Challenge in the capture" in text
    status, text = run(capsys, "decrypt", pcap, "-o", out, "--password", "nope")
    assert status == 1 and read_output(out) == []


def test_no_handshake(tmp_path, capsys):
    cap, tunnel = one_call()
    chap = {tunnel.frames[n].number for n in ("challenge", "response", "success")}
    pcap, out = tmp_path / "in.pcap", tmp_path / "out.pcap"
    write(cap, pcap, lambda f: f.number not in chap)
    status, text = run(capsys, "decrypt", pcap, "-o", out, "--password", PASSWORD)
    assert status == 1
    assert "no MS-CHAPv2 handshake in the capture for this call" in text


def test_output_reads_in_tshark_and_zeek(tmp_path, capsys):
    """The output is an ordinary raw-IP capture: tshark decodes every record as IPv4 or IPv6,
    and Zeek (where installed) logs the UDP flows inside the tunnel."""
    if shutil.which("tshark") is None:
        pytest.skip("tshark is not installed")
    cap, tunnel = one_call()
    pcap, out = tmp_path / "in.pcap", tmp_path / "out.pcap"
    write(cap, pcap)
    assert run(capsys, "decrypt", pcap, "-o", out, "--password", PASSWORD)[0] == 0
    fields = ["-T", "fields", "-e", "frame.protocols", "-e", "udp.payload"]
    lines = tshark.run(["-r", str(out), *fields]).stdout.splitlines()
    expected = []
    for sent in tunnel.expected:
        ipv6 = sent.inner[0] >> 4 == 6
        ip = dpkt.ip6.IP6(sent.inner) if ipv6 else dpkt.ip.IP(sent.inner)
        expected.append((f"raw:{'ipv6' if ipv6 else 'ip'}:udp:data", bytes(ip.data.data).hex()))
    assert [tuple(line.split("\t")) for line in lines] == expected
    if zeek.zeek_bin() is None:
        return
    logs = tmp_path / "zeek"
    logs.mkdir()
    subprocess.run(
        [str(zeek.zeek_bin() / "zeek"), "-C", "-r", str(out)], cwd=logs, check=True, timeout=120
    )
    conn = (logs / "conn.log").read_text()
    assert "10.0.0.2\t40000\t10.0.0.1\t40001\tudp" in conn
    assert "2001:db8::a00:2\t40000\t2001:db8::a00:1\t40001\tudp" in conn


@pytest.mark.parametrize(
    ("framing", "carrier"),
    [
        ("vlan", "ipv4"),
        ("linux_sll", "ipv4"),
        ("linux_sll2", "ipv4"),
        ("raw", "ipv4"),
        ("raw_dlt12", "ipv4"),
        ("ethernet", "ipv6"),
        ("ethernet", "4in6"),
        ("linux_sll2", "4in4"),
    ],
)
def test_link_layers(tmp_path, framing, carrier):
    """The same call on every link layer and carrier the harness makes: same plaintexts."""
    cap, tunnel = one_call(stateless=False)
    pcap = tmp_path / "in.pcap"
    write(cap, pcap)
    converted = linktypes.convert(pcap, tmp_path / "conv.pcap", framing, carrier)
    result = decrypt.decrypt(converted, [Credential.from_password(PASSWORD)])
    assert result.plaintexts == {s.frame.number: s.plaintext for s in tunnel.expected}


def test_pcapng_with_two_interfaces(tmp_path):
    """pcapng: each packet has its own interface's link type (here the GRE arrives on a
    second, Linux cooked, interface) and time resolution (nanoseconds)."""
    cap, tunnel = one_call()
    path = tmp_path / "two.pcapng"
    le = dpkt.pcapng
    resolution = le.PcapngOptionLE(code=le.PCAPNG_OPT_IF_TSRESOL, data=b"\x09")
    with path.open("wb") as f:
        f.write(bytes(le.SectionHeaderBlockLE()))
        f.write(bytes(le.InterfaceDescriptionBlockLE(linktype=dpkt.pcap.DLT_EN10MB)))
        sll = le.InterfaceDescriptionBlockLE(
            linktype=linktypes.LINKTYPE_LINUX_SLL,
            snaplen=SNAPLEN,
            opts=[resolution, le.PcapngOptionLE(code=le.PCAPNG_OPT_ENDOFOPT)],
        )
        f.write(bytes(sll))
        for frame in cap.frames:
            gre = frame.truth.get("kind") == "pptp_gre"
            data = frame.data
            if gre:  # Linux cooked v1: outgoing, ARPHRD_ETHER, the sender's MAC, IPv4
                data = struct.pack(">HHH", 4, 1, 6) + data[6:12] + bytes(2) + data[12:]
            ts = round(frame.time * 1_000_000) * (1000 if gre else 1)
            block = le.EnhancedPacketBlockLE(
                iface_id=1 if gre else 0,
                ts_high=ts >> 32,
                ts_low=ts & 0xFFFFFFFF,
                caplen=len(data),
                pkt_len=len(data),
                pkt_data=data,
            )
            f.write(bytes(block))
    result = decrypt.decrypt(path, [Credential.from_password(PASSWORD)])
    assert result.plaintexts == {s.frame.number: s.plaintext for s in tunnel.expected}
    stamps = [(round(ts * 1_000_000), packet) for _, ts, packet in result.packets]
    assert stamps == expected_output(tunnel.expected)


# ---------------------------------------------------------------------------------------------
# Handshakes and the crackers' formats
# ---------------------------------------------------------------------------------------------


def check_cracker_lines(text: str, user: str, password: str | None) -> None:
    """The hashcat mode 5500 line has six fields, user::domain:LM:NT:challenge (the second
    always empty; here domain and LM empty, NT-Response 24 octets, ChallengeHash 8), and the
    John line $MSCHAPv2$authenticator challenge$NT-Response$peer challenge$user; both agree
    with each other (RFC 2759 §8.2) and, given the password, with the NT-Response (§8.5)."""
    (hashcat,) = [ln.split(": ", 1)[1] for ln in text.splitlines() if "hashcat -m 5500:" in ln]
    (john,) = [ln.split(": ", 1)[1] for ln in text.splitlines() if "john --format" in ln]
    label, empty, domain, lm, nt, challenge = hashcat.split(":")
    assert (label, empty, domain, lm) == (user, "", "", "")
    assert len(bytes.fromhex(nt)) == 24 and len(bytes.fromhex(challenge)) == 8
    empty, tag, auth, nt2, peer, name = john.split("$", 5)
    assert empty == ""
    assert (tag, nt2, name) == ("MSCHAPv2", nt, mppe.user_name_for_hash(user).decode())
    auth, peer = bytes.fromhex(auth), bytes.fromhex(peer)
    assert len(auth) == len(peer) == 16
    assert mppe.challenge_hash(peer, auth, name) == bytes.fromhex(challenge)
    if password is not None:
        nt_hash = mppe.nt_password_hash(password)
        assert mppe.challenge_response(bytes.fromhex(challenge), nt_hash) == bytes.fromhex(nt)


def test_cracker_lines_for_the_rfc_example():
    """RFC 2759 §9.2's exchange ("User", "clientPass") as hashcat and John lines; John the
    Ripper's mschapv2 format lists this very line among its test vectors."""
    call = tunnels.Call(1, None, [])
    handshake = tunnels.Handshake(
        number=1,
        call=call,
        client="192.0.2.10",
        server="198.51.100.1",
        identifier=1,
        user=b"User",
        peer_challenge=PEER_CHALLENGE,
        nt_response=bytes.fromhex("82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF"),
        flags=0,
        response_frame=2,
        authenticator_challenge=AUTHENTICATOR_CHALLENGE,
    )
    assert handshake.john().upper() == (
        "$MSCHAPV2$5B5D7C7D7B3F2F3E3C2C602132262628$82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF"
        "$21402324255E262A28295F2B3A337C7E$USER"
    )
    assert (
        handshake.hashcat()
        == "User::::82309ecd8d708b5ea08faa3981cd83544233114a3d85d6df:d02e4386bce91226"
    )
    assert handshake.opened_by(mppe.nt_password_hash("clientPass"))
    assert not handshake.opened_by(mppe.nt_password_hash("clientpass"))


def test_handshakes_and_wordlist(tmp_path, capsys):
    """Every handshake listed with its call; a wordlist line opens the handshakes whose
    NT-Response it makes; the words themselves are never printed."""
    pcap, _, _, _ = two_users(tmp_path)
    wordlist = tmp_path / "words"
    wordlist.write_bytes(f"wrong-guess\r\n{OTHER_PASSWORD}\n{PASSWORD}\nlast\n".encode())
    status, text = run(capsys, "handshakes", pcap, "--wordlist", wordlist)
    assert status == 0
    assert "2 MS-CHAPv2 handshake(s)" in text
    assert "handshake 1 (user alice): opened by line 3" in text
    assert "handshake 2 (user EXAMPLE\\bob): opened by line 2" in text
    assert "3 lines tried" in text  # it stops once every handshake is open
    assert "Call IDs client 0 / server 100" in text and "Call IDs client 1 / server 101" in text
    for word in ("wrong-guess", OTHER_PASSWORD, PASSWORD):
        assert word not in text
    bob = text[text.index("handshake 2:") :]
    check_cracker_lines(bob[: bob.index("wordlist")], OTHER_USER, OTHER_PASSWORD)


@pytest.mark.parametrize("auth", [AUTH_MSCHAP_V1, AUTH_MSCHAP_V2])
def test_only_mschapv2_responses_are_handshakes(tmp_path, auth):
    """MS-CHAPv1's Response is 49 octets too (RFC 2433: LM and NT responses, a flag): told
    apart by its 8-octet Challenge, else by the algorithm LCP agreed on, else by the layout
    (MS-CHAPv2's reserved octets and flags are zero)."""
    cap = Capture("auth", auth)
    conn = connect(cap)
    call = conn.outgoing_call(3, 4)
    call.ppp_session(auth, mppe=False, data_packets=0)
    challenge = next(f for f in cap.frames if "chap.code" in f.truth.get("fields", {}))
    lcp = {f.number for f in cap.frames if f.truth.get("inner_stack", "").startswith("ppp:lcp")}
    expected = 1 if auth == AUTH_MSCHAP_V2 else 0
    for dropped in (set(), {challenge.number}, lcp, lcp | {challenge.number}):
        pcap = tmp_path / "auth.pcap"
        write(cap, pcap, lambda f, dropped=dropped: f.number not in dropped)
        assert len(tunnels.find_handshakes(pcap)) == expected


# ---------------------------------------------------------------------------------------------
# Real captures (../shared/captures, skipped where absent)
# ---------------------------------------------------------------------------------------------


def ipv4_valid(packet: bytes) -> bool:
    """Version 4, header length and total length consistent, header checksum correct."""
    ihl = (packet[0] & 0x0F) * 4
    total = struct.unpack_from(">H", packet, 2)[0]
    header = packet[:ihl]
    checksum = sum(struct.unpack(f">{ihl // 2}H", header))
    while checksum > 0xFFFF:
        checksum = (checksum & 0xFFFF) + (checksum >> 16)
    return packet[0] >> 4 == 4 and ihl >= 20 and total == len(packet) and checksum == 0xFFFF


def test_real_windows_capture(tmp_path, capsys, real_captures):
    """A Windows client and pptpd: user jm, password 123, 128-bit stateless MPPE (see the
    captures' README). Every one of the client's 309 MPPE packets decrypts to a valid IPv4
    packet (header checksum correct), written with its frame's timestamp."""
    windows = real_captures / WINDOWS
    out = tmp_path / "out.pcap"
    status, text = run(capsys, "decrypt", windows, "-o", out, "--password", "123", "--user", "jm")
    assert status == 0, text
    assert "MPPE 128-bit stateless" in text
    assert "192.168.142.1 -> 192.168.142.128: 309 of 309 MPPE packets decrypted to IP" in text
    written = read_output(out)
    assert len(written) == 309 and all(ipv4_valid(p) for _, p in written)
    result = decrypt.decrypt(windows, [Credential.from_password("123")])
    assert len(result.plaintexts) == 309
    # Windows encrypts the uncompressed protocol field 00 21 (RFC 3078 §3 allows either).
    assert all(p[:2] == b"\x00\x21" for p in result.plaintexts.values())
    stamps = {n: ts for n, ts, _, _ in captures.records(windows)}
    assert [t for t, _ in written] == [round(stamps[n] * 1_000_000) for n, _, _ in result.packets]
    nt_hash = mppe.nt_password_hash("123").hex()
    status, _ = run(capsys, "decrypt", windows, "-o", tmp_path / "h.pcap", "--nt-hash", nt_hash)
    assert status == 0 and (tmp_path / "h.pcap").read_bytes() == out.read_bytes()


def test_real_windows_handshake(tmp_path, capsys, real_captures):
    windows = real_captures / WINDOWS
    wordlist = tmp_path / "words"
    wordlist.write_text("1234\n123\n")
    status, text = run(capsys, "handshakes", windows, "--wordlist", wordlist)
    assert status == 0
    assert "handshake 1: user jm, client 192.168.142.1, server 192.168.142.128 (pptpd)" in text
    assert "frames 18 (Challenge), 25 (Response), 26 (Success); Success" in text
    assert "handshake 1 (user jm): opened by line 2" in text
    check_cracker_lines(text, "jm", "123")


def test_real_chapcrack_sample_handshake(capsys, real_captures):
    chapcrack = real_captures / CHAPCRACK
    """pptp-linux and pptpd (password unknown): the handshake is listed with both lines."""
    status, text = run(capsys, "handshakes", chapcrack)
    assert status == 0
    assert "handshake 1: user moxie, client 192.168.1.102, server 198.252.153.26 (pptpd)" in text
    assert "Call IDs client 0 / server 30720" in text
    check_cracker_lines(text, "moxie", None)
    (call,) = tunnels.scan(chapcrack).calls
    assert {(e.sender, e.key_bits, e.stateless, len(e.packets)) for e in call.epochs} == {
        ("192.168.1.102", 128, True, 35),
        ("198.252.153.26", 128, True, 31),
    }
