"""The CPU predictor on this host's CPU, before and after `perfsage calibrate`.

    .venv/bin/python benchmarks/host_transfer.py [--models 40] [--fresh 25] [--keep-calibration]

Fresh models: --fresh per task space at seeds neither the dataset nor calibration draws, plus the zoo's
published architectures, measured here by cpu-litert (the dataset's protocol: min over 3 windows of 0.5 s,
one pinned core). Each is predicted by the shipped predictor (*before*) and by the predictor calibrated
here with --models models (*after*; calibration runs in a temporary cache unless --keep-calibration).
Writes docs/results/host_transfer.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402

from _results import publish  # noqa: E402
from perfsage.model.scores import regression_report  # noqa: E402
from perfsage.targets.host import this_host  # noqa: E402

FRESH_SEED = 8_000_000  # beyond the dataset's seeds and calibration's (7,000,000 + 1000 x seed)
METRICS = ("latency_ms", "peak_heap_kib")


def fresh_models(per_space: int) -> dict[str, bytes]:
    from perfsage.spaces import TASK_SPACES, get_space
    from perfsage.spaces.zoo import ZOO, build_zoo_model

    out = {}
    for space in TASK_SPACES:
        sp = get_space(space)
        for k in range(per_space):
            out[f"{space}-{FRESH_SEED + k}"] = sp.synth(FRESH_SEED + k)[1]
    for name in ZOO:
        out[f"zoo:{name}"] = build_zoo_model(name)
    return out


def scores(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    r = regression_report(true, pred)
    return {"mape": r["mape"], "max": float(np.max(np.abs(pred / true - 1)) * 100), "spearman": r["spearman"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=int, default=40, help="calibration models (perfsage calibrate --models)")
    ap.add_argument("--fresh", type=int, default=25, help="fresh test models per task space")
    ap.add_argument("--keep-calibration", action="store_true",
                    help="calibrate in the user's cache, not a temporary one")
    a = ap.parse_args()
    from perfsage.predict import Predictor
    from perfsage.predict.calibrate import calibrate
    from perfsage.targets import TargetError, get_target

    if not a.keep_calibration:
        os.environ["PERFSAGE_CACHE"] = tempfile.mkdtemp(prefix="perfsage-cache-")
    models = fresh_models(a.fresh)
    tool = get_target("cpu-litert")
    truth: dict[str, dict[str, float]] = {}
    t0 = time.time()
    try:
        for name, data in models.items():
            try:
                truth[name] = tool.measure(data, per_layer=False).metrics
            except TargetError as e:  # a model LiteRT cannot run is reported, not scored
                print(f"{name}: not measured ({e})", flush=True)
    finally:
        tool.close()
    measure_s = time.time() - t0
    names = [n for n in models if n in truth]
    blobs = [models[n] for n in names]
    before = Predictor.load("cpu-litert", calibrated=False).predict_many(blobs, layers=False)
    result = calibrate("cpu-litert", a.models)
    after = Predictor.load("cpu-litert").predict_many(blobs, layers=False)
    rows, record = [], {"host": this_host().to_dict(), "fresh_models": len(names), "measure_seconds": measure_s,
                        "calibration": result.to_dict(), "metrics": {}}
    groups = {"all fresh models": [True] * len(names),
              "task spaces": [not n.startswith("zoo:") for n in names],
              "zoo": [n.startswith("zoo:") for n in names]}
    for group, sel in groups.items():
        idx = [i for i, s in enumerate(sel) if s]
        for m in [m for m in METRICS if all(m in truth[n] for n in names)]:  # heap needs glibc's mallinfo2
            true = np.array([truth[names[i]][m] for i in idx])
            b = scores(np.array([before[i].metrics[m].value for i in idx]), true)
            c = scores(np.array([after[i].metrics[m].value for i in idx]), true)
            record["metrics"][f"{group} {m}"] = {"before": b, "after": c, "models": len(idx)}
            rows.append(f"| {group} | {m} | {len(idx)} | {b['mape']:.1f} | {c['mape']:.1f} | {c['max']:.1f} | "
                        f"{b['spearman']:.3f} | {c['spearman']:.3f} |")
    lat = record["metrics"]["all fresh models latency_ms"]["after"]
    heap = record["metrics"]["all fresh models peak_heap_kib"]["after"]
    summary = (f"after `perfsage calibrate cpu-litert --models {a.models}` ({result.seconds:.0f} s): latency MAPE "
               f"{lat['mape']:.1f}% (Spearman {lat['spearman']:.3f}), peak heap {heap['mape']:.1f}% on {len(names)} "
               f"fresh models")
    print(summary)
    host = this_host()
    how = (f"`benchmarks/host_transfer.py --models {a.models} --fresh {a.fresh}` on {host.describe()} "
           f"(fingerprint `{host.key}`, LiteRT {host.litert}). {len(names)} fresh models ({a.fresh} per task "
           f"space at seeds no dataset or calibration draws, and the zoo's published architectures) measured "
           f"here by cpu-litert (min over 3 windows of 0.5 s, one pinned core; {measure_s:.0f} s), predicted by "
           f"the shipped predictor (*before*) and by the predictor `perfsage calibrate` fitted here on "
           f"{result.models} models in {result.seconds:.0f} s (*after*). Float models are not covered: the "
           f"writer builds int8 models only. Goal (issue 38): after calibration latency MAPE <= 5% and "
           f"Spearman >= 0.98, peak heap <= 5%.")
    body = (f"{summary}.\n\n"
            "| models | metric | n | before MAPE % | after MAPE % | after worst % | before Spearman "
            "| after Spearman |\n"
            "|---|---|---:|---:|---:|---:|---:|---:|\n" + "\n".join(rows))
    (ROOT / "docs" / "results" / "host_transfer.json").write_text(json.dumps(record, indent=1))
    publish("host_transfer", "The CPU predictor on this host, before and after calibration", how, body)


if __name__ == "__main__":
    main()
