"""What the decryption tools print (never a credential): the handshakes of a capture in the
formats offline crackers read, a wordlist tried against them, and what decryption did with each
call; and the wordlist itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from . import mppe
from .credentials import password_text
from .decrypt import Decryption, DirectionResult
from .tunnels import Handshake, Scan


@dataclass
class WordlistResult:
    opened: dict[int, int]  # handshake number -> number (from 1) of the line that opens it
    tried: int  # lines tried


def try_wordlist(handshakes: Sequence[Handshake], lines: Iterable[bytes]) -> WordlistResult:
    """Try each line (its line ending cut) as a password against every handshake that has a
    Challenge (each Challenge remembered with its identifier, where a copy gave several),
    until every one is open."""
    targets = [
        (h, [mppe.challenge_hash(h.peer_challenge, c[0], h.user) for c in h.challenges])
        if h.challenges
        else (h, [h.challenge_hash])
        for h in handshakes
        if h.authenticator_challenge is not None
    ]
    opened: dict[int, int] = {}
    tried = 0
    for number, line in enumerate(lines, 1):
        if len(opened) == len(targets):
            break
        tried = number
        nt_hash = mppe.nt_password_hash(password_text(line.rstrip(b"\r\n")))
        for handshake, challenge in targets:
            if handshake.number in opened:
                continue
            if any(mppe.challenge_response(c, nt_hash) == handshake.nt_response for c in challenge):
                opened[handshake.number] = number
                handshake.opened_by(nt_hash)  # takes the Challenge it answers
    return WordlistResult(opened, tried)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def handshake_report(found: Scan) -> list[str]:
    """Every handshake, and the lines hashcat (mode 5500) and John the Ripper (mschapv2) read."""
    lines = []
    for handshake in found.handshakes:
        lines.append(f"handshake {handshake.number}: {handshake.describe()}")
        hashcat, john = handshake.hashcat(), handshake.john()
        if hashcat is None or john is None:
            lines.append("  no Challenge in the capture: nothing for a cracker to check against")
            continue
        lines.append(f"  hashcat -m 5500: {hashcat}")
        lines.append(f"  john --format=mschapv2: {john}")
    return lines


def wordlist_report(found: Scan, result: WordlistResult, name: str) -> list[str]:
    lines = [f"wordlist {name}: {_plural(result.tried, 'line')} tried"]
    for handshake in found.handshakes:
        line = result.opened.get(handshake.number)
        who = f"handshake {handshake.number} (user {handshake.user_text})"
        if handshake.authenticator_challenge is None:
            lines.append(f"  {who}: not tried (no Challenge in the capture)")
        elif line is None:
            lines.append(f"  {who}: not opened")
        else:
            lines.append(f"  {who}: opened by line {line}")
    return lines


def decryption_report(found: Scan, result: Decryption) -> list[str]:
    """Per call: its handshake, whether the credential matched, what was decrypted each way
    and why not."""
    lines = []
    for call in result.calls:
        lines.append(f"call {call.call.number}: {call.call.describe()}")
        handshake = call.handshake
        if handshake is not None:
            line = f"  user {handshake.user_text}, handshake {handshake.number} "
            line += f"(frames {handshake.frames()})"
            if call.verified:
                line += f": the credential {call.verified}"
            lines.append(line)
        if call.key_bits is not None:
            mode = "stateless" if call.stateless else "stateful"
            how = " (found by trial: no CCP Configure-Ack in the capture)" if call.guessed else ""
            lines.append(f"  MPPE {call.key_bits}-bit {mode}{how}")
        for direction in call.directions.values():
            lines.append(f"  {direction.sender} -> {direction.receiver}: {_direction(direction)}")
        if call.clear:
            lines.append(f"  {_plural(call.clear, 'IP packet')} in the clear")
        status = call.status if not call.reason else f"{call.status}: {call.reason}"
        lines.append(f"  {status}")
    return lines


def _direction(direction: DirectionResult) -> str:
    if not direction.mppe:
        return "no MPPE packets"
    text = f"{direction.decrypted} of {_plural(direction.mppe, 'MPPE packet')} decrypted to IP"
    if direction.not_ip:
        text += f", {direction.not_ip} to other PPP protocols (not written)"
    if direction.invalid:
        text += f", {direction.invalid} to no valid packet"
    for reason, count in direction.reasons.items():
        text += f"; {count} not decrypted: {reason}"
    return text
