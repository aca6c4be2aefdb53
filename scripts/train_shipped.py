"""Train (or adopt) the PerfSAGE predictors shipped inside the package, each with a model card.

    .venv/bin/python scripts/train_shipped.py --data data/edgedlperf --targets ethos-u55-128 --max-seconds 1800
    .venv/bin/python scripts/train_shipped.py --targets mcu-tflm --adopt runs/shipped-gpu
    .venv/bin/python scripts/train_shipped.py --targets ethos-u65-256 --recalibrate
    .venv/bin/python scripts/train_shipped.py --refresh-test-graphs

Training: the random split's training part (seed 0), early stopping on its validation part, within a
wall-clock budget. Adopting: a checkpoint that `benchmarks/accuracy.py --save-models` trained on the same
split elsewhere (a GPU host); its job record (seconds, device) goes into the card. Either way the
predictor is scored here on the split's test part, and src/perfsage/data/predictors/<target>/ gets the
weights, config.json, training.json, MODEL_CARD.md, the test labels `perfsage evaluate` re-scores on, and
what `perfsage predict` serves with: domain.json (the training part's op types and feature ranges) and
calibration.json (conformal interval bounds from the validation part; coverage checked on the test part).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import torch  # noqa: E402

from perfsage.dataset import provenance  # noqa: E402
from perfsage.model.calibration import Calibration  # noqa: E402
from perfsage.model.data import data_hash, load_graphset  # noqa: E402
from perfsage.model.distance import EmbeddingDistance  # noqa: E402
from perfsage.model.evaluate import evaluate  # noqa: E402
from perfsage.model.perfsage import PerfSAGE  # noqa: E402
from perfsage.model.registry import load_estimator  # noqa: E402
from perfsage.model.shipped import PERFSAGE_HP, PREDICTORS, refresh_test_graphs, write_test_labels  # noqa: E402
from perfsage.model.shipped import PREDICTED_METRICS as SHIPPED  # noqa: E402
from perfsage.model.train import split_graphset, write_host_record, write_serving_files  # noqa: E402
from perfsage.predict.expert import EXPERT_DIR, calibrate_compressed, update_card  # noqa: E402
from perfsage.predict.twin import TWIN_FILE  # noqa: E402
from perfsage.spaces import GENERATOR_VERSION, TASK_SPACES  # noqa: E402
from perfsage.targets.metrics import METRICS  # noqa: E402


def card(target: str, info: dict, scores: dict, prov: dict) -> str:
    iv = scores["interval"]
    bands = (f",\n  separately for each of {iv['bands']} bands of a model's distance to the training models"
             if iv.get("bands", 1) > 1 else "")
    rows = "\n".join(f"| {m} | {METRICS[m].unit} | {r['mape']:.2f} | {r['rmspe']:.2f} | {r['acc5']:.3f} | "
                     f"{r['acc10']:.3f} | {r['spearman']:.4f} |" for m, r in scores["metrics"].items())
    spaces = "\n".join(f"| {s} | " + " | ".join(f"{v['mape']:.2f}" for v in per.values()) + " |"
                       for s, per in scores["per_space"].items())
    tool = ", ".join(f"{k} `{prov[k]}`" for k in ("tool", "version", "system_config", "memory_mode") if k in prov)
    return f"""# PerfSAGE predictor for `{target}`

- **Data**: `{info['data']}` (generator v{info['generator_version']}; spaces
  {', '.join(info.get('spaces', TASK_SPACES))}), {info['n_train']:,} training /
  {info['n_val']:,} validation / {info['n_test']:,} test models, `random` split (seed 0), training data hash
  `{info['data_hash']}`. The test labels ship beside the weights (`test_labels.parquet`):
  `perfsage evaluate --target {target}` re-scores this predictor on them.
- **Labels**: {tool}.
- **Model**: {info['grouping']} PerfSAGE network(s), hidden {info['hp']['hidden']}, {info['hp']['layers']} layers;
  batch {info['hp']['batch_size']}, peak learning rate {info['hp']['lr']}, early stopping on validation
  MAPE.{readouts(info)}
- **Training**: {info['train_seconds']:.0f} s on {info['trained_on']}, PyTorch {info['torch']}, {info['epochs']}
  epochs{warm_started(info)}.
- **Test scores** (MAPE/RMSPE in %, accuracies as fractions), scored on {platform.machine()} CPU:

| metric | unit | MAPE | RMSPE | ±5% | ±10% | Spearman |
|---|---|---:|---:|---:|---:|---:|
{rows}

MAPE per task space:

| space | {' | '.join(scores['metrics'])} |
|---|{'---:|' * len(scores['metrics'])}
{spaces}

- **Intervals**: {iv['level']:.0%} split-conformal intervals on log(true/predicted), calibrated on the
  validation part ({info['n_val']:,} models){bands}; empirical coverage on the test part:
  {', '.join(f'{m} {c:.3f}' for m, c in iv['coverage'].items())}.

Outside the training distribution (operators the search spaces never generate, features beyond the
training range, models farther from the training models than 99% of the validation part) errors grow
and predictions are flagged; `docs/results/accuracy.md` has the leave-one-space-out numbers.
"""


def readouts(info: dict) -> str:
    """Which metrics the network sums over operators and which it reads as a peak (older cards: unrecorded)."""
    if "summed" not in info:
        return ""
    parts = info.get("parts", {})
    outputs = [o for m in info["metrics"] for o in parts.get(m, [m])]
    peaks = [o for o in outputs if o not in info["summed"]]
    text = (f"\n  Read out as a sum over operators: {', '.join(info['summed']) or 'none'}; as a peak over them: "
            f"{', '.join(peaks) or 'none'}.")
    for m, ps in parts.items():
        text += f"\n  {m} is predicted as the sum of its parts, each labelled by the target: {' + '.join(ps)}."
    return text


def warm_started(info: dict) -> str:
    """The card's account of the earlier trainings a warm-started predictor continues."""
    stages = info.get("warm_start", [])
    if not stages:
        return ""
    text = "; ".join(f"{st['train_seconds']:.0f} s on {st['trained_on']}, {st['epochs']} epochs, "
                     f"{st['n_train']:,} training models ({', '.join(st.get('spaces', []))}){joined(st)}"
                     for st in stages)
    return f", warm-started (lr {info['hp']['lr']}) from the predictor trained before: {text}{joined(info)}" \
        + kept(info)


def kept(info: dict) -> str:
    """The card's account of a per-metric choice between the trained network and the one before it."""
    k = info.get("kept")
    if not k:
        return ""
    earlier = [m for m, who in k["served_by"].items() if who == "earlier"]
    if not earlier:
        return ". Every metric was better on validation with the warm-started network"
    vm = k["val_mape"]
    scores = ", ".join(f"{m} {vm[m]['earlier']:.2f}% against {vm[m]['trained']:.2f}%" for m in earlier)
    verb = "is" if len(earlier) == 1 else "are"
    return (f". {', '.join(earlier)} {verb} served by the network from before the warm start, better on "
            f"the validation models of the spaces it was trained on ({scores}); the other metrics use the "
            "warm-started one")


def joined(stage: dict) -> str:
    """Features the encoding gained that a warm-started stage took in (at zero weight)."""
    added = stage.get("features_added")
    return f", taking in the new node features {', '.join(added)} at zero weight" if added else ""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT / "data" / "edgedlperf"))
    ap.add_argument("--targets", default=",".join(SHIPPED))
    ap.add_argument("--max-seconds", type=float, default=1800)
    ap.add_argument("--adopt", type=Path, help="folder of <target>/ checkpoints and their job records")
    ap.add_argument("--recalibrate", action="store_true",
                    help="keep the shipped weights; rewrite the training domain, the interval calibration and "
                         "the card")
    ap.add_argument("--patience", type=int, default=PERFSAGE_HP["patience"],
                    help="epochs without a better validation score before stopping; with a budget the schedule "
                         "anneals to it, and stopping while the rate is still high can leave a worse model")
    ap.add_argument("--spaces", help="comma-separated spaces to train on (default: all the dataset holds)")
    ap.add_argument("--domain-only", action="store_true",
                    help="keep everything but the training domain, refitted on the same training models (by id) in "
                         "today's encoding, so features added since name their out-of-range values too; the labels "
                         "may have been remeasured since")
    ap.add_argument("--warm-start", action="store_true",
                    help="start from the shipped weights, normalisation and offsets and train on the (grown) "
                         "dataset for --max-seconds: new spaces for the price of a fine-tune, not a retrain")
    ap.add_argument("--init", type=Path, metavar="DIR",
                    help="with --warm-start: start from the predictor in DIR/<target> (e.g. an earlier warm start "
                         "kept aside) instead of the shipped one")
    ap.add_argument("--lr", type=float, default=PERFSAGE_HP["lr"], help="peak learning rate")
    ap.add_argument("--keep-better", type=Path, metavar="DIR",
                    help="serve each metric from whichever of the shipped network and the predictor in DIR (an "
                         "earlier one, e.g. before a warm start) has the lower validation MAPE; rewrites the "
                         "serving files and the card, keeps the training record")
    ap.add_argument("--judge-spaces", help="with --keep-better: judge on the validation models of these spaces "
                                           "(comma-separated; default: every space the earlier one was trained on)")
    ap.add_argument("--refresh-test-graphs", action="store_true",
                    help="only re-encode the shared test-graph file (after the graph encoding grows)")
    a = ap.parse_args()
    if a.judge_spaces and not a.keep_better:
        ap.error("--judge-spaces says where --keep-better judges")
    if a.keep_better and (a.warm_start or a.adopt or a.recalibrate):
        ap.error("--keep-better works on the shipped predictor as it is; run it after training")
    if a.warm_start and (a.adopt or a.recalibrate):
        ap.error("--warm-start trains; it does not combine with --adopt or --recalibrate")
    if a.init and not a.warm_start:
        ap.error("--init names where a --warm-start starts")
    if a.refresh_test_graphs:
        print("test graphs:", refresh_test_graphs())
        return
    if a.domain_only:
        for target in a.targets.split(","):
            refit_domain(a.data, target)
        return
    for target in a.targets.split(","):
        out = PREDICTORS / target
        keeps = a.recalibrate or a.keep_better
        info = json.loads((out / "training.json").read_text()) if keeps else {}
        spaces = info.get("spaces", list(TASK_SPACES)) if keeps else \
            (a.spaces.split(",") if a.spaces else None)
        gs = load_graphset(a.data, target, SHIPPED[target], spaces=spaces)
        tr, va, te = split_graphset(gs, "random", 0)
        if keeps:
            est = load_estimator(out)
            if info["data_hash"] != data_hash(tr):
                sys.exit(f"{target}: {a.data} is not the data the shipped predictor was trained on")
            if a.keep_better:
                est, info["kept"] = keep_better(est, a.keep_better / target, va,
                                                a.judge_spaces.split(",") if a.judge_spaces else None)
                shutil.rmtree(out / "member0")
                est.save(out)
        else:
            est, info = fit_or_adopt(a, target, tr, va, te)
        write_serving_files(est, out, tr, va)
        if keeps and (out / EXPERT_DIR).is_dir():  # the compressed-looking models' bounds, as the expert serves them
            picked = [i for i, s in zip(va.ids, va.spaces, strict=True) if s == "compressed"]
            if picked:
                part = va.subset(picked)
                print(target, "compressed group calibrated on", calibrate_compressed(out, part.graphs, part.y),
                      flush=True)
        write_host_record(a.data, target, out, tr.ids)
        scores = evaluate(est, te, calibration=Calibration.load(out), distance=EmbeddingDistance.load(out))
        info["test"] = scores
        (out / "training.json").write_text(json.dumps(info, indent=1, default=float))
        (out / "MODEL_CARD.md").write_text(card(target, info, scores, provenance(a.data, target)))
        update_card(out)
        print(target, f"{info['train_seconds']:.0f}s", {m: round(r["mape"], 2) for m, r in scores["metrics"].items()},
              "coverage", scores["interval"]["coverage"], flush=True)


def keep_better(trained, earlier_dir: Path, val, judge_spaces: list[str] | None = None) -> tuple[object, dict]:
    """The trained network and an earlier one, each metric served by the one better on the validation
    models of the spaces the earlier one was trained on (or of judge_spaces): a warm start may add spaces,
    but where the earlier network was trained it serves on unless the new one is better there."""
    import numpy as np

    earlier = load_estimator(earlier_dir)
    if trained.serves:  # already a per-metric choice: choose again from its trained network
        trained = trained.first_network()
    # an earlier per-metric choice offers each of its networks (e.g. the one that still serves SRAM)
    earlier_nets = earlier.networks() if earlier.serves else [earlier]
    names = ["trained"] + (["earlier"] if len(earlier_nets) == 1 else
                           [f"earlier member{k}" for k in range(len(earlier_nets))])
    spaces = judge_spaces or json.loads((earlier_dir / "training.json").read_text()).get("spaces", list(TASK_SPACES))
    judged = np.isin(np.array(val.spaces), spaces)
    if missing := sorted(set(spaces) - set(val.spaces)):  # judging on nothing would keep the trained one silently
        sys.exit(f"--keep-better: no validation models of {', '.join(missing)} "
                 f"(this data's spaces: {', '.join(sorted(set(val.spaces)))})")
    est, mape = PerfSAGE.keep_better([trained, *earlier_nets], val, judged)
    chosen = {m: names[PerfSAGE.winner(v)] for m, v in mape.items()}
    print(f"validation MAPE on the earlier spaces ({int(judged.sum())} models; {', '.join(names)}):",
          {m: [round(x, 2) for x in v] for m, v in mape.items()}, "->", chosen, flush=True)
    return est, {"served_by": chosen, "judged_on": sorted(spaces),
                 "val_mape": {m: dict(zip(names, v, strict=True)) for m, v in mape.items()}}


def refit_domain(data: str, target: str) -> None:
    from perfsage.model.domain import fit_domain

    out = PREDICTORS / target
    info = json.loads((out / "training.json").read_text())
    gs = load_graphset(data, target, SHIPPED[target], spaces=info.get("spaces", list(TASK_SPACES)))
    tr, _, _ = split_graphset(gs, "random", 0)
    if len(tr) != info["n_train"]:
        sys.exit(f"{target}: {data} has {len(tr)} training models where the predictor had {info['n_train']}")
    fit_domain(tr.graphs).save(out)
    print(target, f"domain refitted on {len(tr):,} training models", flush=True)


def fit_or_adopt(a, target: str, tr, va, te) -> tuple[object, dict]:
    if a.adopt:
        est = load_estimator(a.adopt / target)
        # the job record sits beside the checkpoints (a copied GPU run) or one level up (benchmarks/accuracy.py)
        job = json.loads(next(p for d in (a.adopt, a.adopt.parent)
                              for p in d.glob(f"{target}__random__perfsage.json")).read_text())
        seconds = job["seconds"]
        trained_on = f"{job['device']} ({job.get('host', 'GPU host')}, {job.get('threads', '?')} torch thread(s))"
        epochs = job.get("epochs", "?")
    else:
        partial = ROOT / "runs" / "shipped-partial" / target  # a killed run goes on from its last epoch
        est = PerfSAGE(SHIPPED[target], log=lambda r, t=target: print(t, r, flush=True),
                       max_seconds=a.max_seconds, resume=partial,
                       **{**PERFSAGE_HP, "patience": a.patience, "lr": a.lr})
        init, before = None, None
        if a.warm_start:
            start = (a.init or PREDICTORS) / target
            init = load_estimator(start)
            before = json.loads((start / "training.json").read_text())
        t0 = time.time()
        est.fit(tr, va, init=init)
        seconds = max(time.time() - t0, est.history[-1]["seconds"])
        trained_on = (f"{torch.cuda.get_device_name()} (CUDA), {torch.get_num_threads()} CPU threads"
                      if torch.cuda.is_available() else f"{platform.machine()} CPU, {torch.get_num_threads()} threads")
        epochs = len(est.history)
    out = PREDICTORS / target
    rules = (out / TWIN_FILE).read_text() if (out / TWIN_FILE).is_file() else None
    if (out / EXPERT_DIR).is_dir():  # fine-tuned from the network replaced here: it would serve stale weights
        print(target, "the compressed-model expert is dropped with the network it was tuned from: rerun "
              "scripts/train_expert.py", flush=True)
    if out.exists():
        shutil.rmtree(out)
    est.save(out)
    if rules is not None:  # a serving rule about other predictors: kept, to be rechecked
        (out / TWIN_FILE).write_text(rules)
        print(target, "twin rules kept: recheck them with scripts/choose_twin.py", flush=True)
    if not a.adopt:
        shutil.rmtree(ROOT / "runs" / "shipped-partial" / target, ignore_errors=True)
    write_test_labels(out, te)
    info = {"target": target, "metrics": SHIPPED[target], "split": "random", "seed": 0, "n_train": len(tr),
            "n_val": len(va), "n_test": len(te), "data_hash": data_hash(tr), "data": "data/edgedlperf",
            "generator_version": GENERATOR_VERSION, "grouping": est.grouping,
            "hp": {k: est.members[0].hp[k] for k in ("hidden", "layers", "batch_size", "lr")},
            "summed": list(dict.fromkeys(o for member in est.members for o in member.additive)),
            "parts": {m: ps for member in est.members for m, ps in member.composed.items()},
            "train_seconds": round(seconds, 1), "trained_on": trained_on, "epochs": epochs,
            "torch": torch.__version__, "spaces": sorted(set(tr.spaces))}
    if not a.adopt and a.warm_start:
        prior = before.get("warm_start", [])  # a chain of warm starts keeps every earlier stage
        stage = {k: before[k] for k in ("data_hash", "n_train", "train_seconds", "trained_on", "epochs", "spaces",
                                        "features_added") if k in before}
        grown = [n for n in est.members[0].features["node"] if n not in init.members[0].features["node"]]
        info["warm_start"] = [*prior, stage]
        if grown:  # features the encoding gained since: they joined at zero weight
            info["features_added"] = grown
    return est, info

if __name__ == "__main__":
    main()
