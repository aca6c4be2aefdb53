"""The CPU predictor on this host's CPU, before and after `perfsage calibrate`.

    .venv/bin/python benchmarks/host_transfer.py [--models 40] [--fresh 25] [--passes 3] [--keep-calibration]

Fresh models: --fresh per task space at seeds neither the dataset nor calibration draws, plus the zoo's
published architectures, measured here by cpu-litert (the dataset's protocol, min over 3 windows of 0.5 s
on one pinned core, in --passes round-robin passes over the whole set, keeping each model's fastest pass:
a neighbour's load on a shared VM lasts minutes, perfsage.targets.passes). The readings are journaled in
runs/host_transfer/ (a killed run resumes; delete it to measure afresh). Each is predicted by the
shipped predictor (*before*) and by the predictor calibrated
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
JOURNAL = ROOT / "runs" / "host_transfer" / "readings.jsonl"


def fresh_models(per_space: int, per_space_dynamic: int) -> dict[str, bytes]:
    """The int8 models, the same as float32 (`float32/<name>`) and the first per_space_dynamic of each
    space and the zoo as dynamic-range models (`dynamic/<name>`)."""
    from perfsage.compress.precision import change_precision
    from perfsage.spaces import TASK_SPACES, get_space
    from perfsage.spaces.zoo import ZOO, build_zoo_model

    int8 = {}
    for space in TASK_SPACES:
        sp = get_space(space)
        for k in range(per_space):
            int8[f"{space}-{FRESH_SEED + k}"] = sp.synth(FRESH_SEED + k)[1]
    for name in ZOO:
        int8[f"zoo:{name}"] = build_zoo_model(name)
    out = dict(int8)
    out.update({f"float32/{n}": change_precision(b, "float32") for n, b in int8.items()})
    dynamic = [n for n in int8 if n.startswith("zoo:") or int(n.rsplit("-", 1)[1]) < FRESH_SEED + per_space_dynamic]
    out.update({f"dynamic/{n}": change_precision(int8[n], "dynamic") for n in dynamic})
    return out


def precision_of(name: str) -> str:
    return name.split("/", 1)[0] if "/" in name else "int8"


def scores(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    r = regression_report(true, pred)
    return {"mape": r["mape"], "max": float(np.max(np.abs(pred / true - 1)) * 100), "spearman": r["spearman"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=int, default=40, help="calibration models (perfsage calibrate --models)")
    ap.add_argument("--fresh", type=int, default=25, help="fresh test models per task space (int8 and float32)")
    ap.add_argument("--fresh-dynamic", type=int, default=10, help="... of which dynamic-range too")
    ap.add_argument("--passes", type=int, default=3, help="round-robin passes over the fresh models")
    ap.add_argument("--keep-calibration", action="store_true",
                    help="calibrate in the user's cache, not a temporary one")
    a = ap.parse_args()
    from perfsage.predict import Predictor
    from perfsage.predict.calibrate import calibrate
    from perfsage.targets import get_target
    from perfsage.targets.passes import measure_in_passes

    if not a.keep_calibration:
        os.environ["PERFSAGE_CACHE"] = tempfile.mkdtemp(prefix="perfsage-cache-")
    models = fresh_models(a.fresh, a.fresh_dynamic)
    tool = get_target("cpu-litert")
    t0 = time.time()
    try:
        readings = measure_in_passes(tool, list(models.items()), a.passes, JOURNAL,
                                     lambda d, n: print(f"{d}/{n} readings", flush=True) if d % 50 == 0 else None)
    finally:
        tool.close()
    truth = {n: r for n, r in readings.items() if "error" not in r}
    for n, r in readings.items():
        if "error" in r:  # a model LiteRT cannot run is reported, not scored
            print(f"{n}: not measured ({r['error']})", flush=True)
    measure_s = time.time() - t0
    names = [n for n in models if n in truth]
    blobs = [models[n] for n in names]
    before = Predictor.load("cpu-litert", calibrated=False).predict_many(blobs, layers=False)
    result = calibrate("cpu-litert", a.models)
    after = Predictor.load("cpu-litert").predict_many(blobs, layers=False)
    rows, record = [], {"host": this_host().to_dict(), "fresh_models": len(names), "measure_seconds": measure_s,
                        "calibration": result.to_dict(), "metrics": {}}
    zoo = [n.split("/", 1)[-1].startswith("zoo:") for n in names]
    groups = {}
    for precision in ("int8", "float32", "dynamic"):
        mine = [precision_of(n) == precision for n in names]
        groups[f"{precision}: all"] = mine
        groups[f"{precision}: task spaces"] = [m and not z for m, z in zip(mine, zoo, strict=True)]
        groups[f"{precision}: zoo"] = [m and z for m, z in zip(mine, zoo, strict=True)]
    for group, sel in groups.items():
        idx = [i for i, s in enumerate(sel) if s]
        if not idx:
            continue
        for m in [m for m in METRICS if all(m in truth[n] for n in names)]:  # heap needs glibc's mallinfo2
            true = np.array([truth[names[i]][m] for i in idx])
            b = scores(np.array([before[i].metrics[m].value for i in idx]), true)
            c = scores(np.array([after[i].metrics[m].value for i in idx]), true)
            record["metrics"][f"{group} {m}"] = {"before": b, "after": c, "models": len(idx)}
            rows.append(f"| {group} | {m} | {len(idx)} | {b['mape']:.1f} | {c['mape']:.1f} | {c['max']:.1f} | "
                        f"{b['spearman']:.3f} | {c['spearman']:.3f} |")
    def line(precision: str) -> str:
        lat = record["metrics"][f"{precision}: all latency_ms"]
        heap = record["metrics"].get(f"{precision}: all peak_heap_kib", {}).get("after", {"mape": float("nan")})
        return (f"{precision} latency MAPE {lat['after']['mape']:.1f}% (Spearman {lat['after']['spearman']:.3f}), "
                f"peak heap {heap['mape']:.1f}% on {lat['models']} models")

    summary = (f"after `perfsage calibrate cpu-litert --models {a.models}` ({result.seconds:.0f} s): "
               + "; ".join(line(p) for p in ("int8", "float32", "dynamic")))
    print(summary)
    host = this_host()
    how = (f"`benchmarks/host_transfer.py --models {a.models} --fresh {a.fresh} --fresh-dynamic "
           f"{a.fresh_dynamic} --passes {a.passes}` on {host.describe()} (fingerprint `{host.key}`, "
           f"LiteRT {host.litert}). "
           f"{len(names)} fresh models: {a.fresh} per task space at seeds no dataset or calibration draws and "
           f"the zoo's published architectures, each as int8 and as float32, and the first {a.fresh_dynamic} "
           f"per space and the zoo as dynamic-range models (perfsage.compress.precision). They were measured "
           f"here by cpu-litert (min over 3 windows of 0.5 s on one pinned core, in {a.passes} round-robin passes "
           f"over the set, each model's fastest pass kept; {measure_s:.0f} s in the last run) and "
           f"predicted by the shipped predictor (*before*) and by the predictor `perfsage calibrate` fitted "
           f"here on {result.models} models in {result.seconds:.0f} s (*after*). Goal (issue 38): after "
           f"calibration, latency MAPE <= 5% and Spearman >= 0.98, peak heap <= 5%, for int8 and float32.")
    body = (f"{summary}.\n\n"
            "| models | metric | n | before MAPE % | after MAPE % | after worst % | before Spearman "
            "| after Spearman |\n"
            "|---|---|---:|---:|---:|---:|---:|---:|\n" + "\n".join(rows))
    (ROOT / "docs" / "results" / "host_transfer.json").write_text(json.dumps(record, indent=1))
    publish("host_transfer", "The CPU predictor on this host, before and after calibration", how, body)


if __name__ == "__main__":
    main()
