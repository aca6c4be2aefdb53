"""Accuracy of PerfSAGE and the four baselines on the same splits: docs/results/accuracy.md.

    .venv/bin/python benchmarks/accuracy.py --data data/edgedlperf [--targets ...] [--splits random,leave-out:kws]
        [--jobs 2] [--max-seconds 1500] [--loso-max-seconds 600] [--runs runs/accuracy]

Rows are predictors, columns target x metric (MAPE % and share within +-10%), one table per split.
Every estimator trains on the split's training part (early stopping on its validation part, neural ones
also within a wall-clock budget) and is scored on its test part. nn-Meter's kernel predictor needs
per-layer labels, so it appears only for Ethos-U latency and energy (and ethos-u55-128 flash, where the
dataset has Vela's per-operator flash). `perfsage (split)` is the ablation
with one network per metric group instead of one for all metrics, in the same time (random split only);
`perfsage (totals-only SRAM)` the ablation that ignores the per-operator SRAM labels (Vela's SRAM in use
while each operator runs) and learns the SRAM peak from the totals alone, as PerfSAGE did before the
dataset had them (random split only); `perfsage (totals-only flash)` likewise ignores the per-operator
flash labels (each operator's encoded weights and scales on Ethos-U55) and learns flash from the totals;
`perfsage (soft peak)` reads the SRAM peak with the soft maximum (T = 8) used where operators are not
labelled, instead of the sharp one (T = 64) that per-operator SRAM labels allow.
`leave-family-out:F` trains on every space the dataset holds without any model built from architecture
family F (perfsage.spaces.families: a task space, a stage of `mixed`, the base of a derived space) and
scores the zoo's published networks of F, labelled by the target's tool once per --runs (zoo/labels.json);
Ethos-U and mcu-tflm only.
`leave-out+random:S` leaves task space S out and trains on the other task spaces plus the random-graph
space (randgraph), which is shaped like no family: what generic graphs teach about an unseen space.
`leave-out+extra:S` leaves task space S out as `leave-out:S` does, but trains on every other space the
dataset holds (mixed, converter, unet, tinyvision too), as the shipped predictors do; the default splits
keep to the four task spaces.

Each (target, split, predictor) job runs in its own process and saves its scores under --runs; a rerun
skips finished jobs, so a killed run resumes, and results from several machines (a GPU host for the
networks, this one for cpu-litert) merge into one page. --publish-only rebuilds the page from --runs.
--merge PAGE.json adds an earlier page's job records to --runs where a job has none yet, so a partial
rerun replaces some cells of a published page and keeps the rest (the note should say which are which);
the earlier ablations of a perfsage job that --runs has anew are left out. --perfsage-hp '{"setting": value}'
changes the perfsage rows' network settings (an A/B of one setting; the job records say so; use a --runs
and --page of their own). --seed S (S > 0) runs the jobs again with another seed, into records of their own
beside seed 0's; a cell with several seeds shows their mean MAPE and its range.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import sys
import time
from concurrent.futures import as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from _results import RESULTS, publish  # noqa: E402
from perfsage.model.shipped import PERFSAGE_HP  # noqa: E402
from perfsage.model.shipped import PREDICTED_METRICS as TARGET_METRICS  # noqa: E402
from perfsage.process_pool import process_pool  # noqa: E402
from perfsage.spaces.families import ZOO_FAMILIES  # noqa: E402
from perfsage.targets.metrics import parts_of  # noqa: E402

SPLITS = ("random", "leave-out:classification", "leave-out:detection", "leave-out:kws", "leave-out:segmentation")
# The same task space left out, with every other space the dataset holds (mixed, converter, unet, tinyvision)
# in the training part too, as the shipped predictors have them: `leave-out+extra:kws`.
EXTRA_SPLITS = tuple(s.replace("leave-out:", "leave-out+extra:") for s in SPLITS if s.startswith("leave-out:"))
# The same task space left out, with the other task spaces and the random-graph space (randgraph: no family's
# shape, perfsage.spaces.families) in training: whether generic graphs teach what the left-out space needs.
# (The extra spaces are not: converter, compressed and precision models are task-space models rewritten,
# the left-out space's among them.)
RANDOM_SPLITS = tuple(s.replace("leave-out:", "leave-out+random:") for s in SPLITS if s.startswith("leave-out:"))
GENERIC_SPACES = ("randgraph",)
# Leave one architecture family out (perfsage.spaces.families): train on every space the dataset holds but
# without any model of the family, score the zoo's published networks of it: `leave-family-out:fire`.
FAMILY_SPLITS = tuple(f"leave-family-out:{f}" for f in dict.fromkeys(ZOO_FAMILIES.values()))
FAMILY_TARGETS = ("ethos-u55-128", "ethos-u65-256", "mcu-tflm")  # cpu-litert: labels depend on the host
ZOO_LABELS = "zoo/labels.json"  # in --runs: the zoo's labels per target, measured once before the jobs
PER_LAYER_TARGETS = ("ethos-u55-128", "ethos-u65-256")  # nn-Meter's kernels need per-layer labels
PART_TARGETS = tuple(t for t, ms in TARGET_METRICS.items() if any(parts_of(m) for m in ms))  # metrics.PARTS
# ablations that drop one metric's per-operator labels: row -> (metric, targets that label it per operator)
TOTALS_ONLY = {"perfsage (totals-only SRAM)": ("sram_kib", PER_LAYER_TARGETS),
               "perfsage (totals-only flash)": ("flash_kib", ("ethos-u55-128",))}
# ablations that change one setting of the network: row -> (settings, targets where it matters)
SETTINGS = {"perfsage (soft peak)": ({"peak_t": 8.0}, PER_LAYER_TARGETS),
            "brp-nas-gcn (parts)": ({"parts": True}, PART_TARGETS)}
ESTIMATOR_ORDER = ("perfsage", "brp-nas-gcn", "nn-meter-kernels", "gbdt", "flops")  # each with its ablations
ROWS = tuple(sorted(("perfsage", "perfsage (split)", *TOTALS_ONLY, *ESTIMATOR_ORDER[1:], *SETTINGS),
                    key=lambda row: ESTIMATOR_ORDER.index(row.split(" ")[0])))
NEURAL = ("perfsage", "perfsage (split)", *TOTALS_ONLY, *SETTINGS, "brp-nas-gcn")
ABLATIONS = ("perfsage (split)", *TOTALS_ONLY, *SETTINGS)  # random split only


RECORD_KEYS = ("target", "split", "row", "device", "seconds", "metrics")  # what page() reads of a job record


def checked(record: object, where: str) -> dict:
    """A job record, or a one-line exit naming where it came from: a page must not stop on a traceback."""
    missing = [k for k in RECORD_KEYS if k not in record] if isinstance(record, dict) else list(RECORD_KEYS)
    if missing or not isinstance(record["metrics"], dict):
        bad = ", ".join(missing) or "metrics"
        sys.exit(f"error: {where}: not an accuracy job record (missing or malformed: {bad})")
    return record


def read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        sys.exit(f"error: {path}: not readable JSON ({e})")


def write_record(runs: Path, record: dict) -> None:
    """Whole or not at all (a temporary file, then a rename): a killed run leaves no half record that a
    rerun would take for a finished job."""
    path = runs / f"{record_key(record)}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1, default=float))
    os.replace(tmp, path)


def job_key(target: str, split: str, row: str, seed: int = 0) -> str:
    """A job's record name; seed 0 keeps the name records had before --seed existed."""
    key = f"{target}__{split.replace(':', '-')}__{row.replace(' ', '').replace('(', '-').replace(')', '')}"
    return key + (f"__seed{seed}" if seed else "")


def record_key(record: dict, row: str | None = None) -> str:
    """The name of a job record's job (or of its `row` twin on the same target, split and seed)."""
    return job_key(record["target"], record["split"], row or record["row"], record.get("seed", 0))


def run_job(data: str, target: str, split: str, row: str, budget: float, threads: int, out: str,
            save_models: bool, seed: int = 0, perfsage_hp: dict | None = None) -> str:
    import torch

    from perfsage.model.data import is_additive, load_graphset
    from perfsage.model.evaluate import evaluate
    from perfsage.model.registry import estimator_class
    from perfsage.model.train import split_graphset
    from perfsage.spaces import TASK_SPACES

    torch.set_num_threads(threads)
    # the kernel predictor sums per-kernel parts: the additive metrics (it fits those with per-layer labels)
    metrics = [m for m in TARGET_METRICS[target] if row != "nn-meter-kernels" or is_additive(m)]
    extra = split.startswith("leave-out+extra:")
    family = split.split(":", 1)[1] if split.startswith("leave-family-out:") else None
    generic = split.startswith("leave-out+random:")
    spaces = None if extra or family else TASK_SPACES + GENERIC_SPACES if generic else TASK_SPACES
    gs = load_graphset(data, target, TARGET_METRICS[target], spaces=spaces)
    if family:
        tr, va = without_family(gs, data, family)
        te = zoo_test_set(Path(out), target, family, metrics)
    else:
        tr, va, te = split_graphset(gs, split.replace("leave-out+extra:", "leave-out:").replace(
            "leave-out+random:", "leave-out:"))
    if row in TOTALS_ONLY:
        drop = TOTALS_ONLY[row][0]
        tr = dataclasses.replace(tr, layer_values={m: v for m, v in tr.layer_values.items() if m != drop})
    kw: dict = {}
    if row in NEURAL:
        kw = {"epochs": 400, "patience": 40, "max_seconds": budget}
        if row.startswith("perfsage"):
            kw.update(PERFSAGE_HP)
        if row == "perfsage (split)":
            kw["grouping"] = "split"
        kw.update(SETTINGS.get(row, ({}, ()))[0])
        if row.startswith("perfsage"):
            kw.update(perfsage_hp or {})
        kw["resume"] = Path(out) / "partial" / job_key(target, split, row, seed)  # a killed job resumes mid-training
    if row != "flops":  # a least-squares fit: nothing random
        kw["seed"] = seed
    est = estimator_class(row.split(" ")[0])(metrics, **kw)
    t0 = time.time()
    est.fit(tr, va)
    history = getattr(est, "history", None) or []
    secs = max(time.time() - t0, history[-1]["seconds"] if history else 0.0)  # a resumed job counts its past
    rep = evaluate(est, te)
    if split != "random":  # out of the training distribution: do the flag and the interval say so?
        from perfsage.model.evaluate import flag_report

        rep["flags"] = flag_report(est, tr, va, te)
    device = "cuda" if row in NEURAL and torch.cuda.is_available() else "cpu"
    result = {"target": target, "split": split, "row": row, "seconds": round(secs, 1), "device": device,
              "threads": threads, "host": platform.node(), "seed": seed,
              **({"perfsage_hp": perfsage_hp} if perfsage_hp and row.startswith("perfsage") else {}),
              "n_train": len(tr), "n_val": len(va), **rep,
              "parts": list(getattr(est, "part_names", [])),  # predicted as the sum of these (metrics.PARTS)
              "epochs": len(history),
              "history": [{k: round(v, 4) for k, v in rec.items()} for rec in history]}  # per epoch: seconds, val
    if save_models and row == "perfsage" and split == "random":  # the predictor train_shipped.py adopts
        est.save(Path(out) / "models" / target)
    write_record(Path(out), result)
    if "resume" in kw:
        shutil.rmtree(kw["resume"], ignore_errors=True)
    return f"{split} {target} {row} {secs:.0f}s " + str({m: round(r["mape"], 2) for m, r in rep["metrics"].items()})


def without_family(gs, data: str, family: str):
    """The training and validation parts of a leave-family-out split: every model of the dataset but
    those built from `family` (perfsage.spaces.families), 90/10 by the random split's hash."""
    from perfsage.dataset.splits import make_split
    from perfsage.dataset.store import read_folder
    from perfsage.spaces.families import families_of

    archs = {r["id"]: r["arch"] for r in read_folder(Path(data) / "models", columns=["id", "arch"]).to_pylist()}
    keep = [i for i, sp in zip(gs.ids, gs.spaces, strict=True) if family not in families_of(
        sp, json.loads(archs[i]) if isinstance(archs[i], str) else archs[i])]
    part = gs.subset(keep)
    split = make_split("random", part.ids, part.spaces, test_fraction=0.0)
    return part.subset(split.train), part.subset(split.val)


def measure_zoo(runs: Path, targets: list[str]) -> dict:
    """The zoo's labels per target (measured by the target's tool, once, kept in --runs)."""
    from perfsage.spaces.zoo import build_zoo_model
    from perfsage.targets import get_target
    from perfsage.targets.base import TargetError

    path = runs / ZOO_LABELS
    path.parent.mkdir(parents=True, exist_ok=True)
    labels = json.loads(path.read_text()) if path.is_file() else {}
    for target in targets:
        todo = [n for n in ZOO_FAMILIES if n not in labels.get(target, {})]
        if not todo:
            continue
        tool = get_target(target)
        try:
            for name in todo:
                try:
                    labels.setdefault(target, {})[name] = tool.measure(build_zoo_model(name), per_layer=False).metrics
                except TargetError as e:  # scored without it; the record says so
                    labels.setdefault(target, {})[name] = {"error": str(e)}
                path.write_text(json.dumps(labels, indent=1))
        finally:
            tool.close()
    return labels


def zoo_test_set(runs: Path, target: str, family: str, metrics: list[str]):
    """The zoo's networks of `family` with their labels (measure_zoo) as a test part."""
    import numpy as np

    from perfsage.model.data import GraphSet
    from perfsage.predict.predictor import prepare
    from perfsage.spaces.families import zoo_members
    from perfsage.spaces.zoo import build_zoo_model

    labels = json.loads((runs / ZOO_LABELS).read_text())[target]
    names = [n for n in zoo_members(family) if "error" not in labels[n]]
    y = {m: np.array([labels[n].get(m, np.nan) for n in names], float) for m in metrics}
    return GraphSet([f"zoo:{n}" for n in names], ["zoo"] * len(names),
                    [prepare(build_zoo_model(n)).graph for n in names], y)


def plan(targets: list[str], splits: list[str], rows: list[str]) -> list[tuple[str, str, str]]:
    jobs = []
    for target in targets:
        for split in splits:
            for row in rows:
                if row == "nn-meter-kernels" and target not in PER_LAYER_TARGETS:
                    continue
                if split in FAMILY_SPLITS and target not in FAMILY_TARGETS:
                    continue
                if row in ABLATIONS and split != "random":
                    continue
                if row in TOTALS_ONLY and target not in TOTALS_ONLY[row][1]:
                    continue
                if row in SETTINGS and target not in SETTINGS[row][1]:
                    continue
                jobs.append((target, split, row))
    return jobs


def merge(earlier: Path, runs: Path) -> None:
    records = read_json(earlier)
    if not isinstance(records, list):
        sys.exit(f"error: {earlier}: not an accuracy page's JSON (not a list of job records)")
    records = [checked(r, f"{earlier} record {i}") for i, r in enumerate(records)]
    had = {p.stem for p in runs.glob("*.json")}  # before this merge adds any
    added = 0
    for record in records:
        # an ablation means something only beside the perfsage run it was measured with: where --runs has
        # a newer perfsage run, the earlier page's ablations of it are left out
        superseded = record["row"] in ABLATIONS and record_key(record, "perfsage") in had
        if record_key(record) not in had and not superseded:
            write_record(runs, record)
            added += 1
    print(f"{earlier}: {added} of {len(records)} job records added to {runs}", flush=True)


def cell(scores: list[dict]) -> str:
    """MAPE % / share within 10% of one predictor on one column; over several seeds, the means and the
    MAPE's range, since one leave-out run can sit 10-30 points from another seed's."""
    mape = [s["mape"] for s in scores]
    acc = sum(s["acc10"] for s in scores) / len(scores)
    spread = f" ({min(mape):.1f}–{max(mape):.1f})" if len(mape) > 1 else ""
    return f"{sum(mape) / len(mape):.2f}{spread} / {acc:.3f}"


def pooled(cells: list[dict], signal: str, precision: str) -> str:
    """"count | precision | recall" of a warning over flag_report cells: the cells it warns (`signal`), the
    misses among them (per cell, its `precision` times its count) against the misses of those cells."""
    warned, miss = sum(c[signal] for c in cells), sum(c["misses"] for c in cells)
    hit = sum(round((c[precision] or 0) * c[signal]) for c in cells)
    nan = float("nan")
    return f"{warned} | {hit / warned if warned else nan:.2f} | {hit / miss if miss else nan:.2f}"


def flag_lines(results: list[dict]) -> list[str]:
    """PerfSAGE's out-of-distribution flag against its misses (> 10%) on the leave-out splits, pooled over
    each target's metrics and seeds (model.evaluate.flag_report)."""
    rows = []
    for split in SPLITS[1:] + EXTRA_SPLITS + RANDOM_SPLITS + FAMILY_SPLITS:
        for target in TARGET_METRICS:
            recs = [r["flags"] for r in results if r["split"] == split and r["target"] == target
                    and r["row"] == "perfsage" and r.get("flags")]
            cells = [c for rec in recs for c in rec.values()]
            if not cells:
                continue
            n, miss = sum(c["n"] for c in cells), sum(c["misses"] for c in cells)
            scored = [c for c in cells if "wide" in c]  # older records did not score the interval
            wide = pooled(scored, "wide", "wide_precision") if scored else "n/a | n/a | n/a"
            rows.append(f"| {split} | {target} | {n} | {miss} | {pooled(cells, 'flagged', 'precision')} | {wide} |")
    if not rows:
        return []
    return ["## Does PerfSAGE say when it misses?", "",
            "Over (model, metric) cells of each leave-out test part: cells more than 10% off (*misses*), cells "
            "of models the out-of-distribution check flags (*flagged*), the share of flagged cells that miss "
            "(*precision*) and of misses that are flagged (*recall*); then the same for cells whose 90% interval "
            "reaches a miss (*interval wider than ±10%*: the interval does not promise 10%; over the jobs that "
            "recorded it).", "",
            "| split | target | cells | misses | flagged | precision | recall | interval wider than ±10% | "
            "precision | recall |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
            *rows, ""]


def page(runs: Path, data: str, note: str = "", name: str = "accuracy", history: bool = False) -> None:
    results = [checked(read_json(p), str(p)) for p in sorted(runs.glob("*.json"))]
    if not results:  # never overwrite a page with an empty one
        sys.exit(f"accuracy: {runs} holds no job records to publish")
    lines: list[str] = []
    several: set[int] = set()  # seeds per cell, where a cell has more than one
    for split in SPLITS + EXTRA_SPLITS + RANDOM_SPLITS + FAMILY_SPLITS:
        here = [r for r in results if r["split"] == split]
        if not here:
            continue
        cols = [(t, m) for t in TARGET_METRICS for m in TARGET_METRICS[t] if any(r["target"] == t for r in here)]
        lines += [f"## split `{split}`", "", "| predictor | " + " | ".join(f"{t} {m}" for t, m in cols) + " |",
                  "|---|" + "---:|" * len(cols)]
        for row in ROWS:
            runs_of = [r for r in here if r["row"] == row]
            if not runs_of:
                continue
            cells = []
            for t, m in cols:
                scores = [r["metrics"][m] for r in runs_of if r["target"] == t and m in r["metrics"]]
                cells.append(cell(scores) if scores else "n/a")
                if len(scores) > 1:
                    several.add(len(scores))
            lines.append(f"| {row} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += flag_lines(results)
    if several:
        lines += [f"A cell that ran with {' or '.join(map(str, sorted(several)))} seeds (`--seed`) shows the mean "
                  "MAPE over them, its range in brackets, and the mean share within ±10%.", ""]
    where = sorted({f"{r['row']}: {r['device']}" for r in results if r["row"] in NEURAL} |
                   {"baselines: cpu"})
    secs = {r["row"]: r["seconds"] for r in results if r["split"] == "random" and r["target"] == "ethos-u55-128"
            and not r.get("seed")}
    if secs:
        lines += ["Training seconds on ethos-u55-128, random split: " +
                  ", ".join(f"{k} {v:.0f}" for k, v in secs.items()) + ".", ""]
    lines += [note, ""] if note else []
    if history:  # how the neural networks got there, epoch by epoch
        for r in results:
            if r["row"] in NEURAL and r["split"] == "random" and r.get("history"):
                seed = f", seed {r['seed']}" if r.get("seed") else ""
                lines += [f"### {r['row']} on {r['target']}{seed}, epoch by epoch", "",
                          "| epoch | seconds | validation MAPE % (mean over metrics) |", "|---:|---:|---:|",
                          *(f"| {h['epoch']} | {h['seconds']:.0f} | {h.get('val_mape', float('nan')):.2f} |"
                            for h in r["history"]), ""]
    (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=1))
    publish(name, "Accuracy: PerfSAGE against four baselines",
            f"`benchmarks/accuracy.py` on `{os.path.relpath(data, ROOT)}`: MAPE % / share within ±10% on each "
            "split's test part "
            f"(devices: {'; '.join(where)}). Raw numbers (RMSPE, ±5%, Spearman, Kendall, per space, epochs, "
            f"seconds) in `{name}.json`.", "\n".join(lines).rstrip())


# settings every job gets from this script's own options, which --perfsage-hp must not silently replace
OWN_SETTINGS = {"seed": "--seed", "max_seconds": "--max-seconds / --loso-max-seconds", "resume": "--runs"}


def perfsage_settings(text: str) -> dict:
    """--perfsage-hp as a dict of PerfSAGE network settings, or a one-line exit."""
    try:
        hp = json.loads(text)
    except ValueError as e:
        sys.exit(f"accuracy: --perfsage-hp is not JSON ({e})")
    if not isinstance(hp, dict):
        sys.exit("accuracy: --perfsage-hp must be a JSON object of PerfSAGE settings")
    if not hp:
        return hp  # the default: nothing to check, and no torch import for a --publish-only
    if own := [k for k in hp if k in OWN_SETTINGS]:
        sys.exit(f"accuracy: --perfsage-hp: set {', '.join(own)} with {', '.join(OWN_SETTINGS[k] for k in own)}")
    from perfsage.model.perfsage import PerfSAGENetModel

    try:
        PerfSAGENetModel(["latency_ms"], **hp)
    except (TypeError, ValueError) as e:
        sys.exit(f"accuracy: --perfsage-hp: {e}")
    return hp


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT / "data" / "edgedlperf"))
    ap.add_argument("--targets", default=",".join(TARGET_METRICS))
    ap.add_argument("--splits", default=",".join(SPLITS))
    ap.add_argument("--rows", default=",".join(ROWS))
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--max-seconds", type=float, default=1500, help="neural budget, random split")
    ap.add_argument("--loso-max-seconds", type=float, default=600, help="neural budget, leave-out splits")
    ap.add_argument("--runs", default=str(ROOT / "runs" / "accuracy"))
    ap.add_argument("--publish-only", action="store_true")
    ap.add_argument("--note", default="", help="a paragraph for the page: where and how the jobs ran")
    ap.add_argument("--save-models", action="store_true", help="keep the random-split PerfSAGE checkpoints")
    ap.add_argument("--threads", type=int, default=0, help="torch threads per job (default: cores / jobs)")
    ap.add_argument("--page", default="accuracy", help="docs/results/<page>.md (a partial rerun: another name)")
    ap.add_argument("--history", action="store_true", help="add each random-split network's per-epoch table")
    ap.add_argument("--seed", type=int, default=0, help="the networks' initialisation and batch order (every "
                    "seed splits the data alike, so the rows keep the same test models)")
    ap.add_argument("--merge", action="append", default=[],
                    help="an earlier page's JSON: its job records fill the jobs --runs has no record of")
    ap.add_argument("--perfsage-hp", default="{}", help="JSON: settings for the perfsage rows' networks "
                    "(an A/B of one setting, e.g. '{\"node_context\": \"additive\"}'; give it a --runs of its own)")
    a = ap.parse_args()
    perfsage_hp = perfsage_settings(a.perfsage_hp)
    if a.seed < 0:  # numpy's generators take none, and a job would only say so in a traceback
        sys.exit(f"accuracy: --seed must be 0 or more, not {a.seed}")
    targets, splits, rows = a.targets.split(","), a.splits.split(","), a.rows.split(",")
    all_splits = SPLITS + EXTRA_SPLITS + RANDOM_SPLITS + FAMILY_SPLITS
    for kind, names, known in (("target", targets, TARGET_METRICS), ("split", splits, all_splits),
                               ("row", rows, ROWS)):
        if unknown := [n for n in names if n not in known]:
            sys.exit(f"accuracy: unknown {kind} {', '.join(map(repr, unknown))} (one of {', '.join(known)})")
    runs = Path(a.runs)
    runs.mkdir(parents=True, exist_ok=True)
    for earlier in a.merge:
        merge(Path(earlier), runs)
    if not a.publish_only:
        from perfsage.dataset.store import label_targets, read_manifest
        from perfsage.errors import PerfsageError

        try:
            read_manifest(Path(a.data))
        except PerfsageError as e:
            sys.exit(f"accuracy: {e}")
        built = set(label_targets(Path(a.data)))
        todo = [j for j in plan([t for t in targets if t in built], splits, rows)
                if not (runs / f"{job_key(*j, a.seed)}.json").is_file()]
        todo.sort(key=lambda j: j[2] not in NEURAL)  # the long jobs first
        if any(s in FAMILY_SPLITS for _, s, _ in todo):
            measure_zoo(runs, sorted({t for t, s, _ in todo if s in FAMILY_SPLITS}))
        threads = a.threads or max(1, (os.cpu_count() or 1) // a.jobs)
        print(f"{len(todo)} jobs, {a.jobs} at a time, {threads} threads each", flush=True)
        with process_pool(a.jobs, spawn=True) as ex:
            futs = [ex.submit(run_job, a.data, t, s, r, a.max_seconds if s == "random" else a.loso_max_seconds,
                              threads, str(runs), a.save_models, a.seed, perfsage_hp) for t, s, r in todo]
            for f in as_completed(futs):
                print(f.result(), flush=True)
    page(runs, a.data, a.note, a.page, a.history)


if __name__ == "__main__":
    main()
