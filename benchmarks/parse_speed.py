"""Parse + featurise speed of the frontend, against LiteRT's generated flatbuffer object API.

    .venv/bin/python benchmarks/parse_speed.py [--seconds 2]

One core, in-process, best of 3 timed windows per model. Reference in the same run: the generated
object API's full unpack (`ModelT.InitFromPackedBuf`), which is what the schema module offers for
reading a model, and which does no featurising. Writes docs/results/parse_speed.md.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from ai_edge_litert import schema_py_generated as s  # noqa: E402

from _results import publish  # noqa: E402
from perfsage.graph import load_graph  # noqa: E402
from perfsage.graph.features import featurise  # noqa: E402

MODELS = ["mobilenetv2_int8", "resnet_branches_int8", "dscnn_kws_int8", "transpose_conv_int8"]


def rate(fn, data: bytes, seconds: float) -> float:
    """Calls per second: best of 3 windows of `seconds` / 3 each."""
    best = 0.0
    for _ in range(3):
        n, t0 = 0, time.perf_counter()
        while (el := time.perf_counter() - t0) < seconds / 3:
            fn(data)
            n += 1
        best = max(best, n / el)
    return best


def ours(data: bytes) -> None:
    featurise(load_graph(data))


def reference(data: bytes) -> None:
    s.ModelT.InitFromPackedBuf(data, 0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3.0)
    a = ap.parse_args()
    rows = []
    for name in MODELS:
        data = (ROOT / "tests" / "fixtures" / "tf" / f"{name}.tflite").read_bytes()
        g = load_graph(data)
        r_ours = rate(ours, data, a.seconds)
        r_ref = rate(reference, data, a.seconds)
        rows.append((name, len(g.nodes), len(g.tensors), r_ours, r_ref, r_ours / r_ref))
    head = ("| model | ops | tensors | perfsage parse+featurise (models/s) | "
            "object API unpack only (models/s) | ratio |")
    lines = [head, "|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {n} | {o} | {t} | {a_:.0f} | {b:.1f} | {r:.0f}x |" for n, o, t, a_, b, r in rows]
    publish("parse_speed", "Frontend parse speed",
            f"Measured by `benchmarks/parse_speed.py` on {platform.processor() or platform.machine()}, "
            f"Python {platform.python_version()}, one core, best of 3 windows. Goal: >= 200 models/s for "
            "parse + featurise on MobileNet-class models.", "\n".join(lines))


if __name__ == "__main__":
    main()
