"""How repeatable a cpu-litert latency label is: the floor under any predictor's error on that target.

    .venv/bin/python benchmarks/cpu_litert_repeatability.py [--models 150]

Re-measures models of the dataset's cpu-litert test split (random split, seed 0) with the same
protocol and compares with the stored labels (measured hours earlier, by another process): the MAPE
between two independent labellings of the same model is the test-retest error. Also reports the
within-label spread (coefficient of variation of the 3 window minima) stored with every label.
Re-measurements are kept in runs/cpu_litert_repeatability/ (delete it for a fresh run); a killed run
resumes. Run it with the machine otherwise idle: other load inflates both. Writes
docs/results/cpu_litert_repeatability.md and .json (the accuracy goal for cpu-litert is 1.5x this).
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

import numpy as np  # noqa: E402

from _results import RESULTS, publish  # noqa: E402
from perfsage.dataset.splits import make_split  # noqa: E402
from perfsage.dataset.store import read_folder  # noqa: E402
from perfsage.spaces import get_space  # noqa: E402
from perfsage.targets import get_target  # noqa: E402

TARGET = "cpu-litert"
PARTIAL = ROOT / "runs" / "cpu_litert_repeatability" / "remeasured.json"  # id -> latency_ms, this run's


def stored_labels(data: Path) -> dict[str, tuple[float, float]]:
    """id -> (latency_ms, repeatability_cv) as labelled."""
    t = read_folder(data / "labels" / TARGET, columns=["id", "latency_ms", "provenance"])
    if t is None:
        sys.exit(f"{data}: no {TARGET} labels")
    return {i: (lat, json.loads(prov).get("repeatability_cv", float("nan")))
            for i, lat, prov in zip(*(t.column(c).to_pylist() for c in ("id", "latency_ms", "provenance")),
                                    strict=True) if lat is not None}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=ROOT / "data" / "edgedlperf")
    ap.add_argument("--models", type=int, default=150)
    a = ap.parse_args()
    labels = stored_labels(a.data)
    ids = sorted(labels)
    split = make_split("random", ids, [i.rsplit("-", 1)[0] for i in ids])
    chosen = sorted(split.test, key=lambda i: (i.rsplit("-", 1)[0], int(i.rsplit("-", 1)[1])))
    chosen = chosen[:: max(1, len(chosen) // a.models)][: a.models]
    # every re-measurement is saved as it is taken, so a killed run resumes where it stopped
    again = json.loads(PARTIAL.read_text()) if PARTIAL.is_file() else {}
    target = get_target(TARGET)
    t0 = time.time()
    try:
        for k, i in enumerate(chosen):
            if i in again:
                continue
            space, seed = i.rsplit("-", 1)
            again[i] = target.measure(get_space(space).synth(int(seed))[1], per_layer=False).metrics["latency_ms"]
            PARTIAL.parent.mkdir(parents=True, exist_ok=True)
            PARTIAL.write_text(json.dumps(again))
            if (k + 1) % 25 == 0:
                print(f"{k + 1}/{len(chosen)} re-measured", flush=True)
    finally:
        target.close()
    first = np.array([labels[i][0] for i in chosen])
    second = np.array([again[i] for i in chosen])
    rel = np.abs(second - first) / first
    cv = np.array([labels[i][1] for i in chosen])
    res = {"models": len(chosen), "test_retest_mape": float(100 * rel.mean()),
           "test_retest_median_ape": float(100 * np.median(rel)),
           "test_retest_p90_ape": float(100 * np.quantile(rel, 0.9)),
           "within_label_cv_median": float(100 * np.nanmedian(cv)), "seconds": round(time.time() - t0, 1),
           "per_space_mape": {s: float(100 * rel[[i.startswith(s + "-") for i in chosen]].mean())
                              for s in sorted({i.rsplit("-", 1)[0] for i in chosen})}}
    (RESULTS / "cpu_litert_repeatability.json").write_text(json.dumps(res, indent=1))
    lines = ["| measure | value |", "|---|---:|",
             f"| models re-measured | {res['models']} |",
             f"| test-retest MAPE % | {res['test_retest_mape']:.2f} |",
             f"| test-retest median APE % | {res['test_retest_median_ape']:.2f} |",
             f"| test-retest 90th percentile APE % | {res['test_retest_p90_ape']:.2f} |",
             f"| within-label CV of window minima, median % | {res['within_label_cv_median']:.2f} |"]
    lines += [f"| test-retest MAPE %, {s} | {v:.2f} |" for s, v in res["per_space_mape"].items()]
    publish("cpu_litert_repeatability", "cpu-litert label repeatability",
            f"`benchmarks/cpu_litert_repeatability.py --models {a.models}` on {platform.machine()} "
            f"({platform.processor() or 'CPU'}): every k-th model of the cpu-litert test split re-measured with "
            "the labelling protocol (min over 3 windows of >= 0.5 s, one thread, pinned core) and compared "
            "with its stored label.", "\n".join(lines))


if __name__ == "__main__":
    main()
