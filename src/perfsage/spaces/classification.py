"""Image classification: MobileNetV2/V3-style stages of inverted residual blocks."""

from __future__ import annotations

from typing import Any

import numpy as np

from perfsage.spaces.base import ArchSpec, Space, choice, make_divisible
from perfsage.spaces.blocks import (
    ACTIVATIONS,
    DEEP_STAGES,
    EXPANSIONS,
    KERNELS,
    backbone_size_log10,
    conv_act,
    sample_backbone,
    square_backbone,
)

RESOLUTIONS = tuple(range(96, 225, 16))
STAGES = DEEP_STAGES
HEAD_CHANNELS = (1024, 1280)
CLASSES = (10, 100, 1000)


class ClassificationSpace(Space):
    name = "classification"
    task = "image classification"
    description = ("MobileNetV2/V3-style: 7 stages of inverted residual blocks (kernel 3/5/7, expansion "
                   "1/3/4/6, squeeze-excite on/off), ReLU/ReLU6/hard-swish per stage, 1-8 blocks per "
                   "middle stage, width 0.35-1.4, input 96-224, 1x1 head conv + global pool + classifier")

    def sample(self, seed: int) -> ArchSpec:
        rng = self.sample_rng(seed)
        arch = {"resolution": choice(rng, RESOLUTIONS), **sample_backbone(rng, STAGES),
                "head_channels": choice(rng, HEAD_CHANNELS), "head_act": choice(rng, ACTIVATIONS),
                "classes": choice(rng, CLASSES)}
        return ArchSpec(self.name, arch)

    def build(self, arch: ArchSpec, seed: int = 0) -> bytes:
        a = arch.arch
        b = self.builder(seed)
        y = square_backbone(b, a)[-1]
        y = conv_act(b, y, make_divisible(a["head_channels"] * max(1.0, a["width"])), 1, 1, a["head_act"])
        y = b.mean(y, keep_dims=False)
        y = b.softmax(b.fully_connected(y, a["classes"]))
        return b.finish([y])

    def choices(self) -> dict[str, Any]:
        return {"resolution": list(RESOLUTIONS), "width": [0.35, 0.5, 0.75, 1.0, 1.25, 1.4],
                "stages (channels at width 1, stride, blocks)": [
                    f"{c}/s{s}/{lo}-{hi}" for c, s, lo, hi in STAGES],
                "kernel": list(KERNELS), "expansion": list(EXPANSIONS), "squeeze_excite": [False, True],
                "activation (per stage, stem, head)": list(ACTIVATIONS),
                "head_channels (x max(1, width))": list(HEAD_CHANNELS), "classes": list(CLASSES)}

    def size_log10(self) -> float:
        return float(backbone_size_log10(STAGES) + np.log10(len(RESOLUTIONS) * len(HEAD_CHANNELS)
                                                      * len(ACTIVATIONS) ** 2 * len(CLASSES)))
