"""Accuracy measures of a latency/energy/memory predictor, as the paper and its peers report them."""

from __future__ import annotations

import numpy as np
from scipy import stats


def regression_report(y_true, y_pred) -> dict[str, float]:
    """MAPE and RMSPE in percent; the median signed error in percent (bias: a prediction off by one factor
    on every model reads near its MAPE, scattered errors near 0); share within +-5% / +-10% as fractions;
    Spearman and Kendall rank correlations. Pairs with a non-positive or missing true value are left out."""
    t = np.asarray(y_true, float)
    p = np.asarray(y_pred, float)
    ok = np.isfinite(t) & np.isfinite(p) & (t > 0)
    t, p = t[ok], p[ok]
    if not t.size:
        return {"n": 0, "mape": float("nan"), "rmspe": float("nan"), "bias": float("nan"), "acc5": float("nan"),
                "acc10": float("nan"), "spearman": float("nan"), "kendall": float("nan")}
    rel = (p - t) / t
    out = {"n": int(t.size), "mape": float(np.mean(np.abs(rel)) * 100), "rmspe": float(np.sqrt(np.mean(rel**2)) * 100),
           "bias": float(np.median(rel) * 100), "acc5": float(np.mean(np.abs(rel) <= 0.05)),
           "acc10": float(np.mean(np.abs(rel) <= 0.10))}
    if t.size > 2 and np.ptp(t) > 0 and np.ptp(p) > 0:
        out["spearman"] = float(stats.spearmanr(t, p).statistic)
        out["kendall"] = float(stats.kendalltau(t, p).statistic)
    else:
        out["spearman"] = out["kendall"] = float("nan")
    return out
