"""Do the intervals hold for each kind of model, and does the flag catch the misses? One pair of conformal
bounds against bounds per band of the distance to the training models (perfsage.model.distance).

    .venv/bin/python benchmarks/intervals.py [--targets ethos-u55-128,ethos-u65-256,mcu-tflm,cpu-litert]
        [--predictors DIR --name "(what they are)"] [--page intervals]

For each predictor (the shipped ones, or DIR/<target>/): the random split (seed 0) of the spaces it was
trained on, as in its training. Both calibrations are fitted on the validation part, from the same
predictions; the test part scores them per space: coverage of the 90% interval and its median width.
Random graphs (`randgraph`) a predictor was not trained on are scored too, whole, as models from outside
its world. The flag is the one `perfsage predict` raises (training domain, or farther than the validation
part's 99% distance quantile); precision and recall are for misses by more than 10% on any metric.
Writes docs/results/<page>.md and .json.
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
from perfsage.model.evaluate import MISS, wider_than_miss  # noqa: E402

OUTSIDE = "randgraph"  # scored as outside the world of a predictor not trained on it


def score_part(cal_flat, cal_band, pred, y, d, flagged, metrics) -> dict:
    """Coverage and median width of both calibrations, and the flag's precision and recall, on one part."""
    out: dict = {"models": len(d)}
    with np.errstate(divide="ignore", invalid="ignore"):  # a model without a label on some metric: a miss
        err = np.max([np.abs(np.asarray(pred[m], float) / np.asarray(y[m], float) - 1) for m in metrics], 0)
    miss = np.nan_to_num(err, nan=np.inf) > MISS  # as model.evaluate counts a miss
    out["misses"] = float(miss.mean())
    out["flagged"] = float(flagged.mean())
    out["precision"] = float(miss[flagged].mean()) if flagged.any() else None
    out["recall"] = float(flagged[miss].mean()) if miss.any() else None
    # the banded interval read as a warning: on some metric it does not promise 10% (wider_than_miss)
    wide = np.any([wider_than_miss(cal_band.bounds_of(m, len(d), d)) for m in metrics], 0)
    out["wide"] = float(wide.mean())
    out["wide_precision"] = float(miss[wide].mean()) if wide.any() else None
    out["wide_recall"] = float(wide[miss].mean()) if miss.any() else None
    for name, cal, dist in (("one pair", cal_flat, None), ("bands", cal_band, d)):
        cov = cal.coverage({m: pred[m] for m in metrics}, {m: y[m] for m in metrics}, dist)
        widths = {}
        for m in metrics:
            b = cal.bounds_of(m, len(d), dist)
            widths[m] = float(np.median(np.exp(b[:, 1]) / np.exp(b[:, 0]) - 1) * 100)
        out[name] = {"coverage": cov, "width_pct": widths}
    return out


def run(folder: Path, data: str) -> dict:
    from perfsage.model.calibration import fit_calibration
    from perfsage.model.data import load_graphset
    from perfsage.model.distance import EmbeddingDistance, predict_with_distance
    from perfsage.model.domain import TrainingDomain
    from perfsage.model.registry import load_estimator
    from perfsage.model.train import split_graphset

    info = json.loads((folder / "training.json").read_text())
    target, metrics = info["target"], info["metrics"]
    est, domain, distance = load_estimator(folder), TrainingDomain.load(folder), EmbeddingDistance.load(folder)
    if distance is None:
        raise SystemExit(f"{folder}: no distance.npz (recalibrate it: scripts/train_shipped.py --recalibrate)")
    gs = load_graphset(data, target, metrics, spaces=info["spaces"])
    _, val, test = split_graphset(gs, "random", 0)
    vp, vd = predict_with_distance(est, val.graphs, distance)
    flat, band = fit_calibration(vp, val.y), fit_calibration(vp, val.y, distance=vd)
    parts = {}
    tp, td = predict_with_distance(est, test.graphs, distance)
    spaces = np.array(test.spaces)

    def flags(graphs, d):
        return np.array([bool(domain.check(g)) for g in graphs]) | band.is_far(d)

    tf = flags(test.graphs, td)
    for s in ["(all)", *sorted(set(test.spaces))]:
        sel = np.ones(len(spaces), bool) if s == "(all)" else spaces == s
        parts[s] = score_part(flat, band, {m: tp[m][sel] for m in metrics}, {m: test.y[m][sel] for m in metrics},
                              td[sel], tf[sel], metrics)
    if OUTSIDE not in info["spaces"]:
        try:
            out = load_graphset(data, target, metrics, spaces=[OUTSIDE])
        except Exception:
            out = None
        if out is not None and len(out):
            op, od = predict_with_distance(est, out.graphs, distance)
            parts[f"{OUTSIDE} (never trained on)"] = score_part(flat, band, op, out.y, od, flags(out.graphs, od),
                                                                metrics)
    return {"target": target, "metrics": metrics, "bands": len(band.band_edges) + 1, "n_val": len(val),
            "parts": parts}


def table(rec: dict) -> str:
    metrics = rec["metrics"]
    head = ("| part | models | misses | flagged | precision | recall | wide | precision | recall | "
            + " | ".join(f"{m} coverage: one pair / bands | {m} width %: one pair / bands" for m in metrics) + " |")
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|---:|---:|" + "---:|---:|" * len(metrics)]
    for name, p in rec["parts"].items():
        f = lambda v: "n/a" if v is None else f"{v:.2f}"
        cells = []
        for m in metrics:
            cells.append(f"{p['one pair']['coverage'][m]:.2f} / {p['bands']['coverage'][m]:.2f}")
            cells.append(f"{p['one pair']['width_pct'][m]:.1f} / {p['bands']['width_pct'][m]:.1f}")
        wide = f"{f(p.get('wide'))} | {f(p.get('wide_precision'))} | {f(p.get('wide_recall'))}"
        lines.append(f"| {name} | {p['models']} | {p['misses']:.2f} | {p['flagged']:.2f} | {f(p['precision'])} | "
                     f"{f(p['recall'])} | {wide} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    from perfsage.model.shipped import PREDICTORS

    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT / "data" / "edgedlperf"))
    ap.add_argument("--targets", default="ethos-u55-128,ethos-u65-256,mcu-tflm,cpu-litert")
    ap.add_argument("--predictors", type=Path, default=PREDICTORS)
    ap.add_argument("--page", default="intervals")
    ap.add_argument("--name", default="", help="added to each target's heading (e.g. for predictors not shipped)")
    a = ap.parse_args()
    path = RESULTS / f"{a.page}.json"
    record = json.loads(path.read_text()) if path.is_file() else {}
    for target in a.targets.split(","):
        record[f"{target} {a.name}".strip()] = run(a.predictors / target, a.data)
        path.write_text(json.dumps(record, indent=1))  # target by target: a killed run keeps what it did
        print(target, "done", flush=True)
    cmd = "`benchmarks/intervals.py`"
    body = "\n\n".join(f"## {t} ({r['bands']} bands, {r['n_val']:,} validation models)\n\n{table(r)}"
                       for t, r in record.items())
    publish(a.page, "Intervals per kind of model: one pair of bounds against distance bands",
            f"{cmd} (one run per heading; the shipped predictors unless it says otherwise): each predictor's "
            "random split (seed 0) of the spaces it was trained on. Both calibrations "
            "are fitted on the validation part from the same predictions; the test part scores them per space: "
            "coverage of the 90% interval and its median width (high / low - 1, %). *misses*: share of models "
            "more than 10% off on any metric; *flagged*: share `perfsage predict` calls out of distribution "
            "(training domain, or farther from the training models than 99% of the validation part); "
            "*precision* / *recall*: of that flag for the misses; *wide*, *precision*, *recall*: the same for models "
            "whose banded interval does not promise 10% on some metric (it reaches a miss). Random graphs a "
            "predictor was never trained on "
            "are scored whole, as models from outside its world.", body)


if __name__ == "__main__":
    main()
