"""How far the peak readout alone is from Vela's SRAM total, given perfect per-operator predictions.

    .venv/bin/python benchmarks/peak_readout.py [--data data/edgedlperf] [--target ethos-u55-128]

PerfSAGE reads a peak metric as a smooth maximum over its operators' predicted log memory: the
softmax(T z)-weighted mean of z. Fed the true per-operator labels (Vela's SRAM in use while each operator
runs, whose maximum is the total), the readout should give the total back; how far below it lands is an
error the network's graph-level correction has to learn away. Prints, per task space and T, the mean
absolute and the mean signed percentage error against the total, over every model whose operators are
labelled: docs/results/peak_readout.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from _results import publish  # noqa: E402

TEMPERATURES = (8.0, 16.0, 32.0, 64.0)


def boltzmann(z: np.ndarray, t: float) -> float:
    e = np.exp(t * (z - z.max()))
    return float((e * z).sum() / e.sum())


def main() -> None:
    from perfsage.model.data import load_graphset
    from perfsage.model.perfsage import PEAK_T, SHARP_PEAK_T
    from perfsage.spaces import TASK_SPACES

    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT / "data" / "edgedlperf"))
    ap.add_argument("--target", default="ethos-u55-128")
    ap.add_argument("--metric", default="sram_kib")
    args = ap.parse_args()
    gs = load_graphset(args.data, args.target, [args.metric], spaces=TASK_SPACES)
    per_op = gs.layer_values.get(args.metric)
    if per_op is None:
        sys.exit(f"{args.target} has no per-operator {args.metric} labels in {args.data}")
    errors: dict[tuple[str, float], list[float]] = {}
    n = 0
    for space, v, total in zip(gs.spaces, per_op, gs.y[args.metric], strict=True):
        if v is None or not np.isfinite(v).any():
            continue
        n += 1
        z = np.log(v[np.isfinite(v) & (v > 0)])
        for t in TEMPERATURES:
            errors.setdefault((space, t), []).append(np.exp(boltzmann(z, t)) / total - 1)
    spaces = sorted({s for s, _ in errors})
    lines = ["| T | " + " | ".join(spaces) + " | all |", "|---:|" + "---:|" * (len(spaces) + 1)]
    for t in TEMPERATURES:
        cells = []
        for group in [[s] for s in spaces] + [spaces]:
            e = np.concatenate([errors[(s, t)] for s in group]) * 100
            cells.append(f"{np.mean(np.abs(e)):.2f} ({np.mean(e):+.2f})")
        mark = " (soft: totals only)" if t == PEAK_T else " (sharp: per-operator labels)" if t == SHARP_PEAK_T else ""
        lines.append(f"| {t:g}{mark} | " + " | ".join(cells) + " |")
    publish("peak_readout", "The peak readout fed the true per-operator memory",
            f"`benchmarks/peak_readout.py --target {args.target} --metric {args.metric}` on {args.data}: {n} "
            f"models of the task spaces with per-operator labels. Mean absolute % error of the readout against "
            f"the total (mean signed error in brackets; the readout never exceeds the largest operator).",
            "\n".join(lines))


if __name__ == "__main__":
    main()
