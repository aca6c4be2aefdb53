"""Accuracy of PerfSAGE and the four baselines on the same splits: docs/results/accuracy.md.

    .venv/bin/python benchmarks/accuracy.py --data data/edgedlperf [--targets ...] [--splits random,leave-out:kws]

Rows are predictors, columns target x metric (MAPE % and share within +-10%), one table per split.
Every estimator trains on the split's training part with early stopping on its validation part and
is scored on its test part; training seconds are reported. nn-Meter's kernel predictor needs per-layer
labels, so it appears only for Ethos-U latency and energy.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from _results import RESULTS, publish  # noqa: E402
from perfsage.model.data import load_graphset  # noqa: E402
from perfsage.model.evaluate import evaluate  # noqa: E402
from perfsage.model.registry import ESTIMATORS, estimator_class  # noqa: E402
from perfsage.model.train import split_graphset  # noqa: E402

TARGET_METRICS = {"ethos-u55-128": ["latency_ms", "energy_mj", "sram_kib", "flash_kib"],
                  "ethos-u65-256": ["latency_ms", "energy_mj", "sram_kib", "flash_kib"],
                  "mcu-tflm": ["arena_kib"], "cpu-litert": ["latency_ms", "peak_heap_kib"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT / "data" / "edgedlperf"))
    ap.add_argument("--targets", default=",".join(TARGET_METRICS))
    ap.add_argument("--splits", default="random,leave-out:classification,leave-out:detection,leave-out:kws,"
                                        "leave-out:segmentation")
    ap.add_argument("--estimators", default=",".join(ESTIMATORS))
    ap.add_argument("--epochs", type=int, default=60)
    a = ap.parse_args()
    results: dict = {}
    for target in a.targets.split(","):
        try:
            gs = load_graphset(a.data, target, TARGET_METRICS[target])
        except Exception as e:  # a target not built yet
            print(f"skip {target}: {e}")
            continue
        for split in a.splits.split(","):
            tr, va, te = split_graphset(gs, split)
            for name in a.estimators.split(","):
                kw = {"epochs": a.epochs} if name in ("perfsage", "brp-nas-gcn") else {}
                est = estimator_class(name)(list(gs.y), **kw)
                t0 = time.time()
                est.fit(tr, va)
                secs = time.time() - t0
                rep = evaluate(est, te)
                results.setdefault(split, {}).setdefault(name, {})[target] = {"seconds": secs, **rep}
                print(split, target, name, f"{secs:.0f}s",
                      {m: round(r["mape"], 2) for m, r in rep["metrics"].items()}, flush=True)
    (RESULTS / "accuracy.json").write_text(json.dumps(results, indent=1))
    lines = []
    for split, by_est in results.items():
        cols = [(t, m) for t in TARGET_METRICS for m in TARGET_METRICS[t]
                if any(t in v for v in by_est.values())]
        lines += [f"## split `{split}`", "", "| predictor | " + " | ".join(f"{t} {m}" for t, m in cols) + " |",
                  "|---|" + "---:|" * len(cols)]
        for name, per_t in by_est.items():
            cells = []
            for t, m in cols:
                r = per_t.get(t, {}).get("metrics", {}).get(m)
                cells.append(f"{r['mape']:.2f} / {r['acc10']:.2f}" if r else "n/a")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    publish("accuracy", "Accuracy: PerfSAGE against four baselines",
            f"`benchmarks/accuracy.py` on `{a.data}` ({platform.machine()}, CPU): MAPE % / share within ±10% "
            "on each split's test part. Raw numbers (RMSPE, ±5%, Spearman, Kendall, per space, seconds) in "
            "`accuracy.json`.", "\n".join(lines).rstrip())


if __name__ == "__main__":
    main()
