"""Estimators by name, and loading any saved one from its directory (config.json names the class)."""

from __future__ import annotations

import json
from pathlib import Path

from perfsage.errors import PerfsageError


def estimator_class(name: str):
    from perfsage.model.baselines.brpnas import BRPNASGCN
    from perfsage.model.baselines.flops import FlopsRegression
    from perfsage.model.baselines.gbdt import GradientBoosting
    from perfsage.model.baselines.nnmeter import NNMeterKernels
    from perfsage.model.perfsage import PerfSAGE
    from perfsage.realdev.adapt import AdaptedPredictor

    classes = {c.name: c for c in (PerfSAGE, FlopsRegression, GradientBoosting, BRPNASGCN, NNMeterKernels,
                                   AdaptedPredictor)}
    if name not in classes:
        raise PerfsageError(f"unknown estimator {name!r} (choose from {', '.join(classes)})")
    return classes[name]


ESTIMATORS = ("perfsage", "flops", "gbdt", "brp-nas-gcn", "nn-meter-kernels")


def checkpoint_dir(path: str | Path) -> Path:
    """A checkpoint directory, or the name of a target with a predictor shipped in the package."""
    from perfsage.model.shipped import predictor_dir, shipped_targets

    if not Path(path).exists() and str(path) in shipped_targets():
        return predictor_dir(str(path))
    return Path(path)


def load_estimator(path: str | Path):
    """A checkpoint directory, or the name of a target with a predictor shipped in the package."""
    path = checkpoint_dir(path)
    cfg_path = path / "config.json"
    if not cfg_path.is_file():
        raise PerfsageError(f"{path}: not a perfsage checkpoint (no config.json)")
    try:
        cfg = json.loads(cfg_path.read_text())
        name = cfg["estimator"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise PerfsageError(f"{cfg_path}: not a perfsage checkpoint config") from None
    if name in ESTIMATORS and name != "perfsage":  # PerfSAGE reads old encodings' columns by name
        from perfsage.graph.encode import current_features, feature_names

        if feature_names(**cfg.get("features", {})) != current_features():
            raise PerfsageError(f"{path}: trained on another feature encoding than this perfsage computes; "
                                "retrain it")
    return estimator_class(name).load(path)
