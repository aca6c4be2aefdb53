"""What `perfsage predict` and `perfsage report` run: files in, prediction records out, optionally with
the real tool's measurement beside each prediction (the ground truth a user can check us against).

A measurement is an extra: when the real tool fails on a model (TFLite Micro aborts on many converter
networks, Vela can crash), that model keeps its prediction and its record says why there is no
measurement ("measured_error": {"kind": "crashed" | "timeout" | "error", "message": ...}); the batch goes on.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perfsage.graph.batch import shared_encoder
from perfsage.graph.encode import EncodedGraph
from perfsage.model.shipped import shipped_targets
from perfsage.predict.predictor import (
    DEFAULT_TARGET,
    Predictor,
    PreparedModel,
    layer_metrics,
    model_files,
    prepare_many,
)
from perfsage.predict.whatif import attach_dense, dense_twin, looks_compressed
from perfsage.targets.base import TargetError
from perfsage.targets.metrics import PARTS

if TYPE_CHECKING:
    from perfsage.targets.base import Target

ALL_TARGETS = "all"


def resolve_targets(target: str) -> list[str]:
    return shipped_targets() if target == ALL_TARGETS else [target]


def predict_paths(paths: Sequence[str | os.PathLike], target: str = DEFAULT_TARGET, per_layer: bool = False,
                  label: bool = False, progress: Callable[[int, int], None] | None = None,
                  batch_size: int = 256, device: str = "cpu", workers: int | None = None) -> list[dict[str, Any]]:
    """One record per (model, target), grouped by target, in the JSON shape `perfsage predict --json`
    prints. Each file is parsed and encoded once, whatever the number of targets; progress(done, total)
    counts (model, target) predictions. Files are parsed in worker processes (default one per core)."""
    files = model_files(paths)
    predictors = [Predictor.load(t, device) for t in resolve_targets(target)]
    per_target: list[list[dict[str, Any]]] = [[] for _ in predictors]
    total, done = len(files) * len(predictors), 0
    with contextlib.ExitStack() as stack:
        # one real tool per target for the whole run (its worker starts once, not once per file)
        if label:
            from perfsage.targets import get_target
        tools = [stack.enter_context(contextlib.closing(get_target(p.target))) if label else None
                 for p in predictors]
        encoder = shared_encoder(workers)
        for start in range(0, len(files), batch_size):
            batch = files[start:start + batch_size]
            prepared = prepare_many(batch, encoder, twins=any(p.needs_twins for p in predictors))
            twins = functools.cache(dense_twin)  # one dense counterpart per file, whatever the targets
            for records, predictor, tool in zip(per_target, predictors, tools, strict=True):
                preds = predictor.predict_many(prepared, layers=per_layer)
                for f, p, prep in zip(batch, preds, prepared, strict=True):
                    rec = p.to_dict(layers=per_layer)
                    if per_layer:
                        compare_dense(rec, prep.graph, predictor, functools.partial(_twin, prep, twins, f))
                    if tool is not None:
                        attach_measurement(rec, f, tool, per_layer)
                    records.append(rec)
                done += len(batch)
                if progress is not None:
                    progress(done, total)
    return [rec for records in per_target for rec in records]


def _twin(prep: PreparedModel, made: Callable[[Path], PreparedModel], model: Path) -> PreparedModel:
    """A compressed model's dense twin: the one prepared with it, else made from its file (once)."""
    return prep.dense() or made(model)


def compare_dense(record: dict[str, Any], graph: EncodedGraph, predictor: Predictor,
                  twin: Callable[[], PreparedModel]) -> bool:
    """For a compressed model (graph) and a predictor of flash: its dense counterpart (twin(), made only
    when needed; perfsage.predict.whatif) predicted beside it. True: compared."""
    if "flash_kib" not in predictor.metrics or not looks_compressed(graph):
        return False
    attach_dense(record, predictor.predict(twin()).to_dict(layers=True))
    return True


def measurement_failures(records: Sequence[dict[str, Any]]) -> int:
    """How many of the records' measurements failed (records measured or not)."""
    return sum("measured_error" in r for r in records)


def attach_measurement(record: dict[str, Any], model: Path, target: str | Target, per_layer: bool) -> bool:
    """Adds "measured" (the real tool's value of every predicted metric) and, per layer, "measured_<m>";
    where the tool fails on the model, "measured_error" (its kind and message) instead. True: measured."""
    from perfsage.targets.label import label_model

    try:
        truth = label_model(model, target, per_layer)
    except TargetError as e:
        record["measured_error"] = {"kind": e.kind, "message": e.reason}
        return False
    record["measured"] = {m: truth["metrics"].get(m) for m in record["metrics"]}
    if record.get("parts"):  # the tool reports the parts in its provenance (metrics.PARTS)
        measured = {p.name: p.read(truth["provenance"]) for p in PARTS if p.name in record["parts"]}
        record["measured_parts"] = {name: v for name, v in measured.items() if v is not None}
    if per_layer and record.get("layers"):
        by_index = {row["index"]: row for row in truth["layers"]}
        for layer in record["layers"]:
            row = by_index.get(layer["index"], {})
            for m in layer_metrics(layer):
                if m in row and row[m] == row[m]:  # NaN: the tool does not know this layer's part
                    layer[f"measured_{m}"] = row[m]
    return True
