"""What `perfsage predict` and `perfsage report` run: files in, prediction records out, optionally with
the real tool's measurement beside each prediction (the ground truth a user can check us against)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from perfsage.model.shipped import shipped_targets
from perfsage.predict.predictor import DEFAULT_TARGET, Predictor, model_files

ALL_TARGETS = "all"


def resolve_targets(target: str) -> list[str]:
    return shipped_targets() if target == ALL_TARGETS else [target]


def predict_paths(paths: Sequence[str | os.PathLike], target: str = DEFAULT_TARGET, per_layer: bool = False,
                  label: bool = False, progress: Callable[[int, int], None] | None = None) -> list[dict[str, Any]]:
    """One record per (model, target), in the JSON shape `perfsage predict --json` prints.
    progress(done, total) follows the batched prediction."""
    files = model_files(paths)
    targets = resolve_targets(target)
    records: list[dict[str, Any]] = []
    total = len(files) * len(targets)
    for t in targets:
        predictor = Predictor.load(t)
        base = len(records)
        preds = predictor.predict_many([str(f) for f in files], layers=per_layer,
                                       progress=(lambda n, b=base: progress(b + n, total)) if progress else None)
        for f, p in zip(files, preds, strict=True):
            rec = p.to_dict(layers=per_layer)
            if label:
                attach_measurement(rec, f, predictor.target, per_layer)
            records.append(rec)
    return records


def attach_measurement(record: dict[str, Any], model: Path, target: str, per_layer: bool) -> None:
    """Adds "measured" (the real tool's value of every predicted metric) and, per layer, "measured_<m>"."""
    from perfsage.targets.label import label_model

    truth = label_model(model, target, per_layer)
    record["measured"] = {m: truth["metrics"].get(m) for m in record["metrics"]}
    if per_layer and record.get("layers"):
        by_index = {row["index"]: row for row in truth["layers"]}
        for layer in record["layers"]:
            row = by_index.get(layer["index"], {})
            for m in [k for k in layer if k not in ("index", "op", "share")]:
                if m in row:
                    layer[f"measured_{m}"] = row[m]
