"""Where benchmark results go: printed, and written to docs/results/<name>.md under a title and a line
saying how they were measured."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "results"


def publish(name: str, title: str, how: str, body: str) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}.md"
    out.write_text(f"# {title}\n\n{how}\n\n{body}\n")
    print(body)  # after writing: a closed pipe (`| head`) must not lose the page
    return out
