"""Evaluate an estimator on a split: scores per metric and per space, plus scatter and error-CDF plots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from perfsage.model.calibration import Calibration
from perfsage.model.data import GraphSet
from perfsage.model.distance import EmbeddingDistance, fit_distance_for, predict_with_distance
from perfsage.model.scores import regression_report


def evaluate(est, test: GraphSet, plots: Path | None = None, title: str = "",
             calibration: Calibration | None = None, distance: EmbeddingDistance | None = None) -> dict[str, Any]:
    """With a calibration, also the empirical coverage of its intervals on this test set (banded by the
    distance model's distances where there is one)."""
    pred, d = predict_with_distance(est, test.graphs, distance if calibration is not None else None)
    spaces = np.array(test.spaces)
    out: dict[str, Any] = {"n_test": len(test), "metrics": {}, "per_space": {}}
    for m, p in pred.items():
        out["metrics"][m] = regression_report(test.y[m], p)
        for s in sorted(set(test.spaces)):
            sel = spaces == s
            out["per_space"].setdefault(s, {})[m] = regression_report(test.y[m][sel], p[sel])
    if calibration is not None:
        out["interval"] = {"level": calibration.level, "coverage": calibration.coverage(pred, test.y, d)}
        if d is not None:
            out["interval"]["bands"] = len(calibration.band_edges) + 1
    if plots is not None:
        write_plots(pred, test, Path(plots), title)
    return out


def write_plots(pred: dict[str, np.ndarray], test: GraphSet, folder: Path, title: str) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    spaces = np.array(test.spaces)
    paths = []
    for m, p in pred.items():
        t = test.y[m]
        ok = t > 0
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4.5))
        for s in sorted(set(test.spaces)):
            sel = ok & (spaces == s)
            a1.scatter(t[sel], p[sel], s=6, alpha=0.6, label=s)
        lo, hi = t[ok].min(), t[ok].max()
        a1.plot([lo, hi], [lo, hi], "k--", lw=1)
        a1.set(xscale="log", yscale="log", xlabel=f"true {m}", ylabel=f"predicted {m}", title=title)
        a1.legend(fontsize=7)
        err = np.sort(np.abs(p[ok] / t[ok] - 1) * 100)
        a2.plot(err, np.arange(1, len(err) + 1) / len(err))
        a2.axvline(5, color="grey", ls=":")
        a2.axvline(10, color="grey", ls=":")
        a2.set(xscale="symlog", xlabel="absolute percentage error (%)", ylabel="share of test models",
               title="error CDF")
        fig.tight_layout()
        path = folder / f"{m}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths


MISS = 0.10  # a prediction more than 10% off its label is a miss


def wider_than_miss(log_bounds: np.ndarray, miss: float = MISS) -> np.ndarray:
    """Per model, whether its interval ([n, 2] bounds of log(true / predicted)) reaches labels the
    prediction would miss by more than `miss` (|predicted / true - 1| > miss): the interval then does not
    promise that accuracy, which is how a user can read it as a warning."""
    b = np.asarray(log_bounds, float)
    return (b[:, 0] < -np.log1p(miss)) | (b[:, 1] > -np.log1p(-miss))


def flag_report(est, train: GraphSet, val: GraphSet, test: GraphSet,
                pred: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
    """How well the out-of-distribution flag (the training part's domain, as `perfsage predict` shows it)
    and the conformal interval (calibrated on the validation part) tell a user that a prediction misses by
    more than 10%. Per metric, over the test models: misses, flagged models, precision (misses among the
    flagged), recall (flagged among the misses), and the interval's coverage of flagged and unflagged
    models; the same precision and recall for intervals that reach a miss (`wide`: wider_than_miss). The
    flag is what `perfsage predict` raises: outside the training domain, or farther from the training
    models than the validation part's `far` quantile (perfsage.model.distance); `far` counts the latter
    alone."""
    from perfsage.model.calibration import fit_calibration
    from perfsage.model.domain import fit_domain

    domain = fit_domain(train.graphs)
    distance = fit_distance_for(est, train.graphs)
    cal = None
    if len(val):
        val_pred, val_d = predict_with_distance(est, val.graphs, distance)
        cal = fit_calibration(val_pred, val.y, distance=val_d)
    test_pred, d = predict_with_distance(est, test.graphs, distance)
    pred = pred if pred is not None else test_pred
    far = cal.is_far(d) if cal is not None and d is not None else np.zeros(len(test), bool)
    flagged = np.array([bool(domain.check(g)) for g in test.graphs]) | far
    out: dict[str, Any] = {}
    for m, p in pred.items():
        t = test.y[m]
        ok = np.isfinite(t) & (t > 0) & np.isfinite(p) & (p > 0)
        miss = np.abs(p / np.where(ok, t, 1) - 1) > MISS
        f, mi = flagged & ok, miss & ok
        rec: dict[str, Any] = {"n": int(ok.sum()), "misses": int(mi.sum()), "flagged": int(f.sum()),
                               "far": int((far & ok).sum()),
                               "precision": float((f & mi).sum() / f.sum()) if f.sum() else None,
                               "recall": float((f & mi).sum() / mi.sum()) if mi.sum() else None}
        if cal is not None and m in cal.log_bounds:
            inside = cal.inside(m, p, t, d)[0]
            rec["coverage_flagged"] = float(inside[f].mean()) if f.sum() else None
            rec["coverage_unflagged"] = float(inside[ok & ~flagged].mean()) if (ok & ~flagged).sum() else None
            w = wider_than_miss(cal.bounds_of(m, len(t), d)) & ok
            rec.update(wide=int(w.sum()), wide_precision=float((w & mi).sum() / w.sum()) if w.sum() else None,
                       wide_recall=float((w & mi).sum() / mi.sum()) if mi.sum() else None)
        out[m] = rec
    return out
