"""Test-split MAPE of predictors on the dense test models (every space but `compressed`) and the
compressed ones, so a change for compressed weights can be checked for no loss on dense models.

    .venv/bin/python scripts/score_dense_compressed.py ethos-u65-256 runs/predictors_before/ethos-u65-256 \\
        src/perfsage/data/predictors/ethos-u65-256

Each predictor directory is scored on the random split's test part (seed 0) of data/edgedlperf; one JSON
line per predictor: {"dense": [MAPE per metric], "compressed": [...], "per_space": {...}}. Compressed
models are scored as the predictor serves them (its compressed-model expert, perfsage.predict.expert);
twin rules need the model's bytes and are left out here (scripts/choose_twin.py scores them).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402

from perfsage.model.data import load_graphset  # noqa: E402
from perfsage.model.scores import regression_report  # noqa: E402
from perfsage.model.shipped import PREDICTED_METRICS  # noqa: E402
from perfsage.model.train import split_graphset  # noqa: E402
from perfsage.predict import Predictor  # noqa: E402


def mape(pred: np.ndarray, true: np.ndarray) -> float | None:
    """None where no model of the selection has a label."""
    r = regression_report(true, pred)
    return round(r["mape"], 2) if r["n"] else None


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    target, dirs = sys.argv[1], sys.argv[2:]
    metrics = PREDICTED_METRICS[target]
    _, _, test = split_graphset(load_graphset(ROOT / "data" / "edgedlperf", target, metrics), "random", 0)
    spaces = np.array(test.spaces)
    for d in dirs:
        pred = Predictor.load(Path(d)).network_totals(test.graphs)  # with its compressed-model expert
        row = {"predictor": d, "metrics": metrics}
        for name, sel in (("dense", spaces != "compressed"), ("compressed", spaces == "compressed")):
            row[name] = [mape(pred[m][sel], test.y[m][sel]) for m in metrics]
            row[f"{name}_models"] = int(sel.sum())
        row["per_space"] = {s: [mape(pred[m][spaces == s], test.y[m][spaces == s]) for m in metrics]
                            for s in sorted(set(spaces))}
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
