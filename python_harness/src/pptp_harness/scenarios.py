"""Named, deterministic scenarios: each builds one capture with its ground truth.

The TCP client is the PNS (the dialling VPN client) and the server on port 1723 the PAC, as in
pptp-linux ↔ pptpd and Windows ↔ RRAS. Every message goes from the side RFC 2637 names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import dpkt

from . import control as ctl
from . import ppp
from .capture import (
    Call,
    Capture,
    ControlConnection,
    Login,
    Pdu,
    gre_frame,
    host,
    link,
    orphan_gre,
    pdu,
)
from .constants import (
    AUTH_CHAP_MD5,
    AUTH_EAP,
    AUTH_MSCHAP_V1,
    AUTH_MSCHAP_V2,
    AUTH_PAP,
    GRE_FLAG_KEY,
    GRE_FLAG_STRICT_ROUTE,
    CpCode,
)
from .gre import EnhancedGRE, enhanced_gre

CLIENT = host("client", "192.0.2.10")
CLIENT_B = host("client-b", "192.0.2.11")
SERVER = host("server", "198.51.100.1")
NAT = host("nat", "203.0.113.5")
SERVER_PUBLIC = host("server-public", "203.0.113.80")


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    valid: bool
    build: Callable[[Capture], None]

    def capture(self) -> Capture:
        cap = Capture(self.name, self.description, valid=self.valid)
        self.build(cap)
        return cap


SCENARIOS: dict[str, Scenario] = {}


def scenario(name: str, description: str, valid: bool = True) -> Callable:
    def register(build: Callable[[Capture], None]) -> Callable[[Capture], None]:
        SCENARIOS[name] = Scenario(name, description, valid, build)
        return build

    return register


def connect(cap: Capture, client=CLIENT, port: int = 40000) -> ControlConnection:
    conn = ControlConnection(cap, client, SERVER, port)
    conn.start()
    return conn


def lcp_echo(call: Call, from_client: bool, seq: int) -> None:
    """A sequenced GRE packet carrying an LCP Echo-Request (the usual PPP keep-alive)."""
    call.gre(from_client, ppp.lcp_echo(identifier=seq & 0xFF), seq=seq, ack=False)


# -- valid scenarios ---------------------------------------------------------------------------
@scenario("all_message_types", "All 15 control messages, each from the side RFC 2637 says sends it")
def _all_message_types(cap: Capture) -> None:
    conn = connect(cap)
    conn.echo(True, 1)
    conn.echo(False, 0x80000001)
    out = conn.outgoing_call(5, 7, serial=1)
    conn.send(True, ctl.SetLinkInfo(peer_call_id=7, send_accm=0, receive_accm=0))
    inc = conn.incoming_call(6, 8, serial=2)
    conn.send(
        False, ctl.WanErrorNotify(peer_call_id=6, crc_errors=3, framing_errors=1, timeout_errors=2)
    )
    out.clear_by_client()
    inc.disconnect_by_server(result=1)
    conn.stop(by_client=True)


@scenario(
    "outgoing_call", "Outgoing call (OCRQ/OCRP), CHAP-MD5, MPPE, GRE both ways, client clears"
)
def _outgoing_call(cap: Capture) -> None:
    conn = connect(cap)
    call = conn.outgoing_call(1, 32768, serial=10)
    call.ppp_session(AUTH_CHAP_MD5, mppe=True)
    call.lcp_terminate(by_client=True)
    call.clear_by_client()
    conn.stop(by_client=True)


@scenario(
    "incoming_call", "Incoming call (ICRQ/ICRP/ICCN), EAP, MPPE, GRE both ways, server disconnects"
)
def _incoming_call(cap: Capture) -> None:
    conn = connect(cap)
    call = conn.incoming_call(40, 41, serial=11)
    call.ppp_session(AUTH_EAP, mppe=True)
    call.lcp_terminate(by_client=False)
    call.disconnect_by_server(result=4)
    conn.stop(by_client=False, reason=1)


@scenario(
    "two_calls",
    "Two outgoing calls on one control connection (MS-CHAPv1 and MS-CHAPv2), interleaved GRE",
)
def _two_calls(cap: Capture) -> None:
    conn = connect(cap)
    first = conn.outgoing_call(1, 100, serial=1)
    first.ppp_session(AUTH_MSCHAP_V1, mppe=True, data_packets=2)
    second = conn.outgoing_call(2, 101, serial=2)
    second.ppp_session(AUTH_MSCHAP_V2, mppe=True, data_packets=2)
    for n in range(4):
        first.data(n % 2 == 0)
        second.data(n % 2 == 1)
    first.clear_by_client()
    second.clear_by_client()
    conn.stop(by_client=True)


@scenario(
    "segmented_control", "Messages split across TCP segments and several messages per segment"
)
def _segmented_control(cap: Capture) -> None:
    conn = ControlConnection(cap, CLIENT, SERVER, 40000)
    conn.start(
        cuts_request=(10, 100)
    )  # 156-octet SCCRQ in three segments, the first inside the header
    # Echo-Request and Outgoing-Call-Request in one segment, the request's end in the next:
    # the cut falls inside its Call ID.
    ocrq = ctl.OutgoingCallRequest(call_id=9, call_serial_number=3)
    echo_rq, ocrq_frame = conn.send(True, ctl.EchoRequest(identifier=7), ocrq, cuts=(16 + 13,))
    # The replies in one segment too, the second cut at its header's end.
    echo_rp, ocrp_frame = conn.send(
        False,
        ctl.EchoReply(identifier=7),
        ctl.OutgoingCallReply(call_id=90, peer_call_id=9),
        cuts=(20 + 12,),
    )
    link(echo_rq, echo_rp)
    link(ocrq_frame, ocrp_frame)
    call = Call(conn, "outgoing", 9, 90, 3)
    call.established(ocrq_frame, ocrp_frame, 1)
    # Three messages in two segments: SLI, an Echo-Request split in its middle, an Echo-Request.
    sli = ctl.SetLinkInfo(peer_call_id=90)
    _, echo2, echo3 = conn.send(
        True, sli, ctl.EchoRequest(identifier=8), ctl.EchoRequest(identifier=9), cuts=(24 + 6,)
    )
    echo2_rp, echo3_rp = conn.send(False, ctl.EchoReply(identifier=8), ctl.EchoReply(identifier=9))
    link(echo2, echo2_rp)
    link(echo3, echo3_rp)
    call.gre(True, ppp.lcp_configure(identifier=1))
    call.gre(False, ppp.lcp_configure(identifier=1))
    call.clear_by_client()
    conn.stop(by_client=True)


@scenario(
    "gre_flags", "Every valid enhanced-GRE flag combination both ways: K+S, K+S+A, K+A (ack-only)"
)
def _gre_flags(cap: Capture) -> None:
    conn = connect(cap)
    call = conn.outgoing_call(3, 4)
    call.gre(True, ppp.lcp_configure(identifier=1), ack=False)  # K+S: nothing to acknowledge yet
    call.gre(False, ppp.lcp_configure(identifier=1))  # K+S+A
    call.gre(True, None)  # K+A: ack-only
    call.gre(False, ppp.lcp_configure(CpCode.CONFIGURE_ACK, 1), ack=False)  # K+S from the server
    call.gre(True, ppp.lcp_configure(CpCode.CONFIGURE_ACK, 1))  # K+S+A from the client
    call.gre(False, None)  # K+A from the server
    call.clear_by_client()
    conn.stop()


def _numbered(
    cap: Capture, client_seqs: tuple[int, ...], server_seqs: tuple[int, ...] = ()
) -> None:
    """One call whose GRE carries exactly these sequence numbers each way."""
    conn = connect(cap)
    call = conn.outgoing_call(1, 2)
    for seq in client_seqs:
        lcp_echo(call, True, seq)
    for seq in server_seqs:
        lcp_echo(call, False, seq)
    call.clear_by_client()
    conn.stop()


@scenario("sequence_loss", "GRE sequence numbers skip: 2 lost client->server, 1 server->client")
def _sequence_loss(cap: Capture) -> None:
    # 5, 6, 7: a run of three past the gap confirms it (two alone could be altered copies).
    _numbered(cap, (0, 1, 2, 5, 6, 7), (0, 2, 3))


@scenario("sequence_duplicate", "A GRE packet repeated with the same sequence number")
def _sequence_duplicate(cap: Capture) -> None:
    _numbered(cap, (0, 1, 2, 2, 3), (0, 0, 1))


@scenario("sequence_reorder", "GRE packets arriving out of order (3 before 2)")
def _sequence_reorder(cap: Capture) -> None:
    _numbered(cap, (0, 1, 3, 2, 4), (0,))


@scenario(
    "sequence_wrap", "GRE sequence numbers wrapping past 2**32-1, then a loss across the wrap"
)
def _sequence_wrap(cap: Capture) -> None:
    # The client wraps cleanly; the server's 0xFFFFFFFF and 0 are lost across the wrap.
    _numbered(cap, (0xFFFFFFFD, 0xFFFFFFFE, 0xFFFFFFFF, 0, 1, 2), (0xFFFFFFFD, 0xFFFFFFFE, 1, 2, 3))


@scenario(
    "sequence_out_of_window",
    "Stray GRE sequence numbers far from the flow's (damaged or forged copies): counted apart, "
    "never as losses; one real loss client->server",
)
def _sequence_out_of_window(cap: Capture) -> None:
    # 0x80000002, 5004 and 0xFFFFF000 are more than the window from the client's highest; the
    # packet after each does not continue from it, so none is a restart.
    _numbered(cap, (0, 1, 2, 0x80000002, 3, 4, 5004, 5, 0xFFFFF000, 6, 8), (100, 101, 50000, 102))


@scenario(
    "sequence_restart",
    "GRE that restarts with the same Call IDs: the server's numbers jump far ahead and go on "
    "from there (a peer's reboot), and after 120 s of silence the client's start again from 0 "
    "(a reconnect reusing them); each episode has its own loss, none is a duplicate",
)
def _sequence_restart(cap: Capture) -> None:
    conn = connect(cap)
    call = conn.outgoing_call(1, 2)
    for seq in (0, 1, 2, 3):
        lcp_echo(call, True, seq)
    for seq in (10, 11, 12, 900000, 900001, 900003):
        lcp_echo(call, False, seq)
    cap.wait(120)
    for seq in (0, 1, 3, 4):
        lcp_echo(call, True, seq)
    call.clear_by_client()
    conn.stop()


@scenario(
    "nat_call_id_collision",
    "Two clients behind one NAT address use the same Call ID to one server (no NAT editor)",
)
def _nat_call_id_collision(cap: Capture) -> None:
    first_conn = connect(cap, NAT, 40001)
    first = first_conn.outgoing_call(1, 10)
    first.client_ip = NAT
    first.exchange(
        [(True, ppp.lcp_configure(identifier=1)), (False, ppp.lcp_configure(identifier=1))]
    )
    second_conn = connect(cap, NAT, 40002)
    second = second_conn.outgoing_call(1, 11)
    second.client_ip = NAT
    cap.frames[second.first_frame - 1].truth["problems"].append("call_id_collision")
    second.extra_notices.append("Call_ID_Collision")
    # Server->client GRE now carries Call ID 1 to the NAT address for both calls: an analyzer
    # can only tie it to the newer call, which is what the ground truth says.
    second.exchange(
        [(True, ppp.lcp_configure(identifier=1)), (False, ppp.lcp_configure(identifier=1))]
    )
    first.clear_by_client()
    second.clear_by_client()
    first_conn.stop()
    second_conn.stop()


@scenario(
    "mschapv2_mppe",
    "A realistic session: MS-CHAPv2, MPPE-128 stateless, ACFC/PFC, ack-only GRE, LCP terminate",
)
def _mschapv2_mppe(cap: Capture) -> None:
    conn = connect(cap)
    call = conn.outgoing_call(0, 30720, serial=0)  # Call ID 0, as pptp-linux sends
    conn.send(False, ctl.SetLinkInfo(peer_call_id=0))  # real PACs send it too
    call.ppp_session(AUTH_MSCHAP_V2, mppe=True, data_packets=12)
    call.lcp_terminate(by_client=True)
    call.clear_by_client()
    conn.stop(by_client=True)


@scenario("unencrypted_session", "PAP (cleartext password) and IP inside PPP without CCP/MPPE")
def _unencrypted_session(cap: Capture) -> None:
    conn = connect(cap)
    call = conn.outgoing_call(1, 24)
    call.ppp_session(AUTH_PAP, mppe=False, data_packets=6, compression=False)
    call.lcp_terminate()
    call.clear_by_client()
    conn.stop()


@scenario("echo_keepalive", "Echo-Request every 60 s from both sides, each matched by Identifier")
def _echo_keepalive(cap: Capture) -> None:
    conn = connect(cap)
    call = conn.outgoing_call(1, 2)
    call.gre(True, ppp.lcp_configure(identifier=1))
    call.gre(False, ppp.lcp_configure(identifier=1))
    for n in range(3):
        cap.wait(60)
        conn.echo(True, n + 1)
        conn.echo(False, 0x1000 + n)
    call.clear_by_client()
    conn.stop()


@scenario(
    "teardown_client_first", "Client tears down: LCP Terminate, CCRQ, CDN, StopCCRQ/RP, client FIN"
)
def _teardown_client_first(cap: Capture) -> None:
    conn = connect(cap)
    call = conn.outgoing_call(1, 2)
    call.ppp_session(AUTH_MSCHAP_V2, mppe=True, data_packets=2)
    call.lcp_terminate(by_client=True)
    call.clear_by_client()
    conn.stop(by_client=True, reason=1)


@scenario(
    "teardown_server_first",
    "Server shuts down: LCP Terminate, unsolicited CDN, StopCCRQ from server, server FIN",
)
def _teardown_server_first(cap: Capture) -> None:
    conn = connect(cap)
    call = conn.outgoing_call(1, 2)
    call.ppp_session(AUTH_MSCHAP_V2, mppe=True, data_packets=2)
    call.lcp_terminate(by_client=False)
    call.disconnect_by_server(result=3)
    conn.stop(by_client=False, reason=3)


@scenario(
    "failed_call_attempts",
    "Six Outgoing-Call-Requests from one client, each refused with result Busy",
)
def _failed_call_attempts(cap: Capture) -> None:
    conn = connect(cap)
    for n in range(6):
        conn.outgoing_call(n + 1, 0, result=4)
    conn.stop()
    cap.notices.append("Failed_Call_Attempts")


@scenario(
    "echo_flood",
    "30 Echo-Requests packed into one TCP segment (the CVE-2022-23270 exploit's pattern)",
)
def _echo_flood(cap: Capture) -> None:
    conn = connect(cap)
    identifiers = range(1, 31)
    requests = conn.send(True, *(ctl.EchoRequest(identifier=n) for n in identifiers))
    replies = conn.send(False, *(ctl.EchoReply(identifier=n) for n in identifiers))
    for request, reply in zip(requests, replies):
        link(request, reply)
    conn.echoes += len(identifiers)
    conn.stop()
    cap.notices.append("Control_Message_Flood")


# -- firewall and NAT diagnostics ---------------------------------------------------------------
def _blocked(cap: Capture, client_sends: bool, server_sends: bool) -> None:
    """A connected call whose PPP negotiation is retried every 3 s by whichever sides' GRE
    gets through, until the client gives up after 30 s and clears the call."""
    conn = connect(cap)
    call = conn.outgoing_call(1, 2)
    for attempt in range(10):
        if client_sends:
            call.gre(True, ppp.lcp_configure(identifier=attempt + 1), ack=False)
        if server_sends:
            call.gre(False, ppp.lcp_configure(identifier=attempt + 1), ack=False)
        cap.wait(3)
    call.clear_by_client(result=2)
    conn.stop()


@scenario(
    "gre_blocked_both_ways",
    "Call connected, then no GRE at all: IP protocol 47 blocked both ways (Windows error 806)",
)
def _gre_blocked_both_ways(cap: Capture) -> None:
    _blocked(cap, client_sends=False, server_sends=False)


@scenario(
    "gre_blocked_server_to_client",
    "Call connected, only the client's GRE is seen: GRE from the server is filtered",
)
def _gre_blocked_server_to_client(cap: Capture) -> None:
    _blocked(cap, client_sends=True, server_sends=False)


@scenario(
    "gre_blocked_client_to_server",
    "Call connected, only the server's GRE is seen: GRE from the client is filtered",
)
def _gre_blocked_client_to_server(cap: Capture) -> None:
    _blocked(cap, client_sends=False, server_sends=True)


@scenario(
    "server_static_nat",
    "A server behind a static NAT: control and GRE both use its public address consistently",
)
def _server_static_nat(cap: Capture) -> None:
    conn = ControlConnection(cap, CLIENT, SERVER_PUBLIC, 40000)
    conn.start()
    call = conn.outgoing_call(1, 64)
    call.ppp_session(AUTH_EAP, mppe=True, data_packets=4)
    call.lcp_terminate()
    call.clear_by_client()
    conn.stop()


def _behind_nat(cap: Capture, call_ids: tuple[int, int], ports: tuple[int, int]) -> None:
    """Two clients behind one NAT address, each with a call to the server."""
    calls = []
    for call_id, port in zip(call_ids, ports):
        conn = connect(cap, NAT, port)
        call = conn.outgoing_call(call_id, 10 + len(calls))
        call.client_ip = NAT
        call.exchange(
            [(True, ppp.lcp_configure(identifier=1)), (False, ppp.lcp_configure(identifier=1))]
        )
        calls.append(call)
    for call in calls:
        call.clear_by_client()
        call.conn.stop()


@scenario(
    "nat_editor_unique_ids",
    "Two clients behind one NAT whose PPTP NAT editor gave their calls distinct Call IDs",
)
def _nat_editor_unique_ids(cap: Capture) -> None:
    _behind_nat(cap, (0x4001, 0x4002), (40001, 40002))


@scenario(
    "nat_editor_linux",
    "Two clients behind a Linux NAT: its PPTP helper set each Call ID to the TCP source port",
)
def _nat_editor_linux(cap: Capture) -> None:
    _behind_nat(cap, (40001, 40002), (40001, 40002))


@scenario(
    "shared_server_call_id",
    "Two clients whose server gave both calls Call ID 0: each client's GRE stays with its call",
)
def _shared_server_call_id(cap: Capture) -> None:
    first = connect(cap, CLIENT, 40001).outgoing_call(1, 0)
    second = connect(cap, CLIENT_B, 40002).outgoing_call(2, 0)
    for call in (first, second, first, second):
        call.exchange(
            [(True, ppp.lcp_configure(identifier=1)), (False, ppp.lcp_configure(identifier=1))]
        )
    for call in (first, second):
        call.clear_by_client()
        call.conn.stop()


@scenario(
    "call_id_reused",
    "One control connection: a PAP call cleared, then a new call that reuses its Call IDs",
)
def _call_id_reused(cap: Capture) -> None:
    conn = connect(cap)
    for _ in range(2):
        call = conn.outgoing_call(5, 6)
        call.ppp_session(AUTH_PAP, mppe=True, data_packets=2)
        call.lcp_terminate()
        call.clear_by_client()
    conn.stop()


@scenario(
    "gre_address_mismatch",
    "The client's GRE arrives from a NAT address, its control connection from its own",
)
def _gre_address_mismatch(cap: Capture) -> None:
    conn = connect(cap)
    call = conn.outgoing_call(1, 2)
    steps = [
        (True, ppp.lcp_configure(identifier=1)),
        (False, ppp.lcp_configure(identifier=1)),
        (True, ppp.lcp_configure(CpCode.CONFIGURE_ACK, 1)),
    ]
    for from_client, frame in steps:
        # Only the client's GRE is translated: an inconsistent NAT on the client's side.
        call.client_ip = NAT if from_client else CLIENT
        sent = call.gre(from_client, frame)
        if from_client:
            sent.truth["problems"].append("gre_address_mismatch")
    call.client_ip = CLIENT
    call.extra_notices.append("GRE_Address_Mismatch")
    call.clear_by_client()
    conn.stop()


# -- malformed scenarios -------------------------------------------------------------------------
def header_only(message: ctl.ControlMessage) -> dict[str, object]:
    return {
        k: v
        for k, v in message.truth().items()
        if k.split(".", 1)[1] in ("length", "type", "magic_cookie", "control_message_type")
    }


# Broken messages, one named defect each, with the truth analyzers must show. The malformed
# scenarios send them, and so do the fuzzer's broken steps.
def bad_magic_echo(identifier: int = 5) -> Pdu:
    return pdu(
        ctl.EchoRequest(identifier=identifier, magic_cookie=0xDEADBEEF), ["bad_magic_cookie"]
    )


def short_echo() -> Pdu:
    """An Echo-Request whose length (12) is shorter than the type needs (16)."""
    message = ctl.EchoRequest(length=12)
    return Pdu(bytes(message)[:12], header_only(message), "Echo-Request", ("length_mismatch",))


def long_echo(identifier: int = 5) -> Pdu:
    """An Echo-Request whose length (20) is longer than the type needs (16)."""
    message = ctl.EchoRequest(length=20, identifier=identifier)
    return Pdu(bytes(message) + bytes(4), message.truth(), "Echo-Request", ("length_mismatch",))


def unknown_type_message() -> Pdu:
    """A control message of type 16."""
    header = ctl.ControlMessage(length=16, control_type=16)
    problems = ("unknown_message_type",)
    return Pdu(bytes(header) + bytes(4), header_only(header), "Unknown (16)", problems)


def reserved_echo(identifier: int = 5) -> Pdu:
    return pdu(ctl.EchoRequest(identifier=identifier, reserved0=1), ["reserved_nonzero"])


def unrequested_reply(call_id: int, peer_call_id: int) -> Pdu:
    """An Outgoing-Call-Reply (from the server) that no request asked for."""
    reply = ctl.OutgoingCallReply(call_id=call_id, peer_call_id=peer_call_id)
    return pdu(reply, ["out_of_state"])


def clear_of_unknown_call(call_id: int) -> Pdu:
    return pdu(ctl.CallClearRequest(call_id=call_id), ["out_of_state"])


def truncated_request() -> Pdu:
    """An Outgoing-Call-Request cut off after 100 of its 168 octets."""
    message = ctl.OutgoingCallRequest(call_id=1)
    return Pdu(bytes(message)[:100], header_only(message), "Outgoing-Call-Request", ("truncated",))


def _then_valid_echo(conn: ControlConnection, identifier: int = 99) -> None:
    """A valid exchange after the broken one: the analyzer must recover."""
    conn.echo(True, identifier)
    conn.stop()


@scenario("malformed_bad_magic", "An Echo-Request with a wrong magic cookie", valid=False)
def _malformed_bad_magic(cap: Capture) -> None:
    conn = connect(cap)
    conn.send(True, bad_magic_echo())
    _then_valid_echo(conn)


@scenario(
    "malformed_length_short",
    "An Echo-Request whose length (12) is shorter than the type needs (16)",
    valid=False,
)
def _malformed_length_short(cap: Capture) -> None:
    conn = connect(cap)
    conn.send(True, short_echo())
    _then_valid_echo(conn)


@scenario(
    "malformed_length_long",
    "An Echo-Request whose length (20) is longer than the type needs (16)",
    valid=False,
)
def _malformed_length_long(cap: Capture) -> None:
    conn = connect(cap)
    conn.send(True, long_echo())
    _then_valid_echo(conn)


@scenario(
    "malformed_truncated",
    "An Outgoing-Call-Request cut off after 100 of 168 octets, then the client closes",
    valid=False,
)
def _malformed_truncated(cap: Capture) -> None:
    conn = connect(cap)
    conn.echo(True, 1)
    conn.send(True, truncated_request())
    conn.close(by_client=True)


@scenario(
    "malformed_unknown_type",
    "A control message of type 16, which RFC 2637 does not define",
    valid=False,
)
def _malformed_unknown_type(cap: Capture) -> None:
    conn = connect(cap)
    conn.send(True, unknown_type_message())
    _then_valid_echo(conn)


@scenario(
    "malformed_reserved_nonzero",
    "Non-zero Reserved0 (header) and Reserved2 (Stop-Control-Connection-Request)",
    valid=False,
)
def _malformed_reserved_nonzero(cap: Capture) -> None:
    conn = connect(cap)
    conn.send(True, reserved_echo())
    conn.send(False, ctl.EchoReply(identifier=5))
    conn.send(True, pdu(ctl.StopControlConnectionRequest(reserved2=0xBEEF), ["reserved_nonzero"]))
    conn.send(False, ctl.StopControlConnectionReply())
    conn.close()


@scenario(
    "malformed_out_of_state",
    "A reply with no request and a clear for a call that does not exist",
    valid=False,
)
def _malformed_out_of_state(cap: Capture) -> None:
    conn = connect(cap)
    conn.send(False, unrequested_reply(9, 8))
    conn.send(True, clear_of_unknown_call(77))
    _then_valid_echo(conn)


def _malformed_gre(
    cap: Capture, packet: EnhancedGRE, problems: list[str], inner: ppp.PppFrame, stack: str = ""
) -> None:
    """A call, one broken GRE packet from the client, then valid GRE both ways."""
    conn = connect(cap)
    call = conn.outgoing_call(1, 2)
    call.gre(True, ppp.lcp_configure(identifier=1))
    inner_fields = {} if stack else inner.truth()
    gre_frame(
        cap,
        CLIENT,
        SERVER,
        bytes(packet),
        {**packet.truth(), **inner_fields},
        problems,
        stack or inner.stack,
    )
    call.gre(False, ppp.lcp_configure(identifier=1))
    call.gre(True, ppp.lcp_configure(CpCode.CONFIGURE_ACK, 1))
    call.clear_by_client()
    conn.stop()


@scenario(
    "malformed_gre_no_key",
    "GRE version 1 without the key bit (no payload length or Call ID)",
    valid=False,
)
def _malformed_gre_no_key(cap: Capture) -> None:
    frame = ppp.lcp_echo()
    packet = enhanced_gre(2, bytes(frame), seq=1, clear_flags=GRE_FLAG_KEY)
    _malformed_gre(cap, packet, ["gre_key_missing"], frame)


@scenario(
    "malformed_gre_wrong_protocol",
    "GRE version 1 with protocol 0x0800 (IPv4) instead of 0x880B",
    valid=False,
)
def _malformed_gre_wrong_protocol(cap: Capture) -> None:
    inner = ppp.ipv4_ping("10.0.0.2", "10.0.0.1")
    packet = enhanced_gre(2, inner.info, seq=1, protocol=dpkt.ethernet.ETH_TYPE_IP)
    _malformed_gre(cap, packet, ["gre_wrong_protocol"], inner, stack="ip:icmp:data")


@scenario(
    "malformed_gre_payload_length",
    "GRE payload length fields larger and smaller than the payload",
    valid=False,
)
def _malformed_gre_payload_length(cap: Capture) -> None:
    frame = ppp.lcp_echo()
    conn = connect(cap)
    call = conn.outgoing_call(1, 2)
    for claimed, seq in ((len(bytes(frame)) + 50, 0), (len(bytes(frame)) - 4, 1)):
        packet = enhanced_gre(2, bytes(frame), seq=seq, payload_length=claimed)
        gre_frame(
            cap,
            CLIENT,
            SERVER,
            bytes(packet),
            {**packet.truth(), **frame.truth()},
            ["gre_payload_length_mismatch"],
            frame.stack,
        )
    call.gre(True, ppp.lcp_configure(identifier=1), seq=2)
    call.gre(False, ppp.lcp_configure(identifier=1))
    call.clear_by_client()
    conn.stop()


@scenario(
    "malformed_gre_ack_only_payload",
    "An ack-only GRE packet (A without S) that carries a payload",
    valid=False,
)
def _malformed_gre_ack_only_payload(cap: Capture) -> None:
    frame = ppp.lcp_echo()
    packet = enhanced_gre(2, bytes(frame), seq=None, ack=0)
    _malformed_gre(cap, packet, ["gre_ack_only_with_payload"], frame)


@scenario(
    "malformed_gre_reserved_flags",
    "GRE version 1 with the strict-source-route bit and recursion set",
    valid=False,
)
def _malformed_gre_reserved_flags(cap: Capture) -> None:
    frame = ppp.lcp_echo()
    packet = enhanced_gre(2, bytes(frame), seq=1, extra_flags=GRE_FLAG_STRICT_ROUTE | 0x0100)
    _malformed_gre(cap, packet, ["gre_reserved_flags"], frame)


@scenario(
    "gre_without_control",
    "GRE both ways for a call whose control connection is not in the capture",
    valid=False,
)
def _gre_without_control(cap: Capture) -> None:
    for seq in range(3):
        for src, dst, call_id in ((CLIENT, SERVER, 77), (SERVER, CLIENT, 78)):
            orphan_gre(cap, src, dst, call_id, ppp.lcp_echo(identifier=seq), seq)
    cap.notices.append("GRE_Without_Control")


@scenario(
    "gre_only_loss",
    "GRE of a call with no control connection in the capture, with loss, a late packet and a "
    "repeat each way: sequence analysis per sender, receiver and Call ID",
    valid=False,
)
def _gre_only_loss(cap: Capture) -> None:
    numbers = {
        (CLIENT, SERVER, 300): [10, 11, 14, 12, 15, 15, 16, 18],
        (SERVER, CLIENT, 301): [0, 1, 2, 5, 6, 3, 7, 7, 9],
    }
    for src, dst, call_id in numbers:
        for seq in numbers[(src, dst, call_id)]:
            orphan_gre(cap, src, dst, call_id, ppp.mppe_data(seq % 4096, size=80), seq)
    cap.notices.append("GRE_Without_Control")


@scenario(
    "mid_call_clear",
    "A capture that starts mid-call: MPPE data both ways (one packet lost), then the client's "
    "Call-Clear-Request and the server's Call-Disconnect-Notify name the call",
)
def _mid_call_clear(cap: Capture) -> None:
    conn = ControlConnection(cap, CLIENT, SERVER, 40000)
    call = conn.call_in_progress(5, 30720)
    call.compressed, call.encrypt = True, True
    for n in range(6):
        if n == 3:
            call.sides[True].next_seq += 1  # the client's packet 3 was lost
            call.sides[True].data_sent += 1
        call.data(n % 2 == 0)
    call.gre(True, None)
    call.clear_by_client()
    conn.stop()


@scenario(
    "mid_call_set_link_info",
    "A capture that starts mid-call: the client's Set-Link-Info names the server's Call ID, "
    "the server's WAN-Error-Notify the client's; GRE before, between and after; the server "
    "disconnects",
)
def _mid_call_set_link_info(cap: Capture) -> None:
    conn = ControlConnection(cap, CLIENT, SERVER, 40001)
    call = conn.call_in_progress(9, 10)
    call.compressed = True
    call.gre(True, ppp.lcp_echo(identifier=1))
    call.gre(False, ppp.lcp_echo(identifier=2))
    call.set_link_info()
    conn.tcp.ack(False)
    call.gre(True, ppp.lcp_echo(identifier=3))
    call.gre(False, ppp.lcp_echo(identifier=4))
    call.wan_error()
    conn.tcp.ack(True)
    call.gre(True, ppp.lcp_echo(identifier=5))
    call.gre(False, ppp.lcp_echo(identifier=6))
    call.disconnect_by_server()
    conn.close(by_client=False)


# Synthetic logins of the decryption scenarios: test data, nobody's credentials. Their
# passwords stay here; truth files name only the users.
LOGINS = {
    login.user: login
    for login in (
        Login("alice", "correct horse battery staple"),
        Login("bob", "Tr0ub4dor&3", key_bits=40, stateless=False),
        Login("carol", "p\u00e4ssw\u00f6rd", key_bits=56, stateless=False),
        Login("dave", "hunter2", key_bits=56, stateless=True),
    )
}


def _pings(call: Call, count: int, *, lose: set[int] = frozenset(), swap: set[int] = frozenset()):
    """``count`` encrypted pings, alternating from the client and the server: those numbered
    in ``lose`` are encrypted and never sent (a loss), each in ``swap`` goes out after the next
    one (a reordering). A stateful sender flushes after either, as the receiver's CCP
    Reset-Request would make it: its packets between are lost to the receiver."""
    held = None
    for n in range(count):
        from_client = n % 2 == 0
        built = call.encrypted_ping(from_client)
        if n in lose:
            call.sides[from_client].next_seq += 1
            if not call.login.stateless:
                call.senders[from_client].flush()
            continue
        if n in swap:
            seq = call.sides[from_client].next_seq
            call.sides[from_client].next_seq += 1
            held = (from_client, built, seq)
            continue
        call.send_encrypted(from_client, built)
        if held and held[0] == from_client:
            resume = call.sides[from_client].next_seq  # sending a number moves it back
            call.send_encrypted(held[0], held[1], seq=held[2])
            call.sides[from_client].next_seq = resume
            if not call.login.stateless:
                call.senders[from_client].flush()
            held = None


def _encrypted_call(cap: Capture, login: Login, count: int, **changes) -> None:
    conn = connect(cap)
    call = conn.outgoing_call(7, 41000)
    call.encrypted_session(login)
    _pings(call, count, **changes)
    call.lcp_terminate()
    call.clear_by_client()
    conn.stop()


@scenario(
    "decrypt_stateless_128",
    "A genuine MS-CHAPv2 login and 128-bit stateless MPPE data both ways, with a loss and a "
    "reordering each way (decryptable with the user's password)",
)
def _decrypt_stateless_128(cap: Capture) -> None:
    _encrypted_call(cap, LOGINS["alice"], 16, lose={4, 9}, swap={6, 11})


@scenario(
    "decrypt_stateful_40",
    "A genuine MS-CHAPv2 login and 40-bit stateful MPPE, 300 packets each way (key changes at "
    "every 256th count), a loss and a reordering each way",
)
def _decrypt_stateful_40(cap: Capture) -> None:
    _encrypted_call(cap, LOGINS["bob"], 600, lose={100, 351}, swap={200, 401})


@scenario(
    "decrypt_two_users",
    "Two calls at once, two users with their own passwords: 56-bit stateful and 56-bit "
    "stateless MPPE, data interleaved",
)
def _decrypt_two_users(cap: Capture) -> None:
    first = connect(cap, CLIENT, 40000)
    second = connect(cap, CLIENT_B, 40002)
    calls = [first.outgoing_call(3, 50), second.outgoing_call(4, 51)]
    calls[0].encrypted_session(LOGINS["carol"])
    calls[1].encrypted_session(LOGINS["dave"])
    for n in range(12):
        calls[n % 2].data((n // 2) % 2 == 0)
    for call in calls:
        call.clear_by_client()
    first.stop()
    second.stop()


def late_server_gre(delay: float) -> Capture:
    """A call whose server sends its first GRE ``delay`` seconds after the call connected
    (for the GRE grace-period setting of both analyzers)."""
    cap = Capture("late_gre", f"server GRE {delay} s after the call connected")
    conn = connect(cap)
    call = conn.outgoing_call(1, 2)
    call.gre(True, ppp.lcp_configure(identifier=1))
    cap.wait(delay)
    call.gre(False, ppp.lcp_configure(identifier=1))
    call.clear_by_client()
    conn.stop()
    return cap


@scenario(
    "gre_only_tunnel",
    "GRE both ways of a tunnel whose control connection is not in the capture, each way "
    "acknowledging the other's numbers: one call learnt from GRE alone; and two flows of "
    "another client that acknowledge nothing the other sent, left apart",
    valid=False,
)
def _gre_only_tunnel(cap: Capture) -> None:
    for n in range(4):
        orphan_gre(
            cap,
            CLIENT,
            SERVER,
            40,
            ppp.lcp_echo(identifier=n),
            100 + n,
            ack=None if n == 0 else 7000 + n - 1,
        )
        orphan_gre(cap, SERVER, CLIENT, 41, ppp.lcp_echo(identifier=n), 7000 + n, ack=100 + n)
    orphan_gre(cap, CLIENT_B, SERVER, 99, ppp.lcp_echo(identifier=5), 5, ack=12345)
    orphan_gre(cap, SERVER, CLIENT_B, 98, ppp.lcp_echo(identifier=6), 60, ack=7)
    cap.notices.append("GRE_Without_Control")


def paused_gre_without_control(pause: float) -> Capture:
    """GRE both ways between a client and a server with no control connection, then
    ``pause`` seconds of nothing from them while GRE of a second pair (again without
    control) goes on (for how long unclaimed GRE is kept)."""
    cap = Capture("paused_gre", f"GRE without control that stops, then {pause} s of other GRE")
    for seq in range(3):
        orphan_gre(cap, CLIENT, SERVER, 77, ppp.lcp_echo(identifier=seq), seq)
        orphan_gre(cap, SERVER, CLIENT, 78, ppp.lcp_echo(identifier=seq), seq)
    for seq in range(round(pause / 30)):
        cap.wait(30)
        orphan_gre(cap, CLIENT_B, SERVER, 99, ppp.lcp_echo(identifier=seq % 256), seq)
    cap.notices.append("GRE_Without_Control")
    return cap


def long_mid_call(minutes: int) -> Capture:
    """A capture that starts mid-call: ``minutes`` minutes of LCP echoes each way, one a
    minute, before the client's Call-Clear-Request names the call (GRE of a call learnt
    late waits for it as long as it flows)."""
    cap = Capture("long_mid_call", f"{minutes} minutes of GRE before the call is learnt")
    conn = ControlConnection(cap, CLIENT, SERVER, 40002)
    call = conn.call_in_progress(11, 12)
    call.compressed = True
    for n in range(minutes):
        call.gre(True, ppp.lcp_echo(identifier=2 * n % 256))
        call.gre(False, ppp.lcp_echo(identifier=(2 * n + 1) % 256))
        cap.wait(60)
    call.clear_by_client()
    conn.stop()
    return cap


def long_call() -> Capture:
    """One call with 12,000 numbered packets each way, more than either analyzer remembers per
    direction (8,192): gaps, repeats of numbers thousands back, and a first number seen that
    is not the lowest. Too big for testdata; built where it is needed."""
    cap = Capture("long_call", "12,000 numbered packets each way, with gaps and repeats")
    conn = connect(cap)
    call = conn.outgoing_call(1, 2)
    client = [1, 0, *range(2, 12_000)]
    client = [seq for seq in client if seq % 1_000 != 999]  # 11 lost
    client[5_000:5_000] = [4_000, 2_000]  # duplicates of numbers 1,000 and 3,000 back
    server = [*range(3, 12_003, 2), 1]  # every other number, one late
    for seq in client:
        lcp_echo(call, True, seq)
    for seq in server:
        lcp_echo(call, False, seq)
    call.clear_by_client()
    conn.stop()
    return cap


def names(valid: bool | None = None) -> list[str]:
    return [n for n, s in SCENARIOS.items() if valid is None or s.valid == valid]


def build(name: str) -> Capture:
    return SCENARIOS[name].capture()
