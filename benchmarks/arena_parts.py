"""Why PerfSAGE predicts TFLite Micro's arena as a planned head plus a summed tail, checked on the labels.

    .venv/bin/python benchmarks/arena_parts.py [--data data/edgedlperf]

Every mcu-tflm label's provenance keeps the arena's two parts (perfsage.targets.metrics.PARTS): the head,
where TFLite Micro's memory planner lays out activations and kernel scratch, and the tail, what stays
allocated for the whole run. PerfSAGE anchors the head to a graph feature, the greedy-by-size offset
plan the frontend computes (perfsage.model.data.PART_ANCHORS), and learns only a correction to it. This
prints, per space: how far that plan is from the measured head; whether the parts add up to the arena;
how large the tail is (what a model of the plan alone would miss); and writes
docs/results/arena_parts.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from _results import publish  # noqa: E402

METRIC = "arena_kib"


def main() -> None:
    from perfsage.errors import PerfsageError
    from perfsage.graph.encode import graph_feature_values
    from perfsage.model.data import PART_ANCHORS, load_graphset
    from perfsage.targets.metrics import parts_of

    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT / "data" / "edgedlperf"))
    args = ap.parse_args()
    try:
        gs = load_graphset(args.data, "mcu-tflm", [METRIC])
    except PerfsageError as e:
        sys.exit(f"arena_parts: {e}")
    head_part, tail_part = parts_of(METRIC)
    if head_part.name not in gs.parts:
        sys.exit(f"{args.data}: the mcu-tflm labels keep no arena parts in their provenance (relabel them)")
    feature, scale = PART_ANCHORS[head_part.name]
    arena, head, tail = gs.y[METRIC], gs.parts[head_part.name], gs.parts[tail_part.name]
    plan = graph_feature_values(gs.graphs, feature) * scale
    known = np.isfinite(arena) & np.isfinite(head) & np.isfinite(tail)
    spaces = np.array(gs.spaces)
    rows = ["| space | models | median arena KiB | plan vs head: max / mean abs rel. error | head + tail vs arena: "
            "max abs rel. error | tail share of arena: mean (min-max) | plan alone vs arena: MAPE % |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    groups = [(s, known & (spaces == s)) for s in sorted(set(gs.spaces))] + [("all", known)]
    for name, sel in groups:
        a, h, t, p = arena[sel], head[sel], tail[sel], plan[sel]
        plan_err = np.abs(p / h - 1)
        share = t / a
        rows.append(f"| {name} | {sel.sum():,} | {np.median(a):,.1f} | {plan_err.max():.1e} / {plan_err.mean():.1e} | "
                    f"{np.abs((h + t) / a - 1).max():.1e} | {100 * share.mean():.1f}% "
                    f"({100 * share.min():.1f}-{100 * share.max():.1f}%) | {100 * np.mean(np.abs(p / a - 1)):.2f} |")
    publish("arena_parts", "TFLite Micro's arena: the planned head and the persistent tail",
            f"`benchmarks/arena_parts.py --data {args.data}`: every model with an mcu-tflm label ({known.sum():,}; "
            f"{(~known).sum():,} lack the parts). The plan is the graph feature `{feature}` (float32, so about "
            f"1e-7 relative rounding) in KiB; head and tail are TFLite Micro's RecordingMicroAllocator figures "
            f"from each label's provenance.", "\n".join(rows))


if __name__ == "__main__":
    main()
