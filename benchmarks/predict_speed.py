"""Prediction speed against the reference tool: models/s of `Predictor` beside Vela compiling the same models.

    .venv/bin/python benchmarks/predict_speed.py [--models 200] [--vela-models 40] [--threads 2] [--device cuda]

Models: fresh samples of the four task spaces (seeds 10,000,000+, outside the training data), written as
.tflite files. Measured in one run on the same machine:
- Vela: `ethosu.vela.vela.main` in-process over the files one after another (its best case: no process
  start-up per model), Ethos-U55-128 with the target's system config and memory mode, no extra reports.
- perfsage file -> prediction: `Predictor.predict_many(paths, workers=--workers)`: read, parse,
  featurise, encode (in --workers processes, default one per core), batched network, intervals and OOD
  checks (without and with the per-layer breakdown).
- perfsage graph -> prediction: the same on already-encoded graphs (what a search loop that keeps its
  candidates as graphs pays).
Each perfsage timing is the best of 3 repeats after a warm-up; Vela is timed once over its models (it is
deterministic and seconds per model). --device cuda runs the network on a GPU (parsing, encoding and
batching stay on the CPU) and writes docs/results/predict_speed_cuda.md; the default writes
docs/results/predict_speed.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import torch  # noqa: E402

from _results import publish  # noqa: E402
from perfsage.graph import load_graph  # noqa: E402
from perfsage.graph.encode import encode  # noqa: E402
from perfsage.predict import Predictor  # noqa: E402
from perfsage.spaces import TASK_SPACES, get_space  # noqa: E402
from perfsage.targets.vela import CONFIGS, vela_argv  # noqa: E402


def vela_rate(files: list[Path]) -> float:
    from ethosu.vela.vela import main

    cfg = CONFIGS["ethos-u55-128"]

    def compile_one(f: Path, out: Path) -> None:
        argv = vela_argv(f, out, cfg, reports=False)
        with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
            if main(argv):
                raise RuntimeError(f"vela failed on {f}")

    with tempfile.TemporaryDirectory() as tmp:
        compile_one(files[0], Path(tmp) / "warm")
        t0 = time.perf_counter()
        for k, f in enumerate(files):
            compile_one(f, Path(tmp) / str(k))
        return len(files) / (time.perf_counter() - t0)


def best_rate(fn, n: int, repeats: int = 3) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return n / best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=int, default=200)
    ap.add_argument("--vela-models", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch-size", type=int, default=64, help="graphs per network call")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes parsing files")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for k in range(a.models):
            space = TASK_SPACES[k % len(TASK_SPACES)]
            f = Path(tmp) / f"{space}-{k}.tflite"
            f.write_bytes(get_space(space).synth(10_000_000 + k)[1])
            files.append(f)
        # Vela gets the same mix of spaces (every k-th file, so all four spaces appear).
        step = max(1, a.models // a.vela_models)
        vela = vela_rate(files[::step][: a.vela_models])
        p = Predictor.load("ethos-u55-128", a.device)
        paths = [str(f) for f in files]
        encoded = [encode(load_graph(f)) for f in files]
        bs = a.batch_size
        rows = [
            ("file -> prediction", best_rate(lambda: p.predict_many(paths, layers=False, batch_size=bs,
                                                                    workers=a.workers), len(paths))),
            ("file -> prediction + per-layer", best_rate(lambda: p.predict_many(paths, batch_size=bs,
                                                                                workers=a.workers), len(paths))),
            ("graph -> prediction", best_rate(lambda: p.predict_many(encoded, layers=False, batch_size=bs),
                                              len(encoded))),
            ("graph -> prediction + per-layer", best_rate(lambda: p.predict_many(encoded, batch_size=bs),
                                                          len(encoded))),
        ]
        one = best_rate(lambda: p.predict(paths[0], layers=False), 1, repeats=10)
    lines = ["| path | models/s | x Vela |", "|---|---:|---:|",
             f"| Vela compile (in-process, sequential) | {vela:.2f} | 1 |"]
    lines += [f"| perfsage {name} (batched) | {r:,.1f} | {r / vela:,.0f} |" for name, r in rows]
    lines.append(f"| perfsage file -> prediction (one model, unbatched) | {one:,.1f} | {one / vela:,.0f} |")
    publish("predict_speed" if a.device == "cpu" else f"predict_speed_{a.device.split(':')[0]}",
            "Prediction speed against Vela",
            f"`benchmarks/predict_speed.py --models {a.models} --vela-models {a.vela_models} --threads {a.threads} "
            f"--device {a.device} --batch-size {a.batch_size} --workers {a.workers}` "
            f"on {platform.machine()} ({os.cpu_count()} cores, Python {platform.python_version()}, torch "
            f"{torch.__version__}, {a.threads} torch threads): {a.models} fresh models of the four task spaces "
            f"(seeds 10,000,000+); Vela compiled every {step}th of them ({a.vela_models}). Same run, same machine; "
            "the ratio is what to quote (these machines are shared and noisy).", "\n".join(lines))


if __name__ == "__main__":
    main()
