"""Tiny vision models as MLPerf Tiny writes them: CIFAR-style ResNets and MobileNetV1s on 24-160 px.

The shipped Ethos-U65 predictor read the MLPerf Tiny ResNet-8 SRAM 16% high and its visual-wake-words
MobileNetV1 9% low (docs/results/arbitrary_models.md): the task spaces draw MobileNetV2-style
networks, and the mixed space reaches a plain ResNet on a 32 px map only by chance. A model here is,
60/40:

- a ResNet (ResNet v1 as `resnet_v1_eembc` and the CIFAR ResNets write it): a 3x3 stem convolution
  (stride 1, or 2 on inputs of 64 px and more) with ReLU, then 2-4 stacks of 1-3 basic blocks. A block is
  3x3 conv + ReLU -> 3x3 conv -> ADD with the shortcut + ReLU (fused). The first block of every stack but
  the first strides by 2, and its shortcut is a 1x1 stride-2 convolution. Stack widths start at 8-32
  and grow x2 (or x1.5) per stack. Head: global average pool (AVERAGE_POOL_2D over the map, or MEAN),
  FULLY_CONNECTED to 2-100 classes, optional SOFTMAX.
- a MobileNetV1: 3x3 stride-2 stem, then the first 9-13 of MobileNetV1's depthwise-separable layers
  (depthwise 3x3 + pointwise 1x1, each with ReLU or ReLU6) at width 0.25-0.75, the same head.

The two MLPerf Tiny models themselves (ResNet-8: 32x32x3, stem 16, one block per stack of 16/32/64,
average pool, 10 classes, softmax; VWW: 96x96x3 MobileNetV1 0.25 with all 13 layers, average pool, 2
classes, softmax) are held out: a draw that lands on one is redrawn, so the arbitrary-model benchmark
still measures architectures the predictors never saw.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from perfsage.spaces.base import ArchSpec, Space, choice, make_divisible
from perfsage.spaces.builder import Act, ModelBuilder

FAMILIES = ("resnet", "mobilenet_v1")
FAMILY_P = (0.6, 0.4)
IN_CHANNELS = (1, 3)
IN_CHANNELS_P = (0.2, 0.8)
CLASSES = (2, 3, 10, 12, 35, 100)
POOLS = ("avgpool", "mean")
SOFTMAX_P = 0.7

RESNET_SIDES = (24, 32, 40, 48, 64, 80, 96)
RESNET_SIDE_P = (0.1, 0.35, 0.1, 0.15, 0.1, 0.1, 0.1)
RESNET_STEM_STRIDE2_MIN_SIDE = 64  # a stride-2 stem only on inputs this large
STACKS = (2, 3, 4)
BLOCKS = (1, 2, 3)
BASE_WIDTHS = (8, 12, 16, 24, 32)
GROWTHS = (2.0, 1.5)
GROWTH_P = (0.8, 0.2)

MBV1_SIDES = (64, 80, 96, 112, 128, 160)
# MobileNetV1 at width 1.0: (pointwise output channels, depthwise stride) of its 13 separable layers.
MBV1_LAYERS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1), (512, 1),
               (512, 1), (512, 1), (1024, 2), (1024, 1))
MBV1_WIDTHS = (0.25, 0.35, 0.5, 0.75)
MBV1_DEPTHS = (9, 10, 11, 12, 13)
MBV1_ACTS = ("RELU", "RELU6")

HELD_OUT = (  # the MLPerf Tiny reference models of perfsage.spaces.zoo, in this space's terms
    {"family": "resnet", "resolution": 32, "in_channels": 3, "stem_stride": 1, "base": 16, "growth": 2.0,
     "blocks": [1, 1, 1], "pool": "avgpool", "classes": 10, "softmax": True},
    {"family": "mobilenet_v1", "resolution": 96, "in_channels": 3, "width": 0.25, "depth": 13, "act": "RELU",
     "pool": "avgpool", "classes": 2, "softmax": True},
)


def stack_width(base: int, growth: float, stack: int) -> int:
    return make_divisible(base * growth**stack, 4)


def mbv1_channels(width: float, channels: int) -> int:
    return make_divisible(channels * width, 8)


class TinyVisionSpace(Space):
    name = "tinyvision"
    task = "tiny image classification"
    description = ("MLPerf-Tiny-style image models: CIFAR ResNets (24-96 px, 2-4 stacks of 1-3 basic blocks, "
                   "widths 8-32 growing x2/x1.5, 1x1 stride-2 shortcuts) and MobileNetV1s (64-160 px, width "
                   "0.25-0.75, the first 9-13 separable layers); average-pool or MEAN head, FC to 2-100 "
                   "classes, optional SOFTMAX; the MLPerf Tiny ResNet-8 and VWW held out")

    def sample(self, seed: int) -> ArchSpec:
        rng = self.sample_rng(seed)
        while True:
            arch = self._draw(rng)
            if not any(arch == h for h in HELD_OUT):
                return ArchSpec(self.name, arch)

    @staticmethod
    def _draw(rng: np.random.Generator) -> dict[str, Any]:
        family = FAMILIES[rng.choice(len(FAMILIES), p=FAMILY_P)]
        arch: dict[str, Any] = {"family": family}
        if family == "resnet":
            side = int(RESNET_SIDES[rng.choice(len(RESNET_SIDES), p=RESNET_SIDE_P)])
            arch.update({
                "resolution": side, "in_channels": int(IN_CHANNELS[rng.choice(2, p=IN_CHANNELS_P)]),
                "stem_stride": 2 if side >= RESNET_STEM_STRIDE2_MIN_SIDE and rng.random() < 0.5 else 1,
                "base": choice(rng, BASE_WIDTHS), "growth": float(GROWTHS[rng.choice(2, p=GROWTH_P)]),
                "blocks": [choice(rng, BLOCKS) for _ in range(choice(rng, STACKS))]})
        else:
            arch.update({
                "resolution": choice(rng, MBV1_SIDES), "in_channels": int(IN_CHANNELS[rng.choice(2, p=IN_CHANNELS_P)]),
                "width": choice(rng, MBV1_WIDTHS), "depth": choice(rng, MBV1_DEPTHS), "act": choice(rng, MBV1_ACTS)})
        arch.update({"pool": choice(rng, POOLS), "classes": choice(rng, CLASSES),
                     "softmax": bool(rng.random() < SOFTMAX_P)})
        return arch

    def build(self, arch: ArchSpec, seed: int = 0) -> bytes:
        a = arch.arch
        b = self.builder(seed)
        x = b.input((1, a["resolution"], a["resolution"], a["in_channels"]))
        x = self._resnet(b, x, a) if a["family"] == "resnet" else self._mobilenet_v1(b, x, a)
        if a["pool"] == "avgpool":
            _, h, w, _ = x.shape
            x = b.avg_pool(x, (h, w), (h, w), "VALID")
        else:
            x = b.mean(x)
        y = b.fully_connected(x, a["classes"])
        return b.finish([b.softmax(y) if a["softmax"] else y])

    @staticmethod
    def _resnet(b: ModelBuilder, x: Act, a: dict[str, Any]) -> Act:
        x = b.conv2d(x, stack_width(a["base"], a["growth"], 0), 3, a["stem_stride"], act="RELU")
        for stack, n in enumerate(a["blocks"]):
            filters = stack_width(a["base"], a["growth"], stack)
            for i in range(n):
                stride = 2 if stack > 0 and i == 0 else 1
                y = b.conv2d(x, filters, 3, stride, act="RELU")
                y = b.conv2d(y, filters, 3, 1)
                if stride != 1 or x.channels != filters:
                    x = b.conv2d(x, filters, 1, stride)
                x = b.add(x, y, act="RELU")
        return x

    @staticmethod
    def _mobilenet_v1(b: ModelBuilder, x: Act, a: dict[str, Any]) -> Act:
        act = a["act"]
        x = b.conv2d(x, mbv1_channels(a["width"], 32), 3, 2, act=act)
        for out, stride in MBV1_LAYERS[:a["depth"]]:
            x = b.conv2d(b.depthwise(x, 3, stride, act=act), mbv1_channels(a["width"], out), 1, act=act)
        return x

    def choices(self) -> dict[str, Any]:
        return {"family": [f"{f} (p={p})" for f, p in zip(FAMILIES, FAMILY_P, strict=True)],
                "in_channels": list(IN_CHANNELS), "resnet resolution": list(RESNET_SIDES),
                "resnet stem stride": [1, f"2 (inputs >= {RESNET_STEM_STRIDE2_MIN_SIDE} px, p=0.5)"],
                "resnet stacks": list(STACKS), "resnet blocks per stack": list(BLOCKS),
                "resnet base width": list(BASE_WIDTHS), "resnet growth per stack": list(GROWTHS),
                "mobilenet_v1 resolution": list(MBV1_SIDES), "mobilenet_v1 width": list(MBV1_WIDTHS),
                "mobilenet_v1 layers": list(MBV1_DEPTHS), "mobilenet_v1 act": list(MBV1_ACTS),
                "pool": list(POOLS), "classes": list(CLASSES), "softmax": [f"p={SOFTMAX_P}"]}

    def size_log10(self) -> float:
        head = len(POOLS) * len(CLASSES) * 2 * len(IN_CHANNELS)
        resnet = sum(len(BLOCKS) ** s for s in STACKS) * len(RESNET_SIDES) * 1.5 * len(BASE_WIDTHS) * len(GROWTHS)
        mbv1 = len(MBV1_SIDES) * len(MBV1_WIDTHS) * len(MBV1_DEPTHS) * len(MBV1_ACTS)
        return float(np.log10((resnet + mbv1) * head))
