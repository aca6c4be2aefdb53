"""Semantic segmentation: a MobileNetV2/V3-style encoder and a U-Net/FPN-style upsampling decoder.

The encoder is the backbone of `blocks.py`, cut after its last stride-16 stage (encoder stride 16) or
run to the end (stride 32). A 1x1 conv + ReLU/ReLU6 projects its output to the decoder's entry width;
then every decoder level doubles the resolution until the output stride (4, 2 or 1) is reached:

    upsample x2 (bilinear resize | nearest resize | transposed conv, kernel 2/3/4)
    [skip: 1x1 conv of the encoder feature at that stride -> CONCATENATION with the upsampled map]
    3x3 conv | depthwise-separable (depthwise 3x3 + 1x1), ReLU or ReLU6

followed by a linear 1x1 conv to the class logits (2, 19 or 21 classes) and optionally a resize back
to the input size. The logits are the output.

Everything is chosen so that Vela maps every operator to the NPU (measured with Vela 5.2):
- input sides are multiples of 32, so every x2 upsampling lands exactly on the encoder's feature size
  (SAME-padded stride-2 convs round up, and Vela only runs resizes with an exact 2x/4x/8x factor);
- x2 resizes use half_pixel_centers=True, as TF2's tf.image.resize writes them; Vela runs bilinear
  half-pixel resizes only at 2x, so a final 4x bilinear resize uses half_pixel_centers=False
  (nearest-neighbour is supported either way and keeps half-pixel centres);
- CONCATENATION inputs share one quantisation: after a resize the map keeps its ReLU quantisation and
  the skip conv is ReLU/ReLU6 too; after a (linear) transposed conv the skip conv is linear too.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from perfsage.spaces import quant as Q
from perfsage.spaces.base import ArchSpec, Space, choice
from perfsage.spaces.blocks import (
    ACTIVATIONS,
    EXPANSIONS,
    KERNELS,
    MBV2_STAGES,
    backbone_size_log10,
    build_backbone,
    sample_backbone,
)
from perfsage.spaces.builder import Act, ModelBuilder

SIDES = tuple(range(128, 321, 32))  # 128, 160, ..., 320: multiples of the encoder stride
WIDTHS = (0.35, 0.5, 0.75, 1.0)
ENCODER_STRIDES = (16, 32)
OUTPUT_STRIDES = (4, 2, 1)
ENTRY_CHANNELS = (64, 128, 256)
DECODER_ACTS = ("RELU", "RELU6")
UPSAMPLE = ("bilinear", "nearest", "tconv")
TCONV_KERNELS = (2, 3, 4)
SKIP_CHANNELS = (16, 32, 48)
CONV_TYPES = ("conv", "dwsep")
# Decoder channels per level, by the level's output stride.
LEVEL_CHANNELS = {16: (96, 128, 160), 8: (64, 96, 128), 4: (32, 48, 64), 2: (16, 24, 32), 1: (8, 16)}
CLASSES = (2, 19, 21)  # binary (e.g. person), Cityscapes, PASCAL VOC
FINAL_RESIZE = (None, "bilinear", "nearest")


def _encoder_stages(encoder_stride: int) -> tuple:
    """The MobileNetV2 stages that run up to `encoder_stride` (all 7 for 32, the first 5 for 16)."""
    stages, stride = [], 2  # the stem has stride 2
    for st in MBV2_STAGES:
        stride *= st[1]
        if stride > encoder_stride:
            break
        stages.append(st)
    return tuple(stages)


def _stage_strides(stages: tuple) -> list[int]:
    out, stride = [], 2
    for st in stages:
        stride *= st[1]
        out.append(stride)
    return out


def _upsample(b: ModelBuilder, x: Act, method: str, channels: int, kernel: int | None) -> Act:
    _, h, w, _ = x.shape
    if method == "tconv":
        return b.transpose_conv(x, channels, kernel, 2)
    return b.resize(x, (2 * h, 2 * w), method, half_pixel_centers=True)


def _act_matching(q: Q.QParams, preferred: str) -> str | None:
    """A fusable activation whose output quantisation is `q` (`preferred` when it fits)."""
    for act in (preferred, "RELU", "RELU6", "NONE"):
        if Q.FUSED[act] == q:
            return act
    return None


class SegmentationSpace(Space):
    name = "segmentation"
    task = "semantic segmentation"
    description = ("U-Net/FPN-style: MobileNetV2/V3-style encoder (width 0.35-1.0, kernel 3/5/7, expansion "
                   "1/3/4/6, SE on/off, ReLU/ReLU6/hard-swish) to stride 16 or 32, input 128-320 (square "
                   "or not), 1x1 entry conv, then per x2 decoder level bilinear/nearest resize or transposed "
                   "conv, optional 1x1 skip conv + concatenation, 3x3 conv or depthwise-separable "
                   "ReLU/ReLU6, down to stride 4/2/1; 1x1 conv to 2/19/21 class logits, optional final "
                   "resize to the input size")

    def sample(self, seed: int) -> ArchSpec:
        rng = self.sample_rng(seed)
        h = choice(rng, SIDES)
        w = h if rng.random() < 0.5 else choice(rng, SIDES)
        enc = choice(rng, ENCODER_STRIDES)
        arch: dict[str, Any] = {"resolution": [h, w], "encoder_stride": enc,
                                **sample_backbone(rng, stages=_encoder_stages(enc), widths=WIDTHS)}
        out_stride = choice(rng, OUTPUT_STRIDES)
        arch["output_stride"] = out_stride
        arch["entry_channels"] = choice(rng, ENTRY_CHANNELS)
        arch["entry_act"] = choice(rng, DECODER_ACTS)
        levels = []
        s = enc // 2
        while s >= out_stride:
            lv: dict[str, Any] = {"stride": s, "up": choice(rng, UPSAMPLE)}
            if lv["up"] == "tconv":
                lv["up_kernel"] = choice(rng, TCONV_KERNELS)
            lv["skip"] = choice(rng, SKIP_CHANNELS) if s >= 2 and rng.random() < 0.5 else 0
            lv["conv"] = choice(rng, CONV_TYPES)
            lv["channels"] = choice(rng, LEVEL_CHANNELS[s])
            lv["act"] = choice(rng, DECODER_ACTS)
            levels.append(lv)
            s //= 2
        arch["decoder"] = levels
        arch["classes"] = choice(rng, CLASSES)
        arch["final_resize"] = choice(rng, FINAL_RESIZE) if out_stride > 1 else None
        return ArchSpec(self.name, arch)

    def build(self, arch: ArchSpec, seed: int = 0) -> bytes:
        a = arch.arch
        b = self.builder(seed)
        h, w = a["resolution"]
        x = b.input((1, h, w, 3))
        outs = build_backbone(b, x, a)
        # The encoder feature at each stride: the last stage output with that stride.
        feats = dict(zip(_stage_strides(_encoder_stages(a["encoder_stride"])), outs, strict=True))
        y = b.conv2d(outs[-1], a["entry_channels"], 1, act=a["entry_act"])
        for lv in a["decoder"]:
            y = _upsample(b, y, lv["up"], lv["channels"], lv.get("up_kernel"))
            if lv["skip"]:
                act = _act_matching(y.q, lv["act"]) or lv["act"]  # no match: concat requantises
                y = b.concat([y, b.conv2d(feats[lv["stride"]], lv["skip"], 1, act=act)], axis=3)
            if lv["conv"] == "conv":
                y = b.conv2d(y, lv["channels"], 3, act=lv["act"])
            else:
                y = b.depthwise(y, 3, act=lv["act"])
                y = b.conv2d(y, lv["channels"], 1, act=lv["act"])
        y = b.conv2d(y, a["classes"], 1)
        if a["final_resize"]:
            f = a["output_stride"]
            y = b.resize(y, (h, w), a["final_resize"],
                         half_pixel_centers=a["final_resize"] == "nearest" or f == 2)
        return b.finish([y])

    def choices(self) -> dict[str, Any]:
        return {"resolution (height, width; square half the time)": list(SIDES), "width": list(WIDTHS),
                "encoder_stride (16: backbone cut after stage 5)": list(ENCODER_STRIDES),
                "stages (channels at width 1, stride, blocks)": [
                    f"{c}/s{s}/{lo}-{hi}" for c, s, lo, hi in MBV2_STAGES],
                "kernel": list(KERNELS), "expansion": list(EXPANSIONS), "squeeze_excite": [False, True],
                "activation (per stage, stem)": list(ACTIVATIONS),
                "output_stride (decoder levels x2 from encoder_stride)": list(OUTPUT_STRIDES),
                "entry_channels (1x1 conv on the encoder output)": list(ENTRY_CHANNELS),
                "entry_act / level act": list(DECODER_ACTS),
                "up (per level)": list(UPSAMPLE), "up_kernel (transposed conv)": list(TCONV_KERNELS),
                "skip (per level at stride >= 2; 0 = none, else 1x1 conv channels)": [0, *SKIP_CHANNELS],
                "conv (per level)": list(CONV_TYPES),
                "channels (per level, by stride)": {str(k): list(v) for k, v in LEVEL_CHANNELS.items()},
                "classes": list(CLASSES),
                "final_resize (to input size, output stride > 1)": list(FINAL_RESIZE)}

    def size_log10(self) -> float:
        ups = len(UPSAMPLE) - 1 + len(TCONV_KERNELS)
        total = 0.0
        for enc in ENCODER_STRIDES:
            backbone = 10 ** backbone_size_log10(_encoder_stages(enc), widths=len(WIDTHS))
            decoders = 0.0
            for out in OUTPUT_STRIDES:
                n, s = 1.0, enc // 2
                while s >= out:
                    skips = 1 + len(SKIP_CHANNELS) if s >= 2 else 1
                    n *= ups * skips * len(CONV_TYPES) * len(LEVEL_CHANNELS[s]) * len(DECODER_ACTS)
                    s //= 2
                decoders += n * (len(FINAL_RESIZE) if out > 1 else 1)
            total += backbone * decoders
        return float(np.log10(total * len(SIDES) ** 2 * len(ENTRY_CHANNELS) * len(DECODER_ACTS)
                              * len(CLASSES)))
