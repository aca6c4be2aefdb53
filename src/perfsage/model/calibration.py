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
        if metric not in self.log_bounds:
            return None
        lo, hi = self.bounds_of(metric, 1, None if distance is None else np.array([distance], float), group)[0]
        return float(lo), float(hi)

    def bounds_of(self, metric: str, n: int, distance: np.ndarray | None = None, group: str | None = None
                  ) -> np.ndarray:
        """bounds() of n models at once [n, 2]: the group's pair, else each one's band (a non-finite distance:
        the one pair), else the one pair."""
        if group is not None and metric in self.groups.get(group, {}):
            return np.tile(self.groups[group][metric], (n, 1))
        out = np.tile(self.log_bounds[metric], (n, 1))
        if distance is not None and metric in self.band_bounds:
            d = np.asarray(distance, float)
            finite = np.isfinite(d)
            bands = np.asarray(self.band_bounds[metric], float)
            out[finite] = bands[np.searchsorted(self.band_edges, d[finite], side="right")]
        return out

    def interval(self, metric: str, value: float, distance: float | None = None, group: str | None = None
                 ) -> tuple[float, float] | None:
        b = self.bounds(metric, distance, group)
        if b is None:
            return None
        return value * math.exp(b[0]), value * math.exp(b[1])

    def is_far(self, distance):
        """Whether a model lies beyond `far` (an array of distances: each model; None: no)."""
        if distance is None:
            return False
        d = np.asarray(distance, float)
        return d > self.far if self.far is not None else np.zeros(d.shape, bool)

    def inside(self, metric: str, pred: np.ndarray, true: np.ndarray, distance: np.ndarray | None = None,
               group: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Per model, whether its true value lies inside its interval, and whether it could be scored
        (both values positive and finite)."""
        r, ok = _log_ratio(pred, true)
        b = self.bounds_of(metric, len(r), distance, group)
        return ok & (r >= b[:, 0]) & (r <= b[:, 1]), ok

    def coverage(self, pred: dict[str, np.ndarray], true: dict[str, np.ndarray],
                 distance: np.ndarray | None = None, group: str | None = None) -> dict[str, float]:
        """Share of models whose true value lies inside its interval, per metric."""
        out = {}
        for m in self.log_bounds:
            if m in pred and m in true:
                inside, ok = self.inside(m, pred[m], true[m], distance, group)
                out[m] = float(inside[ok].mean()) if ok.any() else float("nan")
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


def _log_ratio(pred: np.ndarray, true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log(true / predicted) of every model (nan where it cannot be taken) and the mask of those with both
    values positive and finite."""
    pred, true = np.asarray(pred, float), np.asarray(true, float)
    ok = np.isfinite(pred) & np.isfinite(true) & (pred > 0) & (true > 0)
    return np.log(np.where(ok, true, 1.0) / np.where(ok, pred, 1.0)) + np.where(ok, 0.0, np.nan), ok


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
    residuals = {m: _log_ratio(pred[m], true[m]) for m in pred}
    residuals = {m: (r, ok) for m, (r, ok) in residuals.items() if ok.any()}
    bounds = {m: _conformal(r[ok], level) for m, (r, ok) in residuals.items()}
    n_min = min((int(ok.sum()) for _, ok in residuals.values()), default=0)
    if distance is None or not bounds:
        return Calibration(level, n_min, bounds)
    distance = np.asarray(distance, float)
    bands = max(1, min(MAX_BANDS, len(distance) // MIN_PER_BAND))
    edges = tuple(float(e) for e in np.quantile(distance, np.arange(1, bands) / bands))
    band_of = np.searchsorted(edges, distance, side="right")
    band_bounds = {m: tuple(_conformal(r[ok & (band_of == b)], level) if (ok & (band_of == b)).any() else bounds[m]
                            for b in range(bands)) for m, (r, ok) in residuals.items()}
    return Calibration(level, n_min, bounds, edges, band_bounds, float(np.quantile(distance, FAR_QUANTILE)))
