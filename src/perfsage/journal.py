"""Append-only JSON-lines journals: what a long job has paid for, kept through a kill.

Records are appended one line each and synced, so a job killed at any moment loses at most the line it
was writing; reading skips such a cut line, and the next append starts a line of its own. Calibration
(`predict.calibrate`), search (`search.cost`) and the search benchmark resume from them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def read_records(path: Path) -> list[dict[str, Any]]:
    """The journal's records in order (none if it does not exist); a line cut short by a kill is skipped."""
    out = []
    if Path(path).is_file():
        for line in Path(path).read_text().splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict):
                out.append(rec)
    return out


def append_records(path: Path, records: Iterable[dict[str, Any]]) -> None:
    """Appends records, one synced line each (a file cut mid-line by a kill gets its line ended first)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab+") as f:
        if f.tell():
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                f.write(b"\n")
        for rec in records:
            f.write((json.dumps(rec) + "\n").encode())
            f.flush()
            os.fsync(f.fileno())
