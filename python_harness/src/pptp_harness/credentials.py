"""Credentials for MPPE decryption, in contract 4's format (docs/decryption.md): one per line,
``PASSWORD``, ``USER:PASSWORD``, ``nthash:HEX32`` or ``USER:nthash:HEX32``, ``#`` starting a
comment. The plugin's preference pptp_gre.credentials_file and the Zeek package's
PPTP::credentials_file name files in the same format.

A ``Credential`` keeps only the NT hash (RFC 2759 §8.3); neither it nor the password appears in
a repr, a message or an output file.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from . import mppe


class CredentialError(ValueError):
    """A credential that cannot be used; the message never holds the secret."""


class Credential:
    """A password's NT hash (RFC 2759 §8.3), optionally for one user only.

    Only the hash is kept, and it never shows: not in ``repr``, ``str`` or any message.
    """

    __slots__ = ("_nt_hash", "user")

    def __init__(self, nt_hash: bytes, user: str | None = None) -> None:
        if len(nt_hash) != 16:
            raise CredentialError("an NT hash is 16 octets (32 hexadecimal digits)")
        self._nt_hash = bytes(nt_hash)
        self.user = user

    @classmethod
    def from_password(cls, password: str, user: str | None = None) -> Credential:
        return cls(mppe.nt_password_hash(password), user)

    @classmethod
    def from_nt_hash(cls, text: str, user: str | None = None) -> Credential:
        text = text.strip()
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raw = b""
        if len(text) != 32 or len(raw) != 16:
            raise CredentialError("an NT hash is 32 hexadecimal digits") from None
        return cls(raw, user)

    @property
    def nt_hash(self) -> bytes:
        return self._nt_hash

    def applies_to(self, user: bytes) -> bool:
        """Whether this credential is for ``user`` (every user if it names none)."""
        return self.user is None or user_matches(user, self.user)

    def __repr__(self) -> str:
        who = "any user" if self.user is None else f"user {self.user!r}"
        return f"Credential({who}, secret hidden)"

    __str__ = __repr__


def user_matches(name: bytes, wanted: str) -> bool:
    """A handshake's user name is ``wanted``: the whole name or the part after ``DOMAIN\\``
    (Windows user names are case-insensitive)."""
    text = name.decode("utf-8", "replace").casefold()
    wanted = wanted.casefold()
    return wanted in (text, text.rsplit("\\", 1)[-1])


def write_credentials(folder: str | Path, lines: Iterable[str]) -> Path:
    """``folder``/credentials holding ``lines`` in the format ``read_credentials`` reads (and
    the plugin's pptp_gre.credentials_file), made readable by its owner alone before anything
    is written to it."""
    path = Path(folder) / "credentials"
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def read_credentials(path: str | Path) -> list[Credential]:
    """Credentials from a file in contract 4's format, one per line: ``PASSWORD``,
    ``USER:PASSWORD``, ``nthash:HEX32`` or ``USER:nthash:HEX32``; blank lines and lines whose
    first non-blank character is ``#`` are skipped. A line is taken as it is, spaces included
    (only its line ending is cut)."""
    credentials = []
    for number, raw in enumerate(Path(path).read_bytes().splitlines(), 1):
        line = password_text(raw)
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        user, sep, rest = line.partition(":")
        try:
            if user.lower() == "nthash" and sep:
                credentials.append(Credential.from_nt_hash(rest))
            elif sep and rest[:7].lower() == "nthash:":
                credentials.append(Credential.from_nt_hash(rest[7:], user or None))
            elif sep:  # an empty USER is every user's, as no USER is
                credentials.append(Credential.from_password(rest, user or None))
            else:
                credentials.append(Credential.from_password(line))
        except CredentialError as exc:
            raise CredentialError(f"{path}, line {number}: {exc}") from None
    return credentials


def password_text(raw: bytes) -> str:
    """A password given as bytes (a file's line): UTF-8, or Latin-1 where it is not UTF-8."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")
