"""A latency predictor for a new device from a handful of measurements.

The base is a PerfSAGE network pretrained on many devices at once (one additive `latency_ms@<device>`
head per pretraining device, so every device's latency is a sum of per-operator predictions). For a
new device, each base head's log prediction is one coordinate of a model's *device signature*; the new
device's log latency is fitted as a ridge regression on those coordinates from its few measured models,
the ridge strength chosen by leave-one-out error on the same samples. With 10 samples that is 10+1
numbers learned, against the thousands a fine-tuned network would move, which is why it is the method
(docs/results/real_devices.md compares it with picking the single closest pretraining device).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from perfsage.errors import PerfsageError

LAMBDAS = (1e-4, 1e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0, 100.0)


def signature(base, graphs) -> np.ndarray:
    """[n, heads] log latency predicted by each of the base's device heads."""
    pred = base.predict(graphs)
    return np.log(np.stack([pred[m] for m in base.metrics], 1))


@dataclass
class RidgeFit:
    mean: np.ndarray  # column means of the samples' signatures
    weights: np.ndarray
    intercept: float
    lam: float
    loo_rmse: float  # leave-one-out RMSE in log space at the chosen lambda

    def predict_log(self, sig: np.ndarray) -> np.ndarray:
        return (sig - self.mean) @ self.weights + self.intercept


def fit_ridge(sig: np.ndarray, y_log: np.ndarray, lambdas=LAMBDAS) -> RidgeFit:
    """Ridge on centred signatures (intercept unpenalised), lambda by closed-form leave-one-out."""
    n = len(y_log)
    if n < 2:
        raise PerfsageError(f"need at least 2 measured models to adapt, got {n}")
    mean = sig.mean(0)
    x = sig - mean
    yc = y_log - y_log.mean()
    best: RidgeFit | None = None
    for lam in lambdas:
        a = x.T @ x + lam * n * np.eye(x.shape[1])
        w = np.linalg.solve(a, x.T @ yc)
        hat = x @ np.linalg.solve(a, x.T) + 1.0 / n  # the centring adds 1/n to every leverage
        resid = yc - x @ w
        loo = resid / np.clip(1 - np.diag(hat), 1e-6, None)
        rmse = float(np.sqrt(np.mean(loo ** 2)))
        if best is None or rmse < best.loo_rmse:
            best = RidgeFit(mean, w, float(y_log.mean()), lam, rmse)
    return best


def fit_closest(sig: np.ndarray, y_log: np.ndarray) -> RidgeFit:
    """The comparison method: the one base head with the lowest leave-one-out error, scaled affinely."""
    best: RidgeFit | None = None
    for k in range(sig.shape[1]):
        fit = fit_ridge(sig[:, [k]], y_log, lambdas=(1e-6,))
        if best is None or fit.loo_rmse < best.loo_rmse:
            w = np.zeros(sig.shape[1])
            w[k] = fit.weights[0]
            best = RidgeFit(np.where(np.arange(sig.shape[1]) == k, fit.mean[0], 0.0), w, fit.intercept, 0.0,
                            fit.loo_rmse)
    return best


@dataclass
class AdaptedPredictor:
    """A base predictor plus the new device's fit: predicts latency_ms on that device."""

    base: object
    fit: RidgeFit
    device: str = "device"
    samples: list[dict] = field(default_factory=list)

    def predict(self, graphs) -> np.ndarray:
        return np.exp(self.fit.predict_log(signature(self.base, graphs)))

    def save(self, path: Path, base_ref: str) -> None:
        path.mkdir(parents=True, exist_ok=True)
        (path / "adapted.json").write_text(json.dumps({
            "estimator": "adapted", "device": self.device, "base": base_ref, "heads": list(self.base.metrics),
            "mean": self.fit.mean.tolist(), "weights": self.fit.weights.tolist(), "intercept": self.fit.intercept,
            "lambda": self.fit.lam, "loo_rmse_log": self.fit.loo_rmse, "samples": self.samples}, indent=1))


def adapt(base, graphs, latency_ms: np.ndarray, method: str = "ridge", device: str = "device") -> AdaptedPredictor:
    latency_ms = np.asarray(latency_ms, float)
    if np.any(~np.isfinite(latency_ms)) or np.any(latency_ms <= 0):
        raise PerfsageError("measured latencies must be positive numbers")
    sig = signature(base, graphs)
    fit = (fit_ridge if method == "ridge" else fit_closest)(sig, np.log(latency_ms))
    return AdaptedPredictor(base, fit, device)
