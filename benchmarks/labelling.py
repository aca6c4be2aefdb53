"""Labelling throughput: labels/s per target on one core, for models from each task space.

    .venv/bin/python benchmarks/labelling.py [--models 5]

Each target keeps its warm isolated worker (as the dataset builder does); time per label is wall time
of `measure()` after one warm-up model. cpu-litert's protocol (3 windows of >= 0.5 s) bounds it near
0.6 labels/s by design. Writes docs/results/labelling.md.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from _results import publish  # noqa: E402
from perfsage.spaces import TASK_SPACES, get_space  # noqa: E402
from perfsage.targets import get_target, target_names  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=int, default=5)
    ap.add_argument("--targets", default=",".join(target_names()))
    a = ap.parse_args()
    models = {s: [get_space(s).synth(500 + i)[1] for i in range(a.models)] for s in TASK_SPACES}
    names = a.targets.split(",")
    rows = []
    for t_name in names:
        t = get_target(t_name)
        t.measure(models["kws"][0])  # warm the worker
        cells = []
        for s in TASK_SPACES:
            t0 = time.perf_counter()
            for m in models[s]:
                t.measure(m)
            cells.append(a.models / (time.perf_counter() - t0))
        t.close()
        rows.append((t_name, cells))
    head = "| target | " + " | ".join(TASK_SPACES) + " |"
    lines = [head, "|---|" + "---:|" * len(TASK_SPACES)]
    lines += [f"| {n} | " + " | ".join(f"{c:.2f}" for c in cells) + " |" for n, cells in rows]
    publish("labelling", "Labelling throughput",
            f"`benchmarks/labelling.py --models {a.models}` on {platform.machine()} ({platform.python_version()}): "
            "labels per second on one core per target, warm worker, models sampled from each task space "
            "(seeds 500+). Vela targets include per-layer parsing of the debug database.", "\n".join(lines))


if __name__ == "__main__":
    main()
