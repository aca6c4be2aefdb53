"""Timing on a shared host: measure a set of models in passes spread over time, keep each one's fastest.

On a cloud VM a neighbour's load comes and goes over minutes and slows every model measured meanwhile,
memory-bound float32 models most: on this project's 2-core VM four round-robin passes over 60 test models
of the precision space read 9-26% off their labels in two loaded passes and 2-5% in two quiet ones
(docs/research-log.md, 2026-12-07). Windows taken back to back share the same load, so the minimum
over them does not help; passes that each visit every model put minutes between a model's readings,
and the minimum over passes is the quiet host's time. Each reading is appended to a journal as it
comes, so a killed run goes on where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from perfsage.journal import append_records, read_records
from perfsage.targets.base import Target, TargetError


def measure_in_passes(tool: Target, models: Sequence[tuple[str, bytes | Path]], passes: int,
                      journal: Path | None = None,
                      progress: Callable[[int, int], None] | None = None) -> dict[str, dict[str, Any]]:
    """models: (id, bytes or a .tflite path: the tool reads it when measuring, so a thousand float32
    models need not sit in memory). id -> the smallest reading of each metric over `passes` round-robin
    passes, or {"error": ...} for a model the tool cannot run (journaled too: it is not retried, and
    later passes skip it). progress(done, total) counts readings."""
    if passes < 1:
        raise ValueError(f"passes must be at least 1, not {passes}")
    readings: dict[str, list[dict[str, Any]]] = {i: [] for i, _ in models}
    failed: dict[str, str] = {}
    for rec in read_records(journal) if journal is not None else []:
        i = rec.get("id")
        if i in readings:
            if "error" in rec:
                failed[i] = rec["error"]
            else:
                readings[i].append({k: v for k, v in rec.items() if k not in ("id", "pass")})
    total = passes * len(models)

    def done() -> int:
        return sum(passes if i in failed else min(passes, len(r)) for i, r in readings.items())

    if progress is not None:
        progress(done(), total)
    for p in range(passes):
        for i, data in models:
            if i in failed or len(readings[i]) > p:
                continue
            try:
                rec = {"id": i, "pass": p, **tool.measure(data, per_layer=False).metrics}
                readings[i].append({k: v for k, v in rec.items() if k not in ("id", "pass")})
            except TargetError as e:
                rec = {"id": i, "pass": p, "error": f"{e.kind}: {e.reason[:200]}"}
                failed[i] = rec["error"]
            if journal is not None:
                append_records(journal, [rec])
            if progress is not None:
                progress(done(), total)
    out: dict[str, dict[str, Any]] = {}
    for i, rs in readings.items():
        if i in failed:
            out[i] = {"error": failed[i]}
        else:
            out[i] = {m: min(r[m] for r in rs if m in r) for m in {k for r in rs for k in r}}
    return out
