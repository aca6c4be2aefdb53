"""A latency predictor for a new device from a handful of measurements.

The base is a PerfSAGE network pretrained on many devices at once (one additive `latency_ms@<device>`
head per pretraining device, so every device's latency is a sum of per-operator predictions). Three
adapters read what the base predicts for the measured models (`BaseView`) and fit a few numbers:

- `ridge`: the new device's log latency as a ridge regression on the heads' log predictions (the
  model's *device signature*): a device that behaves like a blend of the pretraining devices.
- `additive`: one head's per-operator predictions summed per operator category (type, kernel, output
  height), the new device's latency a rescaled sum with a ridge-shrunk correction per category: a
  device whose operators cost in other proportions than any pretraining device's (an accelerator
  where pooling is dear, a GPU where 1x1 convolutions are cheap). One fit per head.
- `ensemble` (the default): the three fits among ridge and every head's additive fit with the lowest
  leave-one-out error, plus the closest single head and ridge, averaged in log space.

Every ridge strength is chosen by closed-form leave-one-out error on the same samples, so nothing is
tuned on the test models. The ensemble's make-up was chosen on the devices that are neither HELP
meta-train nor meta-test devices (docs/results/real_devices_methods.md): adding the closest head and
ridge to the best three raised mean Spearman there from 0.944 to 0.951 (NAS-Bench-201, 12 devices) and
from 0.884 to 0.916 (FBNet, 15 devices). The closest head alone scores higher on those devices, which
are siblings of pretraining devices (other GPUs and Xeons of the same lines), and far lower on the
meta-test devices unlike any of them (NAS-Bench-201 eyeriss, fpga). Meta-test results:
docs/results/real_devices.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from perfsage.errors import PerfsageError

LAMBDAS = (1e-4, 1e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0, 100.0)
ENSEMBLE_SIZE = 3


# ---------------------------------------------------------------------------------------- base view
def operator_categories(graph) -> list[str]:
    """Per operator, a key shared by operators that cost alike on one device: type, kernel height,
    output height."""
    from perfsage.graph.encode import NODE_FEATURES, OP_VOCAB

    kernel = np.rint(graph.x[:, NODE_FEATURES.index("kernel_h")]).astype(int)
    height = np.rint(np.expm1(graph.x[:, NODE_FEATURES.index("log_out_h")])).astype(int)
    return [f"{OP_VOCAB[int(o)]}/k{k}/h{h}" for o, k, h in zip(graph.op, kernel, height, strict=True)]


@dataclass
class BaseView:
    """What the adapters read of the base, per model: every head's log prediction, and each additive
    head's per-operator predictions summed per operator category."""

    heads: list[str]
    log_pred: np.ndarray  # [n, heads]
    additive: list[str]
    categories: list[str]
    parts: np.ndarray  # [n, additive, categories]

    def take(self, idx) -> BaseView:
        idx = np.asarray(idx)
        return BaseView(self.heads, self.log_pred[idx], self.additive, self.categories, self.parts[idx])

    def __len__(self) -> int:
        return len(self.log_pred)

    def category_sums(self, head: str, categories: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """[n] total and [n, len(categories)] per-category sums of one additive head (0 where absent)."""
        h = self.additive.index(head)
        pos = {c: k for k, c in enumerate(self.categories)}
        cols = np.zeros((len(self), len(categories)))
        for k, c in enumerate(categories):
            if c in pos:
                cols[:, k] = self.parts[:, h, pos[c]]
        return self.parts[:, h].sum(1), cols

    def save(self, path: Path) -> None:
        np.savez(path, log_pred=self.log_pred, parts=self.parts,
                 meta=np.array(json.dumps([self.heads, self.additive, self.categories])))

    @classmethod
    def load(cls, path: Path) -> BaseView:
        z = np.load(path)
        heads, additive, categories = json.loads(str(z["meta"]))
        return cls(heads, z["log_pred"], additive, categories, z["parts"])


def base_view(base, graphs) -> BaseView:
    from perfsage.model.data import is_additive

    heads = list(base.metrics)
    additive = [m for m in heads if hasattr(base, "predict_with_layers") and is_additive(m)]
    if additive:
        pred, layers = base.predict_with_layers(graphs)
    else:
        pred, layers = base.predict(graphs), [{} for _ in graphs]
    log_pred = np.log(np.stack([pred[m] for m in heads], 1)) if graphs else np.zeros((0, len(heads)))
    cats: dict[str, int] = {}
    index = [np.array([cats.setdefault(c, len(cats)) for c in operator_categories(g)], int) for g in graphs]
    parts = np.zeros((len(graphs), len(additive), len(cats)))
    for i, (c, row) in enumerate(zip(index, layers, strict=True)):
        for h, m in enumerate(additive):
            parts[i, h] = np.bincount(c, weights=row[m], minlength=len(cats))
    return BaseView(heads, log_pred, additive, list(cats), parts)


# --------------------------------------------------------------------------------------------- fits
@dataclass
class RidgeFit:
    mean: np.ndarray  # column means of the samples' signatures
    weights: np.ndarray
    intercept: float
    lam: float
    loo_rmse: float  # leave-one-out RMSE in log space at the chosen lambda
    kind = "ridge"

    def predict_log(self, view: BaseView | np.ndarray) -> np.ndarray:
        sig = view.log_pred if isinstance(view, BaseView) else view
        return (sig - self.mean) @ self.weights + self.intercept

    def to_json(self) -> dict:
        return {"kind": self.kind, "mean": self.mean.tolist(), "weights": self.weights.tolist(),
                "intercept": self.intercept, "lambda": self.lam, "loo_rmse_log": self.loo_rmse}


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


def fit_scale(sig: np.ndarray, y_log: np.ndarray, column: int) -> RidgeFit:
    """The base's own prediction of the metric (signature column `column`) times one factor: a constant in
    log space, with its exact leave-one-out error. The fit for a host like the one the labels came from,
    where a richer fit bends the predictor to the measurement noise of a few dozen models."""
    n = len(y_log)
    if n < 2:
        raise PerfsageError(f"need at least 2 measured models to adapt, got {n}")
    r = y_log - sig[:, column]
    loo = (r - r.mean()) * n / (n - 1)
    weights = np.zeros(sig.shape[1])
    weights[column] = 1.0
    return RidgeFit(sig.mean(0), weights, float(y_log.mean()), 0.0, float(np.sqrt(np.mean(loo ** 2))))


def simplest_within_one_se(simple, rich, n: int):
    """The one-standard-error rule (Breiman et al. 1984): the simple fit unless the rich one's leave-one-out
    error is lower by more than the simple one's standard error (rmse / sqrt(2n) for normal residuals)."""
    return rich if rich.loo_rmse < simple.loo_rmse * (1 - 1 / np.sqrt(2 * n)) else simple


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
class AdditiveFit:
    """latency = scale * head total + sum_c weights[c] * head's category-c sum + intercept."""

    head: str
    categories: list[str]
    scale: float
    weights: np.ndarray
    intercept: float
    lam: float
    loo_rmse: float  # leave-one-out RMS relative error (about the log error at these sizes)
    kind = "additive"

    def design(self, view: BaseView) -> np.ndarray:
        total, cols = view.category_sums(self.head, self.categories)
        return np.concatenate([total[:, None], cols, np.ones((len(view), 1))], 1)

    def predict_log(self, view: BaseView) -> np.ndarray:
        x = self.design(view)
        coef = np.r_[self.scale, self.weights, self.intercept]
        # a sum the samples never bounded can come out non-positive: floor it at a tenth of the scaled total
        return np.log(np.maximum(x @ coef, 0.1 * abs(self.scale) * x[:, 0] + 1e-12))

    def to_json(self) -> dict:
        return {"kind": self.kind, "head": self.head, "categories": self.categories, "scale": self.scale,
                "weights": self.weights.tolist(), "intercept": self.intercept, "lambda": self.lam,
                "loo_rmse_log": self.loo_rmse}


def fit_additive(view: BaseView, y_log: np.ndarray, head: str, lambdas=LAMBDAS) -> AdditiveFit:
    """Least relative error, the per-category corrections ridge-shrunk (columns scaled to unit RMS) so
    that with few samples the fit stays near a rescaled head; lambda by closed-form leave-one-out."""
    n = len(y_log)
    if n < 2:
        raise PerfsageError(f"need at least 2 measured models to adapt, got {n}")
    h = view.additive.index(head)
    categories = [c for k, c in enumerate(view.categories) if np.any(view.parts[:, h, k] > 0)]
    proto = AdditiveFit(head, categories, 0.0, np.zeros(len(categories)), 0.0, 0.0, np.inf)
    y = np.exp(y_log)
    z = proto.design(view) / y[:, None]
    scale = np.sqrt((z ** 2).mean(0)) + 1e-12
    zs, t = z / scale, np.ones(n)
    best = proto
    for lam in lambdas:
        pen = np.r_[0.0, np.full(len(categories), lam * n), 0.0]
        a = zs.T @ zs + np.diag(pen) + 1e-9 * np.eye(len(pen))
        w = np.linalg.solve(a, zs.T @ t)
        hat = np.einsum("ij,ji->i", zs, np.linalg.solve(a, zs.T))
        loo = (t - zs @ w) / np.clip(1 - hat, 1e-6, None)
        rmse = float(np.sqrt(np.mean(loo ** 2)))
        if rmse < best.loo_rmse:
            c = w / scale
            best = AdditiveFit(head, categories, float(c[0]), c[1:-1], float(c[-1]), lam, rmse)
    return best


@dataclass
class EnsembleFit:
    members: list
    kind = "ensemble"

    @property
    def lam(self) -> float:
        return self.members[0].lam

    @property
    def loo_rmse(self) -> float:
        return float(np.mean([m.loo_rmse for m in self.members]))

    def predict_log(self, view: BaseView) -> np.ndarray:
        return np.mean([m.predict_log(view) for m in self.members], 0)

    def to_json(self) -> dict:
        return {"kind": self.kind, "members": [m.to_json() for m in self.members]}


def loo_candidates(view: BaseView, y_log: np.ndarray) -> list:
    """The fits the ensemble ranks by leave-one-out error: ridge first, then every head's additive fit."""
    return [fit_ridge(view.log_pred, y_log)] + [fit_additive(view, y_log, h) for h in view.additive]


def fit_ensemble(view: BaseView, y_log: np.ndarray) -> EnsembleFit:
    """The ENSEMBLE_SIZE fits with the lowest leave-one-out error, plus the closest head and ridge always
    (ridge twice when it is among the best). Leave-one-out error ranks the additive fits well on devices
    unlike any pretraining device, but it rarely picks the closest head, which keeps a sibling device's
    ranking best; the fixed members hedge between the two (scripts/realdev_methods.py)."""
    fits = loo_candidates(view, y_log)
    best = sorted(fits, key=lambda f: f.loo_rmse)[:ENSEMBLE_SIZE]
    return EnsembleFit([*best, fit_closest(view.log_pred, y_log), fits[0]])


def fit_from_json(d: dict):
    kind = d.get("kind", "ridge")
    if kind == "ensemble":
        return EnsembleFit([fit_from_json(m) for m in d["members"]])
    if kind == "additive":
        return AdditiveFit(d["head"], list(d["categories"]), d["scale"], np.asarray(d["weights"], float),
                           d["intercept"], d["lambda"], d["loo_rmse_log"])
    return RidgeFit(np.asarray(d["mean"], float), np.asarray(d["weights"], float), d["intercept"], d["lambda"],
                    d["loo_rmse_log"])


METHODS = {
    "ensemble": fit_ensemble,
    "ridge": lambda view, y: fit_ridge(view.log_pred, y),
    "closest": lambda view, y: fit_closest(view.log_pred, y),
}


def check_method(method: str) -> None:
    """Early, before any costly step (a pretraining, a model load)."""
    if method not in METHODS:
        raise PerfsageError(f"adaptation method must be one of {', '.join(METHODS)}, not {method!r}")


def fit_device(view: BaseView, y_log: np.ndarray, method: str = "ensemble"):
    check_method(method)
    return METHODS[method](view, y_log)


@dataclass
class AdaptedPredictor:
    """A base predictor plus the new device's fit: predicts latency_ms on that device. Saved as the
    base checkpoint (copied into `base/`) and config.json with the fit, so it loads like any estimator."""

    base: object
    fit: RidgeFit | AdditiveFit | EnsembleFit
    device: str = "device"
    samples: list[dict] = field(default_factory=list)
    extra: dict = field(default_factory=dict)  # other metrics' fits (a CPU calibration: peak heap)
    name = "adapted"

    @property
    def metrics(self) -> tuple[str, ...]:
        return ("latency_ms", *self.extra)

    def predict(self, graphs) -> dict[str, np.ndarray]:
        view = base_view(self.base, graphs)
        return {"latency_ms": np.exp(self.fit.predict_log(view)),
                **{m: np.exp(f.predict_log(view)) for m, f in self.extra.items()}}

    def save(self, path: Path) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.base.save(path / "base")
        (path / "config.json").write_text(json.dumps({
            "estimator": self.name, "device": self.device, "heads": list(self.base.metrics),
            "fit": self.fit.to_json(), "loo_rmse_log": self.fit.loo_rmse, "samples": self.samples,
            **({"extra": {m: f.to_json() for m, f in self.extra.items()}} if self.extra else {})}, indent=1))

    @classmethod
    def load(cls, path: Path) -> AdaptedPredictor:
        from perfsage.model.registry import load_estimator

        path = Path(path)
        cfg = json.loads((path / "config.json").read_text())
        fit = fit_from_json(cfg.get("fit", cfg))  # before the ensemble, the ridge fit sat at the top level
        extra = {m: fit_from_json(f) for m, f in cfg.get("extra", {}).items()}
        return cls(load_estimator(path / "base"), fit, cfg["device"], cfg.get("samples", []), extra)


def adapt(base, graphs, latency_ms: np.ndarray, method: str = "ensemble", device: str = "device") -> AdaptedPredictor:
    latency_ms = np.asarray(latency_ms, float)
    if np.any(~np.isfinite(latency_ms)) or np.any(latency_ms <= 0):
        raise PerfsageError("measured latencies must be positive numbers")
    fit = fit_device(base_view(base, graphs), np.log(latency_ms), method)
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
