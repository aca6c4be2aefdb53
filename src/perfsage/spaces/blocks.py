"""Building blocks shared by the search spaces: MobileNet-style inverted residuals and backbones."""

from __future__ import annotations

from typing import Any

import numpy as np

from perfsage.spaces.base import choice, make_divisible
from perfsage.spaces.builder import Act, ModelBuilder

ACTIVATIONS = ("RELU", "RELU6", "HARD_SWISH")
KERNELS = (3, 5, 7)
EXPANSIONS = (1, 3, 4, 6)

# MobileNetV2's stage layout: (output channels at width 1.0, stride, min blocks, max blocks).
MBV2_STAGES = ((16, 1, 1, 1), (24, 2, 1, 4), (32, 2, 1, 4), (64, 2, 1, 4), (96, 1, 1, 4), (160, 2, 1, 4),
               (320, 1, 1, 1))
# The same stages with up to 8 blocks in the middle five (EfficientNet-B0 / MobileNetV3-Large depth and
# beyond), so classification and detection reach several hundred operators.
DEEP_STAGES = tuple((c, s, lo, 8 if 1 <= i <= 5 else hi) for i, (c, s, lo, hi) in enumerate(MBV2_STAGES))


def conv_act(b: ModelBuilder, x: Act, filters: int, kernel=1, stride=1, act: str = "RELU6") -> Act:
    """Convolution followed by an activation: fused when TFLite can fuse it, standalone otherwise
    (HARD_SWISH), as the converter emits it."""
    if act in ("NONE", "RELU", "RELU6"):
        return b.conv2d(x, filters, kernel, stride, act=act)
    return b.activation(b.conv2d(x, filters, kernel, stride), act)


def depthwise_act(b: ModelBuilder, x: Act, kernel: int, stride: int, act: str) -> Act:
    if act in ("NONE", "RELU", "RELU6"):
        return b.depthwise(x, kernel, stride, act=act)
    return b.activation(b.depthwise(x, kernel, stride), act)


def squeeze_excite(b: ModelBuilder, x: Act, ratio: float = 0.25) -> Act:
    """MobileNetV3 squeeze-excite: global mean -> 1x1 reduce + ReLU -> 1x1 expand -> sigmoid gate -> MUL."""
    c = x.channels
    g = b.mean(x, keep_dims=True)
    g = b.conv2d(g, make_divisible(c * ratio), 1, act="RELU")
    g = b.logistic(b.conv2d(g, c, 1))
    return b.mul(x, g)


def inverted_residual(b: ModelBuilder, x: Act, out: int, kernel: int, stride: int, expansion: int,
                      se: bool, act: str) -> Act:
    """MobileNetV2/V3 block: 1x1 expand (unless e=1) -> depthwise -> [SE] -> 1x1 linear project
    [-> residual ADD when stride 1 and channels match]."""
    y = x
    if expansion != 1:
        y = conv_act(b, y, make_divisible(x.channels * expansion), 1, 1, act)
    y = depthwise_act(b, y, kernel, stride, act)
    if se:
        y = squeeze_excite(b, y)
    y = b.conv2d(y, out, 1)
    if stride == 1 and out == x.channels:
        y = b.add(y, x)
    return y


def sample_backbone(rng: np.random.Generator, stages=MBV2_STAGES, widths=(0.35, 0.5, 0.75, 1.0, 1.25, 1.4),
                    min_blocks_override: int | None = None) -> dict[str, Any]:
    """A MobileNetV2/V3-style backbone: width, stem, and per stage an activation and per-block
    kernel / expansion / squeeze-excite choices."""
    width = choice(rng, widths)
    out = {"width": width, "stem_act": choice(rng, ACTIVATIONS), "stages": []}
    for base, stride, lo, hi in stages:
        lo = min_blocks_override or lo
        n = int(rng.integers(lo, hi + 1))
        out["stages"].append({
            "channels": make_divisible(base * width), "stride": stride, "act": choice(rng, ACTIVATIONS),
            "blocks": [{"k": choice(rng, KERNELS), "e": choice(rng, EXPANSIONS),
                        "se": bool(rng.random() < 0.5)} for _ in range(n)]})
    return out


def square_backbone(b: ModelBuilder, spec: dict[str, Any]) -> list[Act]:
    """Input of spec["resolution"] squared RGB, then the backbone; the stage outputs."""
    r = spec["resolution"]
    return build_backbone(b, b.input((1, r, r, 3)), spec)


def build_backbone(b: ModelBuilder, x: Act, spec: dict[str, Any]) -> list[Act]:
    """Stem + stages; returns the output of every stage (for detection / segmentation heads)."""
    y = conv_act(b, x, make_divisible(32 * spec["width"]), 3, 2, spec["stem_act"])
    outs = []
    for stage in spec["stages"]:
        for i, blk in enumerate(stage["blocks"]):
            y = inverted_residual(b, y, stage["channels"], blk["k"], stage["stride"] if i == 0 else 1,
                                  blk["e"], blk["se"], stage["act"])
        outs.append(y)
    return outs


def backbone_size_log10(stages=MBV2_STAGES, widths: int = 6) -> float:
    """log10 of distinct backbones: per block kernel x expansion x SE, per stage an activation."""
    per_block = len(KERNELS) * len(EXPANSIONS) * 2
    total = np.log10(widths) + np.log10(len(ACTIVATIONS))
    for _, _, lo, hi in stages:
        total += np.log10(len(ACTIVATIONS)) + np.log10(sum(per_block ** n for n in range(lo, hi + 1)))
    return float(total)
