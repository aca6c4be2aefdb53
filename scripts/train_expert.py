"""Trains a shipped predictor's compressed-model expert (perfsage.predict.expert) and chooses what it serves.

    .venv/bin/python scripts/train_expert.py ethos-u55-128 [--max-seconds 600] [--lr 3e-4]

The expert starts from the shipped network (a warm start) and is fine-tuned on the `compressed` space's
training part of the random split (seed 0), stopped on its validation part. It serves a metric of
compressed-looking models only where it beats the main network on those validation models; the test
part is scored for the record, never for the choice. A killed run goes on from its last epoch
(runs/expert-partial/<target>). Writes <predictor>/compressed/ and expert.json; prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from perfsage.model.data import load_graphset  # noqa: E402
from perfsage.model.perfsage import PerfSAGE  # noqa: E402
from perfsage.model.registry import load_estimator  # noqa: E402
from perfsage.model.scores import regression_report  # noqa: E402
from perfsage.model.shipped import PERFSAGE_HP, PREDICTED_METRICS, predictor_dir  # noqa: E402
from perfsage.model.train import split_graphset  # noqa: E402
from perfsage.predict.expert import (  # noqa: E402
    COMPRESSED,
    EXPERT_DIR,
    calibrate_compressed,
    save_expert_choice,
    update_card,
)

SPACE = "compressed"


def mapes(est, part, metrics: list[str]) -> dict[str, float]:
    pred = est.predict(part.graphs)
    return {m: round(regression_report(np.asarray(part.y[m]), np.asarray(pred[m]))["mape"], 3) for m in metrics}


def served_coverage(folder, part) -> dict[str, float]:
    """Coverage of the compressed group's intervals on a part's compressed-looking models, as served."""
    from perfsage.model.calibration import Calibration
    from perfsage.predict.predictor import Predictor
    from perfsage.predict.whatif import looks_compressed

    cal = Calibration.load(folder)
    picked = [k for k, g in enumerate(part.graphs) if looks_compressed(g)]
    if cal is None or COMPRESSED not in cal.groups or not picked:
        return {}
    pred = Predictor.load(folder).network_totals([part.graphs[k] for k in picked])
    cov = cal.coverage(pred, {m: np.asarray(part.y[m])[picked] for m in cal.groups[COMPRESSED]}, group=COMPRESSED)
    return {m: round(c, 3) for m, c in cov.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("target", choices=sorted(PREDICTED_METRICS))
    ap.add_argument("--max-seconds", type=float, default=600)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--patience", type=int, default=15)
    a = ap.parse_args()
    metrics = PREDICTED_METRICS[a.target]
    folder = predictor_dir(a.target)
    gs = load_graphset(ROOT / "data" / "edgedlperf", a.target, metrics, spaces=[SPACE])
    tr, va, te = split_graphset(gs, "random", 0)
    main_net = load_estimator(folder)  # the main network alone (no expert): what the expert must beat
    partial = ROOT / "runs" / "expert-partial" / a.target
    est = PerfSAGE(metrics, log=lambda r: print(a.target, r, flush=True), max_seconds=a.max_seconds,
                   resume=partial, **{**PERFSAGE_HP, "patience": a.patience, "lr": a.lr})
    t0 = time.time()
    est.fit(tr, va, init=main_net)
    seconds = max(time.time() - t0, est.history[-1]["seconds"])
    val_main, val_expert = mapes(main_net, va, metrics), mapes(est, va, metrics)
    test_main, test_expert = mapes(main_net, te, metrics), mapes(est, te, metrics)
    served = [m for m in metrics if val_expert[m] < val_main[m]]
    out = folder / EXPERT_DIR
    if out.exists():
        shutil.rmtree(out)
    est.save(out)
    record = {"space": SPACE, "split": "random, seed 0", "train_models": len(tr), "validation_models": len(va),
              "validation_mape_main": val_main, "validation_mape_expert": val_expert,
              "test_models": len(te), "test_mape_main": test_main, "test_mape_expert": test_expert,
              "epochs": len(est.history), "seconds": round(seconds), "lr": a.lr,
              "trained_on": f"{platform.machine()} CPU, {torch.get_num_threads()} threads",
              "how": f"scripts/train_expert.py {a.target} --max-seconds {a.max_seconds:g} --lr {a.lr:g}"}
    save_expert_choice(folder, served, record)
    # the compressed-looking models' own interval bounds, from the validation part as now served
    record["calibrated_on"] = calibrate_compressed(folder, va.graphs, va.y)
    record["test_coverage_served"] = served_coverage(folder, te)
    save_expert_choice(folder, served, record)
    update_card(folder)
    shutil.rmtree(partial, ignore_errors=True)
    print(json.dumps({"target": a.target, "serves": served, **record}))


if __name__ == "__main__":
    main()
