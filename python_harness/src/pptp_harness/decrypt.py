"""Offline decryption of PPTP calls from MS-CHAPv2 (RFC 2759) and MPPE (RFC 3078, RFC 3079).

A capture of a PPTP call holds everything but the password: the server's Challenge, the
client's Response (peer challenge, NT-Response, user name) and the server's Success
("S=<authenticator response>") travel in the call's GRE (``tunnels`` finds them), then every
data packet is MPPE (PPP protocol 0x00FD) under keys derived from the NT hash of the password
and the NT-Response. Given credentials (``credentials``), this module checks each against a
call's handshake, derives both directions' keys and decrypts every MPPE packet.

A bad packet cannot derail it (issue 24's rule 4): the keying handshake is the one the
credential verifies and the server's Success confirms; a packet's key is computed without
committing it, and the key state moves only when the packet decrypts to a plausible PPP frame
(``mppe.plausible_ppp``); a stateless count more than 256 ahead of the last one decrypted is
not tried unless it continues the previous such count. Such packets are reported as not
decrypted, with the reason.

Entry points: ``decrypt`` (per frame number the decrypted PPP plaintext, per call what
happened, the inner IP packets) and ``write_packets`` (those packets as a raw-IP pcap).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import dpkt

from . import mppe, ppp
from .captures import LINKTYPE_RAW
from .constants import (
    MPPE_FLAG_ENCRYPTED,
    MPPE_FLAG_FLUSHED,
)
from .credentials import Credential, user_matches
from .tunnels import (
    Call,
    Epoch,
    GrePacket,
    Handshake,
    Scan,
    inner_packet,
    is_network_protocol,
    scan,
    split_plaintext,
)

# The output: raw IP (one IPv4 or IPv6 packet per record), which tcpdump, Zeek, Suricata and
# Wireshark all read; no link layer to make up.
OUTPUT_LINKTYPE = LINKTYPE_RAW
OUTPUT_SNAPLEN = 65535
# Packets tried per candidate when the CCP negotiation is missing and the key length and mode
# have to be found from the packets themselves.
GUESS_SAMPLE = 16
COUNT_TAKEN = "another packet with this coherency count decrypted first (an altered copy?)"
KEY_CANDIDATES = [(bits, stateless) for bits in (128, 56, 40) for stateless in (True, False)]


@dataclass
class DirectionResult:
    """What became of one side's MPPE packets."""

    sender: str
    receiver: str
    mppe: int = 0
    decrypted: int = 0  # to a valid IPv4/IPv6 packet
    not_ip: int = 0  # decrypted to another PPP protocol (not written)
    invalid: int = 0  # decrypted to something that is no valid packet
    failed: int = 0  # not decryptable (see reasons)
    reasons: dict[str, int] = field(default_factory=dict)

    def fail(self, reason: str, count: int = 1) -> None:
        self.failed += count
        self.reasons[reason] = self.reasons.get(reason, 0) + count


@dataclass
class CallResult:
    """What decryption made of one call."""

    call: Call
    status: str  # "decrypted", "partly decrypted", "not decrypted", "no MPPE"
    reason: str = ""  # why not, in words
    handshake: Handshake | None = None
    key_bits: int | None = None
    stateless: bool | None = None
    guessed: bool = False  # key length and mode found by trial, no CCP Configure-Ack seen
    verified: str = ""  # how the credential was checked, in words
    directions: dict[str, DirectionResult] = field(default_factory=dict)
    clear: int = 0  # cleartext IP packets

    @property
    def decrypted(self) -> int:
        return sum(d.decrypted for d in self.directions.values())


@dataclass
class Decryption:
    """The result of ``decrypt``: per frame number the PPP plaintext of every MPPE packet
    decrypted (protocol field and information, as MPPE encrypted them), per call what
    happened, and the inner IP packets (decrypted or in the clear) in capture order."""

    calls: list[CallResult]
    plaintexts: dict[int, bytes]
    packets: list[tuple[int, Decimal, bytes]]  # frame number, timestamp, IP packet

    @property
    def decrypted(self) -> int:
        return sum(c.decrypted for c in self.calls)


def decrypt(
    path: str | Path | Scan, credentials: Sequence[Credential], user: str | None = None
) -> Decryption:
    """Decrypt every call of a capture whose MS-CHAPv2 handshake one of ``credentials`` opens
    (only ``user``'s handshakes with ``user``)."""
    found = path if isinstance(path, Scan) else scan(path)
    results, plaintexts, packets = [], {}, []
    for call in found.calls:
        result = _decrypt_call(call, credentials, user, plaintexts, packets)
        for packet, inner in call.clear:
            packets.append((packet.number, packet.ts, inner))
        result.clear = len(call.clear)
        results.append(result)
    packets.sort(key=lambda p: p[0])
    return Decryption(results, plaintexts, packets)


def _directions(call: Call) -> dict[str, DirectionResult]:
    directions = {}
    for flow in call.flows:
        directions.setdefault(flow.sender, DirectionResult(flow.sender, flow.receiver))
    for epoch in call.epochs:
        directions[epoch.sender].mppe += len(epoch.packets)
    return directions


def _decrypt_call(
    call: Call,
    credentials: Sequence[Credential],
    user: str | None,
    plaintexts: dict[int, bytes],
    packets: list,
) -> CallResult:
    result = CallResult(call, "not decrypted", directions=_directions(call))
    if not call.epochs:
        result.status = "no MPPE"
        result.reason = "no GRE in the capture" if not call.flows else "no MPPE packets"
        return result
    handshakes = call.handshakes
    if not handshakes:
        return _fail_all(result, "no MS-CHAPv2 handshake in the capture for this call")
    if user is not None:
        handshakes = [h for h in handshakes if user_matches(h.user, user)]
        if not handshakes:
            names = ", ".join(sorted({h.user_text for h in call.handshakes}))
            return _fail_all(result, f"user not selected: the handshake is {names}'s")
    for epoch in call.epochs:
        direction = result.directions[epoch.sender]
        handshake, candidates = _keying(handshakes, epoch.packets[0].number, credentials)
        result.handshake = result.handshake or handshake
        if not candidates:
            reason = f"credential does not match user {handshake.user_text}'s handshake"
            if not any(c.applies_to(handshake.user) for c in credentials):
                reason = f"no credential for user {handshake.user_text}"
            direction.fail(reason, len(epoch.packets))
            continue
        key_bits, stateless = _parameters(call, epoch)
        from_client = epoch.sender == handshake.client
        outcome = None
        for nt_hash, verified in candidates:
            outcome = _decrypt_epoch(epoch, handshake, nt_hash, key_bits, stateless, from_client)
            # Without a Challenge only the plaintext can tell whether a credential fits.
            if outcome is not None and not verified and not any(d[2] for d in outcome[0]):
                outcome = None
            if outcome is not None:
                break
        if outcome is None:
            if all(verified for _, verified in candidates):
                reason = "key length and mode not found (no CCP Configure-Ack in the capture)"
            else:
                reason = (
                    f"credential does not match user {handshake.user_text}'s handshake "
                    "(no Challenge in the capture, and nothing decrypted to a valid packet)"
                )
            direction.fail(reason, len(epoch.packets))
            continue
        done, key_bits, stateless, guessed = outcome
        result.verified = _verification(handshake, nt_hash, verified)
        result.key_bits, result.stateless = key_bits, stateless
        result.guessed = result.guessed or guessed
        for packet, plaintext, inner, reason in done:
            if plaintext is None:
                direction.fail(reason)
                continue
            plaintexts[packet.number] = plaintext
            if inner is not None:
                direction.decrypted += 1
                packets.append((packet.number, packet.ts, inner))
            elif is_network_protocol(split_plaintext(plaintext)[0]):
                direction.not_ip += 1
            else:
                direction.invalid += 1
    total = call.mppe_packets
    decrypted = sum(d.decrypted + d.not_ip for d in result.directions.values())
    if decrypted and decrypted == total:
        result.status = "decrypted"
    elif decrypted:
        result.status = "partly decrypted"
    if result.status != "decrypted":
        reasons = [r for d in result.directions.values() for r in d.reasons]
        invalid = sum(d.invalid for d in result.directions.values())
        if invalid:
            reasons.append(f"{invalid} decrypted to no valid IP packet")
        result.reason = "; ".join(dict.fromkeys(reasons))
    return result


def _fail_all(result: CallResult, reason: str) -> CallResult:
    result.reason = reason
    for epoch in result.call.epochs:
        result.directions[epoch.sender].fail(reason, len(epoch.packets))
    return result


def _keying(
    handshakes: list[Handshake], frame: int, credentials: Sequence[Credential]
) -> tuple[Handshake, list[tuple[bytes, bool]]]:
    """The handshake whose keys packets from ``frame`` on use, and the NT hashes to decrypt
    with (each with whether it was verified against the NT-Response). Of the handshakes
    before ``frame``, the latest first: one a credential opens and whose Success's
    authenticator response agrees, else one it opens with no Success to disagree and no
    Failure, else one it opens at all; where none has a Challenge to check against, the
    latest without one with every credential for its user (decryption tells). With none of
    these, the latest that did not fail, and no credential."""
    before = [h for h in handshakes if h.response_frame < frame] or handshakes
    opened: list[tuple[int, Handshake, bytes]] = []
    for handshake in reversed(before):
        for credential in (c for c in credentials if c.applies_to(handshake.user)):
            if handshake.opened_by(credential.nt_hash):
                agrees = handshake.authenticator_matches(credential.nt_hash)
                rank = 0 if agrees else 1 if agrees is None and not handshake.failure else 2
                opened.append((rank, handshake, credential.nt_hash))
                break
    if opened:
        _, handshake, nt_hash = min(opened, key=lambda o: o[0])  # the latest of the best rank
        return handshake, [(nt_hash, True)]
    for handshake in reversed(before):
        applicable = [c for c in credentials if c.applies_to(handshake.user)]
        if handshake.authenticator_challenge is None and applicable:
            return handshake, [(c.nt_hash, False) for c in applicable]
    accepted = [h for h in before if h.failure is None]
    return (accepted or before)[-1], []


def _verification(handshake: Handshake, nt_hash: bytes, verified: bool) -> str:
    if not verified:
        return "decrypts to valid packets (no Challenge in the capture to check it against)"
    agrees = handshake.authenticator_matches(nt_hash)
    if agrees is None:
        return "matches the NT-Response"
    if agrees:
        return "matches the NT-Response and the server's authenticator response"
    return "matches the NT-Response, but the server's authenticator response does not agree"


def _parameters(call: Call, epoch: Epoch) -> tuple[int | None, bool | None]:
    """The epoch's own negotiation, else the other side's latest one before it (MPPE is
    negotiated alike both ways in practice)."""
    if epoch.key_bits is not None:
        return epoch.key_bits, epoch.stateless
    first = epoch.packets[0].number
    others = [
        e
        for e in call.epochs
        if e.sender != epoch.sender and e.key_bits is not None and e.packets[0].number <= first
    ]
    if others:
        return others[-1].key_bits, others[-1].stateless
    return None, epoch.stateless


def _sending_order(packets: list[GrePacket], stateless: bool) -> list[tuple[int, GrePacket]]:
    """The packets in the order a receiver takes them: a stateless one in capture order (each
    key follows from its count alone); a stateful one in the order the sender encrypted
    them, by coherency count unwrapped (12 bits) against the latest count within the window
    ahead, so that reordered packets go back in place and a count far off (an altered
    copy) moves nothing."""
    ordered, reference, stray = [], None, None
    for packet in packets:
        count = _mppe_header(packet)[1]
        if reference is None:
            extended = reference = count
        else:
            delta = (count - reference) % mppe.COUNT_SPACE
            if delta >= mppe.COUNT_SPACE // 2:
                delta -= mppe.COUNT_SPACE
            extended = reference + delta
            continues = stray is not None and count == (stray + 1) % mppe.COUNT_SPACE
            if 0 < delta <= mppe.STATELESS_WINDOW or (delta > 0 and continues):
                reference, stray = extended, None
            elif delta > 0:
                stray = count
        ordered.append((extended, packet))
    if not stateless:
        ordered.sort(key=lambda item: item[0])
    return ordered


def _mppe_header(packet: GrePacket) -> tuple[int, int]:
    info = ppp.split(packet.ppp)[1]
    if len(info) < 2:
        return 0, 0
    return mppe.parse_header(info)


def _decrypt_epoch(
    epoch: Epoch,
    handshake: Handshake,
    nt_hash: bytes,
    key_bits: int | None,
    stateless: bool | None,
    from_client: bool,
):
    """Decrypt one key stream. Returns (per packet: packet, plaintext or None, inner IP packet
    or None, reason), key bits, stateless, whether those were guessed; None if no key length
    and mode decrypts anything."""
    guessed = key_bits is None
    candidates = [(key_bits, stateless)] if not guessed else KEY_CANDIDATES
    if guessed and stateless is not None:
        candidates = [c for c in candidates if c[1] == stateless]
    best = None
    for bits, mode in candidates:
        start = mppe.session_start_keys(nt_hash, handshake.nt_response, bits)
        key = start["client_to_server" if from_client else "server_to_client"]
        variants = [False]
        # A stateful sender's reset is where implementations differ: the RFC's sender only
        # re-initializes RC4, the Linux kernel's also changes the key. Try both, keep the
        # one that yields valid packets.
        ordered = _sending_order(epoch.packets, mode)
        if not mode and _has_reset(ordered):
            variants.append(True)
        for rekey in variants:
            sample = ordered[:GUESS_SAMPLE] if guessed else ordered
            done = _decrypt_in_sending_order(sample, key, bits, mode, rekey)
            score = sum(inner is not None for _, _, inner, _ in done)
            if best is None or score > best[0]:
                best = (score, bits, mode, rekey, done)
    if best is None or (guessed and best[0] == 0):
        return None
    score, bits, mode, rekey, done = best
    if guessed:
        key = mppe.session_start_keys(nt_hash, handshake.nt_response, bits)[
            "client_to_server" if from_client else "server_to_client"
        ]
        done = _decrypt_in_sending_order(
            _sending_order(epoch.packets, mode), key, bits, mode, rekey
        )
    return sorted(done, key=lambda d: d[0].number), bits, mode, guessed


def _has_reset(ordered: list[tuple[int, GrePacket]]) -> bool:
    """A flushed packet that is neither the first nor a flag packet: a reset happened."""
    for _, packet in ordered[1:]:
        flags, count = _mppe_header(packet)
        if flags & MPPE_FLAG_FLUSHED and count & 0xFF != 0xFF:
            return True
    return False


def _decrypt_in_sending_order(
    ordered: list[tuple[int, GrePacket]], key: bytes, bits: int, stateless: bool, rekey: bool
) -> list[tuple[GrePacket, bytes | None, bytes | None, str]]:
    cipher = mppe.MppeCipher(
        key, bits, stateless, rekey_on_flush=rekey, window=mppe.STATELESS_WINDOW
    )
    seen: dict[int, tuple[bytes, bytes | None, str]] = {}
    done = []
    for extended, packet in ordered:
        body = ppp.split(packet.ppp)[1]
        known = seen.get(extended)
        if known is not None and known[0] == body:
            # The same packet twice (a GRE duplicate): the same plaintext.
            plaintext, reason = known[1], known[2]
        elif known is not None and known[1] is not None:
            # A sender never sends two packets with one count: the first decrypted is it.
            plaintext, reason = None, COUNT_TAKEN
        else:
            plaintext, reason = None, ""
            flags = mppe.parse_header(body)[0] if len(body) >= 2 else 0
            if not flags & MPPE_FLAG_ENCRYPTED:
                reason = "MPPE packet without the D (encrypted) bit"
            else:
                try:
                    plaintext = cipher.decrypt(body, mppe.plausible_ppp)
                except mppe.MppeError as exc:
                    reason = str(exc)
            seen[extended] = (body, plaintext, reason)
        inner = None
        if plaintext is not None:
            inner = inner_packet(*split_plaintext(plaintext))
        done.append((packet, plaintext, inner, reason))
    return done


_LAST_SECOND = Decimal(2**32 - 1)


def write_packets(packets: Iterable[tuple[int, Decimal, bytes]], out: str | Path) -> int:
    """Write IP packets as a raw-IP pcap (link type 101) with their timestamps; nanosecond
    resolution if any timestamp needs it. Returns the number written."""
    packets = list(packets)
    nano = any((ts * 1_000_000) % 1 for _, ts, _ in packets)
    with open(out, "wb") as f:
        writer = dpkt.pcap.Writer(f, snaplen=OUTPUT_SNAPLEN, linktype=OUTPUT_LINKTYPE, nano=nano)
        for _, ts, packet in packets:
            # A pcap record holds 32-bit seconds: a timestamp outside is clamped to fit.
            writer.writepkt(packet, ts=min(max(ts, Decimal(0)), _LAST_SECOND))
    return len(packets)
