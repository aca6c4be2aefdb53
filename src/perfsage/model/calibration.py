"""Prediction intervals by split conformal prediction on the log ratio true/predicted.

Why conformal rather than a deep ensemble: it needs one trained network (an ensemble multiplies the
training time the CPU budget allows) and its coverage holds by construction on data like the
calibration set, which we then check on the test split. The residual r = log(true / predicted) is
relative, like every error this project reports, so the interval [pred * e^lo, pred * e^hi] scales with
the prediction. The quantile ranks use the finite-sample correction ceil((n + 1) q) of split conformal
prediction (Vovk et al. 2005; Lei et al. 2018), so the nominal level is a lower bound on the calibration
distribution. Models unlike the training data (see perfsage.model.domain) void that guarantee, which is
why predictions also carry an out-of-distribution flag.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from perfsage.model.base import read_record, write_json

CALIBRATION_FILE = "calibration.json"
LEVEL = 0.9


@dataclass(frozen=True, slots=True)
class Calibration:
    level: float
    n: int  # calibration models
    log_bounds: dict[str, tuple[float, float]]  # metric -> (lo, hi): true / predicted within [e^lo, e^hi]

    def interval(self, metric: str, value: float) -> tuple[float, float] | None:
        if metric not in self.log_bounds:
            return None
        lo, hi = self.log_bounds[metric]
        return value * math.exp(lo), value * math.exp(hi)

    def coverage(self, pred: dict[str, np.ndarray], true: dict[str, np.ndarray]) -> dict[str, float]:
        """Share of models whose true value lies inside its interval, per metric."""
        out = {}
        for m, (lo, hi) in self.log_bounds.items():
            if m in pred and m in true:
                r = _log_ratio(pred[m], true[m])
                out[m] = float(np.mean((r >= lo) & (r <= hi))) if r.size else float("nan")
        return out

    def save(self, folder: Path) -> None:
        write_json(Path(folder) / CALIBRATION_FILE, {"method": "split conformal, log(true/predicted)",
                                                      "level": self.level, "n": self.n, "log_bounds": self.log_bounds})

    @classmethod
    def load(cls, folder: Path) -> Calibration | None:
        return read_record(Path(folder) / CALIBRATION_FILE, lambda d: cls(
            d["level"], d["n"], {m: (float(b[0]), float(b[1])) for m, b in d["log_bounds"].items()}))


def _log_ratio(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    pred, true = np.asarray(pred, float), np.asarray(true, float)
    ok = np.isfinite(pred) & np.isfinite(true) & (pred > 0) & (true > 0)
    return np.log(true[ok] / pred[ok])


def fit_calibration(pred: dict[str, np.ndarray], true: dict[str, np.ndarray], level: float = LEVEL) -> Calibration:
    """Equal-tailed split-conformal bounds per metric from a held-out set's predictions and labels."""
    alpha = 1.0 - level
    bounds, n_min = {}, None
    for m in pred:
        r = np.sort(_log_ratio(pred[m], true[m]))
        n = r.size
        if n == 0:
            continue
        k_lo = max(math.floor((n + 1) * alpha / 2), 1)
        k_hi = min(math.ceil((n + 1) * (1 - alpha / 2)), n)
        bounds[m] = (float(r[k_lo - 1]), float(r[k_hi - 1]))
        n_min = n if n_min is None else min(n_min, n)
    return Calibration(level, n_min or 0, bounds)
