"""What a model's weight compression saves: the same model with dense weights, predicted beside it.

A user deciding which layers to compress wants each layer's flash next to what the same layer would
take dense. The dense counterpart is the model with every weight tensor redrawn as a trained model's
dense weights (perfsage.compress, the generalised normal of median shape fitted to trained models,
docs/results/weight_distributions.md); graph, shapes and scales are the model's own.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from perfsage.graph.encode import NODE_FEATURES, EncodedGraph
from perfsage.predict.predictor import PreparedModel, prepare

DENSE_SHAPE = 1.47  # the median generalised-normal shape of 816 trained dense weight tensors
COMPRESSED_ZERO_SHARE = 0.1  # trained dense int8 weights hold a few percent zeros at most
COMPRESSED_DISTINCT = 64  # ... and, past a few hundred weights, well over 64 distinct values
# ... and a small dense tensor holds most of the values it could: 72 uniform int8 draws hold ~62 distinct
# ones, a palette at most half of min(values, 256) once it has twice as many weights as levels
PALETTE_SHARE = 0.5
_ZERO, _DISTINCT, _BYTES, _WBYTES = (NODE_FEATURES.index(n) for n in (
    "w_zero_share", "log_w_distinct", "log_w_entropy_bytes", "log_weight_bytes"))


def looks_compressed(g: EncodedGraph) -> bool:
    """Whether any weighted layer's values look pruned or palettised (an encoding older than 7 has no
    weight statistics: never)."""
    if g.x.shape[1] <= _BYTES or not g.x.shape[0]:
        return False
    x = g.x.astype(np.float64)
    weighted = x[:, _DISTINCT] > 0
    distinct = np.expm1(x[:, _DISTINCT])
    # a layer whose values entropy-code into a few dozen bytes has few distinct values whatever it is
    big = x[:, _BYTES] > np.log1p(32)
    few = (distinct <= COMPRESSED_DISTINCT) & (distinct <= PALETTE_SHARE * np.minimum(np.expm1(x[:, _WBYTES]), 256))
    return bool(np.any(weighted & ((x[:, _ZERO] >= COMPRESSED_ZERO_SHARE) | (big & few))))


def dense_counterpart(data: bytes) -> bytes:
    """The model with dense trained-like weights in place of its own (same graph, shapes and scales)."""
    from perfsage.compress import LayerRecipe, Recipe, compress_model

    return compress_model(data, Recipe(LayerRecipe(draw="trained", draw_shape=DENSE_SHAPE)))[0]


def dense_twin(model: str | os.PathLike) -> PreparedModel:
    """A model file's dense counterpart, parsed and encoded for any predictor."""
    return prepare(dense_counterpart(Path(model).read_bytes()))


def attach_dense(record: dict[str, Any], dense: dict[str, Any], metrics: tuple[str, ...] = ("flash_kib",)) -> None:
    """Adds the dense counterpart's prediction: "dense" (its totals) and, per layer, "dense_<metric>"."""
    record["dense"] = {m: dense["metrics"][m]["value"] for m in dense["metrics"]}
    by_index = {la["index"]: la for la in dense.get("layers", [])}
    for layer in record.get("layers", []):
        twin = by_index.get(layer["index"], {})
        for m in metrics:
            if m in twin:
                layer[f"dense_{m}"] = twin[m]
