"""Small U-Nets: plain-convolution encoder-decoders for dense prediction on MCUs and NPUs.

The segmentation space covers MobileNet-encoder FPNs on 128-320 px inputs; the encoder-decoders people
write by hand for small devices (person masks, defect maps, depth or saliency on 32-128 px, the TF
converter's U-Net fixture) are smaller and plainer, and the shipped predictors mis-read them: too few
MACs per transposed convolution, resizes and concatenations on maps this small
(docs/results/arbitrary_models.md). A model here is

    encoder, per level l = 0..depth: [downsample x2 unless l = 0] then `convs` 3x3 convs, c_l channels
    decoder, per level l = depth-1..0: upsample x2 (transposed conv to c_l channels, or bilinear /
        nearest resize) -> [CONCATENATION with the encoder's level-l map] -> `convs` convs, c_l channels
    head: 1x1 conv to the classes, optionally LOGISTIC

with c_l = base x growth^l (rounded to a multiple of 4), one activation (ReLU or ReLU6) throughout, as
such models are written. A transposed convolution carries that activation as a standalone operator
(Keras `Conv2DTranspose(activation=...)` converts so), which also gives both concatenation inputs one
quantisation. Every side is a multiple of 16, so each x2 upsampling lands on the encoder's map.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from perfsage.spaces.base import ArchSpec, Space, choice
from perfsage.spaces.builder import Act

SIDES = (32, 48, 64, 80, 96, 128)
IN_CHANNELS = (1, 3)
DEPTHS = (2, 3, 4)
BASES = (4, 8, 12, 16, 24, 32)
GROWTHS = (1.5, 2.0)
CONVS = (1, 2)
ACTS = ("RELU", "RELU6")
DOWNSAMPLE = ("conv", "maxpool", "avgpool")
UPSAMPLE = ("tconv", "bilinear", "nearest")
TCONV_KERNELS = (2, 3, 4)
CONV_TYPES = ("conv", "dwsep")
SKIP_P = 0.8  # share of decoder levels with a skip concatenation
CLASSES = (1, 2, 3, 8)
HEAD_ACTS = ("NONE", "LOGISTIC")


def level_channels(base: int, growth: float, level: int) -> int:
    return max(4, round(base * growth**level / 4) * 4)


class UNetSpace(Space):
    name = "unet"
    task = "small encoder-decoders"
    description = ("hand-written U-Nets for small devices: input 32-128 px (1 or 3 channels), 2-4 x2 levels, "
                   "4-32 base channels growing x1.5/x2 per level, 1-2 3x3 convs (or depthwise-separable) "
                   "per level, stride-2 conv / max / average pool down, transposed conv (kernel 2/3/4) or "
                   "bilinear / nearest resize up, skip concatenations, 1x1 head to 1-8 classes, optional "
                   "LOGISTIC")

    def sample(self, seed: int) -> ArchSpec:
        rng = self.sample_rng(seed)
        h = choice(rng, SIDES)
        depth = choice(rng, DEPTHS)
        arch: dict[str, Any] = {
            "resolution": [h, h if rng.random() < 0.6 else choice(rng, SIDES)],
            "in_channels": choice(rng, IN_CHANNELS), "depth": depth, "base": choice(rng, BASES),
            "growth": choice(rng, GROWTHS), "act": choice(rng, ACTS), "conv": choice(rng, CONV_TYPES),
            "down": choice(rng, DOWNSAMPLE), "encoder_convs": [choice(rng, CONVS) for _ in range(depth + 1)]}
        levels = []
        for _ in range(depth):
            lv: dict[str, Any] = {"up": choice(rng, UPSAMPLE), "skip": bool(rng.random() < SKIP_P),
                                  "convs": choice(rng, CONVS)}
            if lv["up"] == "tconv":
                lv["up_kernel"] = choice(rng, TCONV_KERNELS)
            levels.append(lv)
        arch["decoder"] = levels  # deepest level first
        arch["classes"] = choice(rng, CLASSES)
        arch["head_act"] = choice(rng, HEAD_ACTS)
        return ArchSpec(self.name, arch)

    def build(self, arch: ArchSpec, seed: int = 0) -> bytes:
        a = arch.arch
        b = self.builder(seed)
        h, w = a["resolution"]
        act = a["act"]

        def convs(x: Act, n: int, ch: int, stride: int = 1) -> Act:
            for i in range(n):
                s = stride if i == 0 else 1
                if a["conv"] == "conv":
                    x = b.conv2d(x, ch, 3, s, act=act)
                else:
                    x = b.conv2d(b.depthwise(x, 3, s, act=act), ch, 1, act=act)
            return x

        x = b.input((1, h, w, a["in_channels"]))
        skips: list[Act] = []
        for lvl, n in enumerate(a["encoder_convs"]):
            ch = level_channels(a["base"], a["growth"], lvl)
            if lvl == 0:
                x = convs(x, n, ch)
            elif a["down"] == "conv":
                x = convs(x, n, ch, stride=2)
            else:
                pool = b.max_pool if a["down"] == "maxpool" else b.avg_pool
                x = convs(pool(x, 2, 2), n, ch)
            skips.append(x)
        for i, lv in enumerate(a["decoder"]):
            lvl = a["depth"] - 1 - i
            ch = level_channels(a["base"], a["growth"], lvl)
            _, xh, xw, _ = x.shape
            if lv["up"] == "tconv":
                x = b.activation(b.transpose_conv(x, ch, lv["up_kernel"], 2), act)
            else:
                x = b.resize(x, (2 * xh, 2 * xw), lv["up"], half_pixel_centers=True)
            if lv["skip"]:
                x = b.concat([x, skips[lvl]], axis=3)
            x = convs(x, lv["convs"], ch)
        y = b.conv2d(x, a["classes"], 1)
        if a["head_act"] == "LOGISTIC":
            y = b.logistic(y)
        return b.finish([y])

    def choices(self) -> dict[str, Any]:
        return {"resolution (height, width; square 60%)": list(SIDES), "in_channels": list(IN_CHANNELS),
                "depth (x2 levels)": list(DEPTHS), "base channels": list(BASES),
                "growth per level": list(GROWTHS), "convs per level (encoder, decoder)": list(CONVS),
                "act (whole model)": list(ACTS), "conv (whole model)": list(CONV_TYPES),
                "down": list(DOWNSAMPLE), "up (per level)": list(UPSAMPLE),
                "up_kernel (transposed conv)": list(TCONV_KERNELS), "skip (per level)": [f"p={SKIP_P}"],
                "classes": list(CLASSES), "head_act": list(HEAD_ACTS)}

    def size_log10(self) -> float:
        ups = len(UPSAMPLE) - 1 + len(TCONV_KERNELS)
        total = 0.0
        for d in DEPTHS:
            total += len(CONVS) ** (d + 1) * (ups * 2 * len(CONVS)) ** d
        fixed = (len(SIDES) ** 2 * len(IN_CHANNELS) * len(BASES) * len(GROWTHS) * len(ACTS) * len(CONV_TYPES)
                 * len(DOWNSAMPLE) * len(CLASSES) * len(HEAD_ACTS))
        return float(np.log10(total * fixed))
