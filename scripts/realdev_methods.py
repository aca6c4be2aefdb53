"""Choose the few-shot adaptation method on devices that are neither pretraining nor test devices.

    .venv/bin/python scripts/realdev_methods.py [--spaces nasbench201,fbnet] [--seeds 10]

HELP's protocol names meta-train devices (the base learns from them) and meta-test devices (scored).
The remaining devices of each table are a validation set: choosing the adapter by its meta-test score
would tune on the test. Each variant adapts to every validation device from 10 architectures drawn from
HELP's trimmed pool (seeds 0..N-1) and is scored on HELP's trimmed test set, as the benchmark scores
the meta-test devices. Uses the bases `perfsage realdev` pretrains (runs/realdev/, same budgets).
Writes docs/results/real_devices_methods.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from perfsage.realdev.adapt import EnsembleFit, fit_closest, fit_ensemble, fit_ridge, loo_candidates  # noqa: E402
from perfsage.realdev.protocol import base_view_of_table, pretrained_base, scores  # noqa: E402
from perfsage.realdev.tables import META_TEST, META_TRAIN, help_split, load_table  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from _results import publish  # noqa: E402


def candidates(view, y_log, closest: bool = False):
    return loo_candidates(view, y_log) + ([fit_closest(view.log_pred, y_log)] if closest else [])


def top(k, closest: bool = False):
    return lambda view, y: EnsembleFit(sorted(candidates(view, y, closest), key=lambda f: f.loo_rmse)[:k])


VARIANTS = {
    "ridge": lambda view, y: fit_ridge(view.log_pred, y),
    "closest": lambda view, y: fit_closest(view.log_pred, y),
    "additive (best head by LOO)": top(1),
    "best 2 by LOO": top(2),
    "best 3 by LOO (the default before)": top(3),
    "best 5 by LOO": top(5),
    "all of them": lambda view, y: EnsembleFit(candidates(view, y)),
    "best 3 by LOO, closest a candidate": top(3, True),
    "best 3 + closest": lambda view, y: EnsembleFit([*top(3)(view, y).members, fit_closest(view.log_pred, y)]),
    "best 3 + closest + ridge (`ensemble`, the default)": fit_ensemble,
}


def study(space: str, seeds: int) -> tuple[list[str], dict[str, dict[str, list[float]]]]:
    table = load_table(space)
    base, path = pretrained_base(space, list(META_TRAIN[space]), 0)
    view = base_view_of_table(base, path, space, table)
    devices = [d for d in table.devices if d not in META_TRAIN[space] and d not in META_TEST[space]]
    out: dict[str, dict[str, list[float]]] = {v: {} for v in VARIANTS}
    for d in devices:
        pool, test = help_split(table, d)
        y = table.column(d)
        for seed in range(seeds):
            chosen = np.random.default_rng(seed).choice(pool, 10, replace=False)
            for name, fit in VARIANTS.items():
                f = fit(view.take(chosen), np.log(y[chosen]))
                out[name].setdefault(d, []).append(scores(np.exp(f.predict_log(view.take(test))), y[test])["spearman"])
        print(space, d, {n: round(float(np.mean(v[d])), 3) for n, v in out.items()}, flush=True)
    return devices, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spaces", default="nasbench201,fbnet")
    ap.add_argument("--seeds", type=int, default=10)
    a = ap.parse_args()
    body = []
    for space in a.spaces.split(","):
        devices, res = study(space, a.seeds)
        body += [f"## {space}: {len(devices)} validation devices, Spearman (mean of {a.seeds} draws)", "",
                 "| variant | " + " | ".join(devices) + " | mean | worst |",
                 "|---|" + "---:|" * (len(devices) + 2)]
        for name, per in res.items():
            rho = [float(np.mean(per[d])) for d in devices]
            body.append(f"| {name} | " + " | ".join(f"{v:.3f}" for v in rho) +
                        f" | **{np.mean(rho):.3f}** | {min(rho):.3f} |")
        body.append("")
    publish("real_devices_methods", "Choosing the few-shot adapter on validation devices",
            f"`scripts/realdev_methods.py --spaces {a.spaces} --seeds {a.seeds}`: every device of the table "
            "that is neither a HELP meta-train device (the base learns from those) nor a meta-test device "
            "(the benchmark scores those), adapted from 10 architectures drawn from HELP's trimmed pool, "
            "scored on HELP's trimmed test set. The bases are the ones `perfsage realdev` pretrains. "
            "Candidates of the LOO-ranked ensembles: ridge and every head's additive fit.",
            "\n".join(body))


if __name__ == "__main__":
    main()
