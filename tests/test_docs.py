"""The README and docs/ hold together: every relative link resolves, the index reaches every page.

Links are read the way a Markdown renderer reads them (fenced and inline code are not links), and a
`#fragment` into a Markdown page must name one of its headings by GitHub's anchor rules, so a renamed
section breaks the test instead of the reader's click.
"""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from conftest import benchmark_module

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README_MAX_LINES = 250

_FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.M | re.S)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REF_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.M)
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.M)


def _prose(text: str) -> str:
    return _INLINE_CODE.sub("", _FENCE.sub("", text))


def links_of(text: str) -> list[str]:
    prose = _prose(text)
    return _LINK.findall(prose) + _REF_DEF.findall(prose)


def _slug(heading: str) -> str:
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading anchors by its text
    text = text.replace("`", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors_of(text: str) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for heading in _HEADING.findall(_FENCE.sub("", text)):
        slug = _slug(heading)
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def broken_links(page: Path) -> list[str]:
    text = page.read_text(encoding="utf-8")
    broken = []
    for raw in links_of(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", raw, re.I):  # http:, https:, mailto: ...
            continue
        path_part, _, fragment = raw.partition("#")
        target = page if not path_part else (page.parent / unquote(path_part)).resolve()
        if not target.exists():
            broken.append(f"{raw} (no such file)")
        elif (fragment and target.suffix == ".md" and target.is_file()
              and unquote(fragment).lower() not in anchors_of(target.read_text(encoding="utf-8"))):
            broken.append(f"{raw} (no such heading)")
    return broken


def doc_pages() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


@pytest.mark.parametrize("page", doc_pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    assert broken_links(page) == []


def test_docs_index_links_every_page():
    index = DOCS / "README.md"
    linked = set()
    for raw in links_of(index.read_text(encoding="utf-8")):
        path_part = raw.partition("#")[0]
        if path_part and not re.match(r"^[a-z][a-z0-9+.-]*:", path_part, re.I):
            linked.add((index.parent / unquote(path_part)).resolve())
    pages = {p.resolve() for p in DOCS.rglob("*.md")} - {index.resolve()}
    assert sorted(str(p.relative_to(DOCS)) for p in pages - linked) == []


def test_readme_is_short_and_starts_with_the_two_commands():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES
    head = "\n".join(lines[:15])
    assert "make demo" in head and "make test" in head


def test_the_link_checker_sees_what_is_broken(tmp_path):
    (tmp_path / "a.md").write_text("# Title\n\n## Two words\n")
    page = tmp_path / "b.md"
    page.write_text(
        "[ok](a.md) [ok](a.md#two-words) [bad](missing.md) [bad](a.md#three) [self](#here)\n"
        "# Here\n`[not a link](gone.md)`\n```\n[nor this](gone.md)\n```\n[web](https://example.org/x)\n"
        "[ref]: nothere.md\n")
    assert broken_links(page) == ["missing.md (no such file)", "a.md#three (no such heading)",
                                  "nothere.md (no such file)"]


def test_a_rerun_keeps_the_page_status_banner(tmp_path, monkeypatch):
    results = benchmark_module("_results")
    monkeypatch.setattr(results, "RESULTS", tmp_path)
    banner = "> **Superseded** (as of 2026-12-06): old numbers — current figures: [new](new.md)."
    (tmp_path / "old.md").write_text(f"{banner}\n\n# Old\n\nhow\n\n| a |\n")
    results.publish("old", "Old", "how", "| b |")
    results.publish("fresh", "Fresh", "how", "| c |")
    assert (tmp_path / "old.md").read_text() == f"{banner}\n\n# Old\n\nhow\n\n| b |\n"
    assert (tmp_path / "fresh.md").read_text() == "# Fresh\n\nhow\n\n| c |\n"
