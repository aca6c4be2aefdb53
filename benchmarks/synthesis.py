"""Synthesis speed: models/s per core per space, and the TF converter on equivalent Keras models.

    .venv/bin/python benchmarks/synthesis.py [--n 40] [--tf-python /path/to/python-with-tensorflow]

One core, in-process, sample + build (+ nothing else). In the same run, when a Python with TensorFlow
is given (or this one has it), the same classification architectures are built in Keras and converted
to full int8 with the TF converter; the ratio is per model. Writes docs/results/synthesis.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from _results import publish  # noqa: E402
from perfsage.spaces import GENERATOR_VERSION, get_space, space_names  # noqa: E402


def rate(name: str, n: int) -> tuple[float, float]:
    sp = get_space(name)
    sp.synth(10_000)  # warm up imports and caches
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for seed in range(n):
            sp.synth(seed)
        best = min(best, (time.perf_counter() - t0) / n)
    return 1 / best, best * 1e3


def tf_python(arg: str | None) -> str | None:
    if arg:
        return arg
    return sys.executable if importlib.util.find_spec("tensorflow") else None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--tf-python", default=None)
    ap.add_argument("--tf-models", type=int, default=3)
    a = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    rows = [(name, *rate(name, a.n)) for name in space_names()]
    lines = ["| space | models/s (1 core) | ms/model |", "|---|---:|---:|"]
    lines += [f"| {n} | {r:.1f} | {ms:.1f} |" for n, r, ms in rows]
    py = tf_python(a.tf_python)
    tf_lines = []
    if py:
        sp = get_space("classification")
        tf_lines = ["", "| classification seed | perfsage ms | TF converter s | ratio |", "|---:|---:|---:|---:|"]
        for seed in range(a.tf_models):
            arch = sp.sample(seed)
            t0 = time.perf_counter()
            sp.build(arch, seed)
            ours = time.perf_counter() - t0
            env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
            r = subprocess.run([py, str(ROOT / "benchmarks" / "_keras_equivalent.py"), json.dumps(arch.arch)],
                               capture_output=True, text=True, env=env, timeout=1800)
            if r.returncode:
                tf_lines.append(f"| {seed} | {ours * 1e3:.1f} | failed: {r.stderr.strip()[-200:]} | |")
                continue
            res = json.loads(r.stdout.strip().splitlines()[-1])
            tf_lines.append(f"| {seed} | {ours * 1e3:.1f} | {res['seconds']:.1f} | "
                            f"{res['seconds'] / ours:,.0f}x |")
        tf_lines.append(f"\nTF converter: TensorFlow {res.get('tf', '?')} (Keras model build + full-int8 "
                        "conversion with an 8-sample representative dataset, 2 cores).")
    else:
        tf_lines = ["", "TensorFlow not available: pass --tf-python to compare with the TF converter."]
    publish("synthesis", "Synthesis speed",
            f"Measured by `benchmarks/synthesis.py --n {a.n}` on {platform.machine()}, Python "
            f"{platform.python_version()}, generator v{GENERATOR_VERSION}: sample + build one model, one core, "
            "best of 3 passes. Goal: >= 40 models/s/core.", "\n".join(lines + tf_lines))


if __name__ == "__main__":
    main()
