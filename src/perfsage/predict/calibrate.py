"""A CPU predictor for this CPU: measure a few models here, fit them, keep the result for this host.

CPU latency moves by integer factors between CPU kinds, so a shipped CPU predictor is only right on the
kind its labels came from. Calibration measures a small set of models on this host (spread over the task
spaces and over the range of latencies the shipped predictor expects) and fits the shipped network's
predictions to them with the few-shot adapters of `perfsage.realdev.adapt` (latency: the leave-one-out
ensemble; peak heap: ridge on the network's predictions). The result is stored in the user's cache,
keyed by the host fingerprint, and `Predictor.load("cpu-litert")` uses it from then on. Measurements are
appended to a journal as they come, so a killed calibration goes on where it stopped.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from perfsage.errors import PerfsageError
from perfsage.journal import read_records
from perfsage.model.calibration import LEVEL, Calibration
from perfsage.targets.host import HostFingerprint, HostRecord, this_host

CACHE_ENV = "PERFSAGE_CACHE"
DEFAULT_MODELS = 40
MIN_MODELS = 8
FIRST_SEED = 7_000_000  # far beyond every dataset build's seeds: never a training or test model
MAX_PREDICTED_MS = 150.0  # models the shipped predictor expects slower than this are not drawn (time)
# per model: as many 0.5 s windows as the labels' protocol (3), but one per pass, in 3 passes over the set
# (perfsage.targets.passes: a neighbour's load lasts minutes, so back-to-back windows share it). A label is
# a minimum over invokes, so fewer invokes read slower: 0.25 s windows (tried first, to save time) read a
# 100 ms model from about 7 invokes against the labels' 15, and the fitted factor came out high
# (host_transfer: int8 4.5% -> 5.1%)
WINDOW_S, WINDOWS, PASSES = 0.5, 1, 3
JOURNAL = "measurements.jsonl"
Z90 = 1.645  # the normal quantile of a two-sided 90% interval


def cache_root() -> Path:
    """PERFSAGE_CACHE, or ~/.cache/perfsage."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "perfsage"


def calibrated_dir(target: str, host: HostFingerprint | None = None) -> Path:
    return cache_root() / "calibrated" / target / (host or this_host()).key


@dataclass
class CalibrationResult:
    folder: Path
    target: str
    host: HostFingerprint
    models: int
    measured_now: int  # readings taken now; the rest came from the journal of an earlier, killed run
    seconds: float
    loo_rmse_log: dict[str, float]
    fits: dict[str, str] = field(default_factory=dict)  # metric -> "scale", "ensemble" or "ridge"

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "folder": str(self.folder), "host": self.host.to_dict(),
                "models": self.models, "measured_now": self.measured_now, "seconds": round(self.seconds, 1),
                "loo_rmse_log": self.loo_rmse_log, "fits": self.fits}


def candidate_models(n: int, seed: int = 0) -> list[tuple[str, bytes]]:
    """3n models drawn evenly from the task spaces at seeds no dataset uses."""
    from perfsage.spaces import TASK_SPACES, get_space

    per = -(-3 * n // len(TASK_SPACES))
    out = []
    for space in TASK_SPACES:
        sp = get_space(space)
        for k in range(per):
            s = FIRST_SEED + 1000 * seed + k
            out.append((f"{space}-{s}", sp.synth(s)[1]))
    return out


def choose_models(predictor, n: int, seed: int = 0) -> list[tuple[str, bytes]]:
    """n models spread over the latencies the shipped predictor expects: per space, evenly spaced ranks of
    its predicted log latency (a fit on the middle of the range alone extrapolates to both ends)."""
    pool = candidate_models(n, seed)
    pred = np.array([p.metrics["latency_ms"].value for p in predictor.predict_many([b for _, b in pool],
                                                                                    layers=False)])
    spaces = np.array([i.rsplit("-", 1)[0] for i, _ in pool])
    chosen: list[int] = []
    groups = sorted(set(spaces))
    for k, space in enumerate(groups):
        want = n // len(groups) + (1 if k < n % len(groups) else 0)
        idx = np.flatnonzero((spaces == space) & (pred <= MAX_PREDICTED_MS))
        idx = idx[np.argsort(pred[idx], kind="stable")]
        if len(idx):
            picks = np.unique(np.round(np.linspace(0, len(idx) - 1, min(want, len(idx)))).astype(int))
            chosen += idx[picks].tolist()
    return [pool[i] for i in chosen]


def calibrate(target: str = "cpu-litert", models: int = DEFAULT_MODELS, seed: int = 0,
              progress: Callable[[int, int], None] | None = None) -> CalibrationResult:
    """Measures `models` models on this host (resuming a killed run's journal), fits the shipped
    predictor to them and stores the result in the cache for this host. progress(done, total)."""
    from perfsage.predict.predictor import Predictor
    from perfsage.realdev.adapt import (
        AdaptedPredictor,
        base_view,
        fit_ensemble,
        fit_ridge,
        fit_scale,
        simplest_within_one_se,
    )
    from perfsage.targets import get_target, is_host_bound
    from perfsage.targets.passes import measure_in_passes

    if not is_host_bound(target):
        raise PerfsageError(f"{target!r} is not a CPU target: only host-bound targets (cpu-litert) are calibrated")
    if models < MIN_MODELS:
        raise PerfsageError(f"--models must be at least {MIN_MODELS} (a fit needs a few models per space), "
                            f"not {models}")
    t0 = time.time()
    host = this_host()
    base = Predictor.load(target, calibrated=False)
    out = calibrated_dir(target, host)
    partial = out.with_name(out.name + ".partial")
    partial.mkdir(parents=True, exist_ok=True)
    journal = partial / JOURNAL
    chosen = choose_models(base, models, seed)
    before = len(read_records(journal))
    tool = get_target(target)
    tool.window_s, tool.windows = WINDOW_S, WINDOWS
    try:
        done = measure_in_passes(tool, chosen, PASSES, journal, progress)
    finally:
        tool.close()
    measured_now = len(read_records(journal)) - before
    from perfsage.predict.predictor import prepare_many

    chosen = [(i, b) for i, b in chosen if "latency_ms" in done[i]]
    if len(chosen) < MIN_MODELS:
        raise PerfsageError(f"only {len(chosen)} of the calibration models could be measured here (need "
                            f"{MIN_MODELS}); try another --seed")
    graphs = [p.graph for p in prepare_many([b for _, b in chosen])]
    view = base_view(base.estimator, graphs)
    # a metric this host's tool does not report (peak heap without glibc's mallinfo2) is not calibrated
    metrics = [m for m in base.metrics if all(m in done[i] for i, _ in chosen)]
    y = {m: np.log([done[i][m] for i, _ in chosen]) for m in metrics}
    # per metric, one factor on the shipped prediction unless a richer fit (latency: the few-shot ensemble;
    # the others: ridge over the network's heads) is better by more than a standard error: on a CPU of the
    # labels' kind the factor is all there is to fit, on another kind the richer fit earns its place
    fits, kinds = {}, {}
    for m in metrics:
        rich = fit_ensemble(view, y[m]) if m == "latency_ms" else fit_ridge(view.log_pred, y[m])
        scale = fit_scale(view.log_pred, y[m], view.heads.index(m))
        fits[m] = simplest_within_one_se(scale, rich, len(chosen))
        kinds[m] = "scale" if fits[m] is scale else rich.kind
    adapted = AdaptedPredictor(base.estimator, fits["latency_ms"], device=f"{target} on {host.describe()}",
                               samples=[{"id": i} for i, _ in chosen],
                               extra={m: f for m, f in fits.items() if m != "latency_ms"})
    staging = out.with_name(out.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    adapted.save(staging)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    loo = {m: round(float(f.loo_rmse), 4) for m, f in fits.items()}
    (staging / "training.json").write_text(json.dumps({
        "target": target, "calibrated": {"when": when, "models": len(chosen), "seed": seed,
                                         "host": host.to_dict(), "loo_rmse_log": loo, "fits": kinds,
                                         "base": base_identity(Path(base.source))}}, indent=1) + "\n")
    HostRecord(host, True, f"calibrated here on {when} from {len(chosen)} models").save(staging)
    # 90% intervals from the leave-one-out error of each fit (a normal approximation in log space: a few
    # dozen models are too few for the conformal ranks the shipped predictors use)
    Calibration(LEVEL, len(chosen), {m: (-Z90 * r, Z90 * r) for m, r in loo.items()}).save(staging)
    domain = Path(base.source) / "domain.json"
    if domain.is_file():  # the same network reads the models: the same training domain
        shutil.copy(domain, staging / "domain.json")
    shutil.rmtree(out, ignore_errors=True)
    os.replace(staging, out)
    shutil.rmtree(partial, ignore_errors=True)
    return CalibrationResult(out, target, host, len(chosen), measured_now, time.time() - t0, loo, kinds)


def base_identity(folder: Path) -> str:
    """Which predictor a calibration fitted: a hash of its training record, so that a calibration of an
    older shipped predictor is not served in place of a newer one."""
    import hashlib

    record = Path(folder) / "training.json"
    return hashlib.sha256(record.read_bytes()).hexdigest()[:16] if record.is_file() else ""


def usable_calibration(target: str) -> Path | None:
    """This host's calibration of the shipped predictor of target, if there is one and it fitted the
    predictor shipped now."""
    from perfsage.model.shipped import predictor_dir

    folder = calibrated_dir(target)
    info = calibration_info(folder) if (folder / "config.json").is_file() else None
    if info is None or info.get("base") != base_identity(predictor_dir(target)):
        return None
    return folder


def calibration_info(folder: Path) -> dict[str, Any] | None:
    """A calibrated predictor's record: when, from how many models (None: not a calibration)."""
    path = Path(folder) / "training.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text()).get("calibrated")
