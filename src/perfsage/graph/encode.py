"""Numeric encoding of a graph: the arrays every learned model starts from, and the dataset's graph cache.

Numbers are raw but log-compressed (log1p of counts and bytes) so that one encoding serves all models;
per-feature normalisation is learned by each model from its training data and saved with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import log1p

import numpy as np

from perfsage.graph.features import GraphFeatures, NodeFeatures, featurise
from perfsage.graph.ir import Graph
from perfsage.graph.ops import KINDS
from perfsage.graph.schema import BUILTIN_OPS
from perfsage.graph.weights import WeightStats

ENCODING_VERSION = 8
OP_VOCAB: tuple[str, ...] = ("<unknown>", "CUSTOM", *sorted(set(BUILTIN_OPS.values()) - {"CUSTOM"}))
_OP_ID = {name: i for i, name in enumerate(OP_VOCAB)}
_KIND_ID = {k: i for i, k in enumerate(KINDS)}
_ACTS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1", "TANH", "SIGN_BIT")
_DTYPES = ("INT8", "UINT8", "INT16", "FLOAT32", "FLOAT16", "INT32")
# Hardware works on channels in blocks (SIMD lanes, NPU weight bricks and OFM blocks: 4 to 32 wide), so
# costs step where a channel count crosses a block boundary: 16 x 64 1x1 weights take 1,936 bytes of
# Ethos-U55 flash, 24 x 144 take 5,472 (raw: 1,664 and 4,896). A log channel count hides the steps; the
# share of the last block a count leaves empty shows them (it took a node-level flash regressor from
# 1.8% to 0.4% median error per 1x1 convolution at equal steps).
CHANNEL_BLOCKS = (4, 8, 16, 32)

# What each non-log node feature says, in words (the training-domain check names them this way); the
# keys are also the features' names in NODE_FEATURES
ONE_HOT_WORDS: dict[str, str] = {
    **{f"act_{a.lower()}": f"fused activation {a}" for a in _ACTS},
    **{f"in_{d.lower()}": f"input type {d}" for d in _DTYPES},
    **{f"out_{d.lower()}": f"output type {d}" for d in _DTYPES}}
CHANNEL_BLOCK_WORDS: dict[str, str] = {f"{side}_c_pad{m}": f"empty share of the last {m}-channel {side}put block"
                                       for side in ("in", "out") for m in CHANNEL_BLOCKS}
# yes/no facts about an operator's place in the graph (version 6: a repeat of an earlier operator's
# work; Vela's weights for a repeated MEAN decomposition are shared, so 12,685 of the 12,782 repeated
# MEANs in the classification task space own no flash)
FLAG_WORDS: dict[str, str] = {"repeats_earlier": "repeating an identical earlier operator"}
# version 7: the stored weight values as Vela's lossless encoder sees them (perfsage.graph.weights):
# pruned, clustered and low-bit weights take far less flash, and bandwidth, than dense ones of one shape
WEIGHT_WORDS: dict[str, str] = {
    "w_zero_share": "share of zero weights", "log_w_distinct": "distinct weight values",
    "w_entropy_bits": "weight entropy (bits per weight)", "w_mean_abs": "mean weight magnitude (share of max)",
    "w_2of4_share": "share of 2:4-sparse weight groups", "log_w_entropy_bytes": "entropy-coded weight bytes",
    # version 8: what Ethos-U's own weight codec would store (perfsage.graph.weights.estimate_codec_bits);
    # entropy alone misses its palette, zero runs and Golomb-Rice steps (4 levels: 1.5 bits of entropy,
    # ~1.7 coded)
    "log_w_codec_bytes": "Ethos-U weight codec bytes (estimated)"}
BINARY_WORDS: dict[str, str] = {**ONE_HOT_WORDS, **FLAG_WORDS}  # 0 or 1: the domain check says "never seen"
FEATURE_WORDS: dict[str, str] = {**ONE_HOT_WORDS, **CHANNEL_BLOCK_WORDS, **FLAG_WORDS, **WEIGHT_WORDS}

NODE_FEATURES: tuple[str, ...] = (
    "log_macs", "log_elementwise_ops", "log_params", "log_weight_bytes", "log_bias_bytes", "log_input_bytes",
    "log_output_bytes", "log_arithmetic_intensity", "kernel_h", "kernel_w", "stride_h", "stride_w",
    "dilation_h", "dilation_w", "depth_multiplier", "log_groups", "pads_input", "per_channel", "n_inputs",
    "n_outputs", "log_live_bytes", "log_out_h", "log_out_w", "log_out_c", "log_out_elements", "log_in_h",
    "log_in_w", "log_in_c", *ONE_HOT_WORDS, "log_scratch_bytes", *CHANNEL_BLOCK_WORDS, *FLAG_WORDS,
    *WEIGHT_WORDS)
GRAPH_FEATURES: tuple[str, ...] = (
    "log_macs", "log_elementwise_ops", "log_params", "log_weight_bytes", "log_peak_activation_bytes",
    "log_input_bytes", "log_output_bytes", "log_ops", "log_depth", "log_tensors", "log_planned_activation_bytes",
    "log_weight_entropy_bytes", "log_weight_codec_bytes")
EDGE_FEATURES: tuple[str, ...] = ("log_bytes", "log_elements")
# Features appended after encoding version 2; a checkpoint that does not list the features it was
# trained on predates them and reads the version-2 columns (see feature_columns).
ADDED_AFTER_V2 = ("log_scratch_bytes", "log_planned_activation_bytes", *CHANNEL_BLOCK_WORDS, *FLAG_WORDS,
                  *WEIGHT_WORDS, "log_weight_entropy_bytes", "log_weight_codec_bytes")


def graph_feature_values(graphs, name: str) -> np.ndarray:
    """A log1p graph feature of each graph back in its own unit (counts, bytes), as float64."""
    col = GRAPH_FEATURES.index(name)
    return np.expm1(np.array([g.g[col] for g in graphs], np.float64))


def feature_names(node: list[str] | None = None, graph: list[str] | None = None) -> dict[str, list[str]]:
    """The node and graph feature names a checkpoint was trained on: as it recorded them, or, for a
    checkpoint that recorded none, the version-2 encoding's."""
    return {"node": list(node) if node is not None else [n for n in NODE_FEATURES if n not in ADDED_AFTER_V2],
            "graph": list(graph) if graph is not None else [n for n in GRAPH_FEATURES if n not in ADDED_AFTER_V2]}


def current_features() -> dict[str, list[str]]:
    return feature_names(NODE_FEATURES, GRAPH_FEATURES)


def feature_columns(names: dict[str, list[str]]) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Column indices of the named node and graph features in today's encoding (None: all of them, in
    order), so that the encoding can grow without invalidating trained checkpoints."""
    from perfsage.errors import PerfsageError

    cols = []
    for kind, current in (("node", NODE_FEATURES), ("graph", GRAPH_FEATURES)):
        wanted = names[kind]
        unknown = [n for n in wanted if n not in current]
        if unknown:
            raise PerfsageError(f"checkpoint uses {kind} features this perfsage does not compute: "
                                f"{', '.join(unknown)}; upgrade perfsage or retrain")
        cols.append(None if tuple(wanted) == current else np.array([current.index(n) for n in wanted]))
    return cols[0], cols[1]


@dataclass(slots=True)
class EncodedGraph:
    op: np.ndarray  # int16 [N], index into OP_VOCAB
    kind: np.ndarray  # int8 [N], index into perfsage.graph.ops.KINDS
    x: np.ndarray  # float32 [N, len(NODE_FEATURES)]
    edge_index: np.ndarray  # int32 [2, E], producer -> consumer node
    edge_attr: np.ndarray  # float32 [E, len(EDGE_FEATURES)]
    g: np.ndarray  # float32 [len(GRAPH_FEATURES)]


def _hw_c(shape: tuple[int, ...]) -> tuple[int, int, int]:
    dims = [max(d, 1) for d in shape]
    if len(dims) >= 4:
        return dims[-3], dims[-2], dims[-1]
    if len(dims) == 3:
        return dims[-2], 1, dims[-1]
    if len(dims) == 2:
        return 1, 1, dims[-1]
    return 1, 1, dims[0] if dims else 1


def _node_row(n: NodeFeatures) -> list[float]:
    oh, ow, oc = _hw_c(n.output_shape)
    ih, iw, ic = _hw_c(n.input_shape)
    out_elems = oh * ow * oc * (max(n.output_shape[0], 1) if len(n.output_shape) >= 4 else 1)
    return [log1p(n.macs), log1p(n.elementwise_ops), log1p(n.params), log1p(n.weight_bytes), log1p(n.bias_bytes),
            log1p(n.input_bytes), log1p(n.output_bytes), log1p(n.arithmetic_intensity), n.kernel_h, n.kernel_w,
            n.stride_h, n.stride_w, n.dilation_h, n.dilation_w, n.depth_multiplier, log1p(n.groups),
            float(n.pads_input), float(n.per_channel), n.n_inputs, n.n_outputs, log1p(n.live_bytes), log1p(oh),
            log1p(ow),
            log1p(oc), log1p(out_elems), log1p(ih), log1p(iw), log1p(ic),
            *(float(n.fused_activation == a) for a in _ACTS), *(float(n.input_dtype == d) for d in _DTYPES),
            *(float(n.output_dtype == d) for d in _DTYPES), log1p(n.scratch_bytes),
            *(-ic % m / m for m in CHANNEL_BLOCKS), *(-oc % m / m for m in CHANNEL_BLOCKS),
            float(n.repeats_earlier), *_weight_row(n.weights)]


def _weight_row(w: WeightStats | None) -> list[float]:
    if w is None:
        return [0.0] * len(WEIGHT_WORDS)
    return [w.zero_share, log1p(w.distinct), w.entropy_bits, w.mean_abs_share, w.sparse_2of4_share,
            log1p(w.entropy_bytes), log1p(w.codec_bytes)]


def _graph_row(g: GraphFeatures) -> list[float]:
    return [log1p(g.macs), log1p(g.elementwise_ops), log1p(g.params), log1p(g.weight_bytes),
            log1p(g.peak_activation_bytes), log1p(g.input_bytes), log1p(g.output_bytes), log1p(g.ops),
            log1p(g.depth), log1p(g.tensors), log1p(g.planned_activation_bytes), log1p(g.weight_entropy_bytes),
            log1p(g.weight_codec_bytes)]


def op_id(op: str) -> int:
    if op.startswith("CUSTOM:"):
        return _OP_ID["CUSTOM"]
    return _OP_ID.get(op, 0)


def encode(graph: Graph, features: tuple[list[NodeFeatures], GraphFeatures] | None = None) -> EncodedGraph:
    nodes, gf = features or featurise(graph)
    edges = graph.edges()
    ei = np.array([[p for p, _, _ in edges], [c for _, c, _ in edges]], dtype=np.int32).reshape(2, -1)
    ea = np.array([[log1p(graph.tensors[t].nbytes), log1p(graph.tensors[t].elements)] for _, _, t in edges],
                  dtype=np.float32).reshape(-1, len(EDGE_FEATURES))
    return EncodedGraph(
        op=np.array([op_id(n.op) for n in nodes], dtype=np.int16),
        kind=np.array([_KIND_ID.get(n.kind, _KIND_ID["other"]) for n in nodes], dtype=np.int8),
        x=np.array([_node_row(n) for n in nodes], dtype=np.float32).reshape(-1, len(NODE_FEATURES)),
        edge_index=ei, edge_attr=ea, g=np.array(_graph_row(gf), dtype=np.float32))
