"""A shipped predictor's test MAPE as `perfsage predict` serves it (the compressed-model expert included),
per group of its test split: the dense task spaces, the compressed space, the random graphs.

    .venv/bin/python scripts/served_scores.py ethos-u55-128

`perfsage evaluate --target T` scores the main network alone; the README's "shipped predictor" rows are
these served numbers. Twin rules are not applied (they need each model's dense counterpart).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402

from perfsage.model.shipped import PREDICTED_METRICS, shipped_test_set  # noqa: E402
from perfsage.predict.predictor import Predictor  # noqa: E402

GROUPS = {"dense task spaces": None, "compressed": "compressed", "randgraph": "randgraph"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("target", choices=sorted(PREDICTED_METRICS))
    a = ap.parse_args()
    metrics = PREDICTED_METRICS[a.target]
    test = shipped_test_set(a.target, metrics)
    predictor = Predictor.load(a.target)
    pred = {m: np.zeros(len(test)) for m in metrics}
    for s in range(0, len(test), 256):
        values = predictor.network_totals(test.graphs[s:s + 256])
        for m in metrics:
            pred[m][s:s + 256] = values[m]
    spaces = np.array(test.spaces)
    for name, space in GROUPS.items():
        sel = ~np.isin(spaces, [s for s in GROUPS.values() if s]) if space is None else spaces == space
        if sel.any():
            mape = [100 * np.mean(np.abs(pred[m][sel] / test.y[m][sel] - 1)) for m in metrics]
            print(f"{a.target} {name} ({int(sel.sum())} models): " + " / ".join(f"{v:.2f}" for v in mape)
                  + f"  ({' / '.join(metrics)})")


if __name__ == "__main__":
    main()
