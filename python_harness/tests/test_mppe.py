"""MS-CHAPv2 and MPPE: the RFCs' sample values, and MPPE round trips through loss,
reordering and the coherency count's wrap."""

from __future__ import annotations

import pytest
from Crypto.Cipher import ARC4

from pptp_harness import mppe
from pptp_harness.constants import MPPE_FLAG_ENCRYPTED, MPPE_FLAG_FLUSHED
from pptp_harness.ppp import split

h = bytes.fromhex

# RFC 2759 §9.2 (and the same inputs in RFC 3079 §3.5).
USER = "User"
PASSWORD = "clientPass"
PASSWORD_UTF16 = h("63006C00690065006E0074005000610073007300")
AUTHENTICATOR_CHALLENGE = h("5B5D7C7D7B3F2F3E3C2C602132262628")
PEER_CHALLENGE = h("21402324255E262A28295F2B3A337C7E")
CHALLENGE = h("D02E4386BCE91226")
PASSWORD_HASH = h("44EBBA8D5312B8D611474411F56989AE")
NT_RESPONSE = h("82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF")
PASSWORD_HASH_HASH = h("41C00C584BD2D91C4017A2A12FA59F3F")
AUTHENTICATOR_RESPONSE = "S=407A5589115FD0D6209F510FE9C04566932CDA56"

# RFC 3079 §3.5.1-3.5.3: the server's send direction.
MASTER_KEY = h("FDECE3717A8C838CB388E527AE3CDD31")
SAMPLES = {
    40: (h("8B7CDC149B993A1B"), h("D1269EC49FA62E3E"), h("929137917E5803D668D75898")),
    # The RFC prints the 56-bit sample message ending in 58; RC4 under the printed key ends
    # in B8 (an error in the RFC: the other octets, and every other vector, agree).
    56: (h("8B7CDC149B993A1B"), h("D15C00C49FA62E3E"), h("3F106833FA448DA842BC57B8")),
    128: (
        h("8B7CDC149B993A1BA118CB153F56DCCB"),
        h("405CB2247A7956E6E211007AE27B22D4"),
        h("81848317DF68846272FB5ABE"),
    ),
}


def test_rfc2759_hash_example():
    """RFC 2759 §9.2: every intermediate value for "User" / "clientPass"."""
    assert PASSWORD.encode("utf-16-le") == PASSWORD_UTF16
    assert mppe.nt_password_hash(PASSWORD) == PASSWORD_HASH
    assert mppe.hash_nt_password_hash(PASSWORD_HASH) == PASSWORD_HASH_HASH
    assert mppe.challenge_hash(PEER_CHALLENGE, AUTHENTICATOR_CHALLENGE, USER) == CHALLENGE
    assert mppe.challenge_response(CHALLENGE, PASSWORD_HASH) == NT_RESPONSE
    assert (
        mppe.generate_nt_response(AUTHENTICATOR_CHALLENGE, PEER_CHALLENGE, USER, PASSWORD_HASH)
        == NT_RESPONSE
    )
    assert (
        mppe.generate_authenticator_response(
            PASSWORD_HASH, NT_RESPONSE, PEER_CHALLENGE, AUTHENTICATOR_CHALLENGE, USER
        )
        == AUTHENTICATOR_RESPONSE
    )


def test_rfc2759_des_key_parity():
    """RFC 2759 §9.3: 7-octet keys spread to 8 with odd parity."""
    assert mppe.nt_password_hash("MyPw") == h("FC156AF7EDCD6C0EDDE3337D427F4EAC")
    assert mppe.des_key(h("FC156AF7EDCD6C")) == h("FD0B5B5E7F6E34D9")
    assert mppe.des_key(h("0EDDE3337D427F")) == h("0E6E796737EA08FE")


def test_checks_accept_the_right_password_and_refuse_a_wrong_one():
    """RFC 2759 §8.8 and the authenticator's NT-Response check."""
    args = (AUTHENTICATOR_CHALLENGE, PEER_CHALLENGE, USER)
    assert mppe.check_nt_response(*args, PASSWORD_HASH, NT_RESPONSE)
    assert not mppe.check_nt_response(*args, mppe.nt_password_hash("clientpass"), NT_RESPONSE)
    assert not mppe.check_nt_response(*args, PASSWORD_HASH, NT_RESPONSE[:-1] + b"\0")
    response = (PASSWORD_HASH, NT_RESPONSE, PEER_CHALLENGE, AUTHENTICATOR_CHALLENGE, USER)
    assert mppe.check_authenticator_response(*response, AUTHENTICATOR_RESPONSE + " M=Welcome")
    assert mppe.check_authenticator_response(*response, AUTHENTICATOR_RESPONSE.encode())
    assert not mppe.check_authenticator_response(*response, AUTHENTICATOR_RESPONSE.lower())


def test_domain_is_not_hashed():
    """RFC 2759 §4 and §8.2: only the user name, without "DOMAIN\\", enters ChallengeHash."""
    assert mppe.user_name_for_hash("BIGCO\\User") == b"User"
    assert mppe.challenge_hash(PEER_CHALLENGE, AUTHENTICATOR_CHALLENGE, b"BIGCO\\User") == (
        CHALLENGE
    )


def test_password_text_beyond_ascii():
    """The password is UTF-16LE text: a non-ASCII password hashes its UTF-16 code units."""
    assert mppe.nt_password_hash("pässwörd€") == mppe.md4("pässwörd€".encode("utf-16-le"))
    assert mppe.nt_password_hash("\U0001f511") == mppe.md4(h("3DD811DD"))


@pytest.mark.parametrize("bits", [40, 56, 128])
def test_rfc3079_sample_key_derivations(bits):
    """RFC 3079 §3.5: master key, send start key, initial send session key, sample message."""
    start, session, message = SAMPLES[bits]
    assert mppe.master_key(PASSWORD_HASH_HASH, NT_RESPONSE) == MASTER_KEY
    size = mppe.key_length(bits)
    assert mppe.asymmetric_start_key(MASTER_KEY, size, is_send=True, is_server=True) == start
    assert mppe.start_keys(MASTER_KEY, bits, is_server=True)[0] == start
    assert mppe.initial_session_key(start, bits) == session
    assert mppe.initial_keys(MASTER_KEY, bits, is_server=True)[0] == session
    assert ARC4.new(session).encrypt(b"test message") == message


@pytest.mark.parametrize("bits", [40, 56, 128])
def test_directions_pair_up(bits):
    """RFC 3079 §3.4: the client's send key is the server's receive key and the other way."""
    client_send, client_receive = mppe.start_keys(MASTER_KEY, bits, is_server=False)
    server_send, server_receive = mppe.start_keys(MASTER_KEY, bits, is_server=True)
    assert client_send == server_receive and client_receive == server_send
    assert client_send != client_receive
    keys = mppe.session_start_keys(PASSWORD_HASH, NT_RESPONSE, bits)
    assert keys == {"client_to_server": client_send, "server_to_client": server_send}


def test_reduce_and_change_key():
    """RFC 3078 §7.3: the key change is SHA-1, then RC4 of the interim key under itself, then
    the reduction (D1 26 9E for 40 bits, D1 for 56)."""
    key = h("0102030405060708")
    assert mppe.reduce_key(key, 40) == h("D1269E0405060708")
    assert mppe.reduce_key(key, 56) == h("D102030405060708")
    assert mppe.reduce_key(key, 128) == key
    start, session, _ = SAMPLES[128]
    interim = mppe.get_new_key_from_sha(start, session, 16)
    assert mppe.change_key(start, session, 128) == ARC4.new(interim).encrypt(interim)
    start, session, _ = SAMPLES[40]
    assert mppe.change_key(start, session, 40)[:3] == h("D1269E")
    with pytest.raises(ValueError):
        mppe.key_length(64)


def payloads(count: int) -> list[bytes]:
    """Inner PPP frames as MPPE encrypts them: IP with the protocol field compressed."""
    return [mppe.plaintext_of(0x0021, bytes([n % 256]) * (20 + n % 50)) for n in range(count)]


def header(packet: bytes) -> tuple[bool, int]:
    flags, count = mppe.parse_header(packet)
    assert flags & MPPE_FLAG_ENCRYPTED
    return bool(flags & MPPE_FLAG_FLUSHED), count


def pair(bits: int, stateless: bool, **options) -> tuple[mppe.MppeCipher, mppe.MppeCipher]:
    start = mppe.start_keys(MASTER_KEY, bits, is_server=False)[0]
    return (
        mppe.MppeCipher(start, bits, stateless, **options),
        mppe.MppeCipher(start, bits, stateless, **options),
    )


def test_plaintext_starts_with_the_protocol_field():
    """RFC 3078 §3.1: the protocol field is encrypted too, compressed to one octet with PFC."""
    assert mppe.plaintext_of(0x0021, b"\x45") == h("2145")
    assert mppe.plaintext_of(0x0021, b"\x45", pfc=False) == h("002145")
    assert split(mppe.plaintext_of(0x0057, b"\x60")) == (0x0057, b"\x60")
    assert split(mppe.plaintext_of(0x0057, b"\x60", pfc=False)) == (0x0057, b"\x60")


@pytest.mark.parametrize("bits", [40, 56, 128])
def test_stateless_round_trip_with_loss_reordering_and_wrap(bits):
    """RFC 3078 §7.1/§8.1: a key change per count, N changes for a count N ahead, the A bit on
    every packet; late and repeated packets still decrypt from the receiver's recent keys."""
    sender, receiver = pair(bits, stateless=True)
    frames = payloads(4200)
    packets = [sender.encrypt(frame) for frame in frames]
    assert all(header(p)[0] for p in packets)
    assert [header(p)[1] for p in packets[4094:4098]] == [4094, 4095, 0, 1]
    assert sender.key_changes == 4200
    # The first packet (count 0) already uses a changed key.
    first = mppe.change_key(
        sender.start_key, mppe.initial_session_key(sender.start_key, bits), bits
    )
    assert ARC4.new(first).decrypt(packets[0][2:]) == frames[0]
    order = list(range(4200))
    del order[10:13]  # lost
    order[20], order[21] = order[21], order[20]  # reordered
    order.insert(30, 25)  # repeated
    del order[4090:4100]  # lost across the wrap
    for index in order:
        assert receiver.decrypt(packets[index]) == frames[index]
    assert receiver.key_changes == 4200


def test_stateless_packet_far_behind_is_refused():
    sender, receiver = pair(128, stateless=True)
    packets = [sender.encrypt(frame) for frame in payloads(400)]
    receiver.decrypt(packets[399])
    with pytest.raises(mppe.MppeError, match="too far behind"):
        receiver.decrypt(packets[0])


@pytest.mark.parametrize("bits", [40, 56, 128])
def test_stateful_round_trip_key_changes_and_wrap(bits):
    """RFC 3078 §7.2: the key changes on every packet whose count's low octet is 0xFF (which
    goes out flushed); RC4 runs on in between; the count wraps from 4095 to 0."""
    sender, receiver = pair(bits, stateless=False)
    frames = payloads(4400)
    packets = [sender.encrypt(frame) for frame in frames]
    flushed = [n for n, p in enumerate(packets) if header(p)[0]]
    assert flushed == [n for n in range(4400) if n % 256 == 255]
    assert sender.key_changes == len(flushed) == 17
    assert [header(p)[1] for p in packets[4095:4097]] == [4095, 0]
    for packet, frame in zip(packets, frames):
        assert receiver.decrypt(packet) == frame
    assert receiver.session_key == sender.session_key


def test_stateful_state_runs_on_between_key_changes():
    """The second packet's keystream continues the first's (same key, no re-initialization)."""
    sender, _ = pair(128, stateless=False)
    one, two = payloads(2)
    packets = [sender.encrypt(one), sender.encrypt(two)]
    stream = ARC4.new(mppe.initial_session_key(sender.start_key, 128))
    assert stream.decrypt(packets[0][2:]) == one
    assert stream.decrypt(packets[1][2:]) == two


@pytest.mark.parametrize("rekey_on_flush", [False, True])
def test_stateful_loss_and_reordering_resynchronize_on_flushed_packet(rekey_on_flush):
    """RFC 3078 §8.2: after a gap the receiver drops packets until one comes flushed (the
    sender re-initialized RC4 after the receiver's Reset-Request)."""
    sender, receiver = pair(56, stateless=False, rekey_on_flush=rekey_on_flush)
    frames = payloads(40)
    packets = [sender.encrypt(frame) for frame in frames[:10]]
    for n in (0, 1, 2):
        assert receiver.decrypt(packets[n]) == frames[n]
    with pytest.raises(mppe.MppeError, match="lost"):
        receiver.decrypt(packets[4])  # 3 comes later: reordering looks like loss
    with pytest.raises(mppe.MppeError, match="late"):
        receiver.decrypt(packets[3])
    with pytest.raises(mppe.MppeError, match="lost"):
        receiver.decrypt(packets[5])
    sender.flush()  # the receiver's CCP Reset-Request reached the sender
    packets += [sender.encrypt(frame) for frame in frames[10:]]
    assert header(packets[10]) == (True, 10)
    assert not header(packets[11])[0]
    for n in range(6, 10):
        with pytest.raises(mppe.MppeError):
            receiver.decrypt(packets[n])
    for n in range(10, 40):
        assert receiver.decrypt(packets[n]) == frames[n]


def test_stateful_resynchronizes_on_flag_packet_after_lost_flag_packets():
    """RFC 3078 §8.2: flag packets lost in a gap still count as key changes (here 512 packets
    and two flag packets are missed); the next flag packet starts a fresh RC4 state."""
    sender, receiver = pair(40, stateless=False)
    frames = payloads(1100)
    packets = [sender.encrypt(frame) for frame in frames]
    assert receiver.decrypt(packets[0]) == frames[0]
    with pytest.raises(mppe.MppeError):
        receiver.decrypt(packets[600])
    for n in range(601, 767):
        with pytest.raises(mppe.MppeError):
            receiver.decrypt(packets[n])
    for n in range(767, 1100):  # 767 = 0x2FF, a flag packet
        assert receiver.decrypt(packets[n]) == frames[n]


def test_stateful_capture_from_mid_session():
    """A receiver that first sees count 300 decrypts from the next flag packet (511), having
    made the key change of the flag packet (255) it never saw."""
    sender, receiver = pair(128, stateless=False)
    frames = payloads(600)
    packets = [sender.encrypt(frame) for frame in frames]
    with pytest.raises(mppe.MppeError):
        receiver.decrypt(packets[300])
    for n in range(301, 511):
        with pytest.raises(mppe.MppeError):
            receiver.decrypt(packets[n])
    for n in range(511, 600):
        assert receiver.decrypt(packets[n]) == frames[n]


def test_rekey_on_flush_changes_the_key_for_the_flushed_packet():
    sender, _ = pair(128, stateless=False, rekey_on_flush=True)
    sender.encrypt(b"\x21x")
    sender.flush()
    sender.encrypt(b"\x21y")
    assert sender.key_changes == 1
    sender, _ = pair(128, stateless=False)
    sender.encrypt(b"\x21x")
    sender.flush()
    sender.encrypt(b"\x21y")
    assert sender.key_changes == 0


def test_refusals():
    sender, receiver = pair(128, stateless=True)
    packet = sender.encrypt(b"\x21abc")
    with pytest.raises(RuntimeError):
        sender.decrypt(packet)
    with pytest.raises(mppe.MppeError, match="D"):
        receiver.decrypt(b"\x80\x00abc")
    with pytest.raises(mppe.MppeError, match="MPPC"):
        receiver.decrypt(b"\xb0\x00abc")
    with pytest.raises(mppe.MppeError, match="header"):
        receiver.decrypt(b"\x90")
    with pytest.raises(ValueError):
        mppe.MppeCipher(bytes(8), 128)
