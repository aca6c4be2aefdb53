"""`perfsage dataset info`: counts per space and target, label ranges, failures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from perfsage.dataset import failures, load, store
from perfsage.targets.metrics import METRICS


def dataset_info(root: str | Path) -> dict[str, Any]:
    root = Path(root)
    manifest = store.read_manifest(root)
    table = load(root)
    spaces = table.column("space").to_pylist()
    targets = store.label_targets(root)
    info: dict[str, Any] = {"path": str(root), "generator_version": manifest.get("generator_version"),
                            "models": table.num_rows, "spaces": {}, "targets": {}, "failures": {}}
    for s in sorted(set(spaces)):
        info["spaces"][s] = spaces.count(s)
    for t in targets:
        cols = [c for c in table.column_names if c.startswith(f"{t}/")]
        per_space: dict[str, int] = {}
        ranges: dict[str, dict[str, float]] = {}
        for c in cols:
            metric = c.split("/", 1)[1]
            if metric not in METRICS:
                continue
            v = np.array([x if x is not None else np.nan for x in table.column(c).to_pylist()], float)
            ok = ~np.isnan(v)
            if not ok.any():
                continue
            ranges[metric] = {"min": float(v[ok].min()), "median": float(np.median(v[ok])),
                              "max": float(v[ok].max()), "unit": METRICS[metric].unit}
            if not per_space:
                for s, has in zip(spaces, ok, strict=True):
                    per_space[s] = per_space.get(s, 0) + int(has)
        info["targets"][t] = {"labelled": sum(per_space.values()), "per_space": per_space, "ranges": ranges}
    f = failures(root)
    if f is not None:
        for t, kind, reason in zip(f.column("target").to_pylist(), f.column("kind").to_pylist(),
                                   f.column("reason").to_pylist(), strict=True):
            d = info["failures"].setdefault(t, {"count": 0, "kinds": {}, "examples": []})
            d["count"] += 1
            d["kinds"][kind] = d["kinds"].get(kind, 0) + 1
            if len(d["examples"]) < 3:
                d["examples"].append(reason[:200])
    return info
