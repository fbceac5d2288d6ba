"""Runs the real tshark once per pcap and returns per-frame field values.

tshark runs with an empty, private configuration directory (no personal preferences or
plugins leak in), so "built-in" really means Wireshark's own dissectors; Lua scripts are added
explicitly with ``-X lua_script:``.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

AGGREGATOR = "\x1f"  # between occurrences of one field; never inside our strings
ALWAYS = ("frame.number", "frame.protocols", "_ws.malformed", "_ws.expert.message", "_ws.lua.error")


class TsharkError(RuntimeError):
    pass


def tshark_path() -> str:
    path = shutil.which("tshark")
    if not path:
        raise TsharkError("tshark is not installed: run `make setup` (or apt-get install tshark)")
    return path


@functools.cache
def _isolated_home() -> str:
    return tempfile.mkdtemp(prefix="pptp-harness-tshark-")


def environment() -> dict[str, str]:
    env = dict(os.environ)
    home = _isolated_home()
    env.update(HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".config"), LC_ALL="C.UTF-8")
    env.pop("WIRESHARK_CONFIG_DIR", None)
    return env


def run(args: Sequence[str], timeout: float | None = None) -> subprocess.CompletedProcess:
    """tshark with ``args`` in the isolated environment; a non-zero exit or timeout raises."""
    command = [tshark_path(), *args]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, env=environment(), timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        raise TsharkError(f"tshark timed out after {timeout} s: {' '.join(args)}") from exc
    if done.returncode != 0:
        raise TsharkError(f"tshark exited {done.returncode}: {done.stderr.strip()}")
    return done


@functools.cache
def known_fields(lua_scripts: tuple[str, ...] = ()) -> frozenset[str]:
    """Every field name tshark knows (with the given Lua scripts loaded)."""
    out = run(["-G", "fields", *_lua_args(lua_scripts)]).stdout
    return frozenset(line.split("\t")[2] for line in out.splitlines() if line.count("\t") >= 2)


@functools.cache
def version() -> str:
    return run(["--version"]).stdout.splitlines()[0]


def _lua_args(lua_scripts: Iterable[str]) -> list[str]:
    return [arg for script in lua_scripts for arg in ("-X", f"lua_script:{script}")]


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
    pcap: str | Path, lua_scripts: Sequence[str] = (), display_filter: str = ""
) -> str:
    """tshark's one-line-per-frame summary, for people."""
    args = ["-n", "-r", str(pcap), *_lua_args(lua_scripts)]
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


def statistics(pcap: str | Path, stat: str, lua_scripts: Sequence[str] = ()) -> str:
    """What ``-z STAT`` prints after a two-pass read (e.g. the plugin's ``pptp,calls``)."""
    return run(["-n", "-q", "-2", "-r", str(pcap), *_lua_args(lua_scripts), "-z", stat]).stdout
