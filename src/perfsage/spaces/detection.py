"""Object detection: SSDLite-style heads on a MobileNetV2/V3-style backbone.

Feature maps are the stride-16 stage output, the last (stride-32) stage output (optionally after a
1x1 conv to 1280 x width channels, as in SSDLite-MobileNetV2), and 2-4 extra layers, each a 1x1 conv to
C/2 -> depthwise 3x3 stride 2 -> 1x1 conv to C, all ReLU6, that halve the scale again. Every feature map
gets a box head and a class head: depthwise (kernel 3 or 5) + ReLU6, then a linear 1x1 conv to
anchors x 4 (box offsets) or anchors x (classes + 1) (class logits incl. background). Each head output
is reshaped to [1, H*W*anchors, 4] / [1, H*W*anchors, classes + 1] and the maps are concatenated along
axis 1 into the two outputs: boxes and class logits. All head convs are linear, so every concatenated
input already has the LINEAR quantisation and no QUANTIZE ops are needed.

The TFLite_Detection_PostProcess custom op (anchor decoding + NMS) is left out on purpose: it is a
custom CPU op that Vela never maps to the NPU and TFLite Micro only runs as a reference kernel, so it
would add the same CPU tail to every model and blur the NPU-side labels.
"""

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
    sample_backbone,
    square_backbone,
)
from perfsage.spaces.builder import Act, ModelBuilder

RESOLUTIONS = tuple(range(160, 321, 16))  # 160, 176, ..., 320
WIDTHS = (0.35, 0.5, 0.75, 1.0)
ANCHORS = (3, 6)
CLASSES = (20, 90)  # PASCAL VOC / COCO (background added as one more logit)
HEAD_KERNELS = (3, 5)
EXTRA_LAYERS = (2, 3, 4)
# Output channels C of the extra layers at scale 1.0 (SSDLite: 512, 256, 256, 128); bottleneck is C/2.
EXTRA_BASE = (512, 256, 256, 128)
EXTRA_SCALES = (0.25, 0.5, 1.0)
STRIDE16_STAGE = 4  # index in MBV2_STAGES of the last stride-16 stage (96 channels at width 1)


def _extra_layer(b: ModelBuilder, x: Act, channels: int) -> Act:
    """SSDLite extra feature layer: 1x1 to C/2 -> depthwise 3x3 stride 2 -> 1x1 to C, all ReLU6."""
    y = b.conv2d(x, make_divisible(channels / 2), 1, act="RELU6")
    y = b.depthwise(y, 3, 2, act="RELU6")
    return b.conv2d(y, channels, 1, act="RELU6")


def _head(b: ModelBuilder, x: Act, kernel: int, anchors: int, per_anchor: int) -> Act:
    """Depthwise + ReLU6, then a linear 1x1 conv to anchors x per_anchor, flattened to [1, HWA, per_anchor]."""
    y = b.depthwise(x, kernel, 1, act="RELU6")
    y = b.conv2d(y, anchors * per_anchor, 1)
    _, h, w, _ = y.shape
    return b.reshape(y, (1, h * w * anchors, per_anchor))


class DetectionSpace(Space):
    name = "detection"
    task = "object detection"
    description = ("SSDLite-style: MobileNetV2/V3-style backbone (width 0.35-1.0, kernel 3/5/7, expansion "
                   "1/3/4/6, SE on/off, ReLU/ReLU6/hard-swish, 1-8 blocks per middle stage), input 160-320, "
                   "features at stride 16, stride 32 (optional 1x1 conv to 1280 x width) and 2-4 extra "
                   "1x1/depthwise-s2/1x1 ReLU6 layers (width x0.25/0.5/1 of 512-256-256-128); per map a "
                   "depthwise 3/5 + 1x1 box head and class head with 3 or 6 anchors, 20 or 90 classes, "
                   "reshaped and concatenated into box and class-logit outputs (no post-processing op)")

    def sample(self, seed: int) -> ArchSpec:
        rng = self.sample_rng(seed)
        arch: dict[str, Any] = {"resolution": choice(rng, RESOLUTIONS),
                                **sample_backbone(rng, DEEP_STAGES, widths=WIDTHS)}
        arch["last_conv"] = bool(rng.random() < 0.5)
        n_extra = choice(rng, EXTRA_LAYERS)
        scale = choice(rng, EXTRA_SCALES)
        arch["extra_channels"] = [make_divisible(c * scale) for c in EXTRA_BASE[:n_extra]]
        n_maps = 2 + n_extra
        arch["anchors"] = [choice(rng, ANCHORS) for _ in range(n_maps)]
        arch["head_kernels"] = [choice(rng, HEAD_KERNELS) for _ in range(n_maps)]
        arch["classes"] = choice(rng, CLASSES)
        return ArchSpec(self.name, arch)

    def build(self, arch: ArchSpec, seed: int = 0) -> bytes:
        a = arch.arch
        b = self.builder(seed)
        stages = square_backbone(b, a)
        c16, c32 = stages[STRIDE16_STAGE], stages[-1]
        if a["last_conv"]:
            c32 = b.conv2d(c32, make_divisible(1280 * a["width"]), 1, act="RELU6")
        maps = [c16, c32]
        for ch in a["extra_channels"]:
            maps.append(_extra_layer(b, maps[-1], ch))
        boxes, logits = [], []
        for fm, anchors, k in zip(maps, a["anchors"], a["head_kernels"], strict=True):
            boxes.append(_head(b, fm, k, anchors, 4))
            logits.append(_head(b, fm, k, anchors, a["classes"] + 1))
        return b.finish([b.concat(boxes, axis=1), b.concat(logits, axis=1)])

    def choices(self) -> dict[str, Any]:
        return {"resolution (square)": list(RESOLUTIONS), "width": list(WIDTHS),
                "stages (channels at width 1, stride, blocks)": [
                    f"{c}/s{s}/{lo}-{hi}" for c, s, lo, hi in DEEP_STAGES],
                "kernel": list(KERNELS), "expansion": list(EXPANSIONS), "squeeze_excite": [False, True],
                "activation (per stage, stem)": list(ACTIVATIONS),
                "feature maps": "stride-16 stage output, last stage output, then the extra layers",
                "last_conv (1x1 to 1280 x width, ReLU6, on the stride-32 map)": [False, True],
                "extra_layers": list(EXTRA_LAYERS),
                "extra_channels (C per extra layer, x scale)": {"base": list(EXTRA_BASE),
                                                                "scale": list(EXTRA_SCALES)},
                "anchors (per feature map)": list(ANCHORS),
                "head_kernel (per feature map, depthwise)": list(HEAD_KERNELS),
                "classes (+1 background logit)": list(CLASSES),
                "outputs": "boxes [1, N, 4] and class logits [1, N, classes + 1], int8, no post-processing"}

    def size_log10(self) -> float:
        per_map = len(ANCHORS) * len(HEAD_KERNELS)
        heads = sum(per_map ** (2 + n) for n in EXTRA_LAYERS)
        return float(backbone_size_log10(DEEP_STAGES, widths=len(WIDTHS)) + np.log10(heads)
                     + np.log10(len(RESOLUTIONS) * 2 * len(EXTRA_SCALES) * len(CLASSES)))
