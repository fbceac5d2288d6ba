"""The rules of the expected analysis: what an analyzer must conclude from what a capture
shows, stated once for the synthesized captures' truth (``capture``) and for the truth of
captures we did not synthesize (``reading``). Sequence analysis per call direction (lost,
duplicate, out of order, in serial arithmetic), which side's GRE came within the grace period
and the firewall diagnosis of a call whose GRE did not, the notices a call deserves, and how
a call's ending is worded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .constants import (
    AUTH_MSCHAP_V2,
    CDN_RESULTS,
    GRE_GRACE,
    ICRP_RESULTS,
    OCRP_RESULTS,
    WEAK_AUTH,
)

SEQ_MOD = 1 << 32
SEQ_WINDOW = 3000  # how far from the highest confirmed a number is analysed (RFC 3550 A.1: 3000)
SEQ_CONFIRM = 2  # the largest step between neighbours of a run of numbers seen
SEQ_RUN = 3  # a number is confirmed in a run of this many seen numbers (or two, from the first)
SEQ_REACH = (SEQ_RUN - 1) * SEQ_CONFIRM  # how far a run's new members can be from a new number
RESTART_STEP = 16  # how far ahead of a stray a number may be to make it a restart
RESTART_PROBATION = 8  # for how many packets a stray may still become a restart
RESTART_IDLE = 60.0  # seconds of silence after which a number that does not advance is a stray


def gre_seen(connected_at: float, first_client: float | None, first_server: float | None) -> str:
    """Which sides sent GRE within the grace period after the call was connected: both,
    client, server or none."""
    limit = connected_at + GRE_GRACE + 1e-9
    client = first_client is not None and first_client <= limit
    server = first_server is not None and first_server <= limit
    if client and server:
        return "both"
    return "client" if client else "server" if server else "none"


def gre_blocked(seen: str, connected_at: float, watched_until: float) -> str | None:
    """The firewall diagnosis of a connected call whose GRE is missing one or both ways.

    Only a call watched for the whole grace period gets one: one cleared (or the capture's
    PPTP traffic ending) sooner never had the chance to show its GRE."""
    if watched_until < connected_at + GRE_GRACE:
        return None
    return {
        "both": None,
        "client": "no_gre_from_server",
        "server": "no_gre_from_client",
        "none": "no_gre_both_ways",
    }[seen]


def call_notices(
    gre_problem: str | None,
    nat_editor: bool,
    auth: str,
    cleartext: bool,
    extra: list[str],
    user: str | None = None,
) -> list[str]:
    """The Zeek notices a call deserves, in the order the truth lists them: an MS-CHAPv2
    handshake seen whole (its Response names the user) can be cracked offline."""
    found = ["GRE_Blocked"] if gre_problem else []
    if nat_editor:
        found.append("NAT_Detected")
    if auth in WEAK_AUTH:
        found.append("Weak_Authentication")
    if auth == AUTH_MSCHAP_V2 and user is not None:
        found.append("MSCHAPv2_Handshake")
    if cleartext:
        found.append("Cleartext_Tunnel")
    return found + extra


# Call-Disconnect-Notify result 0 is not in RFC 2637, but Windows sends it.
DISCONNECT_NAMES = {0: "None given", **CDN_RESULTS}


def disconnect_ending(result: int) -> str:
    return f"Call-Disconnect-Notify: {DISCONNECT_NAMES.get(result, str(result))}"


def refusal_ending(kind: str, result: int) -> str:
    names = ICRP_RESULTS if kind == "incoming" else OCRP_RESULTS
    return f"refused: {names.get(result, str(result))}"


def tcp_close_text(fin: bool, by_client: bool, frame: int) -> str:
    side = "client" if by_client else "server"
    return f"TCP {'FIN' if fin else 'RST'} from the {side} in frame {frame}"


def call_ending(ended: str | None, tcp_closed: str | None, lcp_terminated: int | None) -> str:
    """How a call ended, as the analyzers word it: the control message that ended it (its
    Disconnect-Notify, Clear-Request, Stop-Control-Connection-Request or refusal), else its
    control connection's TCP close, else PPP's LCP Terminate, else that it was still up."""
    if ended:
        return ended
    if tcp_closed:
        return f"{tcp_closed}, no Call-Disconnect-Notify"
    if lcp_terminated is not None:
        return f"LCP Terminate in frame {lcp_terminated}, no Call-Disconnect-Notify"
    return "still up at the end of the capture"


class SequenceTracker:
    """Sequence analysis for one call direction, the ground truth analyzers are held to.

    Numbers compare in 32-bit serial arithmetic (RFC 1982), so the wrap is not a loss. A number
    ahead of the highest seen by ``d`` reports ``d - 1`` lost numbers, one already seen is a
    duplicate, an unseen one behind the highest is out of order. But one packet is not trusted
    on its own (RFC 3550 A.1 asks for two in sequence before it believes a source):

    - the figures count the numbers never seen between the lowest and the highest *confirmed*
      number, one of a run of ``SEQ_RUN`` numbers seen, each within ``SEQ_CONFIRM`` of the next
      (or of two, one of them the episode's first: the flow starts there, and no loss counts
      before it, where a copy of its first packets may land); a lone number beyond
      the flow's (an altered copy, a forged packet) reports a gap when it comes, but no loss,
      and neither do two that happen to land close together (altered copies of neighbouring
      packets, which a run of three makes rare);
    - a number more than ``SEQ_WINDOW`` from the highest confirmed one (or, after
      ``RESTART_IDLE`` seconds of silence, any that does not advance) is a stray: counted apart,
      it moves nothing, unless a later number continues from it, at most ``RESTART_STEP``
      ahead, before the flow goes on (a number new to it within the window) and within
      ``RESTART_PROBATION`` packets (so a repeat or another stray between them does not hide
      it); then the flow restarted there (a reconnect reusing the Call ID, a peer's reboot) and the
      analysis starts afresh, keeping the earlier episodes' losses.
    """

    def __init__(self) -> None:
        self.duplicates = 0
        self.out_of_order = 0
        self.out_of_window = 0
        self.restarts = 0
        self.earlier_lost = 0  # lost in the episodes before the last restart
        self.packets = 0  # sequenced packets so far
        self.strays: list[tuple[int, int]] = []  # (number, packet index) on probation
        self.last_time: float | None = None
        self._start(None)

    def _start(self, seq: int | None) -> None:
        """A new episode, from ``seq`` (None: nothing seen yet)."""
        self.first = self.highest = self.start = seq
        self.seen: set[int] = set() if seq is None else {seq}
        self.first_confirmed: int | None = None
        self.highest_confirmed: int | None = None

    def observe(self, seq: int, time: float | None = None) -> dict[str, int]:
        self.packets += 1
        self.strays = [(n, i) for n, i in self.strays if self.packets - i <= RESTART_PROBATION]
        last_time = self.last_time
        if time is not None:
            self.last_time = time
        idle = time is not None and last_time is not None and time - last_time >= RESTART_IDLE
        if self.highest is None:
            self._start(seq)
            return {}
        continued = [n for n, _ in self.strays if 0 < (seq - n) % SEQ_MOD <= RESTART_STEP]
        if continued:
            self.earlier_lost = self.lost
            self.out_of_window -= 1  # the stray was the new episode's first number
            self.restarts += 1
            self.strays = []
            self._start(continued[-1])
            return {"pptp_gre.analysis.restart": 1, **self._in_window(seq)}
        reference = self.highest if self.highest_confirmed is None else self.highest_confirmed
        ahead = (seq - reference) % SEQ_MOD
        behind = (reference - seq) % SEQ_MOD
        if (ahead > SEQ_WINDOW and behind > SEQ_WINDOW) or (idle and not 0 < ahead <= SEQ_WINDOW):
            self.out_of_window += 1
            self.strays.append((seq, self.packets))
            return {"pptp_gre.analysis.out_of_window": 1}
        verdict = self._in_window(seq)
        if "pptp_gre.analysis.duplicate" not in verdict:
            self.strays = []  # the flow went on: no stray before this is a restart
        return verdict

    def _in_window(self, seq: int) -> dict[str, int]:
        if seq in self.seen:
            self.duplicates += 1
            return {"pptp_gre.analysis.duplicate": 1}
        self.seen.add(seq)
        below, members_below = self._run_edge(seq, -1)
        above, members_above = self._run_edge(seq, 1)
        needed = SEQ_RUN - 1 if self.start in (below, above) else SEQ_RUN
        # Losses count from the episode's first number on: a run behind it (a copy that landed
        # there, or the end of what came before a capture begun mid-flow) moves no edge below it.
        behind_start = (self.start - above) % SEQ_MOD
        if 1 + members_below + members_above >= needed and not 0 < behind_start < SEQ_MOD // 2:
            if 0 < (self.start - below) % SEQ_MOD < SEQ_MOD // 2:
                below = self.start
            self._confirm(below)
            self._confirm(above)
        ahead = (seq - self.highest) % SEQ_MOD
        if 0 < ahead < SEQ_MOD // 2:
            self.highest = seq
            return {"pptp_gre.analysis.lost": ahead - 1} if ahead > 1 else {}
        self.out_of_order += 1
        if (self.first - seq) % SEQ_MOD < SEQ_MOD // 2:
            self.first = seq  # behind the first one seen: the numbers start here
        return {"pptp_gre.analysis.out_of_order": 1}

    def _run_edge(self, seq: int, way: int) -> tuple[int, int]:
        """The farthest number of the run through ``seq`` (seen) one ``way`` (-1 down, +1 up),
        and how many it has that way; the walk stops past ``SEQ_REACH``, where every number
        already ran with two others that way and was confirmed then."""
        edge, members = seq, 0
        while (seq - edge) * -way % SEQ_MOD <= SEQ_REACH:
            step = next(
                (d for d in range(1, SEQ_CONFIRM + 1) if (edge + way * d) % SEQ_MOD in self.seen),
                None,
            )
            if step is None:
                break
            edge, members = (edge + way * step) % SEQ_MOD, members + 1
        return edge, members

    def _confirm(self, seq: int) -> None:
        high, low = self.highest_confirmed, self.first_confirmed
        if high is None or 0 < (seq - high) % SEQ_MOD < SEQ_MOD // 2:
            self.highest_confirmed = seq
        if low is None or 0 < (low - seq) % SEQ_MOD < SEQ_MOD // 2:
            self.first_confirmed = seq

    def acknowledges(self, ack: int) -> bool:
        """Whether ``ack`` acknowledges a number of this direction's current episode: at most
        ``SEQ_WINDOW`` behind the highest and not behind the first."""
        if self.first is None or self.highest is None:
            return False
        span = min(SEQ_WINDOW, (self.highest - self.first) % SEQ_MOD)
        return (self.highest - ack) % SEQ_MOD <= span

    @property
    def confirmed(self) -> bool:
        """Whether the current episode has a confirmed number."""
        return self.highest_confirmed is not None

    @property
    def lost(self) -> int:
        """Numbers never seen between the lowest and the highest confirmed, in every episode."""
        low, high = self.first_confirmed, self.highest_confirmed
        if low is None or high is None:
            return self.earlier_lost
        span = (high - low) % SEQ_MOD + 1
        inside = sum(1 for seq in self.seen if (seq - low) % SEQ_MOD < span)
        return self.earlier_lost + span - inside


@dataclass
class Direction:
    """GRE counters for one direction of a call."""

    packets: int = 0
    bytes: int = 0
    next_seq: int = 0
    highest_received: int | None = None  # what this side acknowledges
    acked: int | None = None
    data_sent: int = 0  # data packets so far; the MPPE coherency count
    first_time: float | None = None  # when this side's first GRE packet was seen
    tracker: SequenceTracker = field(default_factory=SequenceTracker)
    paired_call_id: int | None = None  # GRE without a call: the reverse flow's Call ID

    def summary(self) -> dict:
        return {
            "packets": self.packets,
            "bytes": self.bytes,
            "lost": self.tracker.lost,
            "duplicate": self.tracker.duplicates,
            "out_of_order": self.tracker.out_of_order,
            "out_of_window": self.tracker.out_of_window,
            "restarts": self.tracker.restarts,
        }


def fresh(verdict: dict) -> bool:
    """Whether a packet's sequence verdict makes it new to its flow: a repeated or stray number
    is likely a damaged copy, whose PPP protocol is neither listed nor taken as IP in clear."""
    return not (
        "pptp_gre.analysis.duplicate" in verdict or "pptp_gre.analysis.out_of_window" in verdict
    )


def pair_flows(flow: Direction, call_id: int, reverse: Iterable[tuple[int, Direction]], ack: int):
    """Pair the GRE-only ``flow`` (carrying ``call_id``) with the first of the ``reverse`` flows
    (Call ID, flow; from its receiver to its sender, in the order first seen) whose numbers its
    acknowledgment ``ack`` acknowledges, neither paired yet and both with a confirmed number:
    the two ways of one tunnel whose control connection the capture lacks (two lone packets,
    such as altered copies whose Call IDs changed, are none)."""
    if flow.paired_call_id is not None or not flow.tracker.confirmed:
        return
    for other_id, other in reverse:
        if (
            other.paired_call_id is None
            and other.tracker.confirmed
            and other.tracker.acknowledges(ack)
        ):
            flow.paired_call_id, other.paired_call_id = other_id, call_id
            return
