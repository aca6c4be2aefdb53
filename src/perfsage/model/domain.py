"""The training domain of a predictor: which operators and feature ranges its training graphs covered.

A learned predictor interpolates; outside what it saw it may be far off with no warning, and the
conformal interval (perfsage.model.calibration) no longer holds. So every checkpoint records the op
types of its training graphs, the range of every graph-level feature and, per op type, the range of
every node-level feature, and a prediction names each way a model leaves that domain, in the feature's
own units. Per op type, because the ranges of all nodes together hide most of it: a fully connected
layer without a bias, or a 7x7 depthwise kernel, lies inside the ranges that other ops span.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from perfsage.graph.encode import BINARY_WORDS, FEATURE_WORDS, GRAPH_FEATURES, NODE_FEATURES, OP_VOCAB, EncodedGraph
from perfsage.model.base import read_record, write_json

DOMAIN_FILE = "domain.json"
_TOL = 1e-4  # encoded features are float32


@dataclass(frozen=True, slots=True)
class TrainingDomain:
    op_types: dict[str, int]  # op name -> training graphs containing it
    graph_ranges: dict[str, tuple[float, float]]  # encoded graph feature -> (min, max)
    node_ranges: dict[str, tuple[float, float]]  # encoded node feature -> (min, max) over all nodes
    n_graphs: int
    op_node_ranges: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)  # per op type
    _node_cols: np.ndarray = field(init=False, repr=False, compare=False)  # their columns in today's encoding
    _seen_op: np.ndarray = field(init=False, repr=False, compare=False)  # OP_VOCAB index -> in op_types
    _graph_cols: np.ndarray = field(init=False, repr=False, compare=False)  # graph_ranges as arrays
    _graph_lo: np.ndarray = field(init=False, repr=False, compare=False)
    _graph_hi: np.ndarray = field(init=False, repr=False, compare=False)
    _op_lo: np.ndarray = field(init=False, repr=False, compare=False)  # [OP_VOCAB, node cols], for check()
    _op_hi: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # by name: a domain fitted on an older encoding checks the features it knows
        names = [n for n in NODE_FEATURES if n in self.node_ranges]
        object.__setattr__(self, "_node_cols", np.array([NODE_FEATURES.index(n) for n in names], np.int64))
        object.__setattr__(self, "_seen_op", np.array([op in self.op_types for op in OP_VOCAB]))
        gnames = [n for n in GRAPH_FEATURES if n in self.graph_ranges]
        object.__setattr__(self, "_graph_cols", np.array([GRAPH_FEATURES.index(n) for n in gnames], np.int64))
        for attr, k in (("_graph_lo", 0), ("_graph_hi", 1)):
            object.__setattr__(self, attr, np.array([self.graph_ranges[n][k] for n in gnames], np.float64))
        # ops without ranges of their own (unseen: reported as such; or an older domain file) use the global
        op_lo = np.repeat(np.array([[self.node_ranges[n][0] for n in names]], np.float32), len(OP_VOCAB), 0)
        op_hi = np.repeat(np.array([[self.node_ranges[n][1] for n in names]], np.float32), len(OP_VOCAB), 0)
        for op, ranges in self.op_node_ranges.items():
            if op in OP_VOCAB:
                i = OP_VOCAB.index(op)
                op_lo[i] = [ranges.get(n, self.node_ranges[n])[0] for n in names]
                op_hi[i] = [ranges.get(n, self.node_ranges[n])[1] for n in names]
        object.__setattr__(self, "_op_lo", op_lo)
        object.__setattr__(self, "_op_hi", op_hi)

    def check(self, g: EncodedGraph, ops: list[str] | None = None) -> list[str]:
        """Reasons the graph lies outside the domain (empty: inside). ops: the nodes' op names, if known."""
        reasons = []
        # vectorised tests first (a search loop checks thousands of graphs); words only for what fails
        if not self._seen_op[g.op].all():
            ops = ops if ops is not None else [OP_VOCAB[i] for i in g.op]
            unseen: dict[str, int] = {}
            for op in ops:
                vocab = op if op in OP_VOCAB else "CUSTOM" if op.startswith("CUSTOM:") else "<unknown>"
                if vocab not in self.op_types:
                    unseen[op] = unseen.get(op, 0) + 1
            reasons.append("operators never seen in training: "
                           + ", ".join(f"{op} x{n}" for op, n in sorted(unseen.items())))
        gv = g.g[self._graph_cols].astype(np.float64)
        for k in np.flatnonzero((gv > self._graph_hi + _TOL) | (gv < self._graph_lo - _TOL)):
            name = GRAPH_FEATURES[self._graph_cols[k]]
            lo, hi = self.graph_ranges[name]
            v = float(gv[k])
            reasons.append(f"model {_label(name)} {_fmt(name, v)} outside the training range "
                           f"{_fmt(name, lo)} to {_fmt(name, hi)}")
        x = g.x[:, self._node_cols]
        if not x.shape[0]:
            return reasons
        # one vectorised pass finds the (node, feature) pairs outside their op's range; only those get words
        lo, hi = self._op_lo[g.op], self._op_hi[g.op]
        high, low = x > hi + _TOL, x < lo - _TOL
        for k in np.flatnonzero(high.any(0) | low.any(0)):
            name = NODE_FEATURES[self._node_cols[k]]
            for op_id in np.unique(g.op[high[:, k] | low[:, k]]):
                rows = g.op == op_id
                op = OP_VOCAB[op_id]
                hk, lk = high[rows, k], low[rows, k]
                col = x[rows, k]
                if name in BINARY_WORDS:
                    reasons.append(f"{BINARY_WORDS[name]} never seen on {op} in training ({_layers(int(hk.sum()))})")
                    continue
                if hk.any():
                    reasons.append(f"{op} {_label(name)} up to {_fmt(name, float(col[hk].max()))} at "
                                   f"{_layers(int(hk.sum()))} (training max {_fmt(name, float(hi[rows, k][0]))})")
                if lk.any():
                    reasons.append(f"{op} {_label(name)} down to {_fmt(name, float(col[lk].min()))} at "
                                   f"{_layers(int(lk.sum()))} (training min {_fmt(name, float(lo[rows, k][0]))})")
        return reasons

    def save(self, folder: Path) -> None:
        write_json(Path(folder) / DOMAIN_FILE, {"n_graphs": self.n_graphs, "op_types": self.op_types,
                                                "graph_ranges": self.graph_ranges, "node_ranges": self.node_ranges,
                                                "op_node_ranges": self.op_node_ranges})

    @classmethod
    def load(cls, folder: Path) -> TrainingDomain | None:
        return read_record(Path(folder) / DOMAIN_FILE, cls._from_json)

    @classmethod
    def _from_json(cls, d: dict) -> TrainingDomain | None:
        per_op = d.get("op_node_ranges", {})
        if not set(d["graph_ranges"]) <= set(GRAPH_FEATURES) or not set(d["node_ranges"]) <= set(NODE_FEATURES) \
                or any(not set(r) <= set(NODE_FEATURES) for r in per_op.values()):
            return None  # names features this encoding lacks: no domain rather than a wrong one
        return cls(d["op_types"], {k: tuple(v) for k, v in d["graph_ranges"].items()},
                   {k: tuple(v) for k, v in d["node_ranges"].items()}, d["n_graphs"],
                   {op: {k: tuple(v) for k, v in r.items()} for op, r in per_op.items()})


def fit_domain(graphs: list[EncodedGraph]) -> TrainingDomain:
    ops: dict[str, int] = {}
    for g in graphs:
        for i in np.unique(g.op):
            ops[OP_VOCAB[i]] = ops.get(OP_VOCAB[i], 0) + 1
    gx = np.stack([g.g for g in graphs])
    nx = np.concatenate([g.x for g in graphs if g.x.shape[0]])
    nop = np.concatenate([g.op for g in graphs if g.x.shape[0]])

    def ranges(a: np.ndarray) -> dict[str, tuple[float, float]]:
        return {n: (float(a[:, k].min()), float(a[:, k].max())) for k, n in enumerate(NODE_FEATURES)}

    return TrainingDomain(
        dict(sorted(ops.items())),
        {n: (float(gx[:, k].min()), float(gx[:, k].max())) for k, n in enumerate(GRAPH_FEATURES)},
        ranges(nx), len(graphs), {OP_VOCAB[i]: ranges(nx[nop == i]) for i in np.unique(nop)})


def _layers(n: int) -> str:
    return f"{n} layer" if n == 1 else f"{n} layers"


def _label(name: str) -> str:
    return FEATURE_WORDS.get(name) or name.removeprefix("log_").replace("_", " ")


def _fmt(name: str, v: float) -> str:
    """An encoded value in the feature's own units (log features are log1p)."""
    if name.startswith("log_"):
        raw = math.expm1(v)
        return f"{raw:.3g}" if raw >= 1e5 else f"{raw:,.0f}" if raw >= 10 else f"{raw:.2g}"
    return f"{v:g}"
