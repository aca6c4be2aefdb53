"""Gradient-boosted trees (LightGBM) on graph-level features, the operator histogram and per-kind MACs.

The strong tabular baseline: it sees everything a graph summary can say, but not the topology. Like
PerfSAGE it is given the parts a target reports (metrics.PARTS, e.g. TFLite Micro's arena head and tail)
where the training data labels them, and predicts such a metric as the sum of one booster per part.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from perfsage.graph.encode import NODE_FEATURES, OP_VOCAB, current_features
from perfsage.graph.ops import KINDS
from perfsage.model.base import Estimator, write_json
from perfsage.targets.metrics import composition, outputs_of, part_names, with_sums

_LOG_MACS = NODE_FEATURES.index("log_macs")
_LOG_OUT = NODE_FEATURES.index("log_output_bytes")
_LOG_W = NODE_FEATURES.index("log_weight_bytes")


def tabular(graphs) -> np.ndarray:
    rows = []
    for e in graphs:
        ops = np.bincount(e.op.astype(np.int64), minlength=len(OP_VOCAB))
        kinds = np.bincount(e.kind.astype(np.int64), minlength=len(KINDS))
        per_kind = []
        for col in (_LOG_MACS, _LOG_OUT, _LOG_W):
            v = np.expm1(e.x[:, col]) if len(e.x) else np.zeros(0)
            per_kind.append(np.log1p(np.bincount(e.kind.astype(np.int64), weights=v, minlength=len(KINDS))))
        rows.append(np.concatenate([e.g, ops, kinds, *per_kind]))
    return np.asarray(rows, np.float64)


class GradientBoosting(Estimator):
    name = "gbdt"

    def __init__(self, metrics: list[str], n_estimators: int = 1500, learning_rate: float = 0.03,
                 num_leaves: int = 63, seed: int = 0, parts: bool = True) -> None:
        self.metrics = list(metrics)
        self.params = {"n_estimators": n_estimators, "learning_rate": learning_rate, "num_leaves": num_leaves,
                       "seed": seed}
        self.parts_wanted = parts
        self.composed: dict[str, list[str]] = {}  # metric -> the parts whose boosters' sum predicts it
        self.boosters: dict = {}  # output (a metric, or a part of a composed one) -> booster

    def fit(self, train, val=None) -> GradientBoosting:
        import lightgbm as lgb

        x = tabular(train.graphs)
        xv = tabular(val.graphs) if val is not None and len(val) else None
        self.composed = composition(self.metrics, train.parts) if self.parts_wanted else {}
        for m in outputs_of(self.metrics, self.composed):
            ok = train.label(m) > 0
            p = self.params
            model = lgb.LGBMRegressor(n_estimators=p["n_estimators"], learning_rate=p["learning_rate"],
                                      num_leaves=p["num_leaves"], min_child_samples=10, subsample=0.8,
                                      subsample_freq=1, colsample_bytree=0.8, random_state=p["seed"],
                                      objective="l1", verbose=-1, n_jobs=0)
            kw = {}
            if xv is not None:
                okv = val.label(m) > 0
                kw = {"eval_X": (xv[okv],), "eval_y": (np.log(val.label(m)[okv]),),
                      "callbacks": [lgb.early_stopping(100, verbose=False)]}
            model.fit(x[ok], np.log(train.label(m)[ok]), **kw)
            self.boosters[m] = model.booster_
        return self

    @property
    def part_names(self) -> list[str]:
        return part_names(self.composed)

    def predict(self, graphs) -> dict[str, np.ndarray]:
        x = tabular(graphs)
        out = with_sums({o: np.exp(b.predict(x)) for o, b in self.boosters.items()}, self.composed)
        return {m: out[m] for m in self.metrics}

    def save(self, path: Path) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        for o, b in self.boosters.items():
            b.save_model(str(path / f"{o}.lgb.txt"))
        write_json(path / "config.json", {"estimator": self.name, "metrics": self.metrics, "params": self.params,
                                          "composed": self.composed, "features": current_features()})

    @classmethod
    def load(cls, path: Path) -> GradientBoosting:
        import lightgbm as lgb

        path = Path(path)
        cfg = json.loads((path / "config.json").read_text())
        est = cls(cfg["metrics"], **cfg["params"])
        est.composed = cfg.get("composed", {})
        est.boosters = {o: lgb.Booster(model_file=str(path / f"{o}.lgb.txt"))
                        for o in outputs_of(est.metrics, est.composed)}
        return est
