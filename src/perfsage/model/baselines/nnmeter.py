"""nn-Meter-style kernel predictor (Zhang et al., MobiSys 2021): split the model into kernels by the
target's fusion rules, predict each kernel with a per-kernel-type random forest, sum.

Fusion rules for Ethos-U (what Vela executes as one NPU operation): a standalone activation (RELU,
RELU6, LOGISTIC, TANH, HARD_SWISH, LEAKY_RELU) whose input is produced by a convolution, depthwise,
fully-connected, pooling or elementwise operator read by nothing else is fused into that operator.
Kernel regressors learn from the per-layer labels (Vela's per-operator breakdown), so this baseline
exists only for targets and metrics that have them (latency, cycles, energy on Ethos-U); nn-Meter
predicts latency only, and the paper's kernel set is per device.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from perfsage.graph.encode import NODE_FEATURES, EncodedGraph, current_features
from perfsage.graph.ops import KINDS
from perfsage.model.base import Estimator, write_json

_FUSABLE_INTO = {KINDS.index(k) for k in ("conv", "depthwise", "fully_connected", "pool", "elementwise",
                                         "transpose_conv")}
_UNARY = KINDS.index("unary")


def kernels(e: EncodedGraph) -> tuple[np.ndarray, np.ndarray]:
    """(kernel id per node, kernel kind per kernel): unary activations join their sole producer."""
    n = e.x.shape[0]
    owner = np.arange(n)
    consumers = np.bincount(e.edge_index[0], minlength=n) if e.edge_index.size else np.zeros(n, int)
    producer = {int(d): int(s) for s, d in e.edge_index.T} if e.edge_index.size else {}
    for i in range(n):
        if e.kind[i] == _UNARY and i in producer:
            p = producer[i]
            if e.kind[p] in _FUSABLE_INTO and consumers[p] == 1:
                owner[i] = owner[p]
    return owner, e.kind


class NNMeterKernels(Estimator):
    name = "nn-meter-kernels"

    def __init__(self, metrics: list[str], n_estimators: int = 100, max_kernels: int = 40_000,
                 seed: int = 0) -> None:
        self.metrics = list(metrics)
        self.params = {"n_estimators": n_estimators, "max_kernels": max_kernels, "seed": seed}
        self.forests: dict[str, dict[int, object]] = {}

    def supports(self, train) -> list[str]:
        """The metrics its kernels add up to: additive ones with per-layer labels (a peak is no sum)."""
        from perfsage.model.data import is_additive

        return [m for m in self.metrics if m in train.layer_values and is_additive(m)]

    def fit(self, train, val=None) -> NNMeterKernels:
        from sklearn.ensemble import RandomForestRegressor

        for m in self.supports(train):
            xs: dict[int, list] = {}
            ys: dict[int, list] = {}
            for e, per_node in zip(train.graphs, train.layer_values[m], strict=True):
                if per_node is None:
                    continue
                owner, kind = kernels(e)
                lab = np.bincount(owner, weights=np.nan_to_num(per_node), minlength=len(owner))
                partial = np.bincount(owner, weights=np.isnan(per_node), minlength=len(owner)) > 0
                for i in np.unique(owner):
                    if partial[i]:  # a kernel with an operator of unknown share has no label
                        continue
                    xs.setdefault(int(kind[i]), []).append(e.x[i])
                    ys.setdefault(int(kind[i]), []).append(lab[i])
            self.forests[m] = {}
            rng = np.random.default_rng(self.params["seed"])
            for k in xs:
                x, y = np.asarray(xs[k]), np.asarray(ys[k])
                if len(x) > self.params["max_kernels"]:  # nn-Meter's kernel sets are thousands, not millions
                    keep = rng.choice(len(x), self.params["max_kernels"], replace=False)
                    x, y = x[keep], y[keep]
                rf = RandomForestRegressor(n_estimators=self.params["n_estimators"], min_samples_leaf=2,
                                           max_features=0.5, n_jobs=-1, random_state=self.params["seed"])
                rf.fit(x, y)
                self.forests[m][k] = rf
        return self

    def predict(self, graphs) -> dict[str, np.ndarray]:
        out = {}
        for m, forests in self.forests.items():
            rows, kinds, gidx = [], [], []
            for gi, e in enumerate(graphs):
                owner, kind = kernels(e)
                for i in np.unique(owner):
                    rows.append(e.x[i])
                    kinds.append(int(kind[i]))
                    gidx.append(gi)
            rows, kinds, gidx = np.asarray(rows), np.asarray(kinds), np.asarray(gidx)
            pred = np.zeros(len(rows))
            for k in np.unique(kinds):
                sel = kinds == k
                if k in forests:
                    pred[sel] = forests[k].predict(rows[sel])
            out[m] = np.maximum(np.bincount(gidx, weights=pred, minlength=len(graphs)), 1e-9)
        return out

    def save(self, path: Path) -> None:
        """Forests as JSON node arrays (no pickle): feature, threshold, children, values per tree."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        trees = {m: {str(k): [_tree_dict(t.tree_) for t in rf.estimators_] for k, rf in f.items()}
                 for m, f in self.forests.items()}
        write_json(path / "config.json", {"estimator": self.name, "metrics": self.metrics, "params": self.params,
                                          "n_features": len(NODE_FEATURES), "features": current_features()})
        (path / "forests.json").write_text(json.dumps(trees))

    @classmethod
    def load(cls, path: Path) -> NNMeterKernels:
        path = Path(path)
        cfg = json.loads((path / "config.json").read_text())
        est = cls(cfg["metrics"], **cfg["params"])
        trees = json.loads((path / "forests.json").read_text())
        est.forests = {m: {int(k): _JsonForest(ts) for k, ts in f.items()} for m, f in trees.items()}
        return est


def _tree_dict(t) -> dict:
    return {"left": t.children_left.tolist(), "right": t.children_right.tolist(), "feature": t.feature.tolist(),
            "threshold": t.threshold.tolist(), "value": t.value[:, 0, 0].tolist()}


class _JsonForest:
    """A loaded forest: the mean over trees of each tree's leaf value."""

    def __init__(self, trees: list[dict]) -> None:
        self.trees = [{k: np.asarray(v) for k, v in t.items()} for t in trees]

    def predict(self, x: np.ndarray) -> np.ndarray:
        total = np.zeros(len(x))
        for t in self.trees:
            node = np.zeros(len(x), int)
            while True:
                left = t["left"][node]
                leaf = left < 0
                if leaf.all():
                    break
                go_left = x[np.arange(len(x)), np.maximum(t["feature"][node], 0)] <= t["threshold"][node]
                node = np.where(leaf, node, np.where(go_left, left, t["right"][node]))
            total += t["value"][node]
        return total / len(self.trees)
