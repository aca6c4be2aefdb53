"""Compress a .tflite model's weights in place: same graph, shapes, types and scales, other values.

The weight buffers are rewritten where they lie in the file, byte for byte the same length, so the
result is as valid as the input for every tool that read it (LiteRT, TFLite Micro, Vela) and differs
only in what Vela's weight encoder and the per-layer features see.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from perfsage.compress import transforms as T
from perfsage.compress.recipe import LayerRecipe, Recipe, changed_settings
from perfsage.errors import PerfsageError
from perfsage.graph import load_graph
from perfsage.graph.ir import Graph, Node, Tensor
from perfsage.graph.ops import spec
from perfsage.graph.reader import buffer_spans
from perfsage.graph.weights import WeightStats, weight_stats

COMPRESSIBLE_KINDS = ("conv", "depthwise", "transpose_conv", "fully_connected")


@dataclass(frozen=True, slots=True)
class LayerChange:
    """What a recipe did to one layer's weights (for the command's table and JSON)."""

    index: int
    op: str
    tensor: str
    recipe: LayerRecipe
    before: WeightStats
    after: WeightStats
    skipped: str = ""  # why a part of the recipe did not apply (e.g. 2:4 on a depthwise layer)

    def to_dict(self) -> dict:
        return {"index": self.index, "op": self.op, "tensor": self.tensor,
                "recipe": changed_settings(self.recipe, LayerRecipe()), "before": self.before.to_dict(),
                "after": self.after.to_dict(), "skipped": self.skipped}


def weighted_layers(graph: Graph) -> list[tuple[Node, Tensor]]:
    """Each operator of a compressible kind with its constant main weight tensor, in file order (weights
    computed at run time, e.g. float16 behind a DEQUANTIZE, are no constant and not listed)."""
    out = []
    for node in graph.nodes:
        s = spec(node.op)
        if s.kind not in COMPRESSIBLE_KINDS or s.weight_input is None or s.weight_input >= len(node.inputs):
            continue
        ti = node.inputs[s.weight_input]
        if ti >= 0 and graph.tensors[ti].is_constant:
            out.append((node, graph.tensors[ti]))
    return out


def compress_model(data: bytes, recipe: Recipe, seed: int = 0,
                   graph: Graph | None = None) -> tuple[bytes, list[LayerChange]]:
    """The model with every weighted layer's int8 weights transformed by its recipe; deterministic in
    (data, recipe, seed) (the seed only matters to a trained-like redraw). graph: data already parsed."""
    graph = graph if graph is not None else load_graph(data)
    spans = buffer_spans(data)
    out = bytearray(data)
    names = {t.name for t in graph.tensors}
    types = {n.op for n in graph.nodes}
    _check_keys(recipe, graph, names, types)
    changes: list[LayerChange] = []
    done: set[int] = set()
    for node, t in weighted_layers(graph):
        if t.buffer in done:
            continue  # a weight tensor shared by several operators: compressed once
        layer = recipe.for_layer(node.index, t.name, node.op)
        explicit = str(node.index) in recipe.layers or t.name in recipe.layers
        if t.dtype != "INT8":
            if explicit and not layer.identity:
                raise PerfsageError(f"layer {node.index} ({node.op}) has {t.dtype} weights; perfsage compress "
                                    "rewrites int8 weights (quantise the model first)")
            continue
        kind = spec(node.op).kind
        start, n = spans[t.buffer]
        w = np.frombuffer(bytes(out[start:start + n]), np.int8).reshape(t.shape)
        axis = t.quant.axis if t.quant is not None and t.quant.per_channel else (3 if kind == "depthwise" else 0)
        rng = np.random.default_rng([seed & 0xFFFFFFFF, zlib.crc32(t.name.encode()), node.index])
        new, skipped = apply_layer(w, layer, axis, kind, rng)
        if skipped and explicit:
            raise PerfsageError(f"layer {node.index} ({node.op}): {skipped}")
        out[start:start + n] = new.tobytes()
        done.add(t.buffer)
        before = t.stats or weight_stats(w)  # the reader's statistics of these very bytes
        changes.append(LayerChange(node.index, node.op, t.name, layer, before, weight_stats(new), skipped))
    if not changes:
        kinds = sorted({t.dtype for t in graph.tensors if t.is_constant})
        raise PerfsageError("the model has no int8 weights to compress (constant types: "
                            f"{', '.join(kinds) or 'none'}); quantise it to int8 first")
    return bytes(out), changes


def apply_layer(w: np.ndarray, layer: LayerRecipe, axis: int, kind: str,
                rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """One layer's recipe on its int8 weights; returns them and why a part did not apply ('' if none)."""
    skipped = ""
    if layer.draw == "trained":
        w = T.redraw_trained(w, axis, rng, layer.draw_shape)
    if layer.bits < 8:
        w = T.fewer_bits(w, layer.bits, axis)
    if layer.sparsity > 0:
        w = T.prune(w, layer.sparsity)
    if layer.structured == "2:4":
        if kind == "depthwise":
            skipped = "2:4 sparsity groups the input depth, which a depthwise filter does not have"
        else:
            w = T.two_of_four(w)
    if layer.clusters:
        w = T.cluster(w, layer.clusters, axis, layer.cluster_per_channel)
    return np.ascontiguousarray(w, dtype=np.int8), skipped


def _check_keys(recipe: Recipe, graph, names: set[str], types: set[str]) -> None:
    nodes = {str(n.index): n for n in graph.nodes}
    for key in recipe.layers:
        if key not in nodes and key not in names and key not in types:
            raise PerfsageError(f"recipe layer {key!r} is no operator index (0-{len(graph.nodes) - 1}), "
                                "tensor name or operator type of this model")
        node = nodes.get(key)
        if node is not None and spec(node.op).kind not in COMPRESSIBLE_KINDS:
            raise PerfsageError(f"recipe layer {key} is a {node.op} operator, which has no weights to compress")
