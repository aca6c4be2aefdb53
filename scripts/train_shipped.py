"""Train the PerfSAGE predictors shipped inside the package, each with a model card.

    .venv/bin/python scripts/train_shipped.py --data data/edgedlperf [--targets ...] [--epochs 80]

For each target: train on the random split's training part (early stopping on its validation part),
score on its test part, and write src/perfsage/data/predictors/<target>/ (weights.safetensors,
config.json, training.json, MODEL_CARD.md). Reproducible: seeds are fixed and the data hash is recorded.
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

import torch  # noqa: E402

from perfsage.dataset import provenance  # noqa: E402
from perfsage.model.evaluate import evaluate  # noqa: E402
from perfsage.model.train import train  # noqa: E402
from perfsage.targets.metrics import METRICS  # noqa: E402

SHIPPED = {"ethos-u55-128": ["latency_ms", "energy_mj", "sram_kib", "flash_kib"],
           "ethos-u65-256": ["latency_ms", "energy_mj", "sram_kib", "flash_kib"],
           "cpu-litert": ["latency_ms", "peak_heap_kib"], "mcu-tflm": ["arena_kib"]}


def card(target: str, info: dict, scores: dict, prov: dict) -> str:
    rows = "\n".join(f"| {m} | {METRICS[m].unit} | {r['mape']:.2f} | {r['rmspe']:.2f} | {r['acc5']:.3f} | "
                     f"{r['acc10']:.3f} | {r['spearman']:.4f} |" for m, r in scores["metrics"].items())
    tool = ", ".join(f"{k} `{prov[k]}`" for k in ("tool", "version", "system_config", "memory_mode") if k in prov)
    return f"""# PerfSAGE predictor for `{target}`

- **Data**: `{info['data']}`, {info['n_train']:,} training / {info['n_val']:,} validation / {info['n_test']:,} test
  models, `{info['split']}` split (seed {info['seed']}), training data hash `{info['data_hash']}`.
- **Labels**: {tool}.
- **Training**: {info['train_seconds']:.0f} s on {platform.machine()} ({torch.get_num_threads()} threads), PyTorch
  {torch.__version__}; early stopping on validation MAPE.
- **Test scores** (MAPE/RMSPE in %, accuracies as fractions):

| metric | unit | MAPE | RMSPE | ±5% | ±10% | Spearman |
|---|---|---:|---:|---:|---:|---:|
{rows}

Per space: see `training.json`. Outside the training distribution (operators the search spaces never
generate, or features beyond the training range) errors grow; `perfsage predict` flags such models.
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT / "data" / "edgedlperf"))
    ap.add_argument("--targets", default=",".join(SHIPPED))
    ap.add_argument("--epochs", type=int, default=80)
    a = ap.parse_args()
    for target in a.targets.split(","):
        out = ROOT / "src" / "perfsage" / "data" / "predictors" / target
        t0 = time.time()
        est, info = train(a.data, target, out, SHIPPED[target], "perfsage", "random", 0,
                          log=lambda r, t=target: print(t, r, flush=True), epochs=a.epochs)
        from perfsage.model.data import load_graphset
        from perfsage.model.train import split_graphset

        _, _, test = split_graphset(load_graphset(a.data, target, SHIPPED[target]), "random", 0)
        scores = evaluate(est, test)
        info["test"] = scores
        (out / "training.json").write_text(json.dumps(info, indent=1))
        (out / "MODEL_CARD.md").write_text(card(target, info, scores, provenance(a.data, target)))
        print(target, f"{time.time() - t0:.0f}s", {m: round(r["mape"], 2) for m, r in scores["metrics"].items()})


if __name__ == "__main__":
    main()
