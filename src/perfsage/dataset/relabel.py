"""Re-measure a target's labels in place, to add a per-layer field the target reports now but did not
when the rows were written (Vela's per-layer `sram_kib`, added after 30,000 models were labelled).

Resumable like a build: new rows go to shards as they come, a rerun re-measures only the rows still
lacking the field, and reads see the old rows until the final compaction puts the new ones first. The
totals of a re-measured row should equal the old ones, and are checked: a row whose totals changed is
counted and reported, never silently mixed in. Vela is not quite deterministic, though: on 2,251 of
30,000 ethos-u55-128 models (a third of segmentation and unet) its totals moved between runs on
identical bytes (flash by a median 6e-5, at most 0.84%; cycles by ~5e-6). With a `tolerance`, a row
whose totals all moved by at most that relative amount is replaced by the new measurement (totals and
per-layer values from one run, so they stay consistent).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from perfsage.dataset import store
from perfsage.dataset.records import LAYER_FIELDS, Task, target_key
from perfsage.errors import PerfsageError
from perfsage.spaces import space_names


@dataclass
class RelabelSummary:
    planned: int = 0
    done: int = 0
    failures: int = 0
    changed: int = 0  # rows whose re-measured totals moved beyond the tolerance (kept as they were)
    replaced: int = 0  # rows whose totals moved within the tolerance (the new measurement replaces them)
    largest_change: float = 0.0  # the largest relative change of a total among the replaced rows
    seconds: float = 0.0


def _column(table: pa.Table, name: str) -> pa.ChunkedArray:
    return table.column(name) if name in table.column_names else pa.chunked_array([pa.nulls(table.num_rows)])


def pending(table: pa.Table, field: str, spaces: list[str] | None = None) -> list[str]:
    """Ids in a target's label rows (of `spaces`) with no row holding per-layer `field` yet."""
    have = set(pc.filter(table.column("id"), pc.is_valid(_column(table, f"layer_{field}"))).to_pylist())
    ids = sorted(set(table.column("id").to_pylist()) - have)
    known = set(space_names())
    keep = set(spaces) if spaces else known
    return [i for i in ids if ":" not in i and i.rsplit("-", 1)[0] in keep & known]


def prefer_field(field: str):
    """A compaction filter that puts rows holding the field first, so they win the first-row dedup."""
    def keep(table: pa.Table) -> pa.Table:
        has = pc.is_valid(_column(table, f"layer_{field}")).to_numpy(zero_copy_only=False)
        return table.take(pa.array(np.argsort(~has, kind="stable")))
    return keep


def relabel(root: str | Path, target: str, field: str, spaces: list[str] | None = None, workers: int = 1,
            flush_every: int = 200, tolerance: float = 0.0) -> RelabelSummary:
    """tolerance: the largest relative change of any total for which the new measurement replaces the
    stored row (0: totals must repeat exactly)."""
    from perfsage.dataset.build import _local

    if field not in LAYER_FIELDS:
        raise PerfsageError(f"unknown per-layer field {field!r} (known: {', '.join(LAYER_FIELDS)})")
    if not 0.0 <= tolerance < 1.0:
        raise PerfsageError(f"tolerance must be a relative change in [0, 1), not {tolerance}")
    root = Path(root)
    store.read_manifest(root)
    store.clean_temporaries(root)
    folder = root / "labels" / target_key(target)
    table = store.read_folder(folder)  # read once: plans the work and holds the totals to check against
    if table is None:
        raise PerfsageError(f"{root}: no labels for target {target!r}")
    ids = pending(table, field, spaces)
    old = store.dedup(table)
    old = old.take(pc.index_in(pa.array(ids, pa.string()), value_set=old.column("id"))) if ids else old.slice(0, 0)
    metric_cols = [c for c in old.column_names
                   if c not in ("id", "seconds", "provenance") and not c.startswith("layer_")]
    stored = {c: dict(zip(old.column("id").to_pylist(), old.column(c).to_pylist(), strict=True)) for c in metric_cols}
    tasks = [Task(i.rsplit("-", 1)[0], int(i.rsplit("-", 1)[1]), (target,), need_model_row=False) for i in ids]
    summary = RelabelSummary(planned=len(tasks))
    rows: list[dict] = []
    t0 = time.monotonic()

    def flush() -> None:
        if rows:
            store.write_shard(folder, pa.Table.from_pylist(rows))
            rows.clear()

    try:
        for r in _local(tasks, workers):
            row = r.labels.get(target_key(target))
            summary.done += 1
            if row is None or f"layer_{field}" not in row:
                summary.failures += 1
                if row is not None and summary.failures == summary.done >= min(10, len(tasks)):
                    raise PerfsageError(f"{target} does not report per-layer {field!r} ({summary.done} models "
                                        "measured, none had it)")
                continue
            moved = [_relative_change(stored[c].get(r.id), row.get(c)) for c in metric_cols]
            if max(moved, default=0.0) > max(tolerance, 1e-9):
                summary.changed += 1
                continue
            if max(moved, default=0.0) > 1e-9:
                summary.replaced += 1
                summary.largest_change = max(summary.largest_change, *moved)
            rows.append(row)
            if len(rows) >= flush_every:
                flush()
    finally:
        flush()
        summary.seconds = time.monotonic() - t0
    store.compact(folder, keep=prefer_field(field), sealed_bytes=None)  # replaces rows: merges all
    return summary


def _relative_change(old, new) -> float:
    """|new - old| / |old|; inf where one is missing or old is 0 and new is not."""
    if old is None or new is None:
        return 0.0 if old is None and new is None else float("inf")
    old, new = float(old), float(new)
    if old == new:
        return 0.0
    return abs(new - old) / abs(old) if old else float("inf")
