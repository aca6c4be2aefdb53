"""Compressed variants of published architectures: Vela against the shipped predictors, before and after.

    .venv/bin/python benchmarks/compression.py [--targets ethos-u55-128,ethos-u65-256] [--before DIR]

Models: the zoo and the TF-converter int8 fixtures of benchmarks/arbitrary_models.py, none of which any
space draws (the `compressed` space compresses the dataset spaces' architectures). Each gets every
variant family of issue 37 through `perfsage.compress` (weights only: graph, shapes and scales stay):
trained-like dense weights, magnitude pruning 50/80/90%, 16 and 4 levels, 50% pruning with 16 levels,
2:4 sparsity and 4 bits, all from trained-like dense weights, as a compressed model has them. Each
variant is labelled by Vela (cached in runs/compression/labels.json by model hash, target and tool
version) and predicted by the shipped predictor and, with --before, by the predictors in DIR/<target>
(the ones shipped before compression-aware prediction). Writes docs/results/compression.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402

from _results import publish  # noqa: E402
from arbitrary_models import labels, models  # noqa: E402
from perfsage.compress import LayerRecipe, Recipe, compress_model  # noqa: E402
from perfsage.predict import Predictor  # noqa: E402
from perfsage.predict.whatif import DENSE_SHAPE  # noqa: E402

CACHE = ROOT / "runs" / "compression" / "labels.json"
METRICS = ("flash_kib", "latency_ms")
TRAINED = {"draw": "trained", "draw_shape": DENSE_SHAPE}
VARIANTS: dict[str, LayerRecipe] = {
    "as written (uniform)": LayerRecipe(),
    "trained-like dense": LayerRecipe(**TRAINED),
    "prune 50%": LayerRecipe(sparsity=0.5, **TRAINED),
    "prune 80%": LayerRecipe(sparsity=0.8, **TRAINED),
    "prune 90%": LayerRecipe(sparsity=0.9, **TRAINED),
    "16 levels": LayerRecipe(clusters=16, **TRAINED),
    "4 levels": LayerRecipe(clusters=4, **TRAINED),
    "prune 50% + 16 levels": LayerRecipe(sparsity=0.5, clusters=16, **TRAINED),
    "2:4": LayerRecipe(structured="2:4", **TRAINED),
    "4 bits": LayerRecipe(bits=4, **TRAINED),
}


def variants() -> dict[tuple[str, str], bytes]:
    out = {}
    for name, data in models().items():
        for variant, recipe in VARIANTS.items():
            out[(name, variant)] = data if recipe.identity else compress_model(data, Recipe(recipe))[0]
    return out


def mape(pred: list[float], true: list[float]) -> float:
    p, t = np.asarray(pred), np.asarray(true)
    return float(100 * np.mean(np.abs(p - t) / t)) if len(t) else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", default="ethos-u55-128,ethos-u65-256")
    ap.add_argument("--before", type=Path, help="folder with the earlier predictors, one subfolder per target")
    a = ap.parse_args()
    data = variants()
    keys = list(data)
    flat = {f"{m}|{v}": b for (m, v), b in data.items()}
    cache = json.loads(CACHE.read_text()) if CACHE.is_file() else {}
    record: dict = {"host": platform.machine(), "targets": {}}
    sections, summary = [], []
    for target in a.targets.split(","):
        truth = labels(target, flat, cache, CACHE)  # the same labelling, its own cache file
        rows = [k for k in keys if f"{k[0]}|{k[1]}" in truth]
        blobs = [data[k] for k in rows]
        predictors = {"after": Predictor.load(target)}
        if a.before is not None and (a.before / target).is_dir():
            predictors = {"before": Predictor.load(a.before / target), **predictors}
        preds = {name: p.predict_many(blobs, layers=False) for name, p in predictors.items()}
        per_family: dict[str, dict] = {}
        for variant in VARIANTS:
            idx = [i for i, k in enumerate(rows) if k[1] == variant]
            fam = {"models": len(idx)}
            for m in METRICS:
                true = [truth[f"{rows[i][0]}|{variant}"][m] for i in idx]
                for name in preds:
                    fam[f"{name} {m}"] = mape([preds[name][i].metrics[m].value for i in idx], true)
                fam[f"true {m} vs as written"] = float(np.median(
                    [truth[f"{rows[i][0]}|{variant}"][m] / truth[f"{rows[i][0]}|as written (uniform)"][m]
                     for i in idx if f"{rows[i][0]}|as written (uniform)" in truth]))
            fam["after ood"] = sum(preds["after"][i].ood for i in idx)
            per_family[variant] = fam
        compressed = [i for i, k in enumerate(rows) if k[1] not in ("as written (uniform)", "trained-like dense")]
        overall = {f"{name} {m}": mape([preds[name][i].metrics[m].value for i in compressed],
                                       [truth[f"{rows[i][0]}|{rows[i][1]}"][m] for i in compressed])
                   for name in preds for m in METRICS}
        record["targets"][target] = {"families": per_family, "compressed": overall,
                                     "worst": _worst(rows, truth, preds["after"])}
        cols = [f"{name} {m}" for m in METRICS for name in preds]
        head = "| variant | models | Vela flash / as written | Vela latency / as written | " + \
            " | ".join(f"{c} MAPE %" for c in cols) + " | flagged OOD (after) |"
        lines = [head, "|---|---:|---:|---:|" + "---:|" * len(cols) + "---:|"]
        for variant, fam in per_family.items():
            lines.append(f"| {variant} | {fam['models']} | {fam['true flash_kib vs as written']:.2f} | "
                         f"{fam['true latency_ms vs as written']:.2f} | "
                         + " | ".join(f"{fam[c]:.1f}" for c in cols) + f" | {fam['after ood']} |")
        lines.append(f"| **all compressed** | {len(compressed)} | | | "
                     + " | ".join(f"**{overall[c]:.1f}**" for c in cols) + " | |")
        sections.append(f"## {target}\n\n" + "\n".join(lines))
        summary.append(f"{target}: compressed variants flash {overall['after flash_kib']:.1f}% / latency "
                       f"{overall['after latency_ms']:.1f}% MAPE"
                       + (f" (before: {overall['before flash_kib']:.1f}% / {overall['before latency_ms']:.1f}%)"
                          if "before flash_kib" in overall else ""))
    (ROOT / "docs" / "results" / "compression.json").write_text(json.dumps(record, indent=1))
    how = ("`benchmarks/compression.py" + (f" --before {a.before}" if a.before else "") + f" --targets {a.targets}`"
           f" on {platform.machine()}. {len({k[0] for k in keys})} published architectures (the zoo and the "
           "TF-converter int8 fixtures; no space draws them) in the variants of the first column, made by "
           "`perfsage compress` (weights only), labelled by Vela and predicted by the shipped predictor "
           "(*after*) and the one before compression-aware prediction (*before*). The two Vela columns are "
           "the median ratio of the variant's flash and latency to the model as written. Goal: flash and "
           "latency MAPE ≤ 5% on the compressed variants.")
    body = "\n".join(summary) + "\n\n" + "\n\n".join(sections)
    publish("compression", "Compressed weights: Vela against the predictors", how, body)


def _worst(rows, truth, preds) -> list[dict]:
    errs = []
    for (model, variant), p in zip(rows, preds, strict=True):
        t = truth[f"{model}|{variant}"]
        for m in METRICS:
            errs.append({"model": model, "variant": variant, "metric": m,
                         "error_pct": 100 * (p.metrics[m].value - t[m]) / t[m], "ood": p.ood})
    return sorted(errs, key=lambda e: -abs(e["error_pct"]))[:10]


if __name__ == "__main__":
    main()
