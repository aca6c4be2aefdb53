"""Prediction intervals by split conformal prediction on the log ratio true/predicted.

Why conformal rather than a deep ensemble: it needs one trained network (an ensemble multiplies the
training time the CPU budget allows) and its coverage holds by construction on data like the
calibration set, which we then check on the test split. The residual r = log(true / predicted) is
relative, like every error this project reports, so the interval [pred * e^lo, pred * e^hi] scales with
the prediction. The quantile ranks use the finite-sample correction ceil((n + 1) q) of split conformal
prediction (Vovk et al. 2005; Lei et al. 2018), so the nominal level is a lower bound on the calibration
distribution. Models unlike the training data (see perfsage.model.domain) void that guarantee, which is
why predictions also carry an out-of-distribution flag.

One pair of bounds for all models is right on average and wrong for each kind: tight task-space models got
intervals ten times wider than their errors while random graphs, once trained on, were covered 58-63% of
the time at the 90% level. Where the estimator gives each model a distance to its training models
(perfsage.model.distance) the bounds are Mondrian (Vovk et al. 2005): one pair per band of that distance,
bands at its quantiles over the calibration models (at most MAX_BANDS, at least MIN_PER_BAND models each),
so the level holds within every band and intervals widen with the distance. A model beyond the calibration
models' `far` quantile gets the outermost band's bounds and an out-of-distribution flag.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from perfsage.model.base import read_record, write_json

CALIBRATION_FILE = "calibration.json"
LEVEL = 0.9
MAX_BANDS = 8
MIN_PER_BAND = 400  # calibration models per distance band: the 5% tails rest on 20 models or more
FAR_QUANTILE = 0.99  # beyond this share of the calibration models' distances a model is called far


@dataclass(frozen=True, slots=True)
class Calibration:
    level: float
    n: int  # calibration models
    log_bounds: dict[str, tuple[float, float]]  # metric -> (lo, hi): true / predicted within [e^lo, e^hi]
    # Mondrian bands of the distance to the training models (empty: one band, log_bounds)
    band_edges: tuple[float, ...] = ()  # ascending inner edges: len + 1 bands
    band_bounds: dict[str, tuple[tuple[float, float], ...]] = field(default_factory=dict)  # metric -> per band
    far: float | None = None  # distance beyond which a model is out of distribution
    # Mondrian categories of their own, named by the caller: group -> metric -> (lo, hi), e.g. "compressed"
    # for models whose weights look pruned or palettised, which another network serves (predict.expert)
    groups: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)

    def bounds(self, metric: str, distance: float | None = None, group: str | None = None
               ) -> tuple[float, float] | None:
        """(lo, hi) of log(true / predicted) for a model at that distance (None: the bands are not used) or
        in that group (which takes precedence)."""
        if group is not None and metric in self.groups.get(group, {}):
            return self.groups[group][metric]
        if distance is not None and metric in self.band_bounds and np.isfinite(distance):
            return self.band_bounds[metric][int(np.searchsorted(self.band_edges, distance, side="right"))]
        return self.log_bounds.get(metric)

    def interval(self, metric: str, value: float, distance: float | None = None, group: str | None = None
                 ) -> tuple[float, float] | None:
        b = self.bounds(metric, distance, group)
        if b is None:
            return None
        return value * math.exp(b[0]), value * math.exp(b[1])

    def is_far(self, distance: float | None) -> bool:
        return self.far is not None and distance is not None and bool(distance > self.far)

    def coverage(self, pred: dict[str, np.ndarray], true: dict[str, np.ndarray],
                 distance: np.ndarray | None = None) -> dict[str, float]:
        """Share of models whose true value lies inside its interval, per metric."""
        out = {}
        for m in self.log_bounds:
            if m in pred and m in true:
                r, ok = _log_ratio(pred[m], true[m], keep=True)
                if not ok.any():
                    out[m] = float("nan")
                    continue
                b = [self.bounds(m, None if distance is None else float(distance[i])) for i in np.flatnonzero(ok)]
                lo, hi = np.array([x[0] for x in b]), np.array([x[1] for x in b])
                out[m] = float(np.mean((r[ok] >= lo) & (r[ok] <= hi)))
        return out

    def save(self, folder: Path) -> None:
        record = {"method": "split conformal, log(true/predicted)", "level": self.level, "n": self.n,
                  "log_bounds": self.log_bounds}
        if self.band_bounds:
            record.update(method="Mondrian split conformal by distance band, log(true/predicted)",
                          band_edges=list(self.band_edges), band_bounds=self.band_bounds, far=self.far)
        if self.groups:
            record["groups"] = self.groups
        write_json(Path(folder) / CALIBRATION_FILE, record)

    @classmethod
    def load(cls, folder: Path) -> Calibration | None:
        return read_record(Path(folder) / CALIBRATION_FILE, lambda d: cls(
            d["level"], d["n"], {m: (float(b[0]), float(b[1])) for m, b in d["log_bounds"].items()},
            tuple(float(e) for e in d.get("band_edges", ())),
            {m: tuple((float(b[0]), float(b[1])) for b in bs) for m, bs in d.get("band_bounds", {}).items()},
            d.get("far"), {g: {m: (float(b[0]), float(b[1])) for m, b in bs.items()}
                           for g, bs in d.get("groups", {}).items()}))


def _log_ratio(pred: np.ndarray, true: np.ndarray, keep: bool = False):
    """log(true / predicted) of the models with both positive and finite (keep: of all, with the mask)."""
    pred, true = np.asarray(pred, float), np.asarray(true, float)
    ok = np.isfinite(pred) & np.isfinite(true) & (pred > 0) & (true > 0)
    if keep:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(ok, np.log(np.where(ok, true, 1.0) / np.where(ok, pred, 1.0)), np.nan), ok
    return np.log(true[ok] / pred[ok])


def group_bounds(pred: dict[str, np.ndarray], true: dict[str, np.ndarray], level: float = LEVEL
                 ) -> dict[str, tuple[float, float]]:
    """One pair of bounds per metric for a group's held-out models (Calibration.groups)."""
    out = {}
    for m in pred:
        r = _log_ratio(pred[m], true[m])
        if r.size:
            out[m] = _conformal(r, level)
    return out


def _conformal(r: np.ndarray, level: float) -> tuple[float, float]:
    """Equal-tailed split-conformal bounds of residuals r (non-empty)."""
    r = np.sort(r)
    n, alpha = r.size, 1.0 - level
    k_lo = max(math.floor((n + 1) * alpha / 2), 1)
    k_hi = min(math.ceil((n + 1) * (1 - alpha / 2)), n)
    return float(r[k_lo - 1]), float(r[k_hi - 1])


def fit_calibration(pred: dict[str, np.ndarray], true: dict[str, np.ndarray], level: float = LEVEL,
                    distance: np.ndarray | None = None) -> Calibration:
    """Equal-tailed split-conformal bounds per metric from a held-out set's predictions and labels; with each
    model's distance to the training models, per distance band too (see the module's docstring)."""
    bounds, n_min = {}, None
    for m in pred:
        r = _log_ratio(pred[m], true[m])
        if r.size == 0:
            continue
        bounds[m] = _conformal(r, level)
        n_min = r.size if n_min is None else min(n_min, r.size)
    if distance is None or not bounds:
        return Calibration(level, n_min or 0, bounds)
    distance = np.asarray(distance, float)
    bands = max(1, min(MAX_BANDS, len(distance) // MIN_PER_BAND))
    edges = tuple(float(e) for e in np.quantile(distance, np.arange(1, bands) / bands))
    band_of = np.searchsorted(edges, distance, side="right")
    band_bounds = {}
    for m in bounds:
        r, ok = _log_ratio(pred[m], true[m], keep=True)
        band_bounds[m] = tuple(_conformal(r[ok & (band_of == b)], level) if (ok & (band_of == b)).any()
                               else bounds[m] for b in range(bands))
    return Calibration(level, n_min or 0, bounds, edges, band_bounds, float(np.quantile(distance, FAR_QUANTILE)))
