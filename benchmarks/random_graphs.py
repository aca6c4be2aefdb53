"""The shipped predictors on random operator graphs (the randgraph space): architectures no family shapes.

    .venv/bin/python benchmarks/random_graphs.py [--targets ethos-u55-128,ethos-u65-256,mcu-tflm]
        [--also runs/u55_warm_rg] [--page random_graphs]

Scores each shipped predictor on the randgraph models of the dataset's random-split test part (ids the
random split of any training run holds out), labelled by the real tools, and reports, per metric, MAPE,
the share within 10%, and whether the predictor says when it misses: the share of models it flags as out
of distribution (its training domain, or its distance to the training models: perfsage.model.distance), the
precision and recall of that flag for misses (> 10%), the share flagged as far alone, and the
coverage of its 90% interval. --also DIR scores the checkpoints in DIR/<target>/ (e.g. a retraining
not shipped) the same way, side by side, named after DIR. Writes docs/results/<page>.md and .json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402

from _results import RESULTS, publish  # noqa: E402

SPACE = "randgraph"
MISS = 0.10


def score(folder: Path, graphs, y: dict[str, np.ndarray]) -> dict[str, dict]:
    from perfsage.model.calibration import Calibration
    from perfsage.model.distance import EmbeddingDistance, predict_with_distance
    from perfsage.model.domain import TrainingDomain
    from perfsage.model.registry import load_estimator
    from perfsage.model.scores import regression_report

    est = load_estimator(folder)
    domain, cal = TrainingDomain.load(folder), Calibration.load(folder)
    # as `perfsage predict` serves them: intervals by distance band, and far models flagged too
    distance = EmbeddingDistance.load(folder) if cal is not None and cal.band_bounds else None
    pred, d = predict_with_distance(est, graphs, distance)
    flagged = np.array([bool(domain.check(g)) for g in graphs]) if domain else np.zeros(len(graphs), bool)
    far = cal.is_far(d) if d is not None else np.zeros(len(graphs), bool)
    flagged |= far
    out = {}
    for m, t in y.items():
        p = pred[m]
        miss = np.abs(p / t - 1) > MISS
        rec = {k: regression_report(t, p)[k] for k in ("mape", "acc10", "spearman")}
        rec.update(flagged=float(flagged.mean()), far=float(far.mean()),
                   precision=float((miss & flagged).sum() / flagged.sum()) if flagged.any() else None,
                   recall=float((miss & flagged).sum() / miss.sum()) if miss.any() else None)
        if cal is not None and m in cal.log_bounds:
            rec["coverage"] = cal.coverage({m: p}, {m: t}, d)[m]
        out[m] = rec
    return out


def main() -> None:
    from perfsage.dataset.splits import make_split
    from perfsage.model.data import load_graphset
    from perfsage.model.shipped import PREDICTED_METRICS, predictor_dir

    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT / "data" / "edgedlperf"))
    ap.add_argument("--targets", default="ethos-u55-128,ethos-u65-256,mcu-tflm")
    ap.add_argument("--also", type=Path, help="a folder of <target>/ checkpoints scored beside the shipped ones")
    ap.add_argument("--page", default="random_graphs")
    a = ap.parse_args()
    record, lines = {}, []
    for target in a.targets.split(","):
        metrics = PREDICTED_METRICS[target]
        gs = load_graphset(a.data, target, metrics, spaces=[SPACE])
        test = make_split("random", gs.ids, gs.spaces).test  # by id hash: the held-out part of any run
        part = gs.subset(test)
        rows = {"shipped": score(predictor_dir(target), part.graphs, {m: part.y[m] for m in metrics})}
        if a.also is not None and (a.also / target).is_dir():
            rows[a.also.name] = score(a.also / target, part.graphs, {m: part.y[m] for m in metrics})
        record[target] = {"models": len(part.ids), "scores": rows}
        for name, res in rows.items():
            for m, r in res.items():
                prec = "n/a" if r["precision"] is None else f"{r['precision']:.2f}"
                rec_ = "n/a" if r["recall"] is None else f"{r['recall']:.2f}"
                lines.append(f"| {target} | {name} | {m} | {len(part.ids)} | {r['mape']:.2f} | {r['acc10']:.3f} | "
                             f"{r['flagged']:.2f} | {r.get('far', 0.0):.2f} | {prec} | {rec_} | "
                             f"{r.get('coverage', float('nan')):.2f} |")
        print(target, json.dumps(record[target]), flush=True)
    (RESULTS / f"{a.page}.json").write_text(json.dumps(record, indent=1))
    cmd = f"`benchmarks/random_graphs.py --targets {a.targets}" + (f" --also {a.also}" if a.also else "") + "`"
    publish(a.page, "The predictors on random operator graphs",
            f"{cmd}: the {SPACE} models of the dataset's random-split test part (architectures no family shapes, "
            "`perfsage.spaces.randgraph`), labelled by the real tools. *flagged*: share of models the "
            "predictor calls out of distribution (training-domain check, or farther from the training models than "
            "99% of its validation models; *far*: the latter); *precision* / *recall*: of that flag for misses "
            "(more than 10% off); *coverage*: of the 90% interval (per distance band where the predictor has them).",
            "| target | predictor | metric | models | MAPE % | within 10% | flagged | far | precision | recall | "
            "coverage |\n|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
