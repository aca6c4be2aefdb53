"""Keyword spotting on 49x10 MFCC features: DS-CNN and TC-ResNet families, 12 classes.

Two families, drawn 50/50:

- DS-CNN (Zhang et al. 2017, "Hello Edge"; MLPerf Tiny's KWS reference is DS-CNN-S): a first
  convolution over the 49x10 MFCC map (kernel 10x4 / 3x3 / 5x3, stride 2x2 / 2x1 / 1x1, fused
  activation), then 2-6 depthwise-separable blocks, each with its own width (depthwise 3x3 or 5x5 +
  activation, pointwise 1x1 + activation, all stride 1), a global pool (AVERAGE_POOL_2D over the whole map, as
  Keras' AveragePooling2D + Flatten converts: pool, RESHAPE; or MEAN), FULLY_CONNECTED 12, SOFTMAX.
- TC-ResNet (Choi et al. 2019): the MFCCs become channels (RESHAPE [1,49,10,1] -> [1,49,1,10]), a
  3x1 convolution to 16k channels, then residual blocks of temporal Kx1 convolutions at widths
  (24, 32, 48) x k: TC-ResNet8 has one stride-2 block per width, TC-ResNet14 a stride-2 block and a
  stride-1 block per width. A stride-2 block is conv Kx1/2 + ReLU -> conv Kx1, with a 1x1/2 conv +
  ReLU shortcut (as in the paper's figure), ADD + ReLU; a stride-1 block has an identity shortcut.
  Then AVERAGE_POOL_2D over time, RESHAPE, FULLY_CONNECTED 12, SOFTMAX. The paper uses one K for the
  whole net and one width multiplier; here each residual block draws its own K from {9, 5, 3} and
  its own width multiplier from {1, 1.5, 2} (the paper's nets included).

Architectures whose MACs (Vela's convention, as `perfsage.graph.features` counts them) exceed
`MAX_MACS` are redrawn, so the space spans about 0.3 M to 55 M MACs; `size_log10` counts the space
before that cap.
"""

from __future__ import annotations

from math import log10
from typing import Any

from perfsage.spaces.base import ArchSpec, Space, choice
from perfsage.spaces.builder import Act, ModelBuilder, conv_out

INPUT_SHAPE = (1, 49, 10, 1)  # 49 frames x 10 MFCCs
CLASSES = 12
MAX_MACS = 55_000_000  # keeps Hello Edge DS-CNN-L (276 channels, 5 blocks: 50.6 M MACs)
FAMILIES = ("ds_cnn", "tc_resnet")

# DS-CNN
DS_FIRST_KERNELS = ((10, 4), (3, 3), (5, 3))
DS_FIRST_STRIDES = ((2, 2), (2, 1), (1, 1))
DS_CHANNELS = (32, 64, 96, 128, 172, 276)
DS_BLOCKS = (2, 6)  # inclusive range
DS_DW_KERNELS = (3, 5)
DS_ACTIVATIONS = ("RELU", "RELU6")
DS_POOLS = ("AVERAGE_POOL_2D", "MEAN")

# TC-ResNet
TC_WIDTHS = (1.0, 1.5, 2.0)
TC_DEPTHS = (8, 14)
TC_KERNELS = (9, 5, 3)
TC_FIRST_CHANNELS = 16
TC_FIRST_KERNEL = 3
TC_STAGE_CHANNELS = (24, 32, 48)


def _tc_blocks(depth: int) -> int:
    return len(TC_STAGE_CHANNELS) * (1 if depth == 8 else 2)


def _scale(c: int, width: float) -> int:
    return round(c * width)


def _tc_layout(widths: list[float], depth: int) -> list[tuple[int, int]]:
    """(output channels, stride) of each residual block."""
    per = 1 if depth == 8 else 2
    stages = [(c, 2 if i == 0 else 1) for c in TC_STAGE_CHANNELS for i in range(per)]
    return [(_scale(c, w), stride) for (c, stride), w in zip(stages, widths, strict=True)]


# Vela's nn_macs counts 2 per SOFTMAX output element; ADD, RESHAPE and fused activations count none
_HEAD_MACS = 2 * CLASSES


def _ds_macs(first_kernel, first_stride, channels: list[int], dw_kernels) -> int:
    """MACs of a DS-CNN in Vela's convention, as `perfsage.graph.features` counts them (tested
    equal); channels[0] is the first conv's width, channels[i] block i's."""
    (_, h, w, _), (kh, kw), (sh, sw) = INPUT_SHAPE, first_kernel, first_stride
    hw = conv_out(h, kh, sh, "SAME") * conv_out(w, kw, sw, "SAME")
    macs = hw * channels[0] * kh * kw * INPUT_SHAPE[3]
    for c_in, c_out, k in zip(channels[:-1], channels[1:], dw_kernels, strict=True):
        macs += hw * c_in * k * k + hw * c_in * c_out
    c = channels[-1]
    return macs + hw * c + c * CLASSES + _HEAD_MACS  # global pool, classifier, softmax


def _tc_macs(width: float, depth: int, kernels, widths) -> int:
    t, c = INPUT_SHAPE[1], INPUT_SHAPE[2]
    c1 = _scale(TC_FIRST_CHANNELS, width)
    macs = t * TC_FIRST_KERNEL * c * c1
    for (out, stride), k in zip(_tc_layout(widths, depth), kernels, strict=True):
        t2 = conv_out(t, k, stride, "SAME")
        macs += t2 * out * k * c1 + t2 * out * k * out
        if stride != 1 or out != c1:
            macs += t2 * out * c1
        t, c1 = t2, out
    return macs + t * c1 + c1 * CLASSES + _HEAD_MACS


def arch_macs(arch: dict[str, Any]) -> int:
    """MACs of an architecture dict (Vela's convention), computed without building it."""
    if arch["family"] == "ds_cnn":
        return _ds_macs(arch["first_kernel"], arch["first_stride"], arch["channels"], arch["dw_kernels"])
    return _tc_macs(arch["width"], arch["depth"], arch["kernels"], arch["widths"])


class KeywordSpottingSpace(Space):
    """Keyword spotting on a 49x10 int8 MFCC map, 12 classes: DS-CNN (first conv kernel/stride,
    width 32-276, 2-6 depthwise-separable blocks with 3x3/5x5 depthwise, ReLU/ReLU6, average pool or
    MEAN) and TC-ResNet (temporal convolutions on MFCC channels, width 1/1.5/2, depth 8/14, per-block
    kernel 9/5/3), each half the time; architectures over 55 M MACs are redrawn."""

    name = "kws"
    task = "keyword spotting"
    description = ("keyword spotting on 49x10 MFCCs, 12 classes: DS-CNN (conv 10x4/3x3/5x3 stride "
                   "2x2/2x1/1x1, 32-276 channels, 2-6 depthwise-separable blocks with dw 3x3/5x5, "
                   "ReLU/ReLU6, average pool or MEAN) or TC-ResNet8/14 (MFCCs as channels, temporal "
                   "9/5/3x1 residual blocks, width 1/1.5/2), FC + softmax; at most 55 M MACs")

    def sample(self, seed: int) -> ArchSpec:
        rng = self.sample_rng(seed)
        family = choice(rng, FAMILIES)
        while True:
            if family == "ds_cnn":
                n = int(rng.integers(DS_BLOCKS[0], DS_BLOCKS[1] + 1))
                arch = {"family": family,
                        "first_kernel": list(choice(rng, DS_FIRST_KERNELS)),
                        "first_stride": list(choice(rng, DS_FIRST_STRIDES)),
                        "channels": [choice(rng, DS_CHANNELS) for _ in range(n + 1)],
                        "dw_kernels": [choice(rng, DS_DW_KERNELS) for _ in range(n)],
                        "act": choice(rng, DS_ACTIVATIONS),
                        "pool": choice(rng, DS_POOLS)}
            else:
                depth = choice(rng, TC_DEPTHS)
                arch = {"family": family, "width": choice(rng, TC_WIDTHS), "depth": depth,
                        "kernels": [choice(rng, TC_KERNELS) for _ in range(_tc_blocks(depth))],
                        "widths": [choice(rng, TC_WIDTHS) for _ in range(_tc_blocks(depth))]}
            if arch_macs(arch) <= MAX_MACS:
                return ArchSpec(self.name, arch)

    def build(self, arch: ArchSpec, seed: int = 0) -> bytes:
        a = arch.arch
        b = self.builder(seed)
        x = b.input(INPUT_SHAPE)
        if a["family"] == "ds_cnn":
            y = self._ds_cnn(b, x, a)
        elif a["family"] == "tc_resnet":
            y = self._tc_resnet(b, x, a)
        else:
            raise ValueError(f"unknown kws family {a['family']!r} (choose from {', '.join(FAMILIES)})")
        y = b.softmax(b.fully_connected(y, CLASSES))
        return b.finish([y])

    @staticmethod
    def _ds_cnn(b: ModelBuilder, x: Act, a: dict[str, Any]) -> Act:
        channels, act = a["channels"], a["act"]
        if len(channels) != len(a["dw_kernels"]) + 1:
            raise ValueError("ds_cnn needs one channel count more than depthwise kernels")
        y = b.conv2d(x, channels[0], tuple(a["first_kernel"]), tuple(a["first_stride"]), act=act)
        for c, k in zip(channels[1:], a["dw_kernels"], strict=True):
            y = b.depthwise(y, k, 1, act=act)
            y = b.conv2d(y, c, 1, act=act)
        c = channels[-1]
        if a["pool"] == "MEAN":
            return b.mean(y, keep_dims=False)
        _, h, w, _ = y.shape
        y = b.avg_pool(y, (h, w), (h, w), "VALID")  # Keras AveragePooling2D(pool_size=(h, w))
        return b.reshape(y, (1, c))  # Flatten

    @staticmethod
    def _tc_resnet(b: ModelBuilder, x: Act, a: dict[str, Any]) -> Act:
        _, t, f, _ = INPUT_SHAPE
        y = b.reshape(x, (1, t, 1, f))  # MFCCs as channels
        y = b.conv2d(y, _scale(TC_FIRST_CHANNELS, a["width"]), (TC_FIRST_KERNEL, 1))
        for (out, stride), k in zip(_tc_layout(a["widths"], a["depth"]), a["kernels"], strict=True):
            r = b.conv2d(y, out, (k, 1), (stride, 1), act="RELU")
            r = b.conv2d(r, out, (k, 1))
            if stride != 1 or out != y.channels:
                y = b.conv2d(y, out, 1, (stride, 1), act="RELU")
            y = b.add(r, y, act="RELU")
        _, t, _, c = y.shape
        y = b.avg_pool(y, (t, 1), (t, 1), "VALID")
        return b.reshape(y, (1, c))

    def choices(self) -> dict[str, Any]:
        return {"input": list(INPUT_SHAPE), "classes": CLASSES, "max_macs": MAX_MACS,
                "family (50/50)": list(FAMILIES),
                "ds_cnn": {"first_kernel": [list(k) for k in DS_FIRST_KERNELS],
                           "first_stride": [list(s) for s in DS_FIRST_STRIDES],
                           "channels (first conv and per block)": list(DS_CHANNELS),
                           "blocks": f"{DS_BLOCKS[0]}-{DS_BLOCKS[1]}",
                           "depthwise kernel (per block)": list(DS_DW_KERNELS),
                           "activation (all layers)": list(DS_ACTIVATIONS), "pool": list(DS_POOLS)},
                "tc_resnet": {"width (first conv, and per residual block)": list(TC_WIDTHS),
                              "depth (8: 3 blocks, 14: 6 blocks)": list(TC_DEPTHS),
                              "kernel (per residual block, Kx1)": list(TC_KERNELS),
                              "first conv": f"{TC_FIRST_KERNEL}x1 to {TC_FIRST_CHANNELS}*width channels",
                              "block channels (x width)": list(TC_STAGE_CHANNELS)}}

    def size_log10(self) -> float:
        """Before the MAC cap: DS-CNN kernel x stride x widths x depthwise kernels x activation x pool,
        plus TC-ResNet first width x per-block (kernel, width) for depth 8 and 14."""
        ds = len(DS_FIRST_KERNELS) * len(DS_FIRST_STRIDES) * len(DS_ACTIVATIONS) * len(DS_POOLS) * sum(
            len(DS_CHANNELS) * (len(DS_CHANNELS) * len(DS_DW_KERNELS)) ** n
            for n in range(DS_BLOCKS[0], DS_BLOCKS[1] + 1))
        tc = len(TC_WIDTHS) * sum((len(TC_KERNELS) * len(TC_WIDTHS)) ** _tc_blocks(d) for d in TC_DEPTHS)
        return log10(ds + tc)
