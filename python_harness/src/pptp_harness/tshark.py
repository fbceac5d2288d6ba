"""Runs the real tshark once per pcap and returns per-frame field values.

tshark runs with an empty, private configuration directory (no personal preferences or
plugins leak in) and a global plugin folder of its own that holds Wireshark's compiled plugins
but none of the Lua plugins installed for all users: "built-in" really means Wireshark's own
dissectors, and the plugin tested is the working tree's, even where another copy of it is
installed. Lua scripts are added explicitly with ``-X lua_script:``, and every run that asks
for one checks that tshark really loaded it (a run without it would silently test the
built-ins) and that no other copy of the plugin took its place.

Run as root, the harness starts tshark as an unprivileged account (``nobody``, or the one named
by ``PPTP_HARNESS_TSHARK_USER``): Wireshark 4.2 and later ignore ``-X lua_script:`` and personal
plugins for root, and dissecting hostile captures needs no privileges. The files tshark reads
are then staged where that account can read them, for the run only.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import pwd
import re
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

AGGREGATOR = "\x1f"  # between occurrences of one field; never inside our strings
ALWAYS = ("frame.number", "frame.protocols", "_ws.malformed", "_ws.expert.message", "_ws.lua.error")
LUA_SCRIPT = "lua_script:"
# Preferences whose value is a file tshark reads.
FILE_PREFERENCES = ("pptp_gre.credentials_file",)


class TsharkError(RuntimeError):
    """tshark could not run, or ran badly; ``kind`` says how (the fuzz campaign's failure
    kinds: tshark_crash, tshark_timeout, not_utf8)."""

    def __init__(self, message: str, kind: str = "tshark_crash") -> None:
        super().__init__(message)
        self.kind = kind


def tshark_path() -> str:
    path = shutil.which("tshark")
    if not path:
        raise TsharkError("tshark is not installed: run `make setup` (or apt-get install tshark)")
    return path


@functools.cache
def unprivileged_account() -> tuple[int, int] | None:
    """The (uid, gid) tshark runs as when the harness runs as root; None otherwise."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get("PPTP_HARNESS_TSHARK_USER", "nobody")
    try:
        entry = pwd.getpwnam(name)
    except KeyError as exc:
        raise TsharkError(
            f"running as root, the harness runs tshark as {name!r}, which does not exist here: "
            "set PPTP_HARNESS_TSHARK_USER to an unprivileged account"
        ) from exc
    if entry.pw_uid == 0 or entry.pw_gid == 0:
        raise TsharkError(f"PPTP_HARNESS_TSHARK_USER={name!r} is root: name an ordinary account")
    return entry.pw_uid, entry.pw_gid


@functools.cache
def _isolated_home() -> str:
    home = tempfile.mkdtemp(prefix="pptp-harness-tshark-")
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    account = unprivileged_account()
    if account:
        os.chown(home, *account)
    return home


@functools.cache
def _global_plugins_without_lua() -> str:
    """A folder for WIRESHARK_PLUGIN_DIR: Wireshark's compiled plugins (the version folders
    of its global plugin folder, linked) without the Lua plugins that lie beside them."""
    env = {**os.environ, "HOME": _isolated_home(), "LC_ALL": "C.UTF-8"}
    env.pop("WIRESHARK_PLUGIN_DIR", None)
    folders = subprocess.run(
        [tshark_path(), "-G", "folders"], capture_output=True, text=True, env=env
    ).stdout
    found = re.search(r"^Global Lua Plugins:\s*(.+)$", folders, re.MULTILINE)
    own = os.path.join(_isolated_home(), "global-plugins")
    os.makedirs(own, exist_ok=True)
    real = Path(found.group(1).strip()) if found else None
    if real and real.is_dir():
        for entry in real.iterdir():
            if entry.is_dir() and re.fullmatch(r"\d+\.\d+", entry.name):
                os.symlink(entry, os.path.join(own, entry.name))
    return own


def environment() -> dict[str, str]:
    env = dict(os.environ)
    home = _isolated_home()
    env.update(HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".config"), LC_ALL="C.UTF-8")
    env["WIRESHARK_PLUGIN_DIR"] = _global_plugins_without_lua()
    env.pop("WIRESHARK_CONFIG_DIR", None)
    return env


def _stage(path: str, folder: str, account: tuple[int, int]) -> str:
    """``path`` where ``account`` can read it: a hard link in ``folder`` when the file is
    readable by anyone, else a private copy owned by the account (credentials stay 0600);
    anything but a file as it is."""
    source = Path(path).resolve()
    if not source.is_file():
        return path  # a missing path or a folder: tshark meets it as given
    target = Path(tempfile.mkdtemp(dir=folder)) / source.name
    os.chown(target.parent, *account)
    if source.stat().st_mode & stat.S_IROTH:
        try:
            os.link(source, target)
            return str(target)
        except OSError:
            pass
    shutil.copyfile(source, target)
    os.chmod(target, 0o600)
    os.chown(target, *account)
    return str(target)


def _stage_script(path: str, folder: str, account: tuple[int, int]) -> str:
    """A Lua script where ``account`` can read it, with the Lua modules of its folder (and
    its subfolders) beside it, as ``require`` finds them there."""
    source = Path(path).resolve()
    if not source.is_file():
        return path
    target = Path(tempfile.mkdtemp(dir=folder)) / source.parent.name
    os.chown(target.parent, *account)
    for module in source.parent.rglob("*.lua"):
        staged = target / module.relative_to(source.parent)
        staged.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(module, staged)
    for where, folders, files in os.walk(target):
        for name in [".", *folders, *files]:
            os.chown(os.path.join(where, name), *account)
    return str(target / source.name)


def _staged_args(args: Sequence[str], folder: str, account: tuple[int, int]) -> list[str]:
    """``args`` with every file tshark reads (-r, -X lua_script: and its modules, file
    preferences) staged."""
    out: list[str] = []
    for arg in args:
        if out and out[-1] == "-r" and arg != "-":
            arg = _stage(arg, folder, account)
        elif arg.startswith(LUA_SCRIPT):
            arg = LUA_SCRIPT + _stage_script(arg[len(LUA_SCRIPT) :], folder, account)
        elif out and out[-1] == "-o" and arg.startswith(tuple(p + ":" for p in FILE_PREFERENCES)):
            name, _, value = arg.partition(":")
            arg = f"{name}:{_stage(value, folder, account) if value else value}"
        out.append(arg)
    return out


@contextlib.contextmanager
def invocation(args: Sequence[str]) -> Iterator[dict]:
    """Keyword arguments for ``subprocess`` that run tshark with ``args`` in the isolated
    environment, as the unprivileged account when the harness runs as root. Files staged for
    the run are removed when the block ends."""
    account = unprivileged_account()
    options = {"env": environment()}
    if account is None:
        yield {"args": [tshark_path(), *args], **options}
        return
    with tempfile.TemporaryDirectory(prefix="pptp-harness-stage-") as folder:
        os.chmod(folder, 0o755)
        uid, gid = account
        yield {
            "args": [tshark_path(), *_staged_args(args, folder, account)],
            "user": uid,
            "group": gid,
            "extra_groups": [],
            **options,
        }


def _execute(args: Sequence[str], timeout: float | None) -> subprocess.CompletedProcess:
    """tshark's run, its output as text: what it prints must be UTF-8 (JSON readers and the
    GUI need it), so output that is not is an error, not a crash of the caller."""
    try:
        with invocation(args) as how:
            done = subprocess.run(**how, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise TsharkError(
            f"tshark timed out after {timeout} s: {' '.join(args)}", "tshark_timeout"
        ) from exc
    stderr = done.stderr.decode("utf-8", "backslashreplace")
    if done.returncode != 0:
        raise TsharkError(f"tshark exited {done.returncode}: {stderr.strip()}")
    try:
        stdout = done.stdout.decode("utf-8")
    except UnicodeDecodeError as exc:
        context = done.stdout[max(0, exc.start - 60) : exc.start + 10]
        raise TsharkError(
            f"tshark output is not UTF-8 at octet {exc.start}: {context!r}", "not_utf8"
        ) from exc
    return subprocess.CompletedProcess(done.args, done.returncode, stdout, stderr)


def lua_scripts_in(args: Iterable[str]) -> tuple[str, ...]:
    return tuple(a[len(LUA_SCRIPT) :] for a in args if a.startswith(LUA_SCRIPT))


def lua_plugins_listed(listing: str) -> list[str]:
    """The files of the Lua scripts in ``tshark -G plugins`` output (typed "lua script" up to
    Wireshark 4.4, "Lua script" from 4.6)."""
    return [
        line.split("\t")[-1] for line in listing.splitlines() if "\tlua script\t" in line.lower()
    ]


# What a second copy of the plugin says as it stops (lua_dissector/pptp.lua).
SECOND_COPY = re.compile(r"^pptp-analysis: (.*) is in use; the copy at (.*) stops$", re.MULTILINE)


@functools.cache
def require_loaded(lua_scripts: tuple[str, ...]) -> None:
    """Raise unless tshark really loads every one of ``lua_scripts`` (``tshark -G plugins``
    lists each Lua script it ran), and each in place of any other copy: without them a run
    would quietly show the built-ins, or another release of the plugin."""
    if not lua_scripts:
        return
    for script in lua_scripts:
        if not Path(script).is_file():
            raise TsharkError(f"the Lua plugin {script} does not exist")
    done = _execute(["-G", "plugins", *_lua_args(lua_scripts)], None)
    loaded = {Path(path).name for path in lua_plugins_listed(done.stdout)}
    for script in lua_scripts:
        if Path(script).name not in loaded:
            said = done.stderr.strip().replace("\n", " ")
            raise TsharkError(
                f"{version().rstrip('.')} did not load the Lua plugin {script}"
                + (f": it said {said!r}" if said else "")
                + ". Wireshark skips Lua scripts when Lua is disabled (enable_lua = false in a "
                "global init.lua), and from 4.2 on skips -X lua_script and personal plugins for "
                "root: run as an ordinary user, or install the plugin for all users with "
                "`make install` as root"
            )
    stopped = SECOND_COPY.search(done.stderr)
    if stopped:
        raise TsharkError(
            f"{stopped.group(1)} is loaded before the copy under test ({stopped.group(2)}), "
            "which stops: it comes from somewhere the harness cannot keep from tshark (a "
            "global init.lua or Wireshark's data folder?); remove it to test this copy"
        )


def run(args: Sequence[str], timeout: float | None = None) -> subprocess.CompletedProcess:
    """tshark with ``args`` in the isolated environment; a non-zero exit or timeout raises,
    and so does a Lua script in ``args`` that tshark does not load."""
    require_loaded(lua_scripts_in(args))
    return _execute(args, timeout)


@functools.cache
def known_fields(lua_scripts: tuple[str, ...] = ()) -> frozenset[str]:
    """Every field name tshark knows (with the given Lua scripts loaded)."""
    out = run(["-G", "fields", *_lua_args(lua_scripts)]).stdout
    return frozenset(line.split("\t")[2] for line in out.splitlines() if line.count("\t") >= 2)


@functools.cache
def version() -> str:
    return _execute(["--version"], None).stdout.splitlines()[0]


@functools.cache
def generation() -> tuple[int, int] | None:
    """This tshark's Wireshark as (major, minor), e.g. (4, 0); None where its banner names none."""
    found = re.search(r"\b(\d+)\.(\d+)\.\d+", version())
    return (int(found[1]), int(found[2])) if found else None


def _lua_args(lua_scripts: Iterable[str]) -> list[str]:
    return [arg for script in lua_scripts for arg in ("-X", f"{LUA_SCRIPT}{script}")]


@dataclass
class Decode:
    """What tshark showed: per frame number, field name -> values in tree order."""

    frames: dict[int, dict[str, list[str]]]
    missing_fields: frozenset[str]
    stderr: str

    def values(self, frame: int, field: str) -> list[str]:
        return self.frames.get(frame, {}).get(field, [])

    def malformed(self) -> list[int]:
        return [n for n, f in self.frames.items() if f.get("_ws.malformed")]

    def lua_errors(self) -> list[int]:
        return [n for n, f in self.frames.items() if f.get("_ws.lua.error")]


def decode(
    pcap: str | Path,
    fields: Iterable[str],
    *,
    lua_scripts: Sequence[str] = (),
    prefs: Sequence[str] = (),
    two_pass: bool = False,
    timeout: float = 900,
) -> Decode:
    """One tshark run over ``pcap``, returning ``fields`` (plus frame number, protocols,
    malformed and expert messages) for every frame. Fields tshark does not know are left out
    and listed in ``missing_fields``."""
    scripts = tuple(str(s) for s in lua_scripts)
    known = known_fields(scripts)
    wanted = list(dict.fromkeys([*ALWAYS, *fields]))
    usable = [f for f in wanted if f in known]
    missing = frozenset(f for f in fields if f not in known)
    args = ["-n", "-r", str(pcap), *_lua_args(scripts), "-T", "fields"]
    args += [
        "-E",
        "header=n",
        "-E",
        "separator=/t",
        "-E",
        "occurrence=a",
        "-E",
        f"aggregator={AGGREGATOR}",
    ]
    for pref in prefs:
        args += ["-o", pref]
    if two_pass:
        args.append("-2")
    for field in usable:
        args += ["-e", field]
    done = run(args, timeout)
    frames: dict[int, dict[str, list[str]]] = {}
    # Only "\n" ends a line: str.splitlines() would also split on \x1c-\x1e and \x85, which
    # tshark leaves unescaped inside hostile strings.
    for line in done.stdout.split("\n"):
        if not line:
            continue
        columns = line.split("\t")
        row = {name: value.split(AGGREGATOR) for name, value in zip(usable, columns) if value != ""}
        frames[int(columns[0])] = row
    return Decode(frames, missing, done.stderr)


def summary_lines(
    pcap: str | Path,
    lua_scripts: Sequence[str] = (),
    display_filter: str = "",
    prefs: Sequence[str] = (),
) -> str:
    """tshark's one-line-per-frame summary, for people."""
    args = ["-n", "-r", str(pcap), *_lua_args(lua_scripts)]
    for pref in prefs:
        args += ["-o", pref]
    if display_filter:
        args += ["-Y", display_filter]
    return run(args).stdout


def tree(
    pcap: str | Path,
    frame: int,
    lua_scripts: Sequence[str] = (),
    layers: Sequence[str] = (),
    two_pass: bool = False,
) -> str:
    """The full decode tree of one frame (``-V``), optionally only some layers (``-O``)."""
    args = ["-n", "-r", str(pcap), *_lua_args(lua_scripts), "-V", "-Y", f"frame.number == {frame}"]
    if layers:
        args += ["-O", ",".join(layers)]
    if two_pass:
        args.append("-2")
    return run(args).stdout


def statistics(
    pcap: str | Path, stat: str, lua_scripts: Sequence[str] = (), prefs: Sequence[str] = ()
) -> str:
    """What ``-z STAT`` prints after a two-pass read (e.g. the plugin's ``pptp,calls``)."""
    args = ["-n", "-q", "-2", "-r", str(pcap), *_lua_args(lua_scripts), "-z", stat]
    for pref in prefs:
        args += ["-o", pref]
    return run(args).stdout
