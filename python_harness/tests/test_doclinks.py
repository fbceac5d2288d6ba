"""The documentation's relative links and anchors resolve (what `make lint` checks with
`pptp-harness doclinks`), and the checker finds the ones that do not."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("markdown_it", reason="markdown-it-py is in the lint extras: make setup")

from pptp_harness import doclinks
from pptp_harness.cli import main

REPOSITORY = Path(__file__).resolve().parents[2]


def markdown_files() -> list[Path]:
    """The repository's own Markdown: README.md, CHANGELOG.md, docs/, the Zeek package's and
    the test data's READMEs, and any other, but nothing in hidden or build folders (a
    virtual environment's packages bring their own)."""
    files = []
    for path in sorted(REPOSITORY.rglob("*.md")):
        parts = path.relative_to(REPOSITORY).parts
        if not any(p.startswith(".") or p in ("build", "node_modules") for p in parts):
            files.append(path)
    return files


def test_the_repository_has_the_documents_it_links():
    """The documents the README points to are there, so the check below covers them."""
    names = {p.relative_to(REPOSITORY).as_posix() for p in markdown_files()}
    assert {
        "README.md",
        "CHANGELOG.md",
        "docs/wireshark.md",
        "docs/decryption.md",
        "docs/troubleshooting.md",
        "docs/performance.md",
        "docs/harness.md",
        "docs/zeek-design.md",
        "zeek_scripts/README.md",
        "testdata/README.md",
        "testdata/real/README.md",
    } <= names


def test_every_relative_link_of_the_repository_resolves():
    """Every relative link of every Markdown file names a file that exists and, in Markdown,
    a heading (GitHub's anchor) that is there."""
    broken = doclinks.check(markdown_files())
    assert not broken, "\n".join(map(str, broken))


def test_a_broken_file_link_and_a_broken_anchor_are_found(tmp_path):
    """A link to a missing file, to a missing heading of another file and of this one are each
    reported with their line; links that resolve, code and other sites are not."""
    (tmp_path / "other.md").write_text("# Other page\n\n## Set-up, step 1\n\n## Set-up, step 1\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# The `pptp_gre` fields\n"
        "\n"
        "[fine](other.md), [fine](other.md#set-up-step-1), [fine](other.md#set-up-step-1-1),\n"
        "[fine](#the-pptp_gre-fields), [fine](https://example.org/missing.md), [fine](.)\n"
        "[missing file](gone.md#anything)\n"
        "\n"
        "| a | b |\n"
        "|---|---|\n"
        "| x | [wrong anchor](other.md#set-up) |\n"
        "\n"
        "    [in a code block](nowhere.md)\n"
        "\n"
        "`[in a code span](nowhere.md)` and [wrong anchor here](#fields)\n"
    )
    broken = doclinks.check([page])
    assert [(b.line, b.link) for b in broken] == [
        (5, "gone.md#anything"),
        (9, "other.md#set-up"),
        (13, "#fields"),
    ]
    assert broken[0].reason == "no such file"
    assert str(broken[1]) == f"{page}:9: other.md#set-up: no heading or anchor #set-up in other.md"
    assert str(broken[2]).endswith("#fields: no heading or anchor #fields in this file")


def test_slugs_are_githubs():
    """Lower case, punctuation but - and _ dropped, each space a hyphen."""
    assert doclinks.slug("Decrypting MPPE in Wireshark") == "decrypting-mppe-in-wireshark"
    assert doclinks.slug("Statistics \u203a PPTP Calls") == "statistics--pptp-calls"
    assert doclinks.slug("pptp_gre.analysis (lost, 2\u00d7)") == "pptp_greanalysis-lost-2"
    assert doclinks.slug("Zeek 8.0: with Spicy!") == "zeek-80-with-spicy"


def test_the_command_lists_each_broken_link_and_fails(tmp_path, capsys):
    """`pptp-harness doclinks FILES...` exits 1 and prints file:line: link: reason."""
    good = tmp_path / "good.md"
    good.write_text("# Good\n\n[self](#good)\n")
    bad = tmp_path / "bad.md"
    bad.write_text("# Bad\n\nsee [it](good.md#bad)\n")
    assert main(["doclinks", str(good)]) == 0
    assert main(["doclinks", str(good), str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{bad}:3: good.md#bad: no heading or anchor #bad in good.md" in out
