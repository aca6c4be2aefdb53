"""An A/B of PerfSAGE settings from accuracy.py's job records: each arm's MAPE, bias and share within ±10%
per split, target and metric, the mean over the seeds it ran with their range, arm beside arm.

    .venv/bin/python benchmarks/ablation.py --arm "plain=runs/a,runs/b" --arm "prior=runs/c" \\
        --page prior_ablation --title "..." [--note "..."]

Writes docs/results/<page>.md and, with the arms' job records, <page>.json.

An arm is a name and the accuracy.py --runs folders that hold its jobs (their perfsage rows, any seed).
Bias is the median signed error (perfsage.model.scores): a cell whose |bias| is near its MAPE is one
factor off on every model of the split.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from _results import publish  # noqa: E402


def records(folders: list[Path]) -> list[dict]:
    out = []
    for folder in folders:
        if not folder.is_dir():
            sys.exit(f"ablation: no run folder {folder}")
        for f in sorted(folder.glob("*__perfsage*.json")):
            rec = json.loads(f.read_text())
            if rec.get("row") == "perfsage" and isinstance(rec.get("metrics"), dict):
                out.append(rec)
    return out


def cell(recs: list[dict], metric: str) -> str:
    vals = [r["metrics"][metric] for r in recs if metric in r["metrics"]]
    if not vals:
        return "n/a"
    mape = [v["mape"] for v in vals]
    text = f"{sum(mape) / len(mape):.2f}"
    if len(mape) > 1:
        text += f" ({min(mape):.1f}–{max(mape):.1f})"
    bias = [v["bias"] for v in vals if "bias" in v]
    if bias:
        text += f" / {sum(bias) / len(bias):+.1f}"
    return text + f" / {sum(v['acc10'] for v in vals) / len(vals):.2f}"


def table(arms: dict[str, list[dict]]) -> str:
    cells = sorted({(r["split"], r["target"]) for recs in arms.values() for r in recs})
    lines = []
    for split, target in cells:
        metrics = list(dict.fromkeys(m for recs in arms.values() for r in recs
                                     if (r["split"], r["target"]) == (split, target) for m in r["metrics"]))
        lines += [f"### `{split}`, {target}", "",
                  "| arm | seeds | epochs | " + " | ".join(metrics) + " |",
                  "|---|---|---:|" + "---:|" * len(metrics)]
        for name, recs in arms.items():
            mine = sorted((r for r in recs if (r["split"], r["target"]) == (split, target)),
                          key=lambda r: r.get("seed", 0))
            if not mine:
                continue
            seeds = ",".join(str(r.get("seed", "?")) for r in mine)
            epochs = ",".join(str(r.get("epochs", "?")) for r in mine)
            lines.append(f"| {name} | {seeds} | {epochs} | " + " | ".join(cell(mine, m) for m in metrics) + " |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--arm", action="append", required=True, help="NAME=RUNS[,RUNS...]")
    ap.add_argument("--page", required=True)
    ap.add_argument("--title", required=True)
    ap.add_argument("--note", default="")
    a = ap.parse_args()
    arms: dict[str, list[dict]] = {}
    for spec in a.arm:
        name, sep, folders = spec.partition("=")
        if not sep or not folders:
            sys.exit(f"ablation: --arm {spec!r} is not NAME=RUNS[,RUNS...]")
        arms[name] = records([Path(f) for f in folders.split(",")])
        if not arms[name]:
            sys.exit(f"ablation: arm {name} has no perfsage job records")
    how = ("`benchmarks/ablation.py` over `benchmarks/accuracy.py` job records. Each cell: MAPE % (the range "
           "over seeds) / median signed error % (bias) / share within ±10%, averaged over the seeds the arm ran. "
           + a.note).strip()
    how += f" Job records (without their per-epoch history): `{a.page}.json`."
    out = publish(a.page, a.title, how, table(arms))
    kept = {name: [{k: v for k, v in r.items() if k != "history"} for r in recs] for name, recs in arms.items()}
    out.with_suffix(".json").write_text(json.dumps(kept, indent=1))


if __name__ == "__main__":
    main()
