"""The plugin's crypto and MPPE modules on their own, under Lua 5.2 (Wireshark 4.0's) and
Lua 5.4 (4.4 and later), against the RFCs' and FIPS's published vectors (tests/lua)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

PLUGIN_FOLDER = Path(__file__).resolve().parents[2] / "lua_dissector"
VECTORS = Path(__file__).with_name("lua") / "crypto_vectors.lua"


@pytest.mark.parametrize("interpreter", ["lua5.2", "lua5.4"])
def test_crypto_module_meets_the_published_vectors(interpreter):
    """RFC 1320 (MD4), FIPS 180 (SHA-1), FIPS 46 (DES), RC4's classic vectors and a long
    stream against a plain RC4, RFC 2759 §9 (MS-CHAPv2) and RFC 3079 §3.5 (MPPE keys at 40,
    56 and 128 bits), run by the interpreter of that Lua version (`make tools` installs both)."""
    path = shutil.which(interpreter)
    if path is None:
        pytest.fail(f"{interpreter} is not installed: run `make tools`")
    done = subprocess.run(
        [path, str(VECTORS), str(PLUGIN_FOLDER)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    version = interpreter.removeprefix("lua")
    assert f"Lua {version}: " in done.stdout and " 0 failed" in done.stdout, done.stdout
