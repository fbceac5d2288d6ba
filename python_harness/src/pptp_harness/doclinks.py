"""Offline check of the relative links in Markdown files: every ``[text](path)``,
``[text](path#anchor)`` and ``[text](#anchor)`` must name a file that exists and, in a Markdown
file, a heading that is there. Links and headings are found with markdown-it-py, as a renderer
finds them: nothing inside code blocks or code spans counts. Anchors are made from headings as
GitHub makes them (``slug``); an HTML ``id`` or ``name`` attribute is an anchor too. Links to
other sites (``https:``, ``mailto:`` ...) are not checked: this runs offline."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from markdown_it import MarkdownIt
from markdown_it.token import Token

MARKDOWN_SUFFIXES = (".md", ".markdown")
# An anchor written in HTML: <a name="x">, <span id="x"> ...
HTML_ANCHOR = re.compile(r"""\b(?:id|name)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)


@dataclass(frozen=True)
class BrokenLink:
    """A relative link that leads nowhere: where it is, what it says and why it fails."""

    file: str
    line: int
    link: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.link}: {self.reason}"


def _parser() -> MarkdownIt:
    # CommonMark with GitHub's tables, so that a link in a table row has the row's line.
    return MarkdownIt("commonmark").enable("table")


def slug(text: str) -> str:
    """The anchor GitHub gives a heading whose text is ``text``: lower case, every character
    that is not a letter, a mark, a digit, ``-``, ``_`` or a space dropped, and each space
    turned into ``-``."""
    kept = (
        c
        for c in text.lower()
        if c in "-_ " or unicodedata.category(c)[0] in "LMN" or unicodedata.category(c) == "Pc"
    )
    return "".join(kept).replace(" ", "-")


def _text(inline: Token) -> str:
    """The text of an inline token as it is rendered: code spans and link texts included,
    markup and HTML left out."""
    parts = []
    for child in inline.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
    return "".join(parts)


def _html_anchors(tokens: list[Token]) -> Iterator[str]:
    for token in tokens:
        if token.type == "html_block":
            yield from HTML_ANCHOR.findall(token.content)
        for child in token.children or []:
            if child.type == "html_inline":
                yield from HTML_ANCHOR.findall(child.content)


def anchors(path: Path) -> frozenset[str]:
    """Every anchor of the Markdown file ``path``: its headings' slugs, a repeated slug with
    ``-1``, ``-2`` ... as GitHub numbers them, and the ids and names of its HTML elements."""
    tokens = _parser().parse(path.read_text(encoding="utf-8"))
    found: list[str] = []
    seen: dict[str, int] = {}
    for n, token in enumerate(tokens):
        if token.type != "heading_open":
            continue
        base = slug(_text(tokens[n + 1]))
        if base in seen:
            seen[base] += 1
            found.append(f"{base}-{seen[base]}")
        else:
            seen[base] = 0
            found.append(base)
    return frozenset([*found, *_html_anchors(tokens)])


def links(path: Path) -> Iterator[tuple[int, str]]:
    """(line, target) of every link and image in the Markdown file ``path``, in order, lines
    counted from 1."""
    for token in _parser().parse(path.read_text(encoding="utf-8")):
        if token.type != "inline" or token.map is None:
            continue
        line = token.map[0] + 1
        for child in token.children or []:
            if child.type in ("softbreak", "hardbreak"):
                line += 1
            elif child.type == "link_open":
                yield line, str(child.attrs.get("href", ""))
            elif child.type == "image":
                yield line, str(child.attrs.get("src", ""))


def _problem(source: Path, target: str, known: dict[Path, frozenset[str]]) -> str | None:
    """Why ``target``, a link in ``source``, leads nowhere; None if it resolves or is not
    relative (another site, or a scheme such as mailto:). ``known`` keeps the anchors of the
    files read so far."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    path, anchor = unquote(parts.path), unquote(parts.fragment)
    if path.startswith("/"):
        return "an absolute path: write it relative to this file"
    resolved = (source.parent / path) if path else source
    if not resolved.exists():
        return "no such file"
    if not anchor or resolved.is_dir() or resolved.suffix.lower() not in MARKDOWN_SUFFIXES:
        return None
    resolved = resolved.resolve()
    if resolved not in known:
        known[resolved] = anchors(resolved)
    if anchor not in known[resolved]:
        where = path or "this file"
        return f"no heading or anchor #{anchor} in {where}"
    return None


def check(files: Iterable[str | Path]) -> list[BrokenLink]:
    """Every relative link in ``files`` (Markdown) that names a missing file, or an anchor that
    is not in the Markdown file it names, in file and line order."""
    broken = []
    known: dict[Path, frozenset[str]] = {}
    for name in files:
        source = Path(name)
        for line, target in links(source):
            reason = _problem(source, target, known)
            if reason:
                broken.append(BrokenLink(str(name), line, target, reason))
    return broken
