"""A zoo of real published architectures, none of which the random search spaces generate.

Each model is built from its paper (or its reference code) through `ModelBuilder`: the layer graph is
the published one, the int8 weights are random and deterministic in (name, seed). Batch norm is
folded into the preceding convolution (a bias), as the TFLite converter does; dropout is gone.

- SqueezeNet 1.1: Iandola et al., "SqueezeNet: AlexNet-level accuracy with 50x fewer parameters and
  <0.5MB model size", arXiv:1602.07360 (2016); v1.1 as in the authors' repository (torchvision
  `squeezenet1_1`, 1.235 M parameters).
- ShuffleNetV2 1.0x: Ma et al., "ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture
  Design", ECCV 2018 (Table 5: 2.3 M parameters).
- MnasNet-A1: Tan et al., "MnasNet: Platform-Aware Neural Architecture Search for Mobile", CVPR 2019
  (Figure 7 and the TPU reference `mnasnet_a1`; 3.9 M parameters).
- GhostNet 1.0x: Han et al., "GhostNet: More Features from Cheap Operations", CVPR 2020 (Table 1;
  5.2 M parameters).
- MCUNet: Lin et al., "MCUNet: Tiny Deep Learning on IoT Devices", NeurIPS 2020; the model zoo's
  `mcunet-in2` (net config `mcunet-256kb-1mb_imagenet`: 160x160 ImageNet, 67.3 M MACs, 0.73 M
  parameters, per github.com/mit-han-lab/mcunet).
- MLPerf Tiny reference models: Banbury et al., "MLPerf Tiny Benchmark", NeurIPS 2021 Datasets and
  Benchmarks, code at github.com/mlcommons/tiny (benchmark/training): DS-CNN keyword spotting,
  MobileNetV1 0.25x visual wake words, ResNet-8 on CIFAR-10, the FC autoencoder for anomaly detection.

TFLite forms follow what the converter writes: ShuffleNet's channel shuffle is RESHAPE -> TRANSPOSE ->
RESHAPE (`ModelBuilder.channel_shuffle`), its channel split is SPLIT; Keras' Flatten before a Dense
disappears (FULLY_CONNECTED flattens its input); squeeze-excite is MEAN -> CONV_2D -> CONV_2D -> gate ->
MUL. GhostNet's hard-sigmoid gate relu6(x + 3) / 6 is CONV_2D with RELU6 fused (the + 3 folded into the
random bias) followed by a MUL by the constant 1/6.

The zoo is separate from the search-space registry (`perfsage.spaces.get_space`): use `ZOO` and
`build_zoo_model(name, seed)`.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from perfsage.errors import PerfsageError
from perfsage.spaces.base import make_divisible
from perfsage.spaces.blocks import conv_act, depthwise_act, inverted_residual
from perfsage.spaces.builder import Act, ModelBuilder

ZOO_VERSION = 1  # bump when a change alters the bytes any (name, seed) produces


@dataclass(frozen=True)
class ZooModel:
    """One published architecture: `build(seed)` returns its int8 .tflite bytes."""

    name: str
    paper: str
    description: str
    build: Callable[[int], bytes]


def _builder(name: str, seed: int) -> ModelBuilder:
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(name.encode()), ZOO_VERSION])
    return ModelBuilder(rng, name="main", description=f"perfsage zoo {name}")


def _classifier(b: ModelBuilder, x: Act, classes: int) -> Act:
    """Global average pool (MEAN) -> FULLY_CONNECTED -> SOFTMAX."""
    return b.softmax(b.fully_connected(b.mean(x, keep_dims=False), classes))


def _squeeze_excite(b: ModelBuilder, x: Act, reduced: int, gate: str = "sigmoid") -> Act:
    """MEAN -> 1x1 reduce + ReLU -> 1x1 expand -> gate -> MUL; the gate is LOGISTIC (sigmoid) or the
    hard sigmoid relu6(x + 3) / 6 (CONV_2D with RELU6 fused, MUL by 1/6)."""
    g = b.mean(x, keep_dims=True)
    g = b.conv2d(g, reduced, 1, act="RELU")
    if gate == "sigmoid":
        g = b.logistic(b.conv2d(g, x.channels, 1))
    else:
        g = b.scale_by_constant(b.conv2d(g, x.channels, 1, act="RELU6"), 1 / 6)
    return b.mul(x, g)


# ------------------------------------------------------------------------------------------ SqueezeNet
# (squeeze, expand) channels of the eight fire modules of v1.1; max pools before fire 1, 3 and 5.
SQUEEZENET11_FIRES = ((16, 64), (16, 64), (32, 128), (32, 128), (48, 192), (48, 192), (64, 256), (64, 256))


def _fire(b: ModelBuilder, x: Act, squeeze: int, expand: int) -> Act:
    """Fire module: 1x1 squeeze + ReLU, then 1x1 and 3x3 expand + ReLU side by side, concatenated."""
    s = b.conv2d(x, squeeze, 1, act="RELU")
    return b.concat([b.conv2d(s, expand, 1, act="RELU"), b.conv2d(s, expand, 3, act="RELU")], axis=3)


def squeezenet11(seed: int = 0) -> bytes:
    b = _builder("squeezenet1.1", seed)
    y = b.conv2d(b.input((1, 224, 224, 3)), 64, 3, 2, "VALID", act="RELU")  # 111x111
    for i, (sq, ex) in enumerate(SQUEEZENET11_FIRES):
        if i in (0, 2, 4):
            y = b.max_pool(y, 3, 2, "VALID")  # ceil-mode pooling gives the same sizes here: 55, 27, 13
        y = _fire(b, y, sq, ex)
    y = b.conv2d(y, 1000, 1, act="RELU")  # conv10 classifier (dropout before it is gone)
    return b.finish([b.softmax(b.mean(y, keep_dims=False))])


# ---------------------------------------------------------------------------------------- ShuffleNetV2
SHUFFLENETV2_10_STAGES = ((116, 4), (232, 8), (464, 4))  # (output channels, units) of stages 2-4


def _shuffle_unit(b: ModelBuilder, x: Act, out: int, stride: int) -> Act:
    """ShuffleNetV2 unit. Stride 1: channel split, the right half through 1x1 + ReLU -> dw 3x3 -> 1x1
    + ReLU, concat with the left half. Stride 2 (down-sampling): both branches see the whole input,
    the left one dw 3x3/2 -> 1x1 + ReLU. Then a channel shuffle with 2 groups."""
    half = out // 2
    if stride == 1:
        left, right = b.split(x, 2)
    else:
        left = b.conv2d(b.depthwise(x, 3, stride), half, 1, act="RELU")
        right = x
    r = b.conv2d(right, half, 1, act="RELU")
    r = b.depthwise(r, 3, stride)
    r = b.conv2d(r, half, 1, act="RELU")
    return b.channel_shuffle(b.concat([left, r], axis=3), 2)


def shufflenetv2_10(seed: int = 0) -> bytes:
    b = _builder("shufflenetv2-1.0", seed)
    y = b.conv2d(b.input((1, 224, 224, 3)), 24, 3, 2, act="RELU")
    y = b.max_pool(y, 3, 2, "SAME")  # 56x56
    for out, units in SHUFFLENETV2_10_STAGES:
        for i in range(units):
            y = _shuffle_unit(b, y, out, 2 if i == 0 else 1)
    y = b.conv2d(y, 1024, 1, act="RELU")  # conv5
    return b.finish([_classifier(b, y, 1000)])


# ------------------------------------------------------------------------------------------ MnasNet-A1
# (repeats, kernel, stride, expansion, SE ratio, output channels), Figure 7 / `mnasnet_a1`.
MNASNET_A1_BLOCKS = ((1, 3, 1, 1, 0.0, 16), (2, 3, 2, 6, 0.0, 24), (3, 5, 2, 3, 0.25, 40),
                     (4, 3, 2, 6, 0.0, 80), (2, 3, 1, 6, 0.25, 112), (3, 5, 2, 6, 0.25, 160),
                     (1, 3, 1, 6, 0.0, 320))


def _mnas_block(b: ModelBuilder, x: Act, out: int, kernel: int, stride: int, expansion: int,
                se_ratio: float, skip: bool) -> Act:
    """MBConv as the MnasNet reference writes it: 1x1 expand + ReLU (unless e=1) -> dw + ReLU -> SE
    reducing to input channels x ratio -> 1x1 linear project -> identity ADD when the shape allows."""
    y = conv_act(b, x, x.channels * expansion, 1, 1, "RELU") if expansion != 1 else x
    y = depthwise_act(b, y, kernel, stride, "RELU")
    if se_ratio:
        y = _squeeze_excite(b, y, max(1, int(x.channels * se_ratio)))
    y = b.conv2d(y, out, 1)
    return b.add(y, x) if skip and stride == 1 and out == x.channels else y


def mnasnet_a1(seed: int = 0) -> bytes:
    b = _builder("mnasnet-a1", seed)
    y = b.conv2d(b.input((1, 224, 224, 3)), 32, 3, 2, act="RELU")
    for i, (repeats, k, s, e, se, out) in enumerate(MNASNET_A1_BLOCKS):
        for r in range(repeats):
            y = _mnas_block(b, y, out, k, s if r == 0 else 1, e, se, skip=i > 0)  # first block: noskip
    y = b.conv2d(y, 1280, 1, act="RELU")
    return b.finish([_classifier(b, y, 1000)])


# ------------------------------------------------------------------------------------------- GhostNet
# (kernel, expansion channels, output channels, SE ratio, stride) of the 16 bottlenecks, Table 1.
GHOSTNET_10_BLOCKS = (
    (3, 16, 16, 0, 1), (3, 48, 24, 0, 2), (3, 72, 24, 0, 1), (5, 72, 40, 0.25, 2), (5, 120, 40, 0.25, 1),
    (3, 240, 80, 0, 2), (3, 200, 80, 0, 1), (3, 184, 80, 0, 1), (3, 184, 80, 0, 1), (3, 480, 112, 0.25, 1),
    (3, 672, 112, 0.25, 1), (5, 672, 160, 0.25, 2), (5, 960, 160, 0, 1), (5, 960, 160, 0.25, 1),
    (5, 960, 160, 0, 1), (5, 960, 160, 0.25, 1))


def _ghost_module(b: ModelBuilder, x: Act, out: int, relu: bool) -> Act:
    """Ghost module (ratio 2): 1x1 primary conv to out/2 channels, cheap dw 3x3 on those, concat."""
    act = "RELU" if relu else "NONE"
    primary = b.conv2d(x, -(-out // 2), 1, act=act)
    cheap = b.depthwise(primary, 3, 1, act=act)
    return b.concat([primary, cheap], axis=3)  # every GhostNet width is even: no slicing needed


def _ghost_bottleneck(b: ModelBuilder, x: Act, kernel: int, mid: int, out: int, se: float,
                      stride: int) -> Act:
    y = _ghost_module(b, x, mid, relu=True)
    if stride > 1:
        y = b.depthwise(y, kernel, stride)
    if se:
        y = _squeeze_excite(b, y, make_divisible(mid * se, 4), gate="hard_sigmoid")
    y = _ghost_module(b, y, out, relu=False)
    identity = stride == 1 and out == x.channels
    return b.add(y, x if identity else b.conv2d(b.depthwise(x, kernel, stride), out, 1))


def ghostnet_10(seed: int = 0) -> bytes:
    b = _builder("ghostnet-1.0", seed)
    y = b.conv2d(b.input((1, 224, 224, 3)), 16, 3, 2, act="RELU")
    for k, mid, out, se, s in GHOSTNET_10_BLOCKS:
        y = _ghost_bottleneck(b, y, k, mid, out, se, s)
    y = b.conv2d(y, 960, 1, act="RELU")
    y = b.mean(y, keep_dims=True)
    y = b.conv2d(y, 1280, 1, act="RELU")  # conv_head after the pool (dropout before the classifier)
    return b.finish([b.softmax(b.fully_connected(y, 1000))])


# --------------------------------------------------------------------------------------------- MCUNet
# mcunet-in2 ("mcunet-256kb-1mb_imagenet"): stem 3x3/2 to 16 channels, then (in, out, kernel, stride,
# expansion) of its 18 MobileInvertedResidualBlocks, all ReLU6; no feature-mix layer; linear 160 -> 1000.
MCUNET_IN2_RESOLUTION = 160
MCUNET_IN2_STEM = 16
MCUNET_IN2_BLOCKS = (
    (16, 8, 3, 1, 1), (8, 16, 5, 2, 3), (16, 16, 7, 1, 6), (16, 16, 3, 1, 5), (16, 16, 5, 1, 5),
    (16, 24, 3, 2, 5), (24, 24, 7, 1, 6), (24, 24, 5, 1, 6), (24, 40, 7, 2, 4), (40, 40, 5, 1, 5),
    (40, 48, 3, 1, 5), (48, 48, 5, 1, 5), (48, 48, 3, 1, 4), (48, 96, 5, 2, 6), (96, 96, 5, 1, 4),
    (96, 96, 5, 1, 3), (96, 96, 3, 1, 4), (96, 160, 5, 1, 5))


def mcunet_in2(seed: int = 0) -> bytes:
    b = _builder("mcunet-in2", seed)
    r = MCUNET_IN2_RESOLUTION
    y = b.conv2d(b.input((1, r, r, 3)), MCUNET_IN2_STEM, 3, 2, act="RELU6")
    for _, out, k, s, e in MCUNET_IN2_BLOCKS:
        # mid channels = in x expansion (all multiples of 8); identity shortcut iff stride 1 and
        # in == out, exactly as blocks.inverted_residual does
        y = inverted_residual(b, y, out, k, s, e, se=False, act="RELU6")
    return b.finish([_classifier(b, y, 1000)])


# ---------------------------------------------------------------------------------------- MLPerf Tiny
def mlperf_tiny_dscnn(seed: int = 0) -> bytes:
    """KWS DS-CNN (keyword_spotting/keras_model.py): conv 10x4/2 to 64 + ReLU, 4 x (dw 3x3 + ReLU,
    1x1 conv 64 + ReLU), average pool (24, 5) -> 1x1, dense 12 + softmax."""
    b = _builder("mlperf-tiny-dscnn", seed)
    y = b.conv2d(b.input((1, 49, 10, 1)), 64, (10, 4), (2, 2), act="RELU")  # 25x5
    for _ in range(4):
        y = b.depthwise(y, 3, 1, act="RELU")
        y = b.conv2d(y, 64, 1, act="RELU")
    y = b.avg_pool(y, (24, 5), (24, 5), "VALID")  # final_pool_size = (49 // 2, 10 // 2)
    return b.finish([b.softmax(b.fully_connected(y, 12))])


# MobileNetV1 at width 0.25: (pointwise output channels, depthwise stride) of the 13 separable layers
MOBILENETV1_025_LAYERS = ((16, 1), (32, 2), (32, 1), (64, 2), (64, 1), (128, 2), (128, 1), (128, 1),
                          (128, 1), (128, 1), (128, 1), (256, 2), (256, 1))


def mlperf_tiny_vww(seed: int = 0) -> bytes:
    """VWW MobileNetV1 0.25x (visual_wake_words/vww_model.py): conv 3x3/2 to 8 + ReLU, 13 x (dw 3x3 +
    ReLU, 1x1 + ReLU), average pool 3x3, dense 2 + softmax."""
    b = _builder("mlperf-tiny-vww", seed)
    y = b.conv2d(b.input((1, 96, 96, 3)), 8, 3, 2, act="RELU")
    for out, s in MOBILENETV1_025_LAYERS:
        y = b.depthwise(y, 3, s, act="RELU")
        y = b.conv2d(y, out, 1, act="RELU")
    _, h, w, _ = y.shape
    y = b.avg_pool(y, (h, w), (h, w), "VALID")
    return b.finish([b.softmax(b.fully_connected(y, 2))])


def mlperf_tiny_resnet8(seed: int = 0) -> bytes:
    """Image classification ResNet-8 (image_classification/keras_model.py, `resnet_v1_eembc` with the
    16 filters of MLPerf Tiny v0.5-v1.x; later revisions default to 26): conv 3x3 16 + ReLU, three
    stacks of two 3x3 convs (16, 32/2, 64/2) with a residual ADD + ReLU (a 1x1/2 conv on the
    shortcut when the stack strides), average pool 8x8, dense 10 + softmax."""
    b = _builder("mlperf-tiny-resnet8", seed)
    x = b.conv2d(b.input((1, 32, 32, 3)), 16, 3, 1, act="RELU")
    for filters, stride in ((16, 1), (32, 2), (64, 2)):
        y = b.conv2d(x, filters, 3, stride, act="RELU")
        y = b.conv2d(y, filters, 3, 1)
        if stride != 1:
            x = b.conv2d(x, filters, 1, stride)
        x = b.add(x, y, act="RELU")
    _, h, w, _ = x.shape
    x = b.avg_pool(x, (h, w), (h, w), "VALID")
    return b.finish([b.softmax(b.fully_connected(x, 10))])


def mlperf_tiny_autoencoder(seed: int = 0) -> bytes:
    """Anomaly detection FC autoencoder (anomaly_detection/keras_model.py): 640 inputs (5 frames x 128
    mel bins), 4 x dense 128 + ReLU, dense 8 + ReLU bottleneck, 4 x dense 128 + ReLU, dense 640."""
    b = _builder("mlperf-tiny-autoencoder", seed)
    y = b.input((1, 640))
    for units in (128, 128, 128, 128, 8, 128, 128, 128, 128):
        y = b.fully_connected(y, units, act="RELU")
    return b.finish([b.fully_connected(y, 640)])


# ------------------------------------------------------------------------------------------- registry
_MLPERF_TINY = ("Banbury et al., MLPerf Tiny Benchmark, NeurIPS 2021 Datasets and Benchmarks "
                "(github.com/mlcommons/tiny, benchmark/training)")

ZOO: dict[str, ZooModel] = {m.name: m for m in (
    ZooModel("squeezenet1.1", "Iandola et al., SqueezeNet, arXiv:1602.07360, 2016 (v1.1)",
             "SqueezeNet 1.1, 224x224x3, 1000 classes: conv 3x3/2 64, 8 fire modules (1x1 squeeze, "
             "1x1 + 3x3 expand, concat), 3 max pools, 1x1 conv classifier, global pool, softmax",
             squeezenet11),
    ZooModel("shufflenetv2-1.0", "Ma et al., ShuffleNet V2, ECCV 2018",
             "ShuffleNetV2 1.0x, 224x224x3, 1000 classes: stages of 4/8/4 units (116/232/464 "
             "channels) with channel split (SPLIT), concat and channel shuffle (RESHAPE-TRANSPOSE-"
             "RESHAPE), conv5 1024, global pool, FC",
             shufflenetv2_10),
    ZooModel("mnasnet-a1", "Tan et al., MnasNet, CVPR 2019",
             "MnasNet-A1 1.0, 224x224x3, 1000 classes: 16 MBConv blocks (k3/k5, e1/3/6) with "
             "squeeze-excite in the 40/112/160-channel stages, ReLU, 1x1 head 1280, global pool, FC",
             mnasnet_a1),
    ZooModel("ghostnet-1.0", "Han et al., GhostNet, CVPR 2020",
             "GhostNet 1.0x, 224x224x3, 1000 classes: 16 ghost bottlenecks (ghost module = 1x1 conv + "
             "cheap dw 3x3, concat) with hard-sigmoid squeeze-excite, 1x1 960, global pool, 1x1 1280, FC",
             ghostnet_10),
    ZooModel("mcunet-in2", "Lin et al., MCUNet: Tiny Deep Learning on IoT Devices, NeurIPS 2020",
             "MCUNet model zoo mcunet-in2 (mcunet-256kb-1mb_imagenet: fits 256 kB SRAM / 1 MB Flash), "
             "160x160x3, 1000 classes: 18 inverted residual blocks (k3/5/7, e1-6), ReLU6, global pool, FC",
             mcunet_in2),
    ZooModel("mlperf-tiny-dscnn", _MLPERF_TINY,
             "MLPerf Tiny keyword spotting DS-CNN, 49x10x1 MFCCs, 12 classes: conv 10x4/2 64, "
             "4 depthwise-separable blocks of 64, average pool, FC, softmax",
             mlperf_tiny_dscnn),
    ZooModel("mlperf-tiny-vww", _MLPERF_TINY,
             "MLPerf Tiny visual wake words MobileNetV1 0.25x, 96x96x3, 2 classes: conv 3x3/2 8, "
             "13 depthwise-separable layers (16-256 channels), average pool, FC, softmax",
             mlperf_tiny_vww),
    ZooModel("mlperf-tiny-resnet8", _MLPERF_TINY,
             "MLPerf Tiny image classification ResNet-8, CIFAR-10 32x32x3, 10 classes: conv 3x3 16, "
             "3 residual stacks (16, 32, 64), average pool, FC, softmax",
             mlperf_tiny_resnet8),
    ZooModel("mlperf-tiny-autoencoder", _MLPERF_TINY,
             "MLPerf Tiny anomaly detection FC autoencoder, 640 inputs: dense 128 x4, bottleneck 8, "
             "dense 128 x4, dense 640 (all ReLU but the output)",
             mlperf_tiny_autoencoder),
)}


def zoo_names() -> list[str]:
    return list(ZOO)


def build_zoo_model(name: str, seed: int = 0) -> bytes:
    """The int8 .tflite of a zoo model, random weights deterministic in (name, seed)."""
    model = ZOO.get(name)
    if model is None:
        raise PerfsageError(f"unknown zoo model {name!r} (choose from {', '.join(ZOO)})")
    return model.build(seed)
