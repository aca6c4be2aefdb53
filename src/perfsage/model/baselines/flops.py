"""FLOPs/params regression: log y = a + b log MACs + c log params, least squares per metric.

The proxy NAS papers compare against (HELP's "FLOPs" row): it ranks well but ignores memory traffic.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from perfsage.graph.encode import GRAPH_FEATURES, current_features
from perfsage.model.base import Estimator, write_json

_MACS = GRAPH_FEATURES.index("log_macs")
_PARAMS = GRAPH_FEATURES.index("log_params")


def _design(graphs) -> np.ndarray:
    g = np.stack([e.g for e in graphs])
    return np.column_stack([np.ones(len(g)), g[:, _MACS], g[:, _PARAMS]])


class FlopsRegression(Estimator):
    name = "flops"

    def __init__(self, metrics: list[str]) -> None:
        self.metrics = list(metrics)
        self.coef: dict[str, list[float]] = {}

    def fit(self, train, val=None) -> FlopsRegression:
        a = _design(train.graphs)
        for m in self.metrics:
            ok = train.y[m] > 0
            self.coef[m] = np.linalg.lstsq(a[ok], np.log(train.y[m][ok]), rcond=None)[0].tolist()
        return self

    def predict(self, graphs) -> dict[str, np.ndarray]:
        a = _design(graphs)
        return {m: np.exp(a @ np.asarray(self.coef[m])) for m in self.metrics}

    def save(self, path: Path) -> None:
        Path(path).mkdir(parents=True, exist_ok=True)
        write_json(Path(path) / "config.json", {"estimator": self.name, "metrics": self.metrics, "coef": self.coef,
                                                          "features": current_features()})

    @classmethod
    def load(cls, path: Path) -> FlopsRegression:
        import json

        cfg = json.loads((Path(path) / "config.json").read_text())
        est = cls(cfg["metrics"])
        est.coef = cfg["coef"]
        return est
