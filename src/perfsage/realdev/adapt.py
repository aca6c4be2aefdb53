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


METHODS = {"ridge": fit_ridge, "closest": fit_closest}


def check_method(method: str) -> None:
    """Early, before any costly step (a pretraining, a model load)."""
    if method not in METHODS:
        raise PerfsageError(f"adaptation method must be one of {', '.join(METHODS)}, not {method!r}")


def fit_device(sig: np.ndarray, y_log: np.ndarray, method: str = "ridge") -> RidgeFit:
    check_method(method)
    return METHODS[method](sig, y_log)


@dataclass
class AdaptedPredictor:
    """A base predictor plus the new device's fit: predicts latency_ms on that device. Saved as the
    base checkpoint (copied into `base/`) and config.json with the fit, so it loads like any estimator."""

    base: object
    fit: RidgeFit
    device: str = "device"
    samples: list[dict] = field(default_factory=list)
    name = "adapted"
    metrics = ("latency_ms",)

    def predict(self, graphs) -> dict[str, np.ndarray]:
        return {"latency_ms": np.exp(self.fit.predict_log(signature(self.base, graphs)))}

    def save(self, path: Path) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.base.save(path / "base")
        (path / "config.json").write_text(json.dumps({
            "estimator": self.name, "device": self.device, "heads": list(self.base.metrics),
            "mean": self.fit.mean.tolist(), "weights": self.fit.weights.tolist(), "intercept": self.fit.intercept,
            "lambda": self.fit.lam, "loo_rmse_log": self.fit.loo_rmse, "samples": self.samples}, indent=1))

    @classmethod
    def load(cls, path: Path) -> AdaptedPredictor:
        from perfsage.model.registry import load_estimator

        path = Path(path)
        cfg = json.loads((path / "config.json").read_text())
        fit = RidgeFit(np.asarray(cfg["mean"]), np.asarray(cfg["weights"]), cfg["intercept"], cfg["lambda"],
                       cfg["loo_rmse_log"])
        return cls(load_estimator(path / "base"), fit, cfg["device"], cfg.get("samples", []))


def adapt(base, graphs, latency_ms: np.ndarray, method: str = "ridge", device: str = "device") -> AdaptedPredictor:
    latency_ms = np.asarray(latency_ms, float)
    if np.any(~np.isfinite(latency_ms)) or np.any(latency_ms <= 0):
        raise PerfsageError("measured latencies must be positive numbers")
    fit = fit_device(signature(base, graphs), np.log(latency_ms), method)
    return AdaptedPredictor(base, fit, device)


def read_measurements(path: Path) -> tuple[list, np.ndarray, list[dict]]:
    """A user's measurements CSV: `latency_ms` and either `model` (a .tflite path, relative to the CSV)
    or `space` + `arch` (an architecture of a perfsage space). Returns graphs, latencies, the rows."""
    import csv

    from perfsage.graph import load_graph
    from perfsage.graph.encode import encode
    from perfsage.spaces import get_space

    path = Path(path)
    if not path.is_file():
        raise PerfsageError(f"{path}: no such measurements file")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or "latency_ms" not in rows[0] or not ({"model"} <= set(rows[0]) or {"space", "arch"} <= set(rows[0])):
        raise PerfsageError(f"{path}: need a header with latency_ms and model (or space and arch)")
    graphs, lat = [], []
    for k, r in enumerate(rows, start=2):
        try:
            lat.append(float(r["latency_ms"]))
        except ValueError:
            raise PerfsageError(f"{path}:{k}: latency_ms {r['latency_ms']!r} is not a number") from None
        if r.get("model"):
            model = Path(r["model"])
            graphs.append(encode(load_graph(model if model.is_absolute() else path.parent / model)))
        else:
            sp = get_space(r["space"])
            graphs.append(encode(load_graph(sp.build(sp.parse_arch(r["arch"]), 0))))
    return graphs, np.array(lat), rows
