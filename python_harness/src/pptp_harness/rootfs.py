"""The other Wireshark generations in throw-away Debian root filesystems.

Users run Wireshark 4.0 (Debian 12, Lua 5.2), 4.4 (Debian 13, Lua 5.4) and 4.6 (Debian forky
and sid, Lua 5.4), and the plugin must work on all three. This machine has one of them;
``make test-other-wireshark`` runs the harness's tests again on the others, each inside a root
filesystem made with ``debootstrap`` from the Debian archive this machine's apt already uses:
once as root and once as an ordinary user, each on its own copy of the working tree, which is
removed again when the run ends.

The root filesystems are cached between runs (``/var/cache/pptp-analysis/<suite>``, never in
the repository) and rebuilt when their recipe changes; ``/proc`` and ``/dev`` are mounted only
while a command runs in one. Needs root (debootstrap, chroot, mount).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from . import tshark

# Each Wireshark generation users run, by the Debian suite that ships it.
WIRESHARK_OF_SUITE = {
    "bookworm": "4.0 (Lua 5.2)",
    "trixie": "4.4 (Lua 5.4)",
    "forky": "4.6 (Lua 5.4)",
}
# A suite too new for this machine's debootstrap is made with the script of the suite it
# follows (Debian 12's debootstrap has no script named forky).
DEBOOTSTRAP_SCRIPT_OF_SUITE = {"forky": "sid"}
PACKAGES = (
    *("tshark", "python3", "python3-venv", "make", "lua-check", "lua5.2", "lua5.4"),
    *("ca-certificates", "git"),
)
RECIPE = "minbase; " + " ".join(PACKAGES) + "; user pptp-tester; v2"
USER = "pptp-tester"
CACHE = Path(os.environ.get("PPTP_ROOTFS_CACHE", "/var/cache/pptp-analysis"))
REPO = Path(__file__).resolve().parents[3]
# Where each run's copy of the working tree lies inside the root filesystem; the real captures
# go beside it as ../shared/captures, where the tests look for them.
ROOT_HOME, USER_HOME = Path("/root"), Path("/home") / USER
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
APT_SOURCES = Path("/etc/apt/sources.list")
APT_SOURCES_FOLDER = Path("/etc/apt/sources.list.d")


class RootfsError(RuntimeError):
    pass


def host_generation() -> str:
    """This machine's Wireshark as its major.minor version, e.g. "4.0"."""
    found = tshark.generation()
    if not found:
        raise RootfsError(f"cannot tell which Wireshark {tshark.version()!r} is")
    return ".".join(map(str, found))


def other_suites() -> list[str]:
    """The Debian suites whose Wireshark generation this machine's tshark is not."""
    host = host_generation()
    return [s for s, w in WIRESHARK_OF_SUITE.items() if not w.startswith(host + " ")]


def _deb_lines(text: str) -> Iterator[tuple[str, list[str]]]:
    """(archive URI, suites) of each binary-package entry of an apt sources file, in the
    one-line form (``deb [options] URI SUITE COMPONENTS``) or the deb822 form."""
    if re.search(r"^\s*Types\s*:", text, re.MULTILINE):
        for stanza in re.split(r"\n\s*\n", text):
            fields = {}
            for line in stanza.splitlines():
                key, colon, value = line.partition(":")
                if colon and not line.startswith((" ", "\t", "#")):
                    fields[key.strip().lower()] = value.strip()
            if "deb" in fields.get("types", "").split() and fields.get("enabled", "yes") != "no":
                for uri in fields.get("uris", "").split():
                    yield uri, fields.get("suites", "").split()
        return
    for line in text.splitlines():
        words = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
        if len(words) >= 3 and words[0] == "deb":
            yield words[1], [words[2]]


def mirror() -> str:
    """The Debian archive this machine's apt installs from: the first entry of its sources
    whose suites are Debian's own (not security updates)."""
    files = [APT_SOURCES] if APT_SOURCES.is_file() else []
    if APT_SOURCES_FOLDER.is_dir():
        files += sorted(APT_SOURCES_FOLDER.glob("*.list"))
        files += sorted(APT_SOURCES_FOLDER.glob("*.sources"))
    debian_suites = {*WIRESHARK_OF_SUITE, "sid", "unstable", "testing", "stable"}
    for path in files:
        for uri, suites in _deb_lines(path.read_text(errors="replace")):
            if any(s.split("-")[0] in debian_suites and "security" not in s for s in suites):
                return uri.rstrip("/")
    raise RootfsError(
        "this machine's apt sources name no Debian archive to make a root filesystem from "
        f"(read {', '.join(map(str, files)) or 'nothing'})"
    )


def _show_and_run(command: Sequence[str], **options) -> None:
    print("+", " ".join(command), flush=True)
    subprocess.run(command, check=True, **options)


@contextlib.contextmanager
def _locked(suite: str) -> Iterator[None]:
    """One user of a cached root filesystem at a time (two CI runs on one machine)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"{suite}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _mounted_under(root: Path) -> list[str]:
    prefix = str(root.resolve()) + "/"
    with open("/proc/self/mounts") as mounts:
        points = [line.split()[1] for line in mounts]
    return sorted((p for p in points if p.startswith(prefix)), reverse=True)


def _unmount_all(root: Path) -> None:
    for point in _mounted_under(root):
        if subprocess.run(["umount", point]).returncode != 0:
            subprocess.run(["umount", "-l", point], check=True)


@contextlib.contextmanager
def _mounts(root: Path) -> Iterator[None]:
    """``/proc``, ``/dev`` and ``/dev/shm`` inside ``root`` for the block, unmounted however
    it ends (and whatever an interrupted earlier run left mounted first)."""
    _unmount_all(root)
    try:
        _show_and_run(["mount", "-t", "proc", "proc", str(root / "proc")])
        _show_and_run(["mount", "--bind", "/dev", str(root / "dev")])
        # Private: unmounting it later must never propagate to this machine's own /dev.
        _show_and_run(["mount", "--make-private", str(root / "dev")])
        # Its own shared memory, writable by everyone (Python's multiprocessing needs it).
        _show_and_run(["mount", "-t", "tmpfs", "-o", "mode=1777", "shm", str(root / "dev/shm")])
        yield
    finally:
        _unmount_all(root)


def _network_setup(root: Path) -> None:
    """Name resolution and this machine's certificate authorities (a proxy's included)."""
    shutil.copyfile("/etc/resolv.conf", root / "etc/resolv.conf")
    bundle = Path("/etc/ssl/certs/ca-certificates.crt")
    if bundle.exists() and (root / "etc/ssl/certs").is_dir():
        shutil.copyfile(bundle, root / "etc/ssl/certs/ca-certificates.crt")


def _chroot_env(home: Path, user: str) -> dict[str, str]:
    """The environment of a command in the root filesystem: this one's proxy and pip settings,
    but its own home, user and paths."""
    keep = {
        k: v
        for k, v in os.environ.items()
        if k.startswith(("PIP_", "HTTP", "NO_PROXY", "no_proxy", "http", "HYPOTHESIS_"))
        or k in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "TERM")
    }
    keep.pop("PIP_FIND_LINKS", None)  # a folder of this machine's, not the root filesystem's
    return {
        **keep,
        "HOME": str(home),
        "USER": user,
        "LOGNAME": user,
        "PATH": PATH,
        "LANG": "C.UTF-8",
    }


def _ids(root: Path, user: str) -> tuple[int, int]:
    """``user``'s uid and gid in ``root``'s own /etc/passwd."""
    for line in (root / "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == user:
            return int(fields[2]), int(fields[3])
    raise RootfsError(f"{root} has no user {user}")


def chroot(root: Path, command: Sequence[str], user: str = "root") -> int:
    """Run ``command`` in ``root`` as ``user``; its exit status."""
    home = ROOT_HOME if user == "root" else USER_HOME
    uid, gid = _ids(root, user)
    args = ["chroot", f"--userspec={uid}:{gid}", "--groups=", str(root)]
    print(f"+ [{root.name}, {user}] {' '.join(command)}", flush=True)
    return subprocess.run(
        [
            *args,
            "/usr/bin/env",
            "-i",
            *(f"{k}={v}" for k, v in _chroot_env(home, user).items()),
            *command,
        ],
        cwd="/",
    ).returncode


def prepare(suite: str) -> Path:
    """The cached root filesystem of ``suite``, made (or remade, when the recipe changed) with
    debootstrap and the packages the tests need."""
    if os.geteuid() != 0:
        raise RootfsError("a root filesystem needs root (debootstrap, chroot, mount)")
    root = CACHE / suite
    marker = root / ".pptp-analysis-recipe"
    if marker.exists() and marker.read_text() == RECIPE:
        return root
    if not shutil.which("debootstrap"):
        raise RootfsError("debootstrap is not installed: apt-get install debootstrap")
    _unmount_all(root)
    shutil.rmtree(root, ignore_errors=True)
    command = ["debootstrap", "--variant=minbase", suite, str(root), mirror()]
    script = DEBOOTSTRAP_SCRIPT_OF_SUITE.get(suite)
    if script and not (Path("/usr/share/debootstrap/scripts") / suite).exists():
        command.append(f"/usr/share/debootstrap/scripts/{script}")
    _show_and_run(command, stdout=subprocess.DEVNULL)
    _network_setup(root)
    # A mirror that serves a dated snapshot of the archive serves Release files of testing
    # suites past their Valid-Until; their signatures are still checked.
    (root / "etc/apt/apt.conf.d/99pptp-analysis-snapshot").write_text(
        'Acquire::Check-Valid-Until "false";\n'
    )
    with _mounts(root):
        script = (
            "echo 'wireshark-common wireshark-common/install-setuid boolean false' "
            "| debconf-set-selections && apt-get update -qq && "
            "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "
            + " ".join(PACKAGES)
            + f" >/dev/null && apt-get clean && useradd --create-home {USER}"
        )
        if chroot(root, ["/bin/sh", "-c", script]) != 0:
            raise RootfsError(f"installing {', '.join(PACKAGES)} in {root} failed")
    marker.write_text(RECIPE)
    return root


def _working_tree_files() -> list[str]:
    """The repository's files as they are now (tracked and new, not ignored)."""
    out = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout
    return [f for f in out.decode().split("\0") if f and (REPO / f).is_file()]


def _copy_tree(root: Path, home: Path, owner: str) -> Path:
    """A fresh copy of the working tree (and ../shared/captures) at ``home``/pptp-analysis/main
    inside ``root``, owned by ``owner``; its path inside ``root``."""
    inside = home / "pptp-analysis"
    target = root / inside.relative_to("/")
    shutil.rmtree(target, ignore_errors=True)
    for name in _working_tree_files():
        destination = target / "main" / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, destination)
    captures = REPO.parent / "shared" / "captures"
    if captures.is_dir():
        shutil.copytree(captures, target / "shared" / "captures")
    uid, gid = _ids(root, owner)
    for folder, _, files in os.walk(target):
        for name in [".", *files]:
            os.chown(os.path.join(folder, name), uid, gid)
    return inside / "main"


def _leave_nothing(root: Path, home: Path) -> None:
    """Removes what a run left in ``root``: the copy of the tree with its virtual environment
    and build output, and the temporary files of pytest and tshark."""
    shutil.rmtree(root / (home / "pptp-analysis").relative_to("/"), ignore_errors=True)
    tmp = root / "tmp"
    for entry in tmp.iterdir() if tmp.is_dir() else ():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def run_make(suite: str, targets: Sequence[str], users: Sequence[str]) -> int:
    """``make TARGETS`` on a fresh copy of the working tree in ``suite``'s root filesystem, once
    per user ("root", "user"); the number of runs that failed."""
    failed = 0
    with _locked(suite):
        root = prepare(suite)
        _network_setup(root)
        with _mounts(root):
            for who in users:
                user, home = ("root", ROOT_HOME) if who == "root" else (USER, USER_HOME)
                try:
                    tree = _copy_tree(root, home, user)
                    extra = ["PPTP_HARNESS_SYSTEM_INSTALL=1"] if user == "root" else []
                    command = ["make", "-C", str(tree), f"VENV={home}/pptp-analysis/venv", *extra]
                    status = chroot(root, [*command, *targets], user)
                finally:
                    _leave_nothing(root, home)
                print(
                    f"== Wireshark {WIRESHARK_OF_SUITE.get(suite, suite)} in Debian {suite}, "
                    f"as {user}: make {' '.join(targets)} "
                    f"{'passed' if status == 0 else f'FAILED (exit {status})'}",
                    flush=True,
                )
                failed += status != 0
    return failed


def main(action: str, suites: Sequence[str], users: Sequence[str]) -> int:
    """``pptp-harness rootfs ACTION``: "test" or "bench" on each of ``suites`` (none given:
    every generation but this machine's) as each of ``users``."""
    if os.geteuid() != 0:
        print(
            "the other Wireshark generations' tests need root (debootstrap, chroot): skipped; "
            "run `sudo make test-other-wireshark`",
            file=sys.stderr,
        )
        return 0
    targets = {"test": ["pytest"], "bench": ["bench-tshark"]}[action]
    failed = 0
    for suite in suites or other_suites():
        if suite not in WIRESHARK_OF_SUITE:
            raise RootfsError(f"unknown suite {suite!r}: one of {', '.join(WIRESHARK_OF_SUITE)}")
        failed += run_make(suite, targets, users)
    return 1 if failed else 0
