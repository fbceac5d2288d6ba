"""Speed and memory of our plugin against Wireshark's built-in dissectors on the same capture.

The capture is synthesized: many control connections, each with a call, a full PPP
negotiation and a stream of MPPE data both ways (about 240 packets a session). Both runs use
the same tshark command; only ``-X lua_script:`` differs. Reported as ratios, never asserted.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from . import tshark
from .capture import Capture, ControlConnection, host
from .constants import AUTH_MSCHAP_V2
from .scenarios import SERVER

DATA_PACKETS = 200


def big_capture(sessions: int) -> Capture:
    """``sessions`` PPTP sessions one after another, each on its own client address."""
    cap = Capture("bench", f"{sessions} sessions of {DATA_PACKETS} data packets")
    for n in range(sessions):
        client = host(f"client-{n}", f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}")
        conn = ControlConnection(cap, client, SERVER, 40000 + n % 20000)
        conn.start()
        call = conn.outgoing_call(n % 65536, (n * 7 + 1) % 65536, serial=n % 65536)
        call.ppp_session(AUTH_MSCHAP_V2, mppe=True, data_packets=DATA_PACKETS)
        call.lcp_terminate()
        call.clear_by_client()
        conn.stop()
    return cap


@dataclass
class Run:
    seconds: float
    peak_kib: int


def measure(args: list[str], repeat: int) -> Run:
    """Best wall time and peak resident memory of ``repeat`` runs of tshark ``args``."""
    best = Run(float("inf"), 0)
    for _ in range(repeat):
        start = time.perf_counter()
        process = subprocess.Popen(
            [tshark.tshark_path(), *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=tshark.environment(),
        )
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
        if status != 0:
            raise tshark.TsharkError(f"tshark {' '.join(args)} exited with status {status}")
        best = Run(min(best.seconds, elapsed), max(best.peak_kib, usage.ru_maxrss))
    return best


def run(folder: Path, sessions: int, plugin: Path, repeat: int = 3) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    pcap = folder / f"bench-{sessions}.pcap"
    if not pcap.exists():
        # Built in a child so this process stays small: a child's peak memory starts at its
        # parent's, and the measured tshark runs are children of this process.
        subprocess.run(
            [sys.executable, "-m", "pptp_harness.bench", str(sessions), str(pcap)], check=True
        )
    frames = sum(
        1
        for _ in tshark.run(
            ["-n", "-r", str(pcap), "-T", "fields", "-e", "frame.number"]
        ).stdout.splitlines()
    )
    lines = [f"capture: {pcap} ({frames} frames, {sessions} calls)", f"{tshark.version()}"]
    for label, extra in (("one pass", []), ("two passes (-2)", ["-2"]), ("full tree (-V)", ["-V"])):
        command = ["-n", "-r", str(pcap), *extra]
        builtin = measure(command, repeat)
        ours = measure([*command, "-X", f"lua_script:{plugin}"], repeat)
        lines.append(
            f"{label:<16} built-in {builtin.seconds:6.2f} s {builtin.peak_kib / 1024:7.1f} MiB | "
            f"plugin {ours.seconds:6.2f} s {ours.peak_kib / 1024:7.1f} MiB | "
            f"ratio time {ours.seconds / builtin.seconds:4.2f}x memory "
            f"{ours.peak_kib / builtin.peak_kib:4.2f}x"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    big_capture(int(sys.argv[1])).write(sys.argv[2])
