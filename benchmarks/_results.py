"""Where benchmark results go: printed, and written to docs/results/<name>.md under a title and a line
saying how they were measured."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "results"


def publish(name: str, title: str, how: str, body: str) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}.md"
    out.write_text(f"{status_banner(out)}# {title}\n\n{how}\n\n{body}\n")
    print(body)  # after writing: a closed pipe (`| head`) must not lose the page
    return out


BANNERS = ("> **Superseded**", "> **Ablation**")


def status_banner(page: Path) -> str:
    """The page's status banner (its first line, if it is one of BANNERS) with the blank line after it: a
    rerun rewrites a page's numbers, not the docs index's judgement of what the page is."""
    if not page.exists():
        return ""
    first = page.read_text(encoding="utf-8").split("\n", 1)[0]
    return f"{first}\n\n" if first.startswith(BANNERS) else ""
