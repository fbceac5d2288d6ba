"""MS-CHAPv2 (RFC 2759), MPPE key derivation (RFC 3079) and MPPE itself (RFC 3078).

The harness's ground truth for decryption: what a key, a response or a ciphertext must be,
anchored to the RFCs' sample values (tests/test_mppe.py). The primitives (MD4, DES, RC4,
SHA-1) come from pycryptodome and hashlib; everything here is the protocols' glue.

Key directions: each side derives a send and a receive start key from the master key
(``start_keys``); the client's send key is the server's receive key. A ``MppeCipher`` is one
side of one direction: the sender's instance encrypts, a receiver's (built from the same
start key) decrypts.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Callable

from Crypto.Cipher import ARC4, DES
from Crypto.Hash import MD4

from .constants import (
    MPPE_COHERENCY_MASK,
    MPPE_FLAG_COMPRESSED,
    MPPE_FLAG_ENCRYPTED,
    MPPE_FLAG_FLUSHED,
)

KEY_BITS = (40, 56, 128)
COUNT_SPACE = 4096  # the coherency count is 12 bits (RFC 3078 §3.1)
STATELESS_WINDOW = 256  # counts ahead a distrustful stateless receiver tries (issue 24)
RECENT_KEYS = 256  # a stateless receiver keeps the keys of this many counts behind
IMPLAUSIBLE = "decrypts to no plausible PPP frame: the key state is left as it was"

# RFC 2759 §8.7: the two constants of the authenticator response.
_AUTH_MAGIC1 = b"Magic server to client signing constant"
_AUTH_MAGIC2 = b"Pad to make it do more than one iteration"
# RFC 3079 §3.4: the master key and asymmetric start key constants, and the SHA pads.
_MASTER_MAGIC = b"This is the MPPE Master Key"
_CLIENT_SEND_MAGIC = (
    b"On the client side, this is the send key; on the server side, it is the receive key."
)
_CLIENT_RECEIVE_MAGIC = (
    b"On the client side, this is the receive key; on the server side, it is the send key."
)
_SHA_PAD1 = bytes(40)
_SHA_PAD2 = b"\xf2" * 40


def _sha1(*parts: bytes) -> bytes:
    digest = hashlib.sha1()
    for part in parts:
        digest.update(part)
    return digest.digest()


def md4(data: bytes) -> bytes:
    """MD4 (RFC 1320), which MS-CHAPv2 uses for password hashes."""
    return MD4.new(data).digest()


# ---------------------------------------------------------------------------------------------
# RFC 2759: MS-CHAPv2
# ---------------------------------------------------------------------------------------------


def nt_password_hash(password: str) -> bytes:
    """NtPasswordHash (RFC 2759 §8.3): MD4 of the password in UTF-16LE, no terminating zero."""
    return md4(password.encode("utf-16-le"))


def hash_nt_password_hash(password_hash: bytes) -> bytes:
    """HashNtPasswordHash (RFC 2759 §8.4): MD4 of the password hash."""
    return md4(password_hash)


def user_name_for_hash(user_name: bytes | str) -> bytes:
    """The user name as ChallengeHash takes it: without a ``DOMAIN\\`` prefix (RFC 2759 §4)."""
    if isinstance(user_name, str):
        user_name = user_name.encode()
    return user_name.rsplit(b"\\", 1)[-1]


def challenge_hash(
    peer_challenge: bytes, authenticator_challenge: bytes, user_name: bytes | str
) -> bytes:
    """ChallengeHash (RFC 2759 §8.2): the first 8 octets of SHA-1 over both challenges and the
    user name without its domain."""
    return _sha1(peer_challenge, authenticator_challenge, user_name_for_hash(user_name))[:8]


def des_key(key7: bytes) -> bytes:
    """A 7-octet key spread to DES's 8 octets with odd parity in each low bit (RFC 2759 §8.6,
    example in §9.3)."""
    (bits,) = struct.unpack(">Q", b"\0" + key7)
    out = bytearray()
    for shift in range(49, -1, -7):
        octet = ((bits >> shift) & 0x7F) << 1
        out.append(octet | (bin(octet).count("1") + 1) % 2)
    return bytes(out)


def des_encrypt(clear: bytes, key7: bytes) -> bytes:
    """DesEncrypt (RFC 2759 §8.6): one DES block in ECB mode under a 7-octet key."""
    return DES.new(des_key(key7), DES.MODE_ECB).encrypt(clear)


def challenge_response(challenge: bytes, password_hash: bytes) -> bytes:
    """ChallengeResponse (RFC 2759 §8.5): three DES encryptions of the 8-octet challenge under
    the password hash zero-padded to 21 octets."""
    padded = password_hash + bytes(21 - len(password_hash))
    return b"".join(des_encrypt(challenge, padded[i : i + 7]) for i in (0, 7, 14))


def generate_nt_response(
    authenticator_challenge: bytes,
    peer_challenge: bytes,
    user_name: bytes | str,
    password_hash: bytes,
) -> bytes:
    """GenerateNTResponse (RFC 2759 §8.1), from the password hash (``nt_password_hash``), so
    that an NT hash alone can stand for the password."""
    challenge = challenge_hash(peer_challenge, authenticator_challenge, user_name)
    return challenge_response(challenge, password_hash)


def generate_authenticator_response(
    password_hash: bytes,
    nt_response: bytes,
    peer_challenge: bytes,
    authenticator_challenge: bytes,
    user_name: bytes | str,
) -> str:
    """GenerateAuthenticatorResponse (RFC 2759 §8.7): "S=" and 40 upper-case hex digits."""
    digest = _sha1(hash_nt_password_hash(password_hash), nt_response, _AUTH_MAGIC1)
    challenge = challenge_hash(peer_challenge, authenticator_challenge, user_name)
    return "S=" + _sha1(digest, challenge, _AUTH_MAGIC2).hex().upper()


def check_nt_response(
    authenticator_challenge: bytes,
    peer_challenge: bytes,
    user_name: bytes | str,
    password_hash: bytes,
    nt_response: bytes,
) -> bool:
    """Whether an NT-Response was made from this password hash (the authenticator's check)."""
    expected = generate_nt_response(
        authenticator_challenge, peer_challenge, user_name, password_hash
    )
    return hmac.compare_digest(expected, nt_response)


def check_authenticator_response(
    password_hash: bytes,
    nt_response: bytes,
    peer_challenge: bytes,
    authenticator_challenge: bytes,
    user_name: bytes | str,
    received: bytes | str,
) -> bool:
    """CheckAuthenticatorResponse (RFC 2759 §8.8). ``received`` may be the whole Success
    message ("S=... M=..."): only its first 42 characters are compared."""
    if isinstance(received, bytes):
        received = received.decode("ascii", "replace")
    expected = generate_authenticator_response(
        password_hash, nt_response, peer_challenge, authenticator_challenge, user_name
    )
    return hmac.compare_digest(expected, received[:42])


# ---------------------------------------------------------------------------------------------
# RFC 3079: MPPE keys from MS-CHAPv2
# ---------------------------------------------------------------------------------------------


def key_length(key_bits: int) -> int:
    """Octets of a session key: 8 for 40- and 56-bit keys, 16 for 128-bit (RFC 3079 §3)."""
    if key_bits not in KEY_BITS:
        raise ValueError(f"MPPE key bits must be 40, 56 or 128, not {key_bits}")
    return 16 if key_bits == 128 else 8


def master_key(password_hash_hash: bytes, nt_response: bytes) -> bytes:
    """GetMasterKey (RFC 3079 §3.4): 16 octets of SHA-1 over the hash of the password hash,
    the NT-Response and a constant."""
    return _sha1(password_hash_hash, nt_response, _MASTER_MAGIC)[:16]


def asymmetric_start_key(
    master_key: bytes, key_length: int, is_send: bool, is_server: bool
) -> bytes:
    """GetAsymmetricStartKey (RFC 3079 §3.4): the start key of one direction as one side sees
    it; the client's send key is the server's receive key."""
    magic = _CLIENT_SEND_MAGIC if is_send != is_server else _CLIENT_RECEIVE_MAGIC
    return _sha1(master_key, _SHA_PAD1, magic, _SHA_PAD2)[:key_length]


def get_new_key_from_sha(start_key: bytes, session_key: bytes, key_length: int) -> bytes:
    """GetNewKeyFromSHA (RFC 3078 §7.3, RFC 3079 §2.4): the interim key."""
    return _sha1(start_key[:key_length], _SHA_PAD1, session_key[:key_length], _SHA_PAD2)[
        :key_length
    ]


def reduce_key(key: bytes, key_bits: int) -> bytes:
    """The effective strength cut to 40 bits (first three octets D1 26 9E) or 56 bits (first
    octet D1); 128-bit keys are left as they are (RFC 3078 §7.3, RFC 3079 §3.1-3.2)."""
    if key_bits == 40:
        return b"\xd1\x26\x9e" + key[3:]
    if key_bits == 56:
        return b"\xd1" + key[1:]
    return key


def initial_session_key(start_key: bytes, key_bits: int) -> bytes:
    """The first session key of a direction: GetNewKeyFromSHA of the start key with itself,
    reduced (RFC 3079 §3.1-3.3; no RC4 step, unlike a key change)."""
    size = key_length(key_bits)
    return reduce_key(get_new_key_from_sha(start_key, start_key, size), key_bits)


def change_key(start_key: bytes, session_key: bytes, key_bits: int) -> bytes:
    """The MPPE key change (RFC 3078 §7.3): the interim key from SHA-1, RC4-encrypted with
    itself as the key, then reduced."""
    size = key_length(key_bits)
    interim = get_new_key_from_sha(start_key, session_key, size)
    return reduce_key(ARC4.new(interim).encrypt(interim), key_bits)


def start_keys(master_key: bytes, key_bits: int, is_server: bool) -> tuple[bytes, bytes]:
    """A side's send and receive start keys (RFC 3079 §3.1-3.3, MasterSendKey and
    MasterReceiveKey)."""
    size = key_length(key_bits)
    return (
        asymmetric_start_key(master_key, size, True, is_server),
        asymmetric_start_key(master_key, size, False, is_server),
    )


def initial_keys(master_key: bytes, key_bits: int, is_server: bool) -> tuple[bytes, bytes]:
    """A side's initial send and receive session keys (SendSessionKey, ReceiveSessionKey)."""
    send, receive = start_keys(master_key, key_bits, is_server)
    return initial_session_key(send, key_bits), initial_session_key(receive, key_bits)


def session_start_keys(password_hash: bytes, nt_response: bytes, key_bits: int) -> dict[str, bytes]:
    """The start key of each direction of a call, from the password hash and the NT-Response:
    ``"client_to_server"`` and ``"server_to_client"``."""
    master = master_key(hash_nt_password_hash(password_hash), nt_response)
    client_send, client_receive = start_keys(master, key_bits, is_server=False)
    return {"client_to_server": client_send, "server_to_client": client_receive}


# ---------------------------------------------------------------------------------------------
# RFC 3078: MPPE packets
# ---------------------------------------------------------------------------------------------


class MppeError(ValueError):
    """A packet that cannot be decrypted (the reason says why)."""


def parse_header(packet: bytes) -> tuple[int, int]:
    """The flag bits (A B C D as 0x8000 … 0x1000) and coherency count of an MPPE packet."""
    if len(packet) < 2:
        raise MppeError("shorter than the MPPE header")
    (word,) = struct.unpack(">H", packet[:2])
    return word & ~MPPE_COHERENCY_MASK, word & MPPE_COHERENCY_MASK


def plaintext_of(protocol: int, info: bytes, pfc: bool = True) -> bytes:
    """What MPPE encrypts: the inner PPP protocol field, one octet when protocol field
    compression is on (every MPPE-encrypted protocol, 0x0021-0x00FA, compresses), then the
    information field (RFC 3078 §3, §3.1 "Encrypted Data")."""
    field = bytes([protocol]) if pfc and protocol < 0x100 else struct.pack(">H", protocol)
    return field + info


def _flag_counts(after: int, steps: int) -> int:
    """How many "flag" counts (low octet 0xFF) lie in (after, after + steps], counted without
    the 12-bit wrap (4096 is a multiple of 256, so the wrap does not move them)."""
    return (after + steps + 1) // 256 - (after + 1) // 256


class MppeCipher:
    """One direction of MPPE (RFC 3078), as its sender (``encrypt``) or a receiver
    (``decrypt``): an instance plays one role only.

    Stateless mode (§7.1, §8.1): the key changes before every packet, once per coherency
    count, so a receiver that sees a count N ahead makes N changes; every packet has the A
    (flushed) bit and a fresh RC4 state. A receiver keeps the keys of recent counts, so packets
    that arrive late or twice still decrypt.

    Stateful mode (§7.2, §8.2): the key changes before the "flag" packet, whose count's low
    octet is 0xFF (every 256 packets); a key change re-initializes RC4 with the new key, and
    otherwise the RC4 state runs on across packets. The sender marks the flag packet flushed
    (its tables were just initialized) and, after ``flush()`` (a CCP Reset-Request from the
    receiver), re-initializes RC4 with the current session key and sets the flushed bit on
    the next packet. A receiver that misses a packet cannot place the keystream: it makes the
    key changes of every flag count it skipped and decrypts again from the next packet whose
    RC4 state is fresh, flushed or flag.

    ``rekey_on_flush`` follows the Linux kernel's MPPE instead of the RFC for stateful resets:
    its sender changes the key (instead of only re-initializing RC4) for the packet after a
    Reset-Request, and its receiver changes the key on every flushed packet.
    """

    def __init__(
        self,
        start_key: bytes,
        key_bits: int,
        stateless: bool = True,
        *,
        rekey_on_flush=False,
        window: int | None = None,
    ):
        size = key_length(key_bits)
        if len(start_key) != size:
            raise ValueError(f"a {key_bits}-bit start key has {size} octets, not {len(start_key)}")
        self.start_key = start_key
        self.key_bits = key_bits
        self.stateless = stateless
        self.rekey_on_flush = rekey_on_flush
        self.session_key = initial_session_key(start_key, key_bits)
        self.key_changes = 0
        self._rc4 = ARC4.new(self.session_key)
        self._role: str | None = None
        self._count: int | None = None  # the last count sent or seen
        self._flush_pending = False
        self._synced = True
        self._recent: dict[int, bytes] = {}  # stateless receiver: count -> session key
        self._stream = _Keystream(self.session_key)  # stateful receiver
        self.window = window  # stateless receiver: counts ahead tried (None: all)
        self._stray: int | None = None  # the last count out of the window

    def _take_role(self, role: str) -> None:
        if self._role not in (None, role):
            raise RuntimeError(f"this MppeCipher is a {self._role}; use another to {role}")
        self._role = role

    def _change_key(self) -> None:
        self.session_key = change_key(self.start_key, self.session_key, self.key_bits)
        self.key_changes += 1
        self._rc4 = ARC4.new(self.session_key)

    @property
    def count(self) -> int | None:
        """The coherency count of the last packet sent or seen (None before the first)."""
        return self._count

    # -- sender ---------------------------------------------------------------------------

    def flush(self) -> None:
        """The sender got a CCP Reset-Request: the next packet goes out flushed (§8.2)."""
        self._take_role("sender")
        self._flush_pending = True

    def encrypt(self, plaintext: bytes) -> bytes:
        """The next MPPE packet: the 2-octet header (A and D bits, coherency count) and the
        ciphertext of ``plaintext`` (protocol field and information, see ``plaintext_of``)."""
        self._take_role("sender")
        count = 0 if self._count is None else (self._count + 1) % COUNT_SPACE
        flushed = True
        if self.stateless or count & 0xFF == 0xFF:
            self._change_key()
        elif self._flush_pending:
            if self.rekey_on_flush:
                self._change_key()
            else:
                self._rc4 = ARC4.new(self.session_key)
        else:
            flushed = False
        self._flush_pending = False
        self._count = count
        flags = MPPE_FLAG_ENCRYPTED | (MPPE_FLAG_FLUSHED if flushed else 0)
        return struct.pack(">H", flags | count) + self._rc4.encrypt(plaintext)

    # -- receiver -------------------------------------------------------------------------

    def decrypt(self, packet: bytes, plausible: Callable[[bytes], bool] | None = None) -> bytes:
        """The plaintext (protocol field and information) of an MPPE packet, header included
        in ``packet``; MppeError if it cannot be decrypted.

        With ``plausible`` (a receiver that does not trust every packet, RFC 3078 read as
        issue 24 asks), the key for the packet's count is computed without committing it, and
        the key state moves only when ``plausible(plaintext)`` holds; otherwise MppeError
        says why and the state is as it was. A stateless receiver with a ``window`` tries no
        count more than ``window`` ahead of the last one it committed, unless the count is
        exactly one more than the previous such count (a long loss goes on; random counts do
        not)."""
        self._take_role("receiver")
        flags, count = parse_header(packet)
        if not flags & MPPE_FLAG_ENCRYPTED:
            raise MppeError("the D (encrypted) bit is clear")
        if flags & MPPE_FLAG_COMPRESSED:
            raise MppeError("MPPC-compressed (C bit): not supported")
        body = packet[2:]
        if self.stateless:
            return self._stateless_decrypt(count, body, plausible)
        return self._stateful_decrypt(count, bool(flags & MPPE_FLAG_FLUSHED), body, plausible)

    def _ahead(self, count: int) -> int:
        """Counts from the last one seen to ``count``: 1 for the next packet, 0 for a repeat,
        above COUNT_SPACE / 2 for one that arrives late. Before any packet the session is
        taken to have started at count 0."""
        if self._count is None:
            return count + 1
        return (count - self._count) % COUNT_SPACE

    def _stateless_decrypt(
        self, count: int, body: bytes, plausible: Callable[[bytes], bool] | None
    ) -> bytes:
        ahead = self._ahead(count)
        if ahead == 0 or ahead > COUNT_SPACE // 2:
            key = self._recent.get(count)
            if key is None:
                raise MppeError("coherency count too far behind to decrypt")
            plaintext = ARC4.new(key).decrypt(body)
            if plausible is not None and not plausible(plaintext):
                raise MppeError(IMPLAUSIBLE)
            return plaintext
        stray, self._stray = self._stray, None
        continues = stray is not None and count == (stray + 1) % COUNT_SPACE
        if self.window is not None and ahead > self.window and not continues:
            self._stray = count
            raise MppeError(
                f"coherency count more than {self.window} ahead of the last one decrypted "
                "(out of the window)"
            )
        keys, key = [], self.session_key
        for _ in range(ahead):
            key = change_key(self.start_key, key, self.key_bits)
            keys.append(key)
        plaintext = ARC4.new(key).decrypt(body)
        if plausible is not None and not plausible(plaintext):
            if ahead > (self.window or COUNT_SPACE):
                self._stray = count  # a long loss may still go on from here
            raise MppeError(IMPLAUSIBLE)
        for key in keys:
            self._count = 0 if self._count is None else (self._count + 1) % COUNT_SPACE
            self._recent[self._count] = key
        self.session_key, self.key_changes = key, self.key_changes + ahead
        for old in [c for c in self._recent if (count - c) % COUNT_SPACE > RECENT_KEYS]:
            del self._recent[old]
        return plaintext

    def _stateful_decrypt(
        self, count: int, flushed: bool, body: bytes, plausible: Callable[[bytes], bool] | None
    ) -> bytes:
        ahead = self._ahead(count)
        if ahead == 0 or ahead > COUNT_SPACE // 2:
            raise MppeError(f"count {count} repeats or arrives late: its keystream is gone")
        last = -1 if self._count is None else self._count
        flag = count & 0xFF == 0xFF
        # Key changes for flag packets skipped on the way; this packet's own comes below.
        key, changes = self.session_key, 0
        own = flag or (flushed and self.rekey_on_flush)
        for _ in range(_flag_counts(last, ahead - 1) + own):
            key = change_key(self.start_key, key, self.key_bits)
            changes += 1
        stream = self._stream
        if flag or flushed:
            stream = _Keystream(key)
        elif ahead > 1 or not self._synced:
            if plausible is None:  # without the check a receiver gives the gap's state up
                self.session_key, self.key_changes = key, self.key_changes + changes
                self._count, self._synced = count, False
            raise MppeError("packets lost: waiting for a flushed or flag packet to resynchronize")
        plaintext = bytes(a ^ b for a, b in zip(body, stream.peek(len(body))))
        if plausible is not None and not plausible(plaintext):
            raise MppeError(IMPLAUSIBLE)
        stream.take(len(body))
        self.session_key, self.key_changes = key, self.key_changes + changes
        self._stream, self._count, self._synced = stream, count, True
        return plaintext


class _Keystream:
    """An RC4 keystream read ahead without being used up: a stateful receiver tries a packet
    against ``peek`` and moves on (``take``) only when the packet is accepted."""

    def __init__(self, key: bytes) -> None:
        self._rc4 = ARC4.new(key)
        self._ahead = b""

    def peek(self, size: int) -> bytes:
        if len(self._ahead) < size:
            self._ahead += self._rc4.encrypt(bytes(size - len(self._ahead)))
        return self._ahead[:size]

    def take(self, size: int) -> None:
        self.peek(size)
        self._ahead = self._ahead[size:]


# The PPP protocols a decrypted frame may carry to be taken as one (issue 24, rule 4): IP and
# IPv6 with their headers' lengths right, or a control protocol with a code and length right.
_IP_PROTOCOLS = (0x21, 0x57)
_CONTROL_PROTOCOLS = (0xC021, 0x8021, 0x8057, 0x80FD)
_CONTROL_CODES = range(1, 12)


def plausible_ppp(plaintext: bytes) -> bool:
    """Whether a decrypted MPPE plaintext is a PPP frame a peer could have sent: protocol
    0x21/0x0021 with an IPv4 header (version 4, IHL at least 5, total length equal to the
    octets after the protocol field), 0x57/0x0057 with an IPv6 header (version 6, payload
    length plus 40 equal to them), or LCP, IPCP, IPV6CP or CCP with a code from 1 to 11 and
    a length field equal to them."""
    if not plaintext:
        return False
    if plaintext[0] & 1:
        protocol, info = plaintext[0], plaintext[1:]
    elif len(plaintext) >= 2:
        protocol, info = struct.unpack_from(">H", plaintext)[0], plaintext[2:]
    else:
        return False
    if protocol == 0x21:
        return (
            len(info) >= 20
            and info[0] >> 4 == 4
            and info[0] & 0x0F >= 5
            and struct.unpack_from(">H", info, 2)[0] == len(info)
        )
    if protocol == 0x57:
        return (
            len(info) >= 40
            and info[0] >> 4 == 6
            and struct.unpack_from(">H", info, 4)[0] + 40 == len(info)
        )
    if protocol in _CONTROL_PROTOCOLS:
        return (
            len(info) >= 4
            and info[0] in _CONTROL_CODES
            and struct.unpack_from(">H", info, 2)[0] == len(info)
        )
    return False
