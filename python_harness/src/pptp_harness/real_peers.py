"""Captures of real PPTP peers: pptpd and pptp-linux in two network namespaces.

As root, ``capture_all`` builds a private two-host network for each scenario (two namespaces
joined by a veth pair, addresses only inside them, no route out), runs pptpd in one and pptp in the
other with configuration in a temporary folder, records the traffic with tcpdump on the server's
side and tears everything down. Each run is bounded in time; at the end every process left in the
two namespaces (all started here) is ended, and the namespaces are deleted.

Without ``/dev/ppp`` pppd cannot run, so the PPP side of both programs is ``ppp_peer`` (pptpd
``--ppp``, pptp ``--nolaunchpppd``); see that module.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

SERVER_IP = "10.99.0.1"
CLIENT_IPS = ("10.99.0.2", "10.99.0.3")
TUNNEL_LOCAL, TUNNEL_REMOTE = "192.168.99.1", "192.168.99.10-19"
CAPTURE_FILTER = "tcp port 1723 or ip proto 47"
PROGRAMS = ("pptpd", "pptp", "tcpdump", "ip", "ss", "ethtool")


@dataclass
class Client:
    """One pptp process and the PPP peer on its stdin."""

    peer_args: tuple[str, ...] = ()
    pptp_args: tuple[str, ...] = ()
    address: str = CLIENT_IPS[0]  # pptp --localbind: one call manager per address
    delay: float = 0.0  # seconds after the previous client started


@dataclass
class RealScenario:
    name: str
    description: str
    clients: list[Client]
    server_peer_args: tuple[str, ...] = ()
    server_conf: tuple[str, ...] = ()  # extra pptpd.conf lines
    settle: float = 1.5  # seconds of capture after the last PPP peer ended
    timeout: float = 40.0


SCENARIOS = [
    RealScenario(
        "call_hangup",
        "call setup, CHAP-MD5, MPPE, ten echoes each way, client hangs up (LCP Terminate, "
        "pptp clears the call)",
        [Client(("--auth", "CHAP-MD5", "--mppe", "--pings", "10", "--hang-up"))],
        server_peer_args=("--auth", "CHAP-MD5", "--mppe"),
    ),
    RealScenario(
        "server_shutdown",
        "the server's PPP side terminates the link after five echoes; pptpd closes",
        [Client(("--auth", "CHAP-MD5", "--mppe", "--pings", "5"))],
        server_peer_args=("--auth", "CHAP-MD5", "--mppe", "--pings", "5", "--hang-up"),
    ),
    RealScenario(
        "echo_keepalive",
        "an idle call for seven seconds with pptp's echo interval at 2 s (--idle-wait 2)",
        [
            Client(
                ("--auth", "CHAP-MD5", "--mppe", "--pings", "3", "--interval", "3", "--hang-up"),
                ("--idle-wait", "2"),
            )
        ],
        server_peer_args=("--auth", "CHAP-MD5", "--mppe"),
    ),
    RealScenario(
        "two_calls",
        "two pptp processes to one server share pptp's call manager: two calls on one control "
        "connection",
        [
            Client(("--auth", "CHAP-MD5", "--mppe", "--pings", "8", "--hang-up")),
            Client(("--auth", "CHAP-MD5", "--mppe", "--pings", "4", "--hang-up"), delay=0.8),
        ],
        server_peer_args=("--auth", "CHAP-MD5", "--mppe"),
    ),
    RealScenario(
        "gre_reordering",
        "PAP and cleartext IP; pptp sends ten packets in reverse order every twelve "
        "(--test-type 3 --test-rate 12)",
        [
            Client(
                ("--auth", "PAP", "--pings", "40", "--interval", "0.05", "--hang-up"),
                ("--test-type", "3", "--test-rate", "12"),
            )
        ],
        server_peer_args=("--auth", "PAP"),
    ),
    RealScenario(
        "connection_limit",
        "pptpd allows one connection (connections 1): a second client's "
        "Start-Control-Connection-Request goes unanswered until the first connection closes; "
        "by then its PPP side has given up, so it clears the call it just placed",
        [
            Client(
                ("--auth", "CHAP-MD5", "--mppe", "--pings", "12", "--interval", "0.3", "--hang-up")
            ),
            Client(("--timeout", "2"), address=CLIENT_IPS[1], delay=1.5),
        ],
        server_peer_args=("--auth", "CHAP-MD5", "--mppe"),
        server_conf=("connections 1",),
    ),
]
SCENARIO_NAMES = [s.name for s in SCENARIOS]


def missing_programs() -> list[str]:
    return [name for name in PROGRAMS if shutil.which(name) is None]


def run(*command: str) -> None:
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def in_namespace(namespace: str, *command: str) -> list[str]:
    return ["ip", "netns", "exec", namespace, *command]


@dataclass
class Lab:
    """Two namespaces joined by a veth pair, and the processes started in them."""

    folder: Path
    tag: str = field(default_factory=lambda: f"pa{os.getpid() % 100000}")
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def server(self) -> str:
        return f"{self.tag}-srv"

    @property
    def client(self) -> str:
        return f"{self.tag}-cli"

    def build(self) -> None:
        run("ip", "netns", "add", self.server)
        run("ip", "netns", "add", self.client)
        server_link, client_link = f"{self.tag}s", f"{self.tag}c"
        run("ip", "link", "add", server_link, "type", "veth", "peer", "name", client_link)
        run("ip", "link", "set", server_link, "netns", self.server)
        run("ip", "link", "set", client_link, "netns", self.client)
        run("ip", "-n", self.server, "addr", "add", f"{SERVER_IP}/24", "dev", server_link)
        for address in CLIENT_IPS:
            run("ip", "-n", self.client, "addr", "add", f"{address}/24", "dev", client_link)
        for namespace, link in ((self.server, server_link), (self.client, client_link)):
            run("ip", "-n", namespace, "link", "set", "lo", "up")
            run("ip", "-n", namespace, "link", "set", link, "up")
            # Checksums computed in software, so the capture carries valid ones (a veth
            # otherwise leaves TCP checksums to an offload that never happens).
            run(*in_namespace(namespace, "ethtool", "-K", link, "tx", "off"))
        self.server_link = server_link

    def start(self, command: list[str], log: str, **options) -> subprocess.Popen:
        with open(self.folder / log, "ab") as out:
            process = subprocess.Popen(
                command, stderr=out, start_new_session=True, **{"stdout": out, **options}
            )
        self.processes.append(process)
        return process

    def teardown(self) -> None:
        """End what runs in the namespaces (all of it started here), then delete them."""
        for namespace in (self.client, self.server):
            pids = subprocess.run(
                ["ip", "netns", "pids", namespace], capture_output=True, text=True
            ).stdout.split()
            for pid in pids:
                with suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
        for process in self.processes:
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)
        for namespace in (self.client, self.server):
            subprocess.run(["ip", "netns", "del", namespace], stderr=subprocess.DEVNULL)


@contextmanager
def lab(folder: Path) -> Iterator[Lab]:
    network = Lab(folder)
    try:
        network.build()
        yield network
    finally:
        network.teardown()


def wait_for(check, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() > end:
            raise TimeoutError(f"{what} did not come up within {timeout} s")
        time.sleep(0.05)


def start_capture(network: Lab, pcap: Path) -> subprocess.Popen:
    log = network.folder / "tcpdump.log"
    command = in_namespace(
        network.server,
        "tcpdump",
        "-i",
        network.server_link,
        "-U",
        "-s",
        "0",
        "-n",
        "-w",
        str(pcap),
        CAPTURE_FILTER,
    )
    process = network.start(command, "tcpdump.log")
    wait_for(lambda: "listening on" in log.read_text(errors="replace"), 10, "tcpdump")
    return process


def start_server(network: Lab, scenario: RealScenario) -> subprocess.Popen:
    folder = network.folder
    (folder / "options").write_text("")
    conf = [f"option {folder / 'options'}", f"localip {TUNNEL_LOCAL}", f"remoteip {TUNNEL_REMOTE}"]
    (folder / "pptpd.conf").write_text("\n".join([*conf, *scenario.server_conf]) + "\n")
    peer = folder / "ppp-peer"
    arguments = " ".join(shlex.quote(a) for a in scenario.server_peer_args)
    peer.write_text(
        "#!/bin/sh\n"
        f"exec {shlex.quote(sys.executable)} -m pptp_harness.ppp_peer --role server "
        f'{arguments} "$@" 2>>{shlex.quote(str(folder / "ppp-server.log"))}\n'
    )
    peer.chmod(0o755)
    command = in_namespace(
        network.server,
        "pptpd",
        "--fg",
        "--conf",
        str(folder / "pptpd.conf"),
        "--ppp",
        str(peer),
        "--pidfile",
        str(folder / "pptpd.pid"),
    )
    process = network.start(command, "pptpd.log")

    def listening() -> bool:
        out = subprocess.run(
            in_namespace(network.server, "ss", "-Hltn", "sport = :1723"),
            capture_output=True,
            text=True,
        ).stdout
        return bool(out.strip())

    wait_for(listening, 10, "pptpd")
    return process


def start_client(network: Lab, client: Client, number: int) -> subprocess.Popen:
    """pptp on one end of a socket pair, the PPP peer on the other; returns the peer."""
    ours, theirs = socket.socketpair()
    network.start(
        in_namespace(
            network.client,
            "pptp",
            SERVER_IP,
            "--nolaunchpppd",
            "--debug",
            "--loglevel",
            "0",
            "--localbind",
            client.address,
            "--nohostroute",
            *client.pptp_args,
        ),
        f"pptp-{number}.log",
        stdin=theirs,
        stdout=theirs,
    )
    peer = network.start(
        [sys.executable, "-m", "pptp_harness.ppp_peer", "--role", "client", *client.peer_args],
        f"ppp-client-{number}.log",
        stdin=ours,
        stdout=ours,
    )
    ours.close()
    theirs.close()
    return peer


def capture(scenario: RealScenario, pcap: Path) -> Path:
    """Run one scenario and write its capture to ``pcap``."""
    pcap = Path(pcap).resolve()
    pcap.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pptp-real-") as temp:
        folder = Path(temp)
        os.chmod(folder, 0o755)
        raw = folder / "capture.pcap"
        with lab(folder) as network:
            tcpdump = start_capture(network, raw)
            start_server(network, scenario)
            peers = []
            for number, client in enumerate(scenario.clients, 1):
                time.sleep(client.delay)
                peers.append(start_client(network, client, number))
            end = time.monotonic() + scenario.timeout
            for peer in peers:
                with suppress(subprocess.TimeoutExpired):
                    peer.wait(timeout=max(0.1, end - time.monotonic()))
            time.sleep(scenario.settle)
            tcpdump.send_signal(signal.SIGINT)
            with suppress(subprocess.TimeoutExpired):
                tcpdump.wait(timeout=5)
        logs = {p.name: p.read_text(errors="replace") for p in folder.glob("*.log")}
        if not raw.exists():
            raise RuntimeError(f"{scenario.name}: no capture; logs: {logs}")
        shutil.copyfile(raw, pcap)
    return pcap


def capture_all(out_dir: Path, names: list[str] | None = None) -> list[Path]:
    if os.geteuid() != 0:
        raise PermissionError("network namespaces need root: run as root (or with sudo)")
    missing = missing_programs()
    if missing:
        raise FileNotFoundError(f"missing programs: {', '.join(missing)}")
    chosen = [s for s in SCENARIOS if names is None or s.name in names]
    return [capture(s, Path(out_dir) / f"{s.name}.pcap") for s in chosen]
