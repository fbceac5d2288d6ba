"""A small PPP peer speaking async HDLC on its standard input and output.

Real PPTP programs hand PPP to pppd over a pty (pptpd) or a pipe (pptp-linux ``--nolaunchpppd``),
framed as async HDLC (RFC 1662). Where the kernel has no PPP support (no ``/dev/ppp``) pppd cannot
run, so this peer stands in for it: it negotiates LCP, authenticates (PAP or CHAP-MD5), agrees on
MPPE in CCP if asked, negotiates IPCP (the server assigns the client's address with a Nak, as
pppd does), sends ICMP echoes through the tunnel and ends with an LCP Terminate. The PPTP
programs around it, and so every control message and GRE header on the wire, are the real ones.

With MPPE the data packets carry a real MPPE header and coherency count but random bytes instead
of RC4 ciphertext: no key is derived, since nothing here can decrypt them anyway.

Run by pptpd as its ``--ppp`` program (pptpd's pppd arguments are accepted and the address pair
``local:remote`` is used), or with a pptp-linux process on the other end of a socket pair.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import select
import socket
import struct
import sys
import termios
import time
import tty
from collections.abc import Iterator
from contextlib import suppress

import dpkt

from . import ppp
from .constants import (
    AUTH_CHAP_MD5,
    AUTH_PAP,
    CCP_OPT_MPPE,
    CHAP_CHALLENGE,
    CHAP_RESPONSE,
    CHAP_SUCCESS,
    IPCP_OPT_IP_ADDRESS,
    LCP_OPT_AUTH_PROTOCOL,
    MPPE_BIT_128,
    MPPE_BIT_STATELESS,
    MPPE_COHERENCY_MASK,
    MPPE_FLAG_ENCRYPTED,
    PAP_AUTH_ACK,
    PAP_AUTH_REQUEST,
    CpCode,
    PppProto,
)

FLAG, ESCAPE = 0x7E, 0x7D
FCS_GOOD = 0xF0B8
SECRET = b"secret"
RETRY_SECONDS = 1.0
RETRIES = 10


def fcs16(data: bytes) -> int:
    """The HDLC frame check sequence (RFC 1662 appendix C), bit by bit."""
    fcs = 0xFFFF
    for octet in data:
        fcs ^= octet
        for _ in range(8):
            fcs = (fcs >> 1) ^ 0x8408 if fcs & 1 else fcs >> 1
    return fcs


def hdlc_encode(frame: bytes) -> bytes:
    """One frame with its FCS, escaped for the default ACCM, between flags."""
    fcs = fcs16(frame) ^ 0xFFFF
    raw = frame + struct.pack("<H", fcs)
    out = bytearray([FLAG])
    for octet in raw:
        if octet < 0x20 or octet in (FLAG, ESCAPE):
            out += bytes([ESCAPE, octet ^ 0x20])
        else:
            out.append(octet)
    out.append(FLAG)
    return bytes(out)


class HdlcReader:
    """Splits an async HDLC byte stream into frames with a good FCS (FCS removed)."""

    def __init__(self) -> None:
        self.pending = bytearray()

    def feed(self, data: bytes) -> Iterator[bytes]:
        self.pending += data
        while FLAG in self.pending:
            end = self.pending.index(FLAG)
            chunk, self.pending = bytes(self.pending[:end]), self.pending[end + 1 :]
            frame = bytearray()
            escaped = False
            for octet in chunk:
                if octet == ESCAPE:
                    escaped = True
                elif escaped:
                    frame.append(octet ^ 0x20)
                    escaped = False
                else:
                    frame.append(octet)
            if len(frame) > 2 and fcs16(bytes(frame)) == FCS_GOOD:
                yield bytes(frame[:-2])


class Peer:
    """One side of the PPP session; ``server`` authenticates and assigns the client's address."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.server = args.role == "server"
        self.reader = HdlcReader()
        self.identifier = random.randrange(256)
        self.magic = random.getrandbits(32) or 1
        self.local_ip, self.remote_ip = args.local_ip, args.remote_ip
        self.pending: dict[int, tuple[ppp.PppFrame, float, int]] = {}  # protocol -> retry
        self.acked_by_peer: set[int] = set()
        self.acked_peer: set[int] = set()
        self.authenticated = False
        self.auth_option = b""
        self.pings_sent = 0
        self.replies = 0
        self.next_ping = 0.0
        self.coherency = 0
        self.terminating = 0.0
        self.done_at = 0.0
        self.deadline = time.monotonic() + args.timeout

    # sending -------------------------------------------------------------------------------

    def send(self, frame: ppp.PppFrame) -> None:
        data = bytes(frame)
        os.write(self.args.out_fd, hdlc_encode(data))

    def next_identifier(self) -> int:
        self.identifier = (self.identifier + 1) % 256
        return self.identifier

    def ask(self, protocol: PppProto, frame: ppp.PppFrame) -> None:
        """Send a frame that is repeated until answered; once per protocol at a time."""
        if protocol not in self.pending:
            self.pending[protocol] = (frame, time.monotonic() + RETRY_SECONDS, RETRIES)
            self.send(frame)

    def request(self, protocol: PppProto, options: bytes, code: int = CpCode.CONFIGURE_REQUEST):
        self.ask(protocol, ppp.control_packet(protocol, code, self.next_identifier(), options))

    def lcp_options(self) -> bytes:
        options = ppp.option(1, struct.pack(">H", 1400))
        if self.server:
            options += ppp.option(LCP_OPT_AUTH_PROTOCOL, ppp.AUTH_OPTION[self.args.auth])
        return options + ppp.option(5, struct.pack(">I", self.magic))

    def start(self) -> None:
        self.request(PppProto.LCP, self.lcp_options())

    # receiving -----------------------------------------------------------------------------

    def receive(self, frame: bytes) -> None:
        protocol, info = ppp.split(frame)
        if protocol in (PppProto.LCP, PppProto.IPCP, PppProto.CCP) and len(info) >= 4:
            code, identifier, _length = struct.unpack(">BBH", info[:4])
            self.control(PppProto(protocol), code, identifier, info[4:])
        elif protocol == PppProto.CHAP and len(info) >= 5:
            self.chap(info)
        elif protocol == PppProto.PAP and len(info) >= 4:
            self.pap(info)
        elif protocol in (PppProto.IP, PppProto.MPPE):
            self.data(protocol, info)

    def control(self, protocol: PppProto, code: int, identifier: int, data: bytes) -> None:
        if code == CpCode.CONFIGURE_REQUEST:
            self.configure_request(protocol, identifier, data)
        elif code == CpCode.CONFIGURE_ACK:
            self.pending.pop(protocol, None)
            self.acked_by_peer.add(protocol)
            self.progress()
        elif code == CpCode.CONFIGURE_NAK and protocol == PppProto.IPCP:
            offered = ppp.parse_options(data).get(IPCP_OPT_IP_ADDRESS)
            if offered:
                self.local_ip = socket.inet_ntoa(offered)
                self.pending.pop(protocol, None)
                self.request(PppProto.IPCP, ppp.option(IPCP_OPT_IP_ADDRESS, offered))
        elif code == CpCode.CONFIGURE_REJECT:
            self.pending.pop(protocol, None)
        elif code == CpCode.TERMINATE_REQUEST and protocol == PppProto.LCP:
            self.send(ppp.control_packet(protocol, CpCode.TERMINATE_ACK, identifier))
            # pppd waits a restart time after acknowledging before it goes down (RFC 1661 §4.2)
            self.done_at = time.monotonic() + self.args.restart
        elif code == CpCode.TERMINATE_ACK and protocol == PppProto.LCP:
            self.pending.pop(protocol, None)
            self.done_at = time.monotonic() + self.args.linger
        elif code == CpCode.ECHO_REQUEST and protocol == PppProto.LCP:
            magic = struct.pack(">I", self.magic)
            self.send(ppp.control_packet(protocol, CpCode.ECHO_REPLY, identifier, magic))

    def configure_request(self, protocol: PppProto, identifier: int, data: bytes) -> None:
        options = ppp.parse_options(data)
        code = CpCode.CONFIGURE_ACK
        if protocol == PppProto.IPCP and self.server:
            asked = options.get(IPCP_OPT_IP_ADDRESS, b"")
            if asked != socket.inet_aton(self.remote_ip):
                code = CpCode.CONFIGURE_NAK
                data = ppp.option(IPCP_OPT_IP_ADDRESS, socket.inet_aton(self.remote_ip))
        if protocol == PppProto.CCP and not self.args.mppe:
            code = CpCode.CONFIGURE_REJECT
        self.send(ppp.control_packet(protocol, code, identifier, data))
        if code == CpCode.CONFIGURE_ACK:
            self.acked_peer.add(protocol)
            if protocol == PppProto.LCP and not self.server:
                self.auth_option = options.get(LCP_OPT_AUTH_PROTOCOL, b"")
            self.progress()

    def opened(self, protocol: PppProto) -> bool:
        return protocol in self.acked_peer and protocol in self.acked_by_peer

    def progress(self) -> None:
        """Move to the next phase once the current one is open both ways."""
        if not self.opened(PppProto.LCP):
            return
        if not self.authenticated:
            if self.server and self.args.auth == AUTH_CHAP_MD5:
                # Any response is accepted: there is no account to check it against.
                challenge = os.urandom(16)
                identifier = self.next_identifier()
                self.ask(PppProto.CHAP, ppp.chap(CHAP_CHALLENGE, identifier, challenge, b"pptpd"))
            elif not self.server and self.auth_option[:2] == struct.pack(">H", PppProto.PAP):
                self.ask(PppProto.PAP, ppp.pap_request(identifier=self.next_identifier()))
        elif self.args.mppe and PppProto.CCP not in self.acked_by_peer:
            bits = struct.pack(">I", MPPE_BIT_128 | MPPE_BIT_STATELESS)
            self.request(PppProto.CCP, ppp.option(CCP_OPT_MPPE, bits))
        elif PppProto.IPCP not in self.acked_by_peer:
            address = self.local_ip if self.server else "0.0.0.0"
            self.request(PppProto.IPCP, ppp.option(IPCP_OPT_IP_ADDRESS, socket.inet_aton(address)))

    def chap(self, info: bytes) -> None:
        code, identifier = info[0], info[1]
        if code == CHAP_CHALLENGE and not self.server:
            challenge = info[5 : 5 + info[4]]
            digest = hashlib.md5(bytes([identifier]) + SECRET + challenge).digest()
            self.send(ppp.chap(CHAP_RESPONSE, identifier, digest, b"alice"))
        elif code == CHAP_RESPONSE and self.server:
            self.pending.pop(PppProto.CHAP, None)
            self.send(ppp.chap(CHAP_SUCCESS, identifier, name=b"Welcome"))
            self.authenticated = True
            self.progress()
        elif code == CHAP_SUCCESS and not self.server:
            self.authenticated = True
            self.progress()

    def pap(self, info: bytes) -> None:
        code, identifier = info[0], info[1]
        if code == PAP_AUTH_REQUEST and self.server:
            self.send(ppp.pap_ack(identifier))
            self.authenticated = True
            self.progress()
        elif code == PAP_AUTH_ACK and not self.server:
            self.pending.pop(PppProto.PAP, None)
            self.authenticated = True
            self.progress()

    def data(self, protocol: int, info: bytes) -> None:
        self.replies += 1
        if self.server:  # answer each echo request; in clear, with its own sequence number
            number = self.replies
            if protocol == PppProto.IP:
                with suppress(dpkt.UnpackError, AttributeError):
                    number = dpkt.ip.IP(info).data.data.seq
            self.send_ping(number, reply=True)

    def send_ping(self, number: int, reply: bool = False) -> None:
        src, dst = self.local_ip, self.remote_ip
        frame = ppp.ipv4_ping(src, dst, ident=0x5050, seq=number, reply=reply)
        if self.args.mppe:
            header = MPPE_FLAG_ENCRYPTED | (self.coherency & MPPE_COHERENCY_MASK)
            self.coherency += 1
            body = struct.pack(">H", header) + os.urandom(len(frame.info) + 2)
            frame = ppp.PppFrame(PppProto.MPPE, body)
        self.send(frame.compressed())

    # timing --------------------------------------------------------------------------------

    def tick(self, now: float) -> bool:
        """Retries, pings and hang-up; False once the session is over."""
        if now > self.deadline or (self.done_at and now >= self.done_at):
            return False
        for protocol, (frame, due, left) in list(self.pending.items()):
            if now >= due:
                if left == 0:
                    return False
                self.pending[protocol] = (frame, now + RETRY_SECONDS, left - 1)
                self.send(frame)
        ready = self.opened(PppProto.IPCP) and self.authenticated
        if (
            ready
            and not self.server
            and self.pings_sent < self.args.pings
            and now >= self.next_ping
        ):
            self.pings_sent += 1
            self.send_ping(self.pings_sent)
            self.next_ping = now + self.args.interval
        finished = (
            self.pings_sent >= self.args.pings
            if not self.server
            else (self.replies >= self.args.pings)
        )
        if ready and finished and self.args.hang_up and not self.terminating:
            self.terminating = now + self.args.hold
        if self.terminating and now >= self.terminating and not self.done_at:
            self.terminating = float("inf")
            self.request(PppProto.LCP, b"User request", CpCode.TERMINATE_REQUEST)
        return True

    def run(self, in_fd: int) -> bool:
        """Speak PPP until the link is terminated (True) or the peer goes away or the time
        runs out first (False)."""
        self.start()
        while self.tick(time.monotonic()):
            readable, _, _ = select.select([in_fd], [], [], 0.05)
            if not readable:
                continue
            try:
                chunk = os.read(in_fd, 4096)
            except OSError:
                chunk = b""
            if not chunk:
                break
            for frame in self.reader.feed(chunk):
                self.receive(frame)
        return bool(self.done_at) and time.monotonic() <= self.deadline


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", choices=("server", "client"), required=True)
    parser.add_argument("--auth", choices=(AUTH_CHAP_MD5, AUTH_PAP), default=AUTH_CHAP_MD5)
    parser.add_argument("--mppe", action="store_true", help="agree on MPPE and send 0x00FD data")
    parser.add_argument("--pings", type=int, default=3, help="ICMP echoes through the tunnel")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between echoes")
    parser.add_argument("--hang-up", action="store_true", help="send LCP Terminate when done")
    parser.add_argument("--hold", type=float, default=0.5, help="seconds before hanging up")
    parser.add_argument("--linger", type=float, default=0.3, help="seconds after Terminate-Ack")
    parser.add_argument("--restart", type=float, default=3.0, help="seconds after acking Terminate")
    parser.add_argument("--timeout", type=float, default=30.0, help="end the session after this")
    parser.add_argument("--local-ip", default="192.168.99.1")
    parser.add_argument("--remote-ip", default="192.168.99.10")
    args, rest = parser.parse_known_args(argv)
    # pppd's arguments as pptpd passes them: the address pair is "local:remote".
    for word in rest:
        local, sep, remote = word.partition(":")
        if sep and local.count(".") == 3 and remote.count(".") == 3:
            args.local_ip, args.remote_ip = local, remote
    if args.role == "client":
        args.local_ip, args.remote_ip = "0.0.0.0", args.local_ip
    args.out_fd = 1
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if os.isatty(0):  # pptpd's pty: raw octets, no echo, as pppd would set it
        tty.setraw(0, termios.TCSANOW)
    return 0 if Peer(args).run(0) else 1


if __name__ == "__main__":
    sys.exit(main())
