"""Decides, on validation models, whether a shipped predictor reads a metric of compressed models through
their dense twin (perfsage.predict.twin), and writes the choice into its folder's twin.json.

    .venv/bin/python scripts/choose_twin.py ethos-u65-256 --metric flash_kib --saving-from ethos-u55-128 \\
        [--models 300] [--dry-run]

The models are the compressed-space models of the random split's validation part (seed 0) that carry the
metric's label: never the test part the model card reports, nor the published networks of
benchmarks/compression.py. The rule is kept only where it lowers the validation MAPE; otherwise any
earlier rule for the metric is removed. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402

from perfsage.model.data import load_graphset  # noqa: E402
from perfsage.model.scores import regression_report  # noqa: E402
from perfsage.model.shipped import predictor_dir  # noqa: E402
from perfsage.model.train import split_graphset  # noqa: E402
from perfsage.predict import Predictor  # noqa: E402
from perfsage.predict.expert import update_card  # noqa: E402
from perfsage.predict.predictor import prepare_many  # noqa: E402
from perfsage.predict.twin import TwinRule, load_rules, save_rules  # noqa: E402
from perfsage.spaces import get_space  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("target")
    ap.add_argument("--metric", default="flash_kib")
    ap.add_argument("--saving-from", required=True)
    ap.add_argument("--models", type=int, default=300, help="at most this many validation models")
    ap.add_argument("--dry-run", action="store_true")
    a = ap.parse_args()
    _, val, _ = split_graphset(load_graphset(ROOT / "data" / "edgedlperf", a.target, [a.metric]), "random", 0)
    rows = [k for k, s in enumerate(val.spaces) if s == "compressed" and np.isfinite(val.y[a.metric][k])]
    rows = rows[:a.models]
    space = get_space("compressed")
    blobs = [space.synth(int(val.ids[k].rsplit("-", 1)[1]))[1] for k in rows]
    prepared = prepare_many(blobs, twins=True)
    true = np.asarray([val.y[a.metric][k] for k in rows])
    predictor = Predictor.load(a.target)
    candidate = TwinRule(a.metric, a.saving_from, {})
    scores = {}
    for name, rules in (("direct", []), ("twin", [candidate])):
        predictor.twin_rules = rules
        pred = [p.metrics[a.metric].value for p in predictor.predict_many(prepared, layers=False)]
        scores[name] = round(regression_report(true, np.asarray(pred))["mape"], 3)
    keep = scores["twin"] < scores["direct"]
    folder = predictor_dir(a.target)
    rules = [r for r in load_rules(folder) if r.metric != a.metric]
    if keep:
        rules.append(TwinRule(a.metric, a.saving_from, {
            "validation_compressed_models": len(rows), "mape_direct": scores["direct"], "mape_twin": scores["twin"],
            "with_twin": sum(p.twin is not None for p in prepared), "how": "scripts/choose_twin.py"}))
    if not a.dry_run:
        save_rules(folder, rules)
        update_card(folder)
    print(json.dumps({"target": a.target, "metric": a.metric, "saving_from": a.saving_from, "models": len(rows),
                      **scores, "kept": keep, "written": not a.dry_run}))


if __name__ == "__main__":
    main()
