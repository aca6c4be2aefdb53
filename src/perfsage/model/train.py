"""Train one estimator on a dataset split and save it with a model card's worth of provenance."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from perfsage.dataset.splits import make_split
from perfsage.model.calibration import fit_calibration
from perfsage.model.data import GraphSet, data_hash, load_graphset
from perfsage.model.distance import DISTANCE_FILE, fit_distance_for, predict_with_distance
from perfsage.model.domain import fit_domain
from perfsage.model.registry import estimator_class


def split_graphset(gs: GraphSet, split: str, seed: int = 0) -> tuple[GraphSet, GraphSet, GraphSet]:
    s = make_split(split, gs.ids, gs.spaces, list(gs.macs) if gs.macs is not None else None, seed=seed)
    return gs.subset(s.train), gs.subset(s.val), gs.subset(s.test)


def write_serving_files(est, out: Path, train_part: GraphSet, val_part: GraphSet) -> dict[str, float]:
    """What `predict` needs beside the weights: the training domain (out-of-distribution reasons) and the
    conformal calibration of the intervals on the validation part. Returns the calibration coverage."""
    fit_domain(train_part.graphs).save(out)
    distance = fit_distance_for(est, train_part.graphs)
    if distance is not None:
        distance.save(out)
    else:
        (Path(out) / DISTANCE_FILE).unlink(missing_ok=True)
    if not len(val_part):
        return {}
    pred, d = predict_with_distance(est, val_part.graphs, distance)
    cal = fit_calibration(pred, val_part.y, distance=d)
    cal.save(out)
    return cal.coverage(pred, val_part.y, d)


def write_host_record(data: str | Path, target: str, out: Path, ids: list[str]) -> None:
    """For a host-bound target (CPU latency): which CPU kind the training labels were measured on."""
    from perfsage.dataset import provenance_fields
    from perfsage.targets import is_host_bound
    from perfsage.targets.host import record_from_provenance

    if not is_host_bound(target):
        return
    fields = provenance_fields(data, target, ["host_fingerprint", "cpu", "version"])
    record_from_provenance([fields.get(i, {}) for i in ids]).save(out)


def partial_dir(out: Path) -> Path:
    """Where a neural estimator keeps its per-epoch state until `out` is written."""
    return out.with_name(out.name + ".partial")


def train(data: str | Path, target: str, out: str | Path, metrics: list[str] | None = None,
          estimator: str = "perfsage", split: str = "random", seed: int = 0, log=None,
          **params) -> tuple[Any, dict[str, Any]]:
    """A killed neural training resumes from its last whole epoch when run again with the same
    arguments (state in `<out>.partial/`, removed once `out` is written)."""
    out = Path(out)
    gs = load_graphset(data, target, metrics)
    tr, va, te = split_graphset(gs, split, seed)
    cls = estimator_class(estimator)
    kwargs = dict(params)
    if estimator in ("perfsage", "brp-nas-gcn"):
        kwargs["resume"] = partial_dir(out)
        if log is not None:
            kwargs["log"] = log
    if estimator != "flops":
        kwargs.setdefault("seed", seed)
    if estimator == "perfsage":  # the settings the shipped predictors and the accuracy benchmark use
        from perfsage.model.shipped import PERFSAGE_HP

        kwargs = {**PERFSAGE_HP, **kwargs}
    est = cls(list(gs.y), **kwargs)
    t0 = time.time()
    est.fit(tr, va)
    seconds = time.time() - t0
    est.save(Path(out))
    coverage = write_serving_files(est, Path(out), tr, va)
    write_host_record(data, target, Path(out), tr.ids)
    info = {"target": target, "metrics": list(gs.y), "split": split, "seed": seed, "n_train": len(tr),
            "n_val": len(va), "n_test": len(te), "train_seconds": round(seconds, 1), "data_hash": data_hash(tr),
            "data": str(data), "interval_coverage_val": coverage}
    from perfsage.model.base import write_json

    write_json(Path(out) / "training.json", info)
    shutil.rmtree(partial_dir(out), ignore_errors=True)
    return est, info
