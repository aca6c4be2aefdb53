"""FBNet (Wu et al., CVPR 2019) on CIFAR-100, the network HW-NAS-Bench measured on real devices.

Macro-architecture (HW-NAS-Bench's CIFAR-100 adaptation; docs/notes/converter_facts.md): 3x3 stem conv,
stride 1, 16 channels (+ReLU); 22 searchable layers in stages of [1, 4, 4, 4, 4, 4, 1] layers with
[16, 24, 32, 64, 112, 184, 352] channels and strides [1, 1, 2, 2, 1, 2, 1] (the first layer of a stage
carries its stride); 1x1 conv to 1504 (+ReLU); global average pool; linear to 100 classes.
Each layer picks one of 9 blocks: k{3,5}_e{1,3,6} = 1x1 expand (+ReLU) -> depthwise kxk (+ReLU) ->
1x1 project, residual add when stride 1 and channels match; k{3,5}_e1_g2 = the same with both 1x1
convs in 2 groups and a channel shuffle after the first; skip = identity, or a 1x1 conv (+ReLU) with
the layer's stride when the shape changes. The architecture string joins the 22 choices with '-'.

TFLite form: a grouped 1x1 conv is written SPLIT -> CONV_2D per group -> CONCATENATION (the converter's
native grouped CONV_2D runs on neither Ethos-U nor TFLite Micro); the channel shuffle is RESHAPE ->
TRANSPOSE -> RESHAPE as the converter emits it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from perfsage.errors import PerfsageError
from perfsage.spaces.base import ArchSpec, Space
from perfsage.spaces.builder import Act, ModelBuilder

BLOCKS = ("k3_e1", "k3_e1_g2", "k3_e3", "k3_e6", "k5_e1", "k5_e1_g2", "k5_e3", "k5_e6", "skip")
STAGE_LAYERS = (1, 4, 4, 4, 4, 4, 1)
STAGE_CHANNELS = (16, 24, 32, 64, 112, 184, 352)
STAGE_STRIDES = (1, 1, 2, 2, 1, 2, 1)
STEM_CHANNELS = 16
HEAD_CHANNELS = 1504
CLASSES = 100
N_LAYERS = sum(STAGE_LAYERS)


def layer_plan() -> list[tuple[int, int]]:
    """(output channels, stride) of each of the 22 layers."""
    plan = []
    for n, c, s in zip(STAGE_LAYERS, STAGE_CHANNELS, STAGE_STRIDES, strict=True):
        plan += [(c, s)] + [(c, 1)] * (n - 1)
    return plan


def parse_arch_string(text: str) -> tuple[str, ...]:
    parts = tuple(text.strip().split("-"))
    if len(parts) != N_LAYERS or any(p not in BLOCKS for p in parts):
        raise PerfsageError(f"not an FBNet architecture: {text!r} (expected {N_LAYERS} blocks joined "
                            f"by '-', each one of {', '.join(BLOCKS)})")
    return parts


def _pointwise(b: ModelBuilder, x: Act, out: int, groups: int, act: str) -> Act:
    return b.conv2d(x, out, 1, 1, act=act, groups=groups)


def _block(b: ModelBuilder, x: Act, block: str, out: int, stride: int) -> Act:
    if block == "skip":
        if stride == 1 and x.channels == out:
            return x
        return b.conv2d(x, out, 1, stride, act="RELU")
    kernel, expansion = int(block[1]), int(block.split("_")[1][1:])
    groups = 2 if block.endswith("_g2") else 1
    y = _pointwise(b, x, x.channels * expansion, groups, "RELU")
    if groups > 1:
        y = b.channel_shuffle(y, groups)
    y = b.depthwise(y, kernel, stride, act="RELU")
    y = _pointwise(b, y, out, groups, "NONE")
    if stride == 1 and x.channels == out:
        y = b.add(y, x)
    return y


class FBNetSpace(Space):
    name = "fbnet"
    task = "image classification (FBNet, CIFAR-100)"
    description = ("FBNet space as in HW-NAS-Bench: 22 layers x 9 blocks (k3/k5, expansion 1/3/6, "
                   "2-group 1x1 convs, skip) on the CIFAR-100 macro-architecture, 32x32 input")

    def sample(self, seed: int) -> ArchSpec:
        rng = self.sample_rng(seed)
        return ArchSpec(self.name, {"arch": "-".join(BLOCKS[int(i)] for i in rng.integers(0, 9, N_LAYERS))})

    def parse_arch(self, text: str) -> ArchSpec:
        return ArchSpec(self.name, {"arch": "-".join(parse_arch_string(text))})

    def build(self, arch: ArchSpec, seed: int = 0) -> bytes:
        blocks = parse_arch_string(arch.arch["arch"])
        b = self.builder(seed)
        x = b.input((1, 32, 32, 3))
        y = b.conv2d(x, STEM_CHANNELS, 3, 1, act="RELU")
        for block, (c, s) in zip(blocks, layer_plan(), strict=True):
            y = _block(b, y, block, c, s)
        y = b.conv2d(y, HEAD_CHANNELS, 1, act="RELU")
        y = b.mean(y, keep_dims=False)
        return b.finish([b.fully_connected(y, CLASSES)])

    def choices(self) -> dict[str, Any]:
        return {"blocks (per layer)": list(BLOCKS), "layers": N_LAYERS,
                "stages (layers/channels/stride)": [f"{n}/{c}/s{s}" for n, c, s in
                                                    zip(STAGE_LAYERS, STAGE_CHANNELS, STAGE_STRIDES, strict=True)],
                "stem": STEM_CHANNELS, "head": HEAD_CHANNELS, "input": [1, 32, 32, 3], "classes": CLASSES}

    def size_log10(self) -> float:
        return float(N_LAYERS * np.log10(len(BLOCKS)))
