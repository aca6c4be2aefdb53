"""Precision variants: architectures of the int8 spaces as float32, dynamic-range and int8 models.

CPU deployments run float32 and dynamic-range models at least as often as int8 ones, and XNNPACK runs
each through other kernels, so a CPU predictor trained on int8 alone reads a float32 model as out of
distribution on every layer. Each model here samples an architecture from another space (a base seed
clear of that space's own dataset rows) and writes it in one precision (perfsage.compress.precision):

- `int8`: as the base space writes it (these also widen the CPU data beyond the four task spaces);
- `float32`: every tensor float32, the same graph;
- `dynamic`: float32 with int8 weights in the large convolutions and fully connected layers.

For the CPU target: Ethos-U runs int8 only (Vela leaves float operators to the CPU) and TFLite Micro
has no dynamic-range kernels.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from perfsage.compress.precision import PRECISIONS, change_precision
from perfsage.spaces.base import DERIVED_FROM, ArchSpec, Space, build_base, draw_base, union_size_log10

BASE_SEED_OFFSET = 3 << 21  # clear of the base spaces' own seeds and of the compressed space's (1 << 21 on)
PRECISION_P = (0.3, 0.4, 0.3)  # int8, float32, dynamic


class PrecisionSpace(Space):
    name = "precision"
    task = "precision variants"
    fully_int8 = False  # for CPU targets: float32 and dynamic-range models
    dry_buildable = False  # the precision rewrite reads the int8 weights
    description = ("architectures of the other dataset spaces written as int8, float32 or dynamic-range "
                   "quantised models (int8 weights, float activations), for CPU targets")

    def sample(self, seed: int) -> ArchSpec:
        rng = self.sample_rng(seed)
        base = draw_base(rng, BASE_SEED_OFFSET)
        precision = PRECISIONS[int(rng.choice(len(PRECISIONS), p=PRECISION_P))]
        return ArchSpec(self.name, {**base, "precision": precision})

    def build(self, arch: ArchSpec, seed: int = 0) -> bytes:
        return change_precision(build_base(arch.arch, seed), arch.arch["precision"])

    def choices(self) -> dict[str, Any]:
        return {"base space": list(DERIVED_FROM), "precision": dict(zip(PRECISIONS, PRECISION_P, strict=True))}

    def size_log10(self) -> float:
        return float(union_size_log10(DERIVED_FROM) + np.log10(len(PRECISIONS)))
