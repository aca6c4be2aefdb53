"""The training domain of a predictor: which operators and feature ranges its training graphs covered.

A learned predictor interpolates; outside what it saw it may be far off with no warning, and the
conformal interval (perfsage.model.calibration) no longer holds. So every checkpoint records the op
types of its training graphs, the range of every graph-level feature and, per op type, the range of
every node-level feature, and a prediction names each way a model leaves that domain, in the feature's
own units. Per op type, because the ranges of all nodes together hide most of it: a fully connected
layer without a bias, or a 7x7 depthwise kernel, lies inside the ranges that other ops span.

A model far from the domain leaves it in dozens of ways, so the reasons come most telling first (see
`OodReason.rank`): what the predictor never saw at all (operator types, then input/output types, fused
activations and flags, each one reason however many op types carry it), then the model-level features,
then the per-operator ranges; within a kind, the farther outside the training range, the earlier.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from perfsage.graph.encode import (
    BINARY_WORDS,
    FEATURE_WORDS,
    GRAPH_FEATURES,
    NODE_FEATURES,
    ONE_HOT_WORDS,
    OP_VOCAB,
    EncodedGraph,
)
from perfsage.model.base import read_record, write_json

DOMAIN_FILE = "domain.json"
_TOL = 1e-4  # encoded features are float32
# An OodReason's kind, most telling first: the predictor has no domain to check against; operator types
# it never saw; an input/output type, fused activation or flag it never saw on an op type; a model-level
# feature outside its training range; the model as a whole farther from the training models than almost
# every held-out model (perfsage.model.distance); an op type's feature outside that op type's training range.
REASON_KINDS = ("no_domain", "operator", "never_seen", "model", "distance", "layer")


@dataclass(frozen=True, slots=True)
class OodReason:
    """One way a model leaves the training domain: the sentence a person reads, and what it is made of."""

    kind: str  # one of REASON_KINDS
    text: str
    feature: str | None = None  # the encoded feature's name (None: operator types, no domain)
    ops: tuple[str, ...] = ()  # the op types concerned (kind "operator": the unseen ones)
    layers: int = 0  # how many operators it concerns (0: the model as a whole)
    value: float | None = None  # the model's extreme value, in the feature's own units
    bound: float | None = None  # the training bound it crosses (min or max), same units
    excess: float | None = None  # how far outside: |ln((1 + value) / (1 + bound))|; None: categorical

    @property
    def rank(self) -> tuple[int, float, int]:
        """Sort key, most telling first: by kind (REASON_KINDS), then by how far outside the training range
        the value lies (as a log ratio to the bound it crosses, so 10x the largest MACs seen outranks a
        kernel one wider than any seen, whatever the feature's units), then by the operators concerned."""
        return REASON_KINDS.index(self.kind), -(self.excess or 0.0), -self.layers

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "text": self.text, "feature": self.feature, "ops": list(self.ops),
                "layers": self.layers, "value": self.value, "bound": self.bound, "excess": self.excess}


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
        """Reasons the graph lies outside the domain, most telling first (empty: inside). ops: the nodes'
        op names, if known."""
        return [r.text for r in self.explain(g, ops)]

    def explain(self, g: EncodedGraph, ops: list[str] | None = None) -> list[OodReason]:
        """check()'s reasons with what each is made of, most telling first (OodReason.rank)."""
        reasons: list[OodReason] = []
        # vectorised tests first (a search loop checks thousands of graphs); words only for what fails
        if not self._seen_op[g.op].all():
            ops = ops if ops is not None else [OP_VOCAB[i] for i in g.op]
            unseen: dict[str, int] = {}
            for op in ops:
                vocab = op if op in OP_VOCAB else "CUSTOM" if op.startswith("CUSTOM:") else "<unknown>"
                if vocab not in self.op_types:
                    unseen[op] = unseen.get(op, 0) + 1
            reasons.append(OodReason(
                "operator", "operators never seen in training: "
                + ", ".join(f"{op} x{n}" for op, n in sorted(unseen.items())),
                ops=tuple(sorted(unseen)), layers=sum(unseen.values())))
        gv = g.g[self._graph_cols].astype(np.float64)
        for k in np.flatnonzero((gv > self._graph_hi + _TOL) | (gv < self._graph_lo - _TOL)):
            name = GRAPH_FEATURES[self._graph_cols[k]]
            lo, hi = self.graph_ranges[name]
            v = float(gv[k])
            reasons.append(OodReason(
                "model", f"model {_label(name)} {_fmt(name, v)} outside the training range "
                f"{_fmt(name, lo)} to {_fmt(name, hi)}", name, (), 0, _raw(name, v),
                _raw(name, hi if v > hi else lo), _excess(name, v, hi if v > hi else lo)))
        x = g.x[:, self._node_cols]
        if x.shape[0]:
            reasons.extend(self._node_reasons(g, x))
        return sorted(reasons, key=lambda r: r.rank)

    def _node_reasons(self, g: EncodedGraph, x: np.ndarray) -> list[OodReason]:
        reasons: list[OodReason] = []
        # one vectorised pass finds the (node, feature) pairs outside their op's range; only those get words
        lo, hi = self._op_lo[g.op], self._op_hi[g.op]
        high, low = x > hi + _TOL, x < lo - _TOL
        flagged = np.flatnonzero(high.any(0) | low.any(0))
        if not len(flagged):
            return reasons
        names = [NODE_FEATURES[c] for c in self._node_cols]
        # per node, whether it has a one-hot value never seen on its op (e.g. input type FLOAT32): that
        # value's own reason says it, so its group's trained value (INT8) is not missing a second time
        group_of = {n: ONE_HOT_WORDS[n].rsplit(" ", 1)[0] for n in names if n in ONE_HOT_WORDS}
        group_high = {grp: high[:, [k for k, n in enumerate(names) if group_of.get(n) == grp]].any(1)
                      for grp in set(group_of.values())}
        for k in flagged:
            name = names[k]
            if name in BINARY_WORDS:  # a yes/no: one reason over all the op types, as their count says little
                new = high[:, k]
                missing = low[:, k] & ~group_high[group_of[name]] if name in group_of else low[:, k]
                for rows, text in ((new, f"{BINARY_WORDS[name]} never seen on {{}} in training ({{}})"),
                                   (missing, _missing_words(name))):
                    if rows.any():
                        on = tuple(OP_VOCAB[i] for i in np.unique(g.op[rows]))
                        n = int(rows.sum())
                        reasons.append(OodReason("never_seen", text.format(", ".join(on), _layers(n)), name,
                                                 on, n))
                continue
            for op_id in np.unique(g.op[high[:, k] | low[:, k]]):
                rows = g.op == op_id
                op = OP_VOCAB[op_id]
                hk, lk = high[rows, k], low[rows, k]
                col = x[rows, k]
                for out, word, bound, extreme, side in ((hk, "up", hi, np.max, "max"), (lk, "down", lo, np.min, "min")):
                    if out.any():
                        v, b = float(extreme(col[out])), float(bound[rows, k][0])
                        reasons.append(OodReason(
                            "layer", f"{op} {_label(name)} {word} to {_fmt(name, v)} at {_layers(int(out.sum()))} "
                            f"(training {side} {_fmt(name, b)})", name, (op,), int(out.sum()), _raw(name, v),
                            _raw(name, b), _excess(name, v, b)))
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


def _missing_words(name: str) -> str:
    """A yes/no feature every training operator of an op type had, absent here (a format string: op types,
    operator count)."""
    words = BINARY_WORDS[name]
    if name in ONE_HOT_WORDS:  # "input type INT8" -> "input type other than INT8"
        group, value = words.rsplit(" ", 1)
        return f"{group} other than {value} never seen on {{}} in training ({{}})"
    return f"operators not {words} never seen on {{}} in training ({{}})"


def _raw(name: str, v: float) -> float:
    """An encoded value in the feature's own units (log features are log1p)."""
    return math.expm1(v) if name.startswith("log_") else v


def _excess(name: str, v: float, bound: float) -> float:
    """How far v lies beyond bound, as |ln((1 + value) / (1 + bound))| in the feature's own units: log
    features are log1p already; the others (kernel sizes, strides, shares) are taken to the same scale."""
    if name.startswith("log_"):
        return abs(v - bound)
    return abs(math.log1p(max(v, 0.0)) - math.log1p(max(bound, 0.0)))


def _label(name: str) -> str:
    return FEATURE_WORDS.get(name) or name.removeprefix("log_").replace("_", " ")


def _fmt(name: str, v: float) -> str:
    """An encoded value in the feature's own units (log features are log1p)."""
    if name.startswith("log_"):
        raw = math.expm1(v)
        return f"{raw:.3g}" if raw >= 1e5 else f"{raw:,.0f}" if raw >= 10 else f"{raw:.2g}"
    return f"{v:g}"


def far_reason(distance: float, calibration) -> OodReason:
    """The reason for a model farther from the training models than the calibration's `far` quantile."""
    from perfsage.model.calibration import FAR_QUANTILE

    return OodReason("distance", f"unlike every training model: farther from them than {FAR_QUANTILE:.0%} of the "
                     f"held-out models (embedding distance {distance:.1f}, held-out {FAR_QUANTILE:.0%} "
                     f"quantile {calibration.far:.1f})", value=distance, bound=calibration.far,
                     excess=math.log(distance / calibration.far) if calibration.far > 0 else None)
