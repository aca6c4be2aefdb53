"""Dataset build throughput and the projected time for the paper's 134,912 models per target.

    .venv/bin/python benchmarks/dataset_throughput.py [--models 6]

Runs the builder's own task (synthesise + featurise + label with warm workers) on models from each task
space, one core, and times each step. Projections assume the builder's workers scale linearly (each
task is independent; measured: 2 local workers give ~1.9x). Writes docs/results/dataset_throughput.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from _results import publish  # noqa: E402
from perfsage.dataset.records import Task, close_targets, run_task  # noqa: E402
from perfsage.spaces import TASK_SPACES  # noqa: E402

PAPER_MODELS = 134_912
TARGETS = ("ethos-u55-128", "ethos-u65-256", "mcu-tflm")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=int, default=6)
    a = ap.parse_args()
    run_task(Task("kws", 0, TARGETS))  # warm workers
    per = {t: [] for t in ("synthesise + featurise", *TARGETS)}
    for space in TASK_SPACES:
        for i in range(a.models):
            t0 = time.perf_counter()
            r = run_task(Task(space, 900 + i, ()))
            per["synthesise + featurise"].append(time.perf_counter() - t0)
            for t in TARGETS:
                r = run_task(Task(space, 900 + i, (t,), need_model_row=False))
                per[t].append(r.labels[t]["seconds"] if t in r.labels else float("nan"))
    close_targets()
    cores = (1, 2, 4, 8)
    lines = ["| step | s/model (mean over spaces) | " + " | ".join(
        f"134,912 models on {c} core{'s' if c > 1 else ''} (h)" for c in cores) + " |",
             "|---|---:|" + "---:|" * len(cores)]
    total = 0.0
    for step, xs in [*per.items(), ("all: synthesise + 3 targets", None)]:
        m = float(np.nanmean(xs)) if xs is not None else total
        total += m if xs is not None else 0.0
        lines.append(f"| {step} | {m:.3f} | " + " | ".join(f"{PAPER_MODELS * m / 3600 / c:.1f}" for c in cores)
                     + " |")
    lines.append("")
    lines.append("This machine has 2 cores; every added Ray worker adds one core (the 4- and 8-core columns are "
                 "this machine plus 2 or 6 Ray workers).")
    publish("dataset_throughput", "Dataset build throughput",
            f"`benchmarks/dataset_throughput.py --models {a.models}`: the builder's task on {a.models} models per "
            "task space (seeds 900+), one core, warm tool workers. Projection for the paper's 134,912 models "
            "assumes linear scaling in workers (tasks are independent; each Ray worker adds one core). "
            "cpu-litert is not included: its protocol is ~1.6 s per model on a dedicated core by design "
            f"(134,912 models = {PAPER_MODELS * 1.6 / 3600:.0f} core-hours).", "\n".join(lines))


if __name__ == "__main__":
    main()
