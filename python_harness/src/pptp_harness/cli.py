"""``pptp-harness``: list scenarios, generate a capture with its ground truth, check a capture,
decrypt a PPTP capture or list its MS-CHAPv2 handshakes, check the links of Markdown files."""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from . import (
    bench,
    decrypt,
    fuzz,
    oracle,
    real_peers,
    reports,
    rootfs,
    scenarios,
    tshark,
    tunnels,
    zeek,
)
from .credentials import Credential, read_credentials, write_credentials
from .fuzz import hostile_traffic

DEMO_SCENARIO = "mschapv2_mppe"
DEMO_DECRYPTION = "decrypt_stateless_128"
DEMO_LINES = 8  # packet-list lines of the decryption demo, before and after decryption
NO_ZEEK = (
    "zeek is not installed: the Zeek part of the demo is skipped "
    "(README, section Zeek: build Zeek 8.0 with Spicy into /opt/zeek)"
)


def _analyzer(args: argparse.Namespace) -> oracle.Analyzer:
    if not args.lua:
        return oracle.BUILTIN
    return oracle.plugin(args.lua, reassemble=not getattr(args, "no_reassembly", False))


def cmd_scenarios(args: argparse.Namespace) -> int:
    width = max(len(n) for n in scenarios.SCENARIOS)
    for name, sc in scenarios.SCENARIOS.items():
        kind = "valid    " if sc.valid else "malformed"
        print(f"{name:<{width}}  {kind}  {sc.description}")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    names = scenarios.names() if args.scenario == "all" else [args.scenario]
    unknown = [n for n in names if n not in scenarios.SCENARIOS]
    if unknown:
        print(
            f"unknown scenario {unknown[0]!r}; `pptp-harness scenarios` lists them", file=sys.stderr
        )
        return 2
    for name in names:
        out = Path(args.output) if args.scenario != "all" else Path(args.output) / f"{name}.pcap"
        out.parent.mkdir(parents=True, exist_ok=True)
        cap = scenarios.build(name)
        truth = cap.write(out)
        print(f"{out}: {len(cap.frames)} frames; ground truth in {truth}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    failed = 0
    for pcap in args.pcap:
        report = oracle.check_pcap(pcap, _analyzer(args))
        print(report.format())
        failed += not report.ok
    return 1 if failed else 0


def cmd_demo(args: argparse.Namespace) -> int:
    workdir = Path(args.output or tempfile.mkdtemp(prefix="pptp-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    pcap = workdir / f"{DEMO_SCENARIO}.pcap"
    cap = scenarios.build(DEMO_SCENARIO)
    cap.write(pcap)
    lua = (args.lua,) if args.lua else ()
    who = "our plugin" if args.lua else "Wireshark's built-in pptp/gre/ppp dissectors"
    print(f"# {scenarios.SCENARIOS[DEMO_SCENARIO].description}")
    print(f"# {pcap}: {len(cap.frames)} frames")
    print(f"# decoded by {tshark.version()}\n# with {who}\n")
    print(tshark.summary_lines(pcap, lua))
    mppe = next(f.number for f in cap.frames if f.truth.get("inner_stack") == "ppp:comp_data")
    print(f"# A reply (frame 5) and an encrypted data packet (frame {mppe}) in full:\n")
    layers = ("pptp_ctrl", "pptp_gre", "ppp") if args.lua else ("pptp", "gre", "ppp")
    for frame in (5, mppe):
        print(tshark.tree(pcap, frame, lua, layers, two_pass=bool(args.lua)))
    if args.lua:
        print("# tshark -q -z pptp,calls:\n")
        print(tshark.statistics(pcap, "pptp,calls", lua))
    else:
        print("# The ground truth's per-call summary:\n")
        for call in cap.ground_truth()["calls"]:
            for key, value in call.items():
                print(f"  {key:<20} {value}")
    print("\n# Checking every frame against the ground truth:\n")
    report = oracle.check_pcap(pcap, _analyzer(args))
    print(report.format())
    if args.lua:
        _demo_decryption(workdir, lua)
    if zeek.available():
        print(f"\n# Zeek ({zeek.zeek_bin()}) with the pptp-analysis package:\n")
        print(zeek.demo_logs(pcap, workdir / "zeek"))
    else:
        print(f"\n# {NO_ZEEK}")
    return 0 if report.ok else 1


def _demo_decryption(workdir: Path, lua: tuple[str, ...]) -> None:
    """A call whose user's password the analyst knows, decrypted in place: the inner ICMP in
    the packet list, and the calls table naming whose key opened it."""
    pcap = workdir / f"{DEMO_DECRYPTION}.pcap"
    scenarios.build(DEMO_DECRYPTION).write(pcap)
    login = scenarios.LOGINS["alice"]
    credentials = write_credentials(workdir, [f"{login.user}:{login.password}"])
    prefs = [f"pptp_gre.credentials_file:{credentials}"]
    print(f"\n# Decryption: {scenarios.SCENARIOS[DEMO_DECRYPTION].description}")
    print(f"# {pcap}, with {credentials} (the user's password: USER:PASSWORD) named by")
    print("# the preference pptp_gre.credentials_file. The call's first packets and its")
    print("# decrypted pings:\n")
    listing = tshark.summary_lines(pcap, lua, prefs=prefs).splitlines()
    decrypted = [line for line in listing if "ICMP" in line]
    print("\n".join([*listing[:DEMO_LINES], "  ...", *decrypted[:DEMO_LINES]]))
    print("\n# tshark -q -z pptp,calls with the credentials file:\n")
    print(tshark.statistics(pcap, "pptp,calls", lua, prefs=prefs))


def cmd_bench(args: argparse.Namespace) -> int:
    print(
        bench.run(
            Path(args.output),
            args.sessions,
            Path(args.lua),
            args.repeat,
            args.tshark_only,
            args.zeek_only,
        )
    )
    return 0


def cmd_fuzz(args: argparse.Namespace) -> int:
    print(
        f"fuzzing {args.lua} with {tshark.version()}: seed {args.seed}, "
        f"{args.jobs or 'all'} jobs, failures saved into {args.corpus}",
        file=sys.stderr,
    )
    progress = None if args.quiet else fuzz.ProgressBar()
    try:
        summary = fuzz.campaign(
            args.lua,
            cases=args.cases,
            packets=args.packets,
            duration=args.duration,
            seed_value=args.seed,
            jobs=args.jobs,
            corpus=Path(args.corpus),
            progress=progress,
        )
    finally:
        if progress:
            progress.close()
    print(summary.table())
    return 1 if summary.failures else 0


def cmd_replay(args: argparse.Namespace) -> int:
    pcaps = args.pcap or sorted(Path(args.corpus).glob("*.pcap"))
    failed = 0
    for pcap in pcaps:
        problems = fuzz.replay(pcap, args.lua)
        description = oracle.load_truth(pcap)["description"]
        print(f"{'FAIL' if problems else 'ok'}  {pcap}: {description}")
        for problem in problems:
            print(f"      {problem}")
        failed += bool(problems)
    # Hostile-traffic cases are saved as the recipes that rebuild them.
    recipes = [] if args.pcap else sorted(Path(args.corpus).glob("hostile-*.case.json"))
    for recipe in recipes:
        case = hostile_traffic.load_case(recipe)
        if case.source not in hostile_traffic.sources():
            print(f"skip  {recipe}: its source {case.source} is not here")
            continue
        problems, _ = hostile_traffic.check_case(case, args.lua)
        print(f"{'FAIL' if problems else 'ok'}  {recipe}")
        for problem in problems:
            print(f"      {problem}")
        failed += bool(problems)
    total = len(pcaps) + len(recipes)
    print(f"{total - failed} of {total} regressions pass")
    return 1 if failed else 0


def cmd_real_captures(args: argparse.Namespace) -> int:
    unknown = sorted(set(args.scenario) - set(real_peers.SCENARIO_NAMES))
    if unknown:
        print(f"unknown real-capture scenario {unknown[0]!r}", file=sys.stderr)
        return 2
    try:
        written = real_peers.capture_all(Path(args.output), args.scenario or None)
    except (PermissionError, FileNotFoundError, TimeoutError, RuntimeError) as exc:
        print(f"pptp-harness real-captures: {exc}", file=sys.stderr)
        return 2
    for pcap in written:
        print(f"{pcap}: {pcap.stat().st_size} bytes")
    return 0


def cmd_rootfs(args: argparse.Namespace) -> int:
    try:
        return rootfs.main(args.action, args.suites, args.users.split(","))
    except (rootfs.RootfsError, subprocess.CalledProcessError) as exc:
        print(f"pptp-harness rootfs: {exc}", file=sys.stderr)
        return 2


def _credentials(args: argparse.Namespace) -> list[Credential]:
    if args.credentials_file:
        return read_credentials(args.credentials_file)
    if args.nt_hash is not None:
        return [Credential.from_nt_hash(args.nt_hash)]
    return [Credential.from_password(args.password)]


def cmd_decrypt(args: argparse.Namespace) -> int:
    try:
        credentials = _credentials(args)
        found = tunnels.scan(args.pcap)
        result = decrypt.decrypt(found, credentials, args.user)
        written = decrypt.write_packets(result.packets, args.output)
    except (OSError, ValueError) as exc:  # never the credential: CredentialError leaves it out
        print(f"pptp-harness decrypt: {exc}", file=sys.stderr)
        return 2
    handshakes = len(found.handshakes)
    print(
        f"{args.pcap}: {found.frames} frames, {len(found.calls)} call(s), "
        f"{handshakes} MS-CHAPv2 handshake(s)"
    )
    if found.unconfirmed:
        packets = sum(len(f.packets) for f in found.unconfirmed)
        print(
            f"{len(found.unconfirmed)} GRE flow(s) of no call ({packets} packet(s)): no control "
            "connection claims them, and neither a paired flow nor their own sequence numbers "
            "confirm them (altered or forged packets)"
        )
    for line in reports.decryption_report(found, result):
        print(line)
    encrypted = [c for c in result.calls if c.status != "no MPPE"]
    opened = [c for c in encrypted if c.decrypted]
    clear = sum(c.clear for c in result.calls)
    print(
        f"{args.output}: {written} packet(s) written ({result.decrypted} decrypted, {clear} in "
        f"the clear); {len(opened)} of {len(encrypted)} encrypted call(s) decrypted"
    )
    return 0 if result.decrypted else 1


def cmd_handshakes(args: argparse.Namespace) -> int:
    try:
        found = tunnels.scan(args.pcap)
        wordlist = open(args.wordlist, "rb") if args.wordlist else None  # noqa: SIM115
    except (OSError, ValueError) as exc:
        print(f"pptp-harness handshakes: {exc}", file=sys.stderr)
        return 2
    print(f"{args.pcap}: {len(found.handshakes)} MS-CHAPv2 handshake(s)")
    for line in reports.handshake_report(found):
        print(line)
    if wordlist is not None:
        with wordlist:
            tried = reports.try_wordlist(found.handshakes, wordlist)
        for line in reports.wordlist_report(found, tried, args.wordlist):
            print(line)
    return 0 if found.handshakes else 1


def cmd_doclinks(args: argparse.Namespace) -> int:
    from . import doclinks  # markdown-it-py: in the lint extras, needed by this command only

    broken = doclinks.check(args.files)
    for link in broken:
        print(link)
    print(
        f"{len(args.files)} Markdown file(s): "
        f"{len(broken) or 'no'} broken relative link{'' if len(broken) == 1 else 's'}",
        file=sys.stderr if broken else sys.stdout,
    )
    return 1 if broken else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pptp-harness", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("scenarios", help="list the named scenarios").set_defaults(func=cmd_scenarios)
    gen = sub.add_parser(
        "generate", help="write SCENARIO as a pcap with its ground truth beside it"
    )
    gen.add_argument(
        "scenario", help="a name from `pptp-harness scenarios`, or `all` (then -o is a folder)"
    )
    gen.add_argument(
        "-o", "--output", required=True, help="FILE.pcap (FILE.truth.json is written beside it)"
    )
    gen.set_defaults(func=cmd_generate)
    check = sub.add_parser(
        "check", help="decode pcaps with tshark and compare with their ground truth"
    )
    check.add_argument("pcap", nargs="+")
    check.add_argument(
        "--lua", help="load this Wireshark Lua plugin and check its fields (default: the built-ins)"
    )
    check.add_argument(
        "--no-reassembly", action="store_true", help="with --lua: turn the plugin's reassembly off"
    )
    check.set_defaults(func=cmd_check)
    demo = sub.add_parser("demo", help="synthesize a sample session and show how tshark decodes it")
    demo.add_argument("--lua", help="decode with this Wireshark Lua plugin")
    demo.add_argument(
        "-o", "--output", help="folder for the sample capture (default: a temporary one)"
    )
    demo.set_defaults(func=cmd_demo)
    ben = sub.add_parser(
        "bench", help="time tshark with the plugin and Zeek with the package against baselines"
    )
    ben.add_argument("--lua", required=True, help="the Wireshark Lua plugin")
    ben.add_argument(
        "--sessions", type=int, default=430, help="calls in the capture (~233 frames each)"
    )
    ben.add_argument("--repeat", type=int, default=3, help="runs per variant (best time is kept)")
    ben.add_argument("-o", "--output", default="build/bench", help="folder for the capture")
    only = ben.add_mutually_exclusive_group()
    only.add_argument(
        "--tshark-only", action="store_true", help="only the plugin against the built-ins"
    )
    only.add_argument(
        "--zeek-only", action="store_true", help="only the Zeek package against bare Zeek"
    )
    ben.set_defaults(func=cmd_bench)
    fz = sub.add_parser(
        "fuzz",
        help="fuzz the plugin: grammar and mutation cases, batched, failures saved as regressions",
    )
    fz.add_argument("--lua", required=True, help="the Wireshark Lua plugin")
    fz.add_argument("--cases", type=int, help="stop after this many cases")
    fz.add_argument("--packets", type=int, help="stop after this many packets")
    fz.add_argument("--duration", type=float, help="stop after this many seconds")
    fz.add_argument("--seed", type=int, default=0, help="campaign seed (default 0)")
    fz.add_argument("--jobs", type=int, help="worker processes (default: all cores)")
    fz.add_argument("--corpus", default=str(fuzz.REGRESSIONS), help="where failures are saved")
    fz.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    fz.set_defaults(func=cmd_fuzz)
    rp = sub.add_parser("replay", help="hold the plugin to every saved regression case")
    rp.add_argument("pcap", nargs="*", help="regression pcaps (default: the whole corpus)")
    rp.add_argument("--lua", required=True, help="the Wireshark Lua plugin")
    rp.add_argument("--corpus", default=str(fuzz.REGRESSIONS), help="the regression folder")
    rp.set_defaults(func=cmd_replay)
    real = sub.add_parser(
        "real-captures",
        help="capture real pptpd and pptp-linux in two network namespaces (needs root)",
    )
    real.add_argument(
        "scenario",
        nargs="*",
        help=f"which to capture (default: all): {', '.join(real_peers.SCENARIO_NAMES)}",
    )
    real.add_argument("-o", "--output", default="testdata/real", help="folder for the pcaps")
    real.set_defaults(func=cmd_real_captures)
    other = sub.add_parser(
        "rootfs",
        help="run the tests (or the tshark bench) on the other Wireshark generations, each in a "
        "cached Debian root filesystem (needs root)",
    )
    other.add_argument("action", choices=["test", "bench"])
    other.add_argument(
        "--suite",
        dest="suites",
        action="append",
        choices=list(rootfs.WIRESHARK_OF_SUITE),
        help="a Debian suite, repeatable (default: every one of bookworm's 4.0, trixie's 4.4 and "
        "forky's 4.6 that this machine's tshark is not)",
    )
    other.add_argument(
        "--as", dest="users", default="root,user", help="root, user or both (default: root,user)"
    )
    other.set_defaults(func=cmd_rootfs)
    dec = sub.add_parser(
        "decrypt",
        help="decrypt the MPPE of every PPTP call whose MS-CHAPv2 handshake the credential opens, "
        "and write the inner IP packets as a raw-IP pcap",
    )
    dec.add_argument("pcap", help="a pcap or pcapng capture")
    dec.add_argument("-o", "--output", required=True, help="the raw-IP pcap to write")
    secret = dec.add_mutually_exclusive_group(required=True)
    secret.add_argument(
        "--password", help="the user's password (other local users can see a command line)"
    )
    secret.add_argument("--nt-hash", metavar="HEX32", help="the NT hash of the password")
    secret.add_argument(
        "--credentials-file",
        metavar="FILE",
        help="credentials, one per line: PASSWORD, USER:PASSWORD, nthash:HEX32 or "
        "USER:nthash:HEX32 (# starts a comment line)",
    )
    dec.add_argument("--user", help="try only this user's handshakes")
    dec.set_defaults(func=cmd_decrypt)
    hs = sub.add_parser(
        "handshakes",
        help="list every MS-CHAPv2 handshake with lines for hashcat (-m 5500) and John the "
        "Ripper (mschapv2)",
    )
    hs.add_argument("pcap", help="a pcap or pcapng capture")
    hs.add_argument(
        "--wordlist",
        metavar="FILE",
        help="try each line as a password; says which line opens which handshake",
    )
    hs.set_defaults(func=cmd_handshakes)
    links = sub.add_parser(
        "doclinks",
        help="check that every relative link of these Markdown files names a file that exists "
        "and a heading that is in it (GitHub's anchors); offline",
    )
    links.add_argument("files", nargs="+", metavar="FILE", help="Markdown files")
    links.set_defaults(func=cmd_doclinks)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except tshark.TsharkError as exc:
        print(f"pptp-harness: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
