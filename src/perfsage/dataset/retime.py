"""Re-time a host-bound target's labels in round-robin passes (perfsage.targets.passes).

A label timed in one pass on a shared VM carries whatever load the neighbours had in those seconds:
four passes over 60 precision-space models read float32 models 10-21% slow in the loaded passes
(docs/research-log.md, 2026-12-07), and a predictor trained on such labels learns the load. This
re-measures chosen rows (a space, optionally one precision of the precision space) the way calibration
and the host-transfer benchmark read their ground truth: one window per pass, each model's fastest pass.

The models are synthesised once into a cache folder (`<root>/tflite/`, ignored by git), the readings go
to a journal, so a killed run goes on where it stopped, and the new rows are written as a shard whose
provenance records the passes. The final compaction puts re-timed rows first, so they win the first-row
dedup; the label folder is small (a few hundred KiB), so merging it is cheap.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from perfsage.dataset import store
from perfsage.dataset.records import target_key
from perfsage.errors import PerfsageError

PASS_KEY = "passes"  # provenance key: how many round-robin passes a row's reading is the minimum of


@dataclass
class RetimeSummary:
    planned: int = 0
    measured: int = 0
    failures: int = 0
    median_ratio: float = float("nan")  # new / old latency, over the re-timed rows
    seconds: float = 0.0


def _passes_of(provenance: str | None) -> int:
    try:
        return int(json.loads(provenance or "{}").get(PASS_KEY, 1))
    except (ValueError, TypeError):
        return 1


def plan(root: Path, target: str, space: str, precision: str | None, passes: int) -> list[str]:
    """Ids of `space` (and `precision`, for the precision space) labelled for `target` in fewer passes."""
    labels = store.read_folder(root / "labels" / target_key(target), ["id", "provenance"])
    if labels is None:
        raise PerfsageError(f"{root}: no labels for target {target!r}")
    labels = store.dedup(prefer_passes(labels))  # a kill before the last compaction leaves both rows
    fewer = {i for i, p in zip(labels.column("id").to_pylist(), labels.column("provenance").to_pylist(), strict=True)
             if i.rsplit("-", 1)[0] == space and _passes_of(p) < passes}
    if precision is None:
        return sorted(fewer, key=lambda i: int(i.rsplit("-", 1)[1]))
    models = store.read_folder(root / "models", ["id", "arch"])
    if models is None:
        raise PerfsageError(f"{root}: no model rows to read the precision from")
    want = {i for i, a in zip(models.column("id").to_pylist(), models.column("arch").to_pylist(), strict=True)
            if i in fewer and json.loads(a).get("precision") == precision}
    return sorted(want, key=lambda i: int(i.rsplit("-", 1)[1]))


def prefer_passes(table: pa.Table) -> pa.Table:
    """A compaction filter that puts the rows timed in the most passes first (they win the dedup)."""
    n = np.array([_passes_of(p) for p in table.column("provenance").to_pylist()])
    return table.take(pa.array(np.argsort(-n, kind="stable")))


def retime(root: str | Path, target: str = "cpu-litert", space: str = "precision", precision: str | None = None,
           passes: int = 3, limit: int | None = None, window_s: float = 0.5,
           progress: Callable[[str, int, int], None] | None = None) -> RetimeSummary:
    """Re-times up to `limit` rows; progress(stage, done, total) for the synthesis and the readings."""
    from perfsage.spaces import get_space
    from perfsage.targets import get_target, is_host_bound
    from perfsage.targets.passes import measure_in_passes

    if not is_host_bound(target):
        raise PerfsageError(f"{target!r} is not timed on this host: only host-bound targets (cpu-litert) "
                            "are re-timed")
    if passes < 2:
        raise PerfsageError(f"--passes must be at least 2 (one pass is how the rows were timed), not {passes}")
    root = Path(root)
    store.read_manifest(root)
    store.clean_temporaries(root)
    ids = plan(root, target, space, precision, passes)[:limit]
    summary = RetimeSummary(planned=len(ids))
    if not ids:
        return summary
    t0 = time.monotonic()
    cache = root / "tflite"
    cache.mkdir(parents=True, exist_ok=True)
    sp = get_space(space)
    for k, i in enumerate(ids):
        f = cache / f"{i}.tflite"
        if not f.is_file():
            _, data = sp.synth(int(i.rsplit("-", 1)[1]))
            tmp = f.with_suffix(".tmp")
            tmp.write_bytes(data)
            tmp.replace(f)
        if progress is not None:
            progress("synthesis", k + 1, len(ids))
    journal = cache / f"retime-{target_key(target)}.jsonl"
    tool = get_target(target)
    tool.window_s, tool.windows = window_s, 1
    try:
        done = measure_in_passes(tool, [(i, cache / f"{i}.tflite") for i in ids], passes, journal,
                                 None if progress is None else lambda d, t: progress("readings", d, t))
    finally:
        tool.close()
    old = store.dedup(store.read_folder(root / "labels" / target_key(target), ["id", "latency_ms"]))
    old_lat = dict(zip(old.column("id").to_pylist(), old.column("latency_ms").to_pylist(), strict=True))
    prov = json.dumps({**tool.label_provenance(), PASS_KEY: passes}, sort_keys=True)
    rows, ratios = [], []
    for i in ids:
        r = done[i]
        if "latency_ms" not in r:
            summary.failures += 1
            continue
        rows.append({"id": i, **{k: float(v) for k, v in r.items()}, "seconds": float("nan"), "provenance": prov})
        if old_lat.get(i):
            ratios.append(r["latency_ms"] / old_lat[i])
    folder = root / "labels" / target_key(target)
    if rows:
        store.write_shard(folder, pa.Table.from_pylist(rows))
        store.compact(folder, keep=prefer_passes, sealed_bytes=None)
    journal.unlink(missing_ok=True)  # its readings are in the shard now
    summary.measured = len(rows)
    summary.median_ratio = float(np.median(ratios)) if ratios else float("nan")
    summary.seconds = time.monotonic() - t0
    return summary
