"""Write docs/dataset.md, the dataset card, from a built dataset directory.

    .venv/bin/python scripts/dataset_card.py data/edgedlperf

Counts per space and target, label distributions (plots in docs/images/), failures, tool versions and
configurations from the stored provenance, and the build commands.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from perfsage.dataset import load, provenance  # noqa: E402
from perfsage.dataset.info import dataset_info  # noqa: E402
from perfsage.dataset.store import read_manifest  # noqa: E402

BUILD = """perfsage dataset build --out data/edgedlperf --spaces classification,detection,kws,segmentation \\
    --per-space 5000 --targets ethos-u55-128,ethos-u65-256,mcu-tflm --workers 2
perfsage dataset build --out data/edgedlperf --spaces classification,detection,kws,segmentation \\
    --per-space 1250 --targets cpu-litert --workers 1
perfsage dataset build --out data/edgedlperf --spaces mixed \\
    --per-space 4000 --targets ethos-u55-128,ethos-u65-256,mcu-tflm --workers 2
perfsage dataset build --out data/edgedlperf --spaces converter \\
    --per-space 2000 --targets ethos-u55-128,ethos-u65-256,mcu-tflm --workers 2
perfsage dataset build --out data/edgedlperf --spaces unet \\
    --per-space 2000 --targets ethos-u55-128,ethos-u65-256,mcu-tflm --workers 2
perfsage dataset build --out data/edgedlperf --spaces tinyvision \\
    --per-space 2000 --targets ethos-u55-128,ethos-u65-256,mcu-tflm --workers 2
perfsage dataset build --out data/edgedlperf --spaces compressed \\
    --per-space 3000 --targets ethos-u55-128,ethos-u65-256,ethos-u85-256 --workers 2
perfsage dataset relabel data/edgedlperf --target ethos-u55-128 --field sram_kib \\
    --spaces classification,detection,kws,segmentation --workers 2
perfsage dataset relabel data/edgedlperf --target ethos-u55-128 --field flash_kib \\
    --spaces classification,detection,kws,segmentation --workers 2
perfsage dataset relabel data/edgedlperf --target ethos-u55-128 --field sram_kib \\
    --spaces converter,mixed,tinyvision,unet --workers 2
perfsage dataset relabel data/edgedlperf --target ethos-u65-256 --field sram_kib \\
    --spaces classification,detection,kws,segmentation --workers 2
perfsage dataset relabel data/edgedlperf --target ethos-u55-128 --field flash_kib --workers 2 --tolerance 0.01
perfsage dataset relabel data/edgedlperf --target ethos-u65-256 --field sram_kib --spaces segmentation \\
    --workers 2 --tolerance 0.01
perfsage dataset graphs --space nasbench201 --out data/realdev/nasbench201 \\
    --table ../shared/data/nasbench201/latency.csv
perfsage dataset graphs --space fbnet --table ../shared/data/fbnet/latency.csv --out data/realdev/fbnet"""


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "data" / "edgedlperf")
    info = dataset_info(root)
    manifest = read_manifest(root)
    builds = [b for b in manifest.get("builds", []) if "cpu-litert" not in b["targets"]]
    planned = {s: max(b["per_space"] for b in builds if s in b["spaces"]) for s in info["spaces"]
               if any(s in b["spaces"] for b in builds)}
    table = load(root)
    spaces = np.array(table.column("space").to_pylist())
    plots = [("latency_ms", "ms"), ("energy_mj", "mJ"), ("sram_kib", "KiB"), ("arena_kib", "KiB")]
    cols = [c for c in table.column_names if "/" in c and c.split("/", 1)[1] in dict(plots)]
    fig, axes = plt.subplots(len(cols), 1, figsize=(9, 2.6 * len(cols)))
    for ax, c in zip(np.atleast_1d(axes), cols, strict=True):
        v = np.array([x if x is not None else np.nan for x in table.column(c).to_pylist()], float)
        ok = v[~np.isnan(v)]
        if not ok.size:
            continue
        bins = np.logspace(np.log10(max(ok.min(), 1e-6)), np.log10(ok.max()), 50)
        for s in sorted(set(spaces)):
            vs = v[(spaces == s) & ~np.isnan(v)]
            if vs.size:
                ax.hist(vs, bins=bins, alpha=0.55, label=s)
        ax.set_xscale("log")
        ax.set_xlabel(f"{c} ({dict(plots)[c.split('/', 1)[1]]})")
    np.atleast_1d(axes)[0].legend(fontsize=8)
    fig.tight_layout()
    img = ROOT / "docs" / "images" / "dataset_labels.png"
    fig.savefig(img, dpi=100)

    lines = ["# Dataset card: perfsage EdgeDLPerf-style dataset", "",
             f"Directory `{root.relative_to(ROOT) if root.is_relative_to(ROOT) else root}`, generator version "
             f"{info['generator_version']}: **{info['models']:,} models** "
             f"({', '.join(f'{s} {n:,}' for s, n in info['spaces'].items())}).", "",
             *([f"**Status: build in progress** — {info['models']:,} of the planned "
                f"{sum(planned.values()):,} models are labelled so far; rerunning the build commands below "
                "continues it.", ""]
               if info["models"] < sum(planned.values()) else []),
             "Every model is a random network, fully int8 but for the `precision` space, from one of "
             "perfsage's search spaces (the four task "
             "spaces, plus `mixed`: published block families and MLPs, so predictors see the structures of "
             "published architectures, and `converter`: those architectures written as exporters write them, "
             "with standalone activations and bias-less fully connected layers, `unet`: small hand-written "
             "encoder-decoders with transposed-conv or resize decoders, and `tinyvision`: MLPerf-Tiny-style "
             "CIFAR ResNets and MobileNetV1s, the MLPerf Tiny models themselves held out, and `compressed`: "
             "the others' architectures with trained-like weights and a compression recipe, pruned, clustered, "
             "2:4-sparse or low-bit, the recipe in each row's `arch`; and, for the CPU only, `precision`: the "
             "others' architectures as int8, float32 or dynamic-range models, not fully int8) "
             "(`docs/spaces.md`), regenerated byte-for-byte from (space, seed, generator version); the "
             "`.tflite` files are not stored. Labels come from the real tools (below); nothing is a formula "
             "dressed up as a measurement, except `energy_mj`, which is modelled and says so.", "",
             "## Labels", "", "| target | labelled | metric | min | median | max | unit |",
             "|---|---:|---|---:|---:|---:|---|"]
    for t, d in info["targets"].items():
        for m, r in d["ranges"].items():
            lines.append(f"| {t} | {d['labelled']:,} | {m} | {r['min']:.4g} | {r['median']:.4g} | "
                         f"{r['max']:.4g} | {r['unit']} |")
    lines += ["", "Per space:", "", "| target | " + " | ".join(info["spaces"]) + " |",
              "|---|" + "---:|" * len(info["spaces"])]
    for t, d in info["targets"].items():
        lines.append(f"| {t} | " + " | ".join(f"{d['per_space'].get(s, 0):,}" for s in info["spaces"]) + " |")
    lines += ["", "![label distributions](images/dataset_labels.png)", "", "## Failures", ""]
    if info["failures"]:
        for t, f in info["failures"].items():
            lines.append(f"- {t}: {f['count']} ({', '.join(f'{k} {n}' for k, n in f['kinds'].items())}); "
                         f"e.g. `{f['examples'][0][:150]}`")
    else:
        lines.append("None recorded.")
    lines += ["", "## Tools and configurations", ""]
    for t in info["targets"]:
        p = provenance(root, t)
        keep = {k: p[k] for k in ("tool", "version", "accelerator", "system_config", "memory_mode",
                                  "core_clock_hz", "delegate", "threads", "window_s", "windows", "cpu",
                                  "allocator") if k in p}
        lines.append(f"- **{t}**: " + ", ".join(f"{k} `{v}`" for k, v in keep.items()))
    lines += ["", "## Rebuilding", "", "The label Parquet under `data/edgedlperf/{models,labels,failures}` is "
              "committed; the graph cache (`graphs/`) is not (it is rebuilt on demand from space + seed, or by "
              "rerunning the build, which only fills what is missing). The commands that built it, resumable "
              "across sessions:", "", "```sh", BUILD, "```", "",
              "The last two re-measured the rows the earlier relabels had left alone because Vela's totals had "
              "moved (on the same model bytes Vela is not quite deterministic): 2,251 `ethos-u55-128` and 1,658 "
              "`ethos-u65-256` rows whose totals moved by at most 1% (flash by a median 6e-5) were replaced by "
              "the new measurement.", "",
              "Splits (`perfsage.dataset.splits`): random 80/20 by a seeded hash of the id (the paper's "
              "protocol), leave-one-space-out, and size-stratified 80/20 within MACs deciles; 10% of the "
              "training side is held out for early stopping.", "",
              "## Throughput", "", "See `docs/results/dataset_throughput.md` "
              "(`benchmarks/dataset_throughput.py`) for the measured cost per model and target and the "
              "projection for the paper's 134,912 models."]
    (ROOT / "docs" / "dataset.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:30]))


if __name__ == "__main__":
    main()
