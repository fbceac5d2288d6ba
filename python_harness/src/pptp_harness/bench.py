"""Speed and memory of our analyzers against the built-ins on the same captures, and the
throughput of fuzzing. Reported as ratios, never asserted.

- Sessions: many control connections, each with a call, a full PPP negotiation and a stream
  of MPPE data both ways (about 240 packets a session). tshark with and without our plugin
  (only ``-X lua_script:`` differs); Zeek bare, with our package, and with its GRE analysis
  switched off.
- State bounds: 100,000 control connections that never close and GRE for all 65,536 Call IDs,
  spread over three hours, to show that memory follows the built-ins' and Zeek's tables expire.
- Ordinary traffic (Zeek only): TCP connections and DNS, no PPTP at all, for what the package
  costs a sensor on the traffic it mostly sees.
- Damaged MPPE: calls with genuine logins and MPPE data, and the same calls with every MPPE
  header (flags and coherency count) random, the plugin (no credentials) and Zeek;
  damaged traffic must not be a way to slow the analyst down (issue 24).
- Fuzzing: a short campaign, in packets verified per second.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dpkt

from . import control as ctl
from . import fuzz, hostile, ppp, scenarios, tshark, zeek
from .capture import SNAPLEN, Call, Capture, ControlConnection, host
from .constants import AUTH_MSCHAP_V2
from .credentials import write_credentials
from .gre import enhanced_gre
from .scenarios import SERVER

DATA_PACKETS = 200
FIXTURES = Path(__file__).with_name("fixtures")
# The floor of any Lua dissector for IP protocol 47: header fields, PPP handed on, nothing else.
MINIMAL_GRE = FIXTURES / "minimal_gre.lua"
# Loaded last in every timed tshark run: says which dissector holds IP protocol 47.
GRE_OWNER = FIXTURES / "gre_owner.lua"
GRE_OWNER_SAYS = re.compile(r"^pptp-analysis bench: IP protocol 47 is dissected by (\S+)$", re.M)
# What it says for each of the dissectors measured.
OWNER_OF = {"built-in": "GRE", "minimal": "MINIMAL_GRE", "plugin": "PPTP_GRE"}
# How users run tshark: a plain read, fields, a display filter, two passes, the whole tree.
TSHARK_MODES = (
    ("plain", []),
    ("-T fields", ["-T", "fields", "-e", "frame.number", "-e", "ppp.protocol"]),
    ("-Y filter", ["-Y", "ppp.protocol == 0x00fd"]),
    ("-2", ["-2"]),
    ("-V", ["-V"]),
)


def _one_call_each(cap: Capture, calls: int, carry: Callable[[Call], None]) -> Capture:
    """``calls`` calls one after another, each on a control connection and client address of
    its own: set up, its traffic (``carry``), cleared, the connection stopped."""
    for n in range(calls):
        client = host(f"client-{n}", f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}")
        conn = ControlConnection(cap, client, SERVER, 40000 + n % 20000)
        conn.start()
        call = conn.outgoing_call(n % 65536, (n * 7 + 1) % 65536, serial=n % 65536)
        carry(call)
        call.clear_by_client()
        conn.stop()
    return cap


def big_capture(sessions: int) -> Capture:
    """``sessions`` PPTP sessions, each a full PPP negotiation and ``DATA_PACKETS`` of MPPE."""

    def session(call: Call) -> None:
        call.ppp_session(AUTH_MSCHAP_V2, mppe=True, data_packets=DATA_PACKETS)
        call.lcp_terminate()

    cap = Capture("bench", f"{sessions} sessions of {DATA_PACKETS} data packets")
    return _one_call_each(cap, sessions, session)


# The plugin's speed across Wireshark generations: what a VPN carries, once its calls are up.
TRAFFIC_CALLS = 1000
TRAFFIC_GRE_PER_CALL = 60  # 59 MPPE packets and an acknowledgment: 98% MPPE


def traffic_capture(calls: int) -> Capture:
    """``calls`` PPTP calls, each ``TRAFFIC_GRE_PER_CALL`` enhanced-GRE packets both ways once
    set up, all MPPE but the last (an acknowledgment)."""

    def traffic(call: Call) -> None:
        call.encrypt = True
        for k in range(TRAFFIC_GRE_PER_CALL - 1):
            call.data(k % 2 == 0)
        call.gre(True, None)

    cap = Capture("bench-traffic", f"{calls} calls of {TRAFFIC_GRE_PER_CALL} GRE packets")
    return _one_call_each(cap, calls, traffic)


# The decryption benchmark: calls of every login (each key length and mode), full-size pings.
DECRYPT_CALLS = 8
DECRYPT_PINGS = 1500  # per call
DECRYPT_PING_DATA = bytes(range(256)) * 5 + bytes(120)  # 1,400 octets: a full tunnel packet


def decrypt_capture(calls: int) -> Capture:
    """``calls`` genuine MS-CHAPv2 logins, one after another, cycling through the scenarios'
    logins, each with ``DECRYPT_PINGS`` large encrypted pings."""
    logins = list(scenarios.LOGINS.values())
    cap = Capture("bench-decrypt", f"{calls} encrypted calls of {DECRYPT_PINGS} pings")
    for n in range(calls):
        client = host(f"client-{n}", f"10.1.0.{n % 250 + 1}")
        conn = ControlConnection(cap, client, SERVER, 40000 + n)
        conn.start()
        call = conn.outgoing_call(n + 1, n + 100, serial=n)
        call.encrypted_session(logins[n % len(logins)])
        for k in range(DECRYPT_PINGS):
            call.send_encrypted(k % 2 == 0, call.encrypted_ping(k % 2 == 0, DECRYPT_PING_DATA))
        call.lcp_terminate()
        call.clear_by_client()
        conn.stop()
    return cap


# Damaged MPPE (issue 24): calls of genuine logins, their MPPE headers well-formed or random.
DAMAGED_CALLS = 1000
DAMAGED_PINGS = 40  # per call, alternating directions


def mppe_calls_capture(calls: int) -> Capture:
    """``calls`` genuine MS-CHAPv2 logins (cycling through the scenarios' logins), each with
    ``DAMAGED_PINGS`` encrypted pings."""
    logins = list(scenarios.LOGINS.values())
    cap = Capture("bench-mppe", f"{calls} encrypted calls of {DAMAGED_PINGS} pings")

    def pings(call: Call) -> None:
        call.encrypted_session(logins[call.call_id[True] % len(logins)])
        for k in range(DAMAGED_PINGS):
            call.send_encrypted(k % 2 == 0, call.encrypted_ping(k % 2 == 0))
        call.lcp_terminate()

    return _one_call_each(cap, calls, pings)


def random_mppe_headers(source: Path, out: Path, seed: int = 24) -> int:
    """``source`` with every MPPE header (flags and coherency count) replaced by random
    octets; the rest as it was. Returns the number of headers changed."""
    rng = random.Random(seed)
    records, changed = [], 0
    for record in hostile.read_records(source):
        at = hostile.mppe_header_offset(record)
        if at is not None:
            frame = record.frame[:at] + rng.randbytes(2) + record.frame[at + 2 :]
            record = hostile.Record(record.ts, record.linktype, frame, record.original)
            changed += 1
        records.append(record)
    hostile.write(records, out)
    return changed


def damaged_captures(folder: Path) -> tuple[Path, Path]:
    """The well-formed calls and the same calls with random MPPE headers."""
    sound = _built(folder / f"mppe-{DAMAGED_CALLS}.pcap", "mppe", DAMAGED_CALLS)
    damaged = folder / f"mppe-{DAMAGED_CALLS}-random-headers.pcap"
    if not damaged.exists():
        random_mppe_headers(sound, damaged)
    return sound, damaged


def damaged_lines(folder: Path, plugin: Path, repeat: int) -> list[str]:
    """The plugin on calls whose MPPE headers are random, as a ratio to the same calls
    well-formed, plain and with ``-T fields`` (no credentials: what every analyst pays)."""
    sound, damaged = damaged_captures(folder)
    lines = [
        f"damaged MPPE: {damaged} ({DAMAGED_CALLS} calls of {DAMAGED_PINGS} MPPE packets, every "
        "MPPE header random) against the same calls well-formed; plugin, no credentials",
        f"{'mode':<10} {'well-formed':>11} {'random':>9}   random/well-formed",
    ]
    for label, extra in TSHARK_MODES[:2]:
        commands = [
            ["-n", "-r", str(capture), *extra, "-X", f"lua_script:{plugin}"]
            for capture in (sound, damaged)
        ]
        well, bad = measure_in_turns(commands, repeat)
        lines.append(
            f"{label:<10} {well.cpu:9.2f} s {bad.cpu:7.2f} s   {bad.cpu / well.cpu:17.2f}x"
        )
    return lines


def damaged_zeek_lines(folder: Path, repeat: int) -> list[str]:
    """Zeek with our package on calls whose MPPE headers are random, as a ratio to the same
    calls well-formed."""
    if not zeek.available():
        return ["damaged MPPE: zeek is not installed here, not measured"]
    sound, damaged = damaged_captures(folder)
    zeek.build_analyzer()
    program = str(zeek.zeek_bin() / "zeek")
    commands = [["-C", "-r", str(p.resolve()), str(zeek.PACKAGE)] for p in (sound, damaged)]
    with tempfile.TemporaryDirectory() as scratch:
        well, bad = measure_in_turns(commands, repeat, program, scratch, zeek.environment())
    return [
        f"damaged MPPE ({DAMAGED_CALLS} calls, every MPPE header random): zeek with our package "
        f"{bad.cpu:6.2f} s against {well.cpu:6.2f} s well-formed: {bad.cpu / well.cpu:4.2f}x"
    ]


def decryption_lines(folder: Path, plugin: Path, bench_pcap: Path, repeat: int) -> list[str]:
    """The plugin's cost with a credentials file configured: on the sessions capture (whose
    handshakes no credential opens: the cost of the feature being on) and on genuinely
    encrypted calls, and the rate at which it decrypts MPPE payload."""
    logins = scenarios.LOGINS.values()
    right = write_credentials(folder, [f"{x.user}:{x.password}" for x in logins])
    pcap = _built(folder / f"decrypt-{DECRYPT_CALLS}.pcap", "decrypt", DECRYPT_CALLS)
    mppe_lengths = ["-Y", "ppp.protocol == 0x00fd", "-T", "fields", "-e", "pptp_gre.payload_length"]
    shown = tshark.run(["-n", "-r", str(pcap), *mppe_lengths, "-X", f"lua_script:{plugin}"])
    # Less the PPP protocol (2 octets, or 1 compressed: counted as 2) and the MPPE header.
    payload = sum(int(length) - 4 for length in shown.stdout.split())
    lines = [
        f"decryption: {pcap} ({DECRYPT_CALLS} calls, all key lengths and modes, "
        f"{payload / 1e6:.1f} MB of MPPE payload)",
        f"{'capture':<10} {'mode':<10} {'built-in':>9} {'no cred.':>9} {'with cred.':>10}"
        f"   ratio to built-in without / with   with / without",
    ]
    rate = ""
    for name, capture in (("sessions", bench_pcap), ("encrypted", pcap)):
        for label, extra in (("plain", []), ("-2", ["-2"]), ("-V", ["-V"])):
            command = ["-n", "-r", str(capture), *extra, "-X", f"lua_script:{plugin}"]
            builtin, without, with_right = measure_in_turns(
                [command[:-2], command, [*command, "-o", f"pptp_gre.credentials_file:{right}"]],
                repeat,
            )
            lines.append(
                f"{name:<10} {label:<10} {builtin.cpu:7.2f} s {without.cpu:7.2f} s "
                f"{with_right.cpu:8.2f} s   {without.cpu / builtin.cpu:6.2f}x / "
                f"{with_right.cpu / builtin.cpu:.2f}x   {with_right.cpu / without.cpu:13.2f}x"
            )
            if name == "encrypted" and label == "plain":
                seconds = max(with_right.cpu - without.cpu, 1e-9)
                rate = f"decryption rate (plain read): {payload / seconds / 1e6:.1f} MB/s of MPPE"
    return [*lines, rate]


@dataclass
class Run:
    seconds: float  # wall time
    peak_kib: int
    cpu: float = float("inf")  # user + system time: steadier than wall time on a busy machine


def measure(args: list[str], repeat: int) -> Run:
    """Best times and peak resident memory of ``repeat`` tshark runs with ``args``, started
    as the harness starts tshark."""
    return measure_in_turns([args], repeat)[0]


def owner_of(args: list[str]) -> str:
    """What the GRE-owner fixture must say in a tshark run with ``args``: the plugin's, the
    minimal dissector's or Wireshark's own name for IP protocol 47's dissector."""
    scripts = {Path(s).name for s in tshark.lua_scripts_in(args)} - {GRE_OWNER.name}
    if MINIMAL_GRE.name in scripts:
        return OWNER_OF["minimal"]
    return OWNER_OF["plugin"] if scripts else OWNER_OF["built-in"]


def measure_in_turns(
    commands: list[list[str]],
    repeat: int,
    program: str = "",
    cwd: str | None = None,
    env: dict[str, str] | None = None,
) -> list[Run]:
    """``measure`` for each of ``commands``, their runs taken in turns: a drift in the
    machine's load then hits all of them alike, and their ratios hold. With ``program`` the
    commands are its arguments (run in ``env``) instead of tshark's. Each tshark run loads
    the GRE-owner fixture last and must prove that the dissector measured held IP protocol
    47 in that very run."""
    if not program:
        for args in commands:
            tshark.require_loaded(tshark.lua_scripts_in(args))
        commands = [[*args, "-X", f"lua_script:{GRE_OWNER}"] for args in commands]
    best = [Run(float("inf"), 0) for _ in commands]
    for _ in range(repeat):
        for n, args in enumerate(commands):
            run = _run_once(args, program, cwd, env)
            best[n] = Run(
                min(best[n].seconds, run.seconds),
                max(best[n].peak_kib, run.peak_kib),
                min(best[n].cpu, run.cpu),
            )
    return best


def _run_once(args: list[str], program: str, cwd: str | None, env: dict[str, str] | None) -> Run:
    with contextlib.ExitStack() as stack:
        if program:
            how = {"args": [program, *args], "env": env}
        else:
            how = stack.enter_context(tshark.invocation(args))
        errors = stack.enter_context(tempfile.TemporaryFile())
        start = time.perf_counter()
        process = subprocess.Popen(**how, stdout=subprocess.DEVNULL, stderr=errors, cwd=cwd)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
        errors.seek(0)
        said = errors.read().decode("utf-8", "replace")
    if status != 0:
        message = f"{program or 'tshark'} {' '.join(args)}: status {status}"
        raise RuntimeError(message) if program else tshark.TsharkError(message)
    if not program:
        owners = GRE_OWNER_SAYS.findall(said)
        if owners != [owner_of(args)]:
            raise tshark.TsharkError(
                f"tshark {' '.join(args)}: IP protocol 47 was dissected by {owners or 'nothing'}"
                f", not {owner_of(args)}: this run is not a figure of what it measures"
            )
    return Run(elapsed, usage.ru_maxrss, usage.ru_utime + usage.ru_stime)


def _built(pcap: Path, kind: str, size: int) -> Path:
    """Build ``pcap`` once, in a child, so this process stays small: a child's peak memory
    starts at its parent's, and the measured runs are children of this process."""
    if not pcap.exists():
        subprocess.run(
            [sys.executable, "-m", "pptp_harness.bench", kind, str(size), str(pcap)], check=True
        )
    return pcap


def bounds_capture(pcap: Path, connections: int, call_ids: int = 65536) -> None:
    """Control connections that start and never close (SYN, SYN-ACK, ACK, SCCRQ, SCCRP), then
    one GRE packet for every Call ID, spread evenly over three hours. Written straight to the
    pcap: no ground truth is kept for half a million frames."""
    cap = Capture("bounds", "state bounds")  # only for its packet builder
    span = 3 * 3600.0
    request = bytes(ctl.StartControlConnectionRequest(host_name=b"pns", vendor_name=b"bench"))
    reply = bytes(ctl.StartControlConnectionReply(host_name=b"pac", vendor_name=b"bench"))
    frame = bytes(ppp.lcp_echo())
    with pcap.open("wb") as out:
        writer = dpkt.pcap.Writer(out, snaplen=SNAPLEN, linktype=dpkt.pcap.DLT_EN10MB)
        for n in range(connections):
            when = 1_767_225_600 + span * n / (connections + call_ids)
            client = host("c", f"10.{64 + n // 65536}.{n // 256 % 256}.{n % 256}")
            port = 1024 + n % 60000
            segments = [
                (True, dpkt.tcp.TH_SYN, 0, 0, b""),
                (False, dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK, 0, 1, b""),
                (True, dpkt.tcp.TH_ACK, 1, 1, b""),
                (True, dpkt.tcp.TH_PUSH | dpkt.tcp.TH_ACK, 1, 1, request),
                (False, dpkt.tcp.TH_PUSH | dpkt.tcp.TH_ACK, 1, 1 + len(request), reply),
            ]
            for i, (from_client, flags, seq, ack, payload) in enumerate(segments):
                src, dst = (client, SERVER) if from_client else (SERVER, client)
                sport, dport = (port, 1723) if from_client else (1723, port)
                segment = dpkt.tcp.TCP(
                    sport=sport, dport=dport, seq=seq, ack=ack, flags=flags, data=payload
                )
                data = cap.ip_packet(src, dst, dpkt.ip.IP_PROTO_TCP, segment)
                writer.writepkt(data, ts=when + i * 0.001)
        for call_id in range(call_ids):
            when = 1_767_225_600 + span * (connections + call_id) / (connections + call_ids)
            client = host("g", f"10.200.{call_id // 256}.{call_id % 256}")
            packet = bytes(enhanced_gre(call_id, frame, seq=0))
            writer.writepkt(cap.ip_packet(client, SERVER, 47, packet), ts=when)


def ordinary_capture(pcap: Path, packets: int) -> None:
    """About ``packets`` packets of traffic without PPTP: TCP connections (handshake, a request,
    a few reply segments, both FINs) between many client addresses and a few servers on ports
    80 and 443, and a DNS query and answer before each. Written straight to the pcap."""
    cap = Capture("ordinary", "ordinary traffic")  # only for its packet builder
    draw = random.Random(0)
    servers = [host(f"server-{n}", f"198.51.100.{10 + n}") for n in range(8)]
    resolver = host("resolver", "198.51.100.53")
    when = 1_767_225_600.0
    written = n = 0
    with pcap.open("wb") as out:
        writer = dpkt.pcap.Writer(out, snaplen=SNAPLEN, linktype=dpkt.pcap.DLT_EN10MB)

        def udp(sport: int, dport: int, data: bytes) -> dpkt.udp.UDP:
            return dpkt.udp.UDP(sport=sport, dport=dport, ulen=8 + len(data), data=data)

        def send(src, dst, proto, payload) -> None:
            nonlocal when, written
            when += 0.0005
            writer.writepkt(cap.ip_packet(src, dst, proto, payload), ts=when)
            written += 1

        while written < packets:
            client = host("c", f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}")
            server = servers[n % len(servers)]
            port = 1024 + n % 60000
            query = dpkt.dns.DNS(id=n % 65536, qd=[dpkt.dns.DNS.Q(name=f"host{n}.example")])
            send(
                client,
                resolver,
                dpkt.ip.IP_PROTO_UDP,
                udp(port, 53, bytes(query)),
            )
            query.op = dpkt.dns.DNS_QR | dpkt.dns.DNS_RA
            query.an = [dpkt.dns.DNS.RR(name=f"host{n}.example", ip=server.ip_bytes)]
            send(
                resolver,
                client,
                dpkt.ip.IP_PROTO_UDP,
                udp(53, port, bytes(query)),
            )
            dport = 80 if n % 2 else 443
            request = b"GET / HTTP/1.1\r\nHost: example\r\n\r\n" if dport == 80 else bytes(200)
            replies = [bytes(1200)] * draw.randint(2, 12)
            c_seq, s_seq = 1, 1
            segments = [
                (True, dpkt.tcp.TH_SYN, 0, 0, b""),
                (False, dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK, 0, 1, b""),
                (True, dpkt.tcp.TH_ACK, 1, 1, b""),
                (True, dpkt.tcp.TH_PUSH | dpkt.tcp.TH_ACK, 1, 1, request),
            ]
            c_seq += len(request)
            for reply in replies:
                segments.append((False, dpkt.tcp.TH_ACK, s_seq, c_seq, reply))
                s_seq += len(reply)
            segments += [
                (True, dpkt.tcp.TH_ACK, c_seq, s_seq, b""),
                (True, dpkt.tcp.TH_FIN | dpkt.tcp.TH_ACK, c_seq, s_seq, b""),
                (False, dpkt.tcp.TH_FIN | dpkt.tcp.TH_ACK, s_seq, c_seq + 1, b""),
                (True, dpkt.tcp.TH_ACK, c_seq + 1, s_seq + 1, b""),
            ]
            for from_client, flags, seq, ack, payload in segments:
                src, dst = (client, server) if from_client else (server, client)
                sport, tport = (port, dport) if from_client else (dport, port)
                segment = dpkt.tcp.TCP(
                    sport=sport, dport=tport, seq=seq, ack=ack, flags=flags, data=payload
                )
                send(src, dst, dpkt.ip.IP_PROTO_TCP, segment)
            n += 1


ZEEK_TABLE_SIZES = """
event zeek_done()
    {
    print fmt("gre_links=%d gre_receivers=%d", |PPTP::gre_links|, |PPTP::gre_receivers|);
    }
"""


def zeek_lines(pcap: Path, repeat: int, label: str) -> list[str]:
    """Zeek bare, with our package, and with the package's GRE analysis off: CPU time, best
    of ``repeat`` runs of each taken in turns, so that drift in the machine's load hits all
    three alike, and peak memory; both as ratios to bare Zeek."""
    if not zeek.available():
        return [f"{label}: zeek is not installed here, not measured"]
    analyzer = zeek.build_analyzer()
    args = ["-C", "-r", str(pcap.resolve())]
    variants = {
        "bare": args,
        "package": [*args, str(zeek.PACKAGE)],
        "GRE off": [*args, str(zeek.PACKAGE), "PPTP::analyze_gre=F"],
    }
    program = str(zeek.zeek_bin() / "zeek")
    with tempfile.TemporaryDirectory() as folder:
        measured = measure_in_turns(
            list(variants.values()), repeat, program, folder, zeek.environment()
        )
        sizes = Path(folder) / "sizes.zeek"
        sizes.write_text(ZEEK_TABLE_SIZES)
        tables = subprocess.run(
            [program, *args, str(zeek.PACKAGE), str(sizes)],
            cwd=folder,
            env=zeek.environment(),
            capture_output=True,
            text=True,
        ).stdout.strip()
    runs = dict(zip(variants, measured, strict=True))

    def show(name: str) -> str:
        time_ratio = runs[name].cpu / runs["bare"].cpu
        memory_ratio = runs[name].peak_kib / runs["bare"].peak_kib
        return (
            f"{name} {runs[name].cpu:6.2f} s {runs[name].peak_kib / 1024:7.1f} MiB "
            f"(time {time_ratio:4.2f}x, memory {memory_ratio:4.2f}x)"
        )

    how = f"GRE analyzer {analyzer.name}" if analyzer else "no GRE analyzer (Zeek without Spicy)"
    return [
        f"{label}: zeek, CPU time, best of {repeat} in turns, {how}: bare "
        f"{runs['bare'].cpu:6.2f} s {runs['bare'].peak_kib / 1024:7.1f} MiB | "
        f"{show('package')} | {show('GRE off')}",
        f"{label}: zeek tables at the end: {tables}",
    ]


def zeek_only_lines(folder: Path, sessions: int, repeat: int) -> list[str]:
    """The Zeek package against bare Zeek on the sessions, ordinary-traffic and state-bounds
    captures."""
    pcap = _built(folder / f"bench-{sessions}.pcap", "sessions", sessions)
    ordinary = _built(folder / "ordinary-100000.pcap", "ordinary", 100_000)
    bounds = _built(folder / "bounds-100000.pcap", "bounds", 100_000)
    return [
        *zeek_lines(pcap, repeat, f"sessions ({sessions} calls)"),
        *zeek_lines(ordinary, repeat, "ordinary traffic (100,000 packets, no PPTP)"),
        *zeek_lines(bounds, repeat, "state bounds"),
    ]


def tshark_mode_lines(folder: Path, plugin: Path, repeat: int) -> list[str]:
    """The plugin against Wireshark's built-ins and the minimal Lua GRE dissector in each way
    users run tshark, on the traffic a VPN carries (calls of MPPE), as the harness runs tshark
    (an ordinary user's, whoever runs the bench)."""
    pcap = _built(folder / f"traffic-{TRAFFIC_CALLS}.pcap", "traffic", TRAFFIC_CALLS)
    frames = len(
        tshark.run(["-n", "-r", str(pcap), "-T", "fields", "-e", "frame.number"]).stdout.split()
    )
    account = tshark.unprivileged_account()
    who = f"as uid {account[0]}" if account else "as this user"
    lines = [
        f"capture: {pcap} ({frames} frames: {TRAFFIC_CALLS} calls of {TRAFFIC_GRE_PER_CALL} GRE "
        "packets, 98% MPPE)",
        f"{tshark.version()}, {who}; CPU time, best of {repeat} taken in turns; every run "
        "proved its GRE dissector; memory: peak resident",
        f"{'mode':<10} {'built-in':>9} {'minimal':>9} {'plugin':>9}   plugin/built-in "
        f"plugin/minimal   memory/built-in",
    ]
    for label, extra in TSHARK_MODES:
        command = ["-n", "-r", str(pcap), *extra]
        builtin, minimal, ours = measure_in_turns(
            [
                command,
                [*command, "-X", f"lua_script:{MINIMAL_GRE}"],
                [*command, "-X", f"lua_script:{plugin}"],
            ],
            repeat,
        )
        lines.append(
            f"{label:<10} {builtin.cpu:7.2f} s {minimal.cpu:7.2f} s {ours.cpu:7.2f} s   "
            f"{ours.cpu / builtin.cpu:14.2f}x {ours.cpu / minimal.cpu:13.2f}x   "
            f"{ours.peak_kib / builtin.peak_kib:14.2f}x"
        )
    return lines


def run(
    folder: Path,
    sessions: int,
    plugin: Path,
    repeat: int = 3,
    tshark_only: bool = False,
    zeek_only: bool = False,
) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    if zeek_only:
        lines = zeek_only_lines(folder, sessions, repeat)
        return "\n".join([*lines, *damaged_zeek_lines(folder, repeat)])
    pcap = _built(folder / f"bench-{sessions}.pcap", "sessions", sessions)
    lines = tshark_mode_lines(folder, plugin, repeat)
    lines += decryption_lines(folder, plugin, pcap, repeat)
    lines += damaged_lines(folder, plugin, repeat)
    if not tshark_only:
        lines += zeek_lines(pcap, repeat, "sessions")
        lines += damaged_zeek_lines(folder, repeat)
        ordinary = _built(folder / "ordinary-100000.pcap", "ordinary", 100_000)
        lines += zeek_lines(ordinary, repeat, "ordinary traffic (100,000 packets, no PPTP)")

    bounds = _built(folder / "bounds-100000.pcap", "bounds", 100_000)
    command = ["-n", "-r", str(bounds)]
    builtin = measure(command, 1)
    ours = measure([*command, "-X", f"lua_script:{plugin}"], 1)
    lines.append(
        f"state bounds (100,000 open control connections, GRE for 65,536 Call IDs): "
        f"built-in {builtin.peak_kib / 1024:.1f} MiB, plugin {ours.peak_kib / 1024:.1f} MiB, "
        f"ratio {ours.peak_kib / builtin.peak_kib:4.2f}x"
    )
    if tshark_only:
        return "\n".join(lines)
    lines += zeek_lines(bounds, repeat, "state bounds")

    summary = fuzz.campaign(plugin, duration=60, seed_value=0, corpus=folder / "fuzz-failures")
    lines.append(
        f"fuzzing (60 s, {os.cpu_count()} jobs{', Zeek too' if zeek.available() else ''}): "
        f"{summary.packets:,} packets, {summary.packets / summary.seconds:,.0f} packets/s "
        f"verified, {len(summary.failures)} failures"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    kind, size, out = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    if kind == "bounds":
        bounds_capture(out, size)
    elif kind == "ordinary":
        ordinary_capture(out, size)
    elif kind == "decrypt":
        decrypt_capture(size).write_pcap(out)
    elif kind == "traffic":
        traffic_capture(size).write_pcap(out)
    elif kind == "mppe":
        mppe_calls_capture(size).write_pcap(out)
    else:
        big_capture(size).write_pcap(out)
