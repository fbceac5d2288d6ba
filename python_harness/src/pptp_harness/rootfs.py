"""The other Wireshark generation in a throw-away Debian root filesystem.

Wireshark 4.0 (Debian 12) runs Lua 5.2, Wireshark 4.4 (Debian 13) Lua 5.4, and the plugin must
work on both. This machine has one of them; ``make test-other-wireshark`` runs the harness's
tests again on the other, inside a root filesystem made with ``debootstrap`` from Debian's
archive: once as root and once as an ordinary user, each on its own copy of the working tree.

The root filesystem is cached between runs (``/var/cache/pptp-analysis/<suite>``, never in the
repository) and rebuilt when its recipe changes; ``/proc`` and ``/dev`` are mounted only while a
command runs in it. Needs root (debootstrap, chroot, mount).
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

SUITE_OF_LUA = {"5.2": "trixie", "5.4": "bookworm"}  # the suite whose Wireshark has the other Lua
WIRESHARK_OF_SUITE = {"bookworm": "4.0 (Lua 5.2)", "trixie": "4.4 (Lua 5.4)"}
PACKAGES = ("tshark", "python3", "python3-venv", "make", "lua-check", "ca-certificates", "git")
RECIPE = "minbase; " + " ".join(PACKAGES) + "; user pptp-tester; v1"
USER = "pptp-tester"
MIRROR = os.environ.get("PPTP_ROOTFS_MIRROR", "http://deb.debian.org/debian")
CACHE = Path(os.environ.get("PPTP_ROOTFS_CACHE", "/var/cache/pptp-analysis"))
REPO = Path(__file__).resolve().parents[3]
# Where each run's copy of the working tree lies inside the root filesystem; the real captures
# go beside it as ../shared/captures, where the tests look for them.
ROOT_HOME, USER_HOME = Path("/root"), Path("/home") / USER
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class RootfsError(RuntimeError):
    pass


def host_lua_version() -> str:
    """The Lua version of this machine's tshark, e.g. "5.2"."""
    out = tshark.run(["--version"]).stdout
    found = re.search(r"with Lua\s+(\d+\.\d+)", out)
    if not found:
        raise RootfsError(f"cannot tell which Lua {tshark.version()} has")
    return found.group(1)


def other_suite() -> str:
    """The Debian suite whose tshark has the Lua version this machine's lacks."""
    lua = host_lua_version()
    if lua not in SUITE_OF_LUA:
        raise RootfsError(f"this machine's tshark has Lua {lua}; expected 5.2 or 5.4")
    return SUITE_OF_LUA[lua]


def _run(command: Sequence[str], **options) -> None:
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
        _run(["mount", "-t", "proc", "proc", str(root / "proc")])
        _run(["mount", "--bind", "/dev", str(root / "dev")])
        # Private: unmounting it later must never propagate to this machine's own /dev.
        _run(["mount", "--make-private", str(root / "dev")])
        # Its own shared memory, writable by everyone (Python's multiprocessing needs it).
        _run(["mount", "-t", "tmpfs", "-o", "mode=1777", "shm", str(root / "dev/shm")])
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
    _run(["debootstrap", "--variant=minbase", suite, str(root), MIRROR], stdout=subprocess.DEVNULL)
    _network_setup(root)
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
    shutil.rmtree(target / "main", ignore_errors=True)
    for name in _working_tree_files():
        destination = target / "main" / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, destination)
    captures = REPO.parent / "shared" / "captures"
    if captures.is_dir():
        shutil.rmtree(target / "shared", ignore_errors=True)
        shutil.copytree(captures, target / "shared" / "captures")
    uid, gid = _ids(root, owner)
    for folder, _, files in os.walk(target):
        for name in [".", *files]:
            os.chown(os.path.join(folder, name), uid, gid)
    return inside / "main"


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
                tree = _copy_tree(root, home, user)
                extra = ["PPTP_HARNESS_SYSTEM_INSTALL=1"] if user == "root" else []
                command = ["make", "-C", str(tree), f"VENV={home}/pptp-analysis/venv", *extra]
                status = chroot(root, [*command, *targets], user)
                print(
                    f"== Wireshark {WIRESHARK_OF_SUITE.get(suite, suite)} in Debian {suite}, "
                    f"as {user}: make {' '.join(targets)} "
                    f"{'passed' if status == 0 else f'FAILED (exit {status})'}",
                    flush=True,
                )
                failed += status != 0
    return failed


def main(action: str, suite: str, users: Sequence[str]) -> int:
    """``pptp-harness rootfs ACTION``: "test" or "bench" on ``suite`` ("auto": the one with
    the other Lua) as each of ``users``."""
    if os.geteuid() != 0:
        print(
            "the other Wireshark generation's tests need root (debootstrap, chroot): skipped; "
            "run `sudo make test-other-wireshark`",
            file=sys.stderr,
        )
        return 0
    suite = other_suite() if suite == "auto" else suite
    targets = {"test": ["pytest"], "bench": ["bench-tshark"]}[action]
    return 1 if run_make(suite, targets, users) else 0
