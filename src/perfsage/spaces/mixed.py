"""Mixed block families: CNNs whose stages each draw one of eight published block types, and MLPs.

The task spaces generate MobileNet-style inverted residuals, DS-CNN and TC-ResNet only; this space covers
the block types of the published architectures in `perfsage.spaces.zoo` (and beyond) so that a predictor
trained on it has seen them. Each architecture is, 80/20:

- a CNN: a square input of 32-224 pixels (1 or 3 channels) or an audio-like map (49x10, 49x40, 98x40,
  124x64, 1 channel); a stem convolution (3x3/5x5/7x7, on audio also 10x4/5x3; stride 1 or 2),
  optionally followed by MAX_POOL_2D 2x2 or 3x3 stride 2 (VALID or SAME); then 2-5 stages, each of one
  block family with 1-4 blocks:

  - fire: SqueezeNet's fire module (1x1 squeeze, 1x1 and 3x3 expand, CONCATENATION);
  - shuffle: ShuffleNetV2 units (stride 1: SPLIT, branch, CONCATENATION, channel shuffle as
    RESHAPE -> TRANSPOSE -> RESHAPE; stride 2: both branches see the input);
  - ghost: GhostNet bottlenecks (ghost modules = 1x1 conv + cheap depthwise 3x3, concatenated),
    optional squeeze-excite with a sigmoid (LOGISTIC) or hard-sigmoid (RELU6 + MUL by 1/6) gate;
  - resnet_basic / resnet_bottleneck: ResNet's two 3x3 convs, or 1x1 -> 3x3 -> 1x1 (mid = out / 2
    or out / 4), with an identity or 1x1 projection shortcut and ADD;
  - inverted_residual: MobileNetV2/V3 blocks (`blocks.inverted_residual`: kernel 3/5/7, expansion
    1/3/4/6, optional squeeze-excite);
  - separable: MobileNetV1 / DS-CNN depthwise 3x3 or 5x5 + pointwise 1x1;
  - plain: a convolution (1x1, 3x3 or 5x5);

  a stage downsamples (when the map is at least 4 wide or high) by stride 2 in its first block, or by a
  MAX_POOL_2D / AVERAGE_POOL_2D (2x2 or 3x3, stride 2) before it, or not at all; fire stages only
  pool. Widths are drawn from 8-512 (multiples of 16 for fire and shuffle, whose halves must be whole
  multiples of 8; of 8 otherwise), capped so that no stage output exceeds `MAX_STAGE_ACT` elements.
  Activations per stage: ReLU, ReLU6 or (sometimes) hard-swish; fire, shuffle and ghost blocks keep
  their papers' ReLU. Head: an optional 1x1 conv (256-1280), an optional 1x1 conv classifier
  (SqueezeNet), a global pool (MEAN, or AVERAGE_POOL_2D over the whole map), an optional
  FULLY_CONNECTED classifier (2-1000 classes), an optional SOFTMAX.
- an MLP: FULLY_CONNECTED layers with ReLU between them: either a classifier (input 32-1024, 1-5 hidden
  layers of 64-512, 2-1000 outputs, optional SOFTMAX) or an FC autoencoder as MLPerf Tiny's (input
  640 or 32-1024, 2-5 encoder layers of 64-512, bottleneck 8-32, the mirrored decoder, a linear
  output of the input size).

Architectures whose MACs (Vela's convention, as `perfsage.graph.features` counts them), weight and
bias parameters or largest activation tensor exceed `MAX_MACS`, `MAX_PARAMS` or `MAX_TENSOR` are
redrawn (`arch_tally` counts them by running the build without drawing weights). Every model keeps the
builder's fixed quantisation families, so it runs under LiteRT, TFLite Micro and Vela (0 CPU ops).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import log10
from typing import Any

import numpy as np

from perfsage.spaces import quant as Q
from perfsage.spaces.base import ArchSpec, Space, choice, make_divisible
from perfsage.spaces.blocks import conv_act, depthwise_act, inverted_residual
from perfsage.spaces.builder import Act, ModelBuilder, conv_out
from perfsage.spaces.tally import TallyBuilder
from perfsage.spaces.zoo import _fire, _ghost_module, _shuffle_unit, _squeeze_excite

KINDS = ("cnn", "mlp")
KIND_P = (0.8, 0.2)

# ------------------------------------------------------------------------------------------- CNN input
SQUARE_RESOLUTIONS = (32, 40, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224)
AUDIO_SHAPES = ((49, 10), (49, 40), (98, 40), (124, 64))  # time x frequency, 1 channel
AUDIO_P = 0.15
IN_CHANNELS = (1, 3)
IN_CHANNELS_P = (0.25, 0.75)

# ------------------------------------------------------------------------------------------------ stem
STEM_KERNELS = ((3, 3), (5, 5), (7, 7))
AUDIO_STEM_KERNELS = (*STEM_KERNELS, (10, 4), (5, 3))
STEM_STRIDES = (1, 2)
STEM_CHANNELS = (8, 16, 24, 32, 48, 64)
STEM_POOL_P = 0.35
POOL_KERNELS = (2, 3)
PADDINGS = ("VALID", "SAME")

# ---------------------------------------------------------------------------------------------- stages
FAMILIES = ("fire", "shuffle", "ghost", "resnet_basic", "resnet_bottleneck", "inverted_residual",
            "separable", "plain")
PAPER_RELU = ("fire", "shuffle", "ghost")  # families built with their papers' ReLU, whatever the stage's
FAMILY_DIVISOR = {"fire": 16, "shuffle": 16}  # others: 8
STAGES = (2, 5)  # inclusive
BLOCKS = (1, 4)  # inclusive, per stage
WIDTHS = (8, 16, 24, 32, 40, 48, 64, 80, 96, 128, 160, 192, 256, 320, 384, 448, 512)
DOWNSAMPLE_P = 0.7
DOWNSAMPLES = ("stride", "MAX_POOL_2D", "AVERAGE_POOL_2D")
ACTIVATIONS = ("RELU", "RELU6", "HARD_SWISH")
ACTIVATION_P = (0.45, 0.4, 0.15)
FIRE_SQUEEZE = (2, 4, 8)  # squeeze channels = output / this (SqueezeNet: / 8)
GHOST_KERNELS = (3, 5)
GHOST_EXPANSIONS = (1, 2, 3, 4, 6)  # mid channels = input x this
GATES = ("sigmoid", "hard_sigmoid")
BOTTLENECK_RATIOS = (2, 4)  # mid = output / this
IR_KERNELS = (3, 5, 7)
IR_EXPANSIONS = (1, 3, 4, 6)
SEPARABLE_KERNELS = (3, 5)
PLAIN_KERNELS = (1, 3, 5)

# ------------------------------------------------------------------------------------------------ head
HEAD_CONV_P = 0.35
HEAD_CONV_CHANNELS = (256, 512, 640, 960, 1024, 1280)
CLASSIFIERS = ("fc", "conv", "none")
CLASSIFIER_P = (0.6, 0.2, 0.2)
HEAD_POOLS = ("MEAN", "AVERAGE_POOL_2D")
CLASSES = (2, 3, 5, 10, 12, 20, 35, 100, 200, 1000)
SOFTMAX_P = 0.6

# ------------------------------------------------------------------------------------------------- MLP
AUTOENCODER_P = 0.5
AE_INPUT_640_P = 0.6
MLP_INPUTS = (32, 64, 100, 128, 256, 320, 490, 512, 640, 784, 1024)
MLP_UNITS = (64, 128, 256, 384, 512)
MLP_LAYERS = (1, 5)  # hidden layers of a classifier MLP, inclusive
AE_LAYERS = (2, 5)  # encoder layers (the decoder mirrors them), inclusive
AE_BOTTLENECKS = (8, 16, 24, 32)

# --------------------------------------------------------------------------------------------- limits
MAX_MACS = 600_000_000
MAX_PARAMS = 8_000_000
MAX_TENSOR = 2_000_000  # elements of the largest activation tensor (TFLite Micro's arena, Vela's SRAM)
MAX_STAGE_ACT = 1_000_000  # a stage's width is drawn among those whose output stays under this


def _pick(rng: np.random.Generator, options, p) -> Any:
    """One of `options` with probabilities `p`."""
    return options[int(rng.choice(len(options), p=p))]


def _between(rng: np.random.Generator, lo_hi: tuple[int, int]) -> int:
    return int(rng.integers(lo_hi[0], lo_hi[1] + 1))


def _round_up(c: int, divisor: int) -> int:
    return -(-c // divisor) * divisor


# ------------------------------------------------------------------------------------------- sampling
def _sample_pool(rng: np.random.Generator, h: int, w: int) -> dict[str, Any]:
    """A 2x2 or 3x3 stride-2 pool; SAME padding where the map is too small for a VALID window."""
    k = choice(rng, POOL_KERNELS)
    padding = choice(rng, PADDINGS)
    return {"kernel": k, "padding": padding if min(h, w) >= k else "SAME"}


def _pooled(h: int, w: int, pool: dict[str, Any]) -> tuple[int, int]:
    k, p = pool["kernel"], pool["padding"]
    return conv_out(h, k, 2, p), conv_out(w, k, 2, p)


def _sample_stage(rng: np.random.Generator, h: int, w: int) -> tuple[dict[str, Any], int, int]:
    fam = choice(rng, FAMILIES)
    act = _pick(rng, ACTIVATIONS, ACTIVATION_P)
    st: dict[str, Any] = {"family": fam, "act": "RELU" if fam in PAPER_RELU else act,
                          "blocks": _between(rng, BLOCKS), "down": "none"}
    if max(h, w) >= 4 and rng.random() < DOWNSAMPLE_P:
        st["down"] = choice(rng, DOWNSAMPLES[1:] if fam == "fire" else DOWNSAMPLES)
        if st["down"] == "stride":
            h, w = conv_out(h, 1, 2, "SAME"), conv_out(w, 1, 2, "SAME")
        else:
            st["pool"] = _sample_pool(rng, h, w)
            h, w = _pooled(h, w, st["pool"])
    widths = [c for c in WIDTHS if h * w * c <= MAX_STAGE_ACT] or [WIDTHS[0]]
    st["channels"] = _round_up(choice(rng, widths), FAMILY_DIVISOR.get(fam, 8))
    c = st["channels"]
    if fam == "fire":
        st["squeeze"] = make_divisible(c / choice(rng, FIRE_SQUEEZE))
    elif fam == "ghost":
        st.update(kernel=choice(rng, GHOST_KERNELS), expansion=choice(rng, GHOST_EXPANSIONS),
                  se=bool(rng.random() < 0.5), gate=choice(rng, GATES))
    elif fam == "resnet_bottleneck":
        st["mid"] = make_divisible(c / choice(rng, BOTTLENECK_RATIOS))
    elif fam == "inverted_residual":
        st.update(kernel=choice(rng, IR_KERNELS), expansion=choice(rng, IR_EXPANSIONS),
                  se=bool(rng.random() < 0.5))
    elif fam == "separable":
        st["kernel"] = choice(rng, SEPARABLE_KERNELS)
    elif fam == "plain":
        st["kernel"] = choice(rng, PLAIN_KERNELS)
    return st, h, w


def _sample_cnn(rng: np.random.Generator) -> dict[str, Any]:
    if rng.random() < AUDIO_P:
        h, w = choice(rng, AUDIO_SHAPES)
        c_in, kernels = 1, AUDIO_STEM_KERNELS
    else:
        h = w = choice(rng, SQUARE_RESOLUTIONS)
        c_in, kernels = _pick(rng, IN_CHANNELS, IN_CHANNELS_P), STEM_KERNELS
    arch: dict[str, Any] = {"kind": "cnn", "input": [h, w, c_in]}
    stride = choice(rng, STEM_STRIDES)
    stem: dict[str, Any] = {"kernel": list(choice(rng, kernels)), "stride": stride,
                            "act": _pick(rng, ACTIVATIONS, ACTIVATION_P)}
    h, w = conv_out(h, 1, stride, "SAME"), conv_out(w, 1, stride, "SAME")
    widths = [c for c in STEM_CHANNELS if h * w * c <= MAX_STAGE_ACT] or [STEM_CHANNELS[0]]
    stem["channels"] = choice(rng, widths)
    stem["pool"] = None
    if max(h, w) >= 8 and rng.random() < STEM_POOL_P:
        stem["pool"] = _sample_pool(rng, h, w)
        h, w = _pooled(h, w, stem["pool"])
    arch["stem"] = stem
    stages = []
    for _ in range(_between(rng, STAGES)):
        st, h, w = _sample_stage(rng, h, w)
        stages.append(st)
    arch["stages"] = stages
    head_conv = choice(rng, HEAD_CONV_CHANNELS) if rng.random() < HEAD_CONV_P else None
    classifier = _pick(rng, CLASSIFIERS, CLASSIFIER_P)
    arch["head"] = {
        "conv": head_conv, "conv_act": _pick(rng, ACTIVATIONS, ACTIVATION_P) if head_conv else None,
        "classifier": classifier,
        "pool": choice(rng, HEAD_POOLS), "classes": choice(rng, CLASSES),
        "softmax": classifier != "none" and bool(rng.random() < SOFTMAX_P)}
    return arch


def _sample_mlp(rng: np.random.Generator) -> dict[str, Any]:
    if rng.random() < AUTOENCODER_P:
        n = 640 if rng.random() < AE_INPUT_640_P else choice(rng, MLP_INPUTS)
        enc = sorted((choice(rng, MLP_UNITS) for _ in range(_between(rng, AE_LAYERS))), reverse=True)
        return {"kind": "mlp", "autoencoder": True, "input": n, "encoder": enc,
                "bottleneck": choice(rng, AE_BOTTLENECKS), "softmax": False}
    n = choice(rng, MLP_INPUTS)
    return {"kind": "mlp", "autoencoder": False, "input": n,
            "hidden": [choice(rng, MLP_UNITS) for _ in range(_between(rng, MLP_LAYERS))],
            "classes": choice(rng, CLASSES), "softmax": bool(rng.random() < SOFTMAX_P)}


# ------------------------------------------------------------------------------------------- building
def _add_act(b: ModelBuilder, y: Act, shortcut: Act, act: str) -> Act:
    """Residual ADD with the activation fused where TFLite can fuse it, standalone otherwise."""
    if act in ("RELU", "RELU6"):
        return b.add(y, shortcut, act=act)
    return b.activation(b.add(y, shortcut), act)


def _ghost_bottleneck(b: ModelBuilder, x: Act, st: dict[str, Any], stride: int) -> Act:
    """GhostNet bottleneck (as `zoo._ghost_bottleneck`, with the gate a choice): ghost module to
    input x expansion + ReLU -> [dw k/2] -> [SE] -> linear ghost module -> ADD of the identity or a
    dw k/s + 1x1 projection shortcut."""
    out, k = st["channels"], st["kernel"]
    mid = make_divisible(x.channels * st["expansion"])
    y = _ghost_module(b, x, mid, relu=True)
    if stride > 1:
        y = b.depthwise(y, k, stride)
    if st["se"]:
        y = _squeeze_excite(b, y, make_divisible(mid * 0.25, 4), gate=st["gate"])
    y = _ghost_module(b, y, out, relu=False)
    identity = stride == 1 and out == x.channels
    return b.add(y, x if identity else b.conv2d(b.depthwise(x, k, stride), out, 1))


def _block(b: ModelBuilder, x: Act, st: dict[str, Any], stride: int) -> Act:
    fam, c, act = st["family"], st["channels"], st["act"]
    if fam == "fire":
        return _fire(b, x, st["squeeze"], c // 2)
    if fam == "shuffle":
        if stride == 1 and (x.channels != c or x.q != Q.RELU):
            x = b.conv2d(x, c, 1, act="RELU")  # a stride-1 unit splits its input into halves of c / 2
        return _shuffle_unit(b, x, c, stride)
    if fam == "ghost":
        return _ghost_bottleneck(b, x, st, stride)
    if fam in ("resnet_basic", "resnet_bottleneck"):
        if fam == "resnet_basic":
            y = conv_act(b, x, c, 3, stride, act)
        else:
            y = conv_act(b, conv_act(b, x, st["mid"], 1, 1, act), st["mid"], 3, stride, act)
        y = b.conv2d(y, c, 3 if fam == "resnet_basic" else 1)
        shortcut = x if stride == 1 and x.channels == c else b.conv2d(x, c, 1, stride)
        return _add_act(b, y, shortcut, act)
    if fam == "inverted_residual":
        return inverted_residual(b, x, c, st["kernel"], stride, st["expansion"], st["se"], act)
    if fam == "separable":
        return conv_act(b, depthwise_act(b, x, st["kernel"], stride, act), c, 1, 1, act)
    if fam == "plain":
        return conv_act(b, x, c, st["kernel"], stride, act)
    raise ValueError(f"unknown block family {fam!r} (choose from {', '.join(FAMILIES)})")


def _pool(b: ModelBuilder, x: Act, kind: str, pool: dict[str, Any]) -> Act:
    f = b.max_pool if kind == "MAX_POOL_2D" else b.avg_pool
    return f(x, pool["kernel"], 2, pool["padding"])


def _emit_cnn(b: ModelBuilder, a: dict[str, Any]) -> Act:
    h, w, c_in = a["input"]
    stem = a["stem"]
    y = conv_act(b, b.input((1, h, w, c_in)), stem["channels"], tuple(stem["kernel"]), stem["stride"],
                 stem["act"])
    if stem["pool"]:
        y = _pool(b, y, "MAX_POOL_2D", stem["pool"])
    for st in a["stages"]:
        stride = 2 if st["down"] == "stride" else 1
        if st["down"] in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
            y = _pool(b, y, st["down"], st["pool"])
        for i in range(st["blocks"]):
            y = _block(b, y, st, stride if i == 0 else 1)
    head = a["head"]
    if head["conv"]:
        y = conv_act(b, y, head["conv"], 1, 1, head["conv_act"])
    if head["classifier"] == "conv":
        y = b.conv2d(y, head["classes"], 1, act="RELU")  # SqueezeNet's conv10 classifier
    if head["pool"] == "MEAN":
        y = b.mean(y, keep_dims=False)
    else:
        _, h, w, _ = y.shape
        y = b.avg_pool(y, (h, w), (h, w), "VALID")  # Keras AveragePooling2D over the whole map
    if head["classifier"] == "fc":
        y = b.fully_connected(y, head["classes"])  # FULLY_CONNECTED flattens its input
    elif len(y.shape) == 4:
        y = b.reshape(y, (1, y.channels))  # Flatten
    return b.softmax(y) if head["softmax"] else y


def _emit_mlp(b: ModelBuilder, a: dict[str, Any]) -> Act:
    y = b.input((1, a["input"]))
    if a["autoencoder"]:
        units, out = a["encoder"] + [a["bottleneck"]] + a["encoder"][::-1], a["input"]
    else:
        units, out = a["hidden"], a["classes"]
    for u in units:
        y = b.fully_connected(y, u, act="RELU")
    y = b.fully_connected(y, out)
    return b.softmax(y) if a["softmax"] else y


def _emit(b: ModelBuilder, a: dict[str, Any]) -> Act:
    if a["kind"] == "cnn":
        return _emit_cnn(b, a)
    if a["kind"] == "mlp":
        return _emit_mlp(b, a)
    raise ValueError(f"unknown kind {a['kind']!r} (choose from {', '.join(KINDS)})")


# ------------------------------------------------------------------------------------------- counting
@dataclass(frozen=True)
class Tally:
    macs: int
    params: int
    max_tensor: int

    @property
    def fits(self) -> bool:
        return self.macs <= MAX_MACS and self.params <= MAX_PARAMS and self.max_tensor <= MAX_TENSOR


def arch_tally(arch: dict[str, Any]) -> Tally:
    """MACs (Vela's convention), weight + bias parameters and largest activation tensor (elements) of
    an architecture dict, without drawing its weights."""
    t = TallyBuilder()
    _emit(t, arch)
    return Tally(t.macs, t.params, t.max_tensor)


# ------------------------------------------------------------------------------------------------ space
class MixedBlocksSpace(Space):
    """CNNs whose stages each use one of eight block families (fire, ShuffleNetV2, ghost, ResNet
    basic/bottleneck, inverted residual, separable, plain conv), and MLPs (classifiers and FC
    autoencoders); at most 600 M MACs, 8 M parameters."""

    name = "mixed"
    task = "mixed block families"
    description = ("mixed block families: 80% CNNs (input 32-224 square, 1/3 channels, or audio maps "
                   "49x10..124x64; conv stem 3x3-7x7 stride 1/2 with optional max pool; 2-5 stages of "
                   "1-4 blocks, each stage one of fire, ShuffleNetV2, ghost (sigmoid/hard-sigmoid SE), "
                   "ResNet basic/bottleneck, inverted residual, depthwise-separable, plain conv; widths "
                   "8-512; stride-2 or max/average pool downsampling; ReLU/ReLU6/hard-swish; MEAN or "
                   "average-pool head, optional 1x1 conv or FC classifier 2-1000 and softmax), 20% MLPs "
                   "(classifiers and FC autoencoders, input 32-1024); at most 600 M MACs, 8 M parameters")

    def sample(self, seed: int) -> ArchSpec:
        rng = self.sample_rng(seed)
        kind = _pick(rng, KINDS, KIND_P)
        while True:
            arch = _sample_cnn(rng) if kind == "cnn" else _sample_mlp(rng)
            if arch_tally(arch).fits:
                return ArchSpec(self.name, arch)

    def build(self, arch: ArchSpec, seed: int = 0) -> bytes:
        b = self.builder(seed, arch.arch["kind"])
        return b.finish([_emit(b, arch.arch)])

    def choices(self) -> dict[str, Any]:
        return {
            "kind (80/20)": list(KINDS),
            "limits (redrawn above)": {"macs": MAX_MACS, "params": MAX_PARAMS,
                                       "largest activation tensor": MAX_TENSOR},
            "cnn": {
                "input (square, channels 1/3)": list(SQUARE_RESOLUTIONS),
                "input (audio-like, 1 channel, 15%)": [list(s) for s in AUDIO_SHAPES],
                "stem kernel": [list(k) for k in STEM_KERNELS],
                "stem kernel (audio, also)": [list(k) for k in AUDIO_STEM_KERNELS[len(STEM_KERNELS):]],
                "stem stride": list(STEM_STRIDES), "stem channels": list(STEM_CHANNELS),
                "stem max pool (35%)": {"kernel": list(POOL_KERNELS), "stride": 2, "padding": list(PADDINGS)},
                "stages": f"{STAGES[0]}-{STAGES[1]}", "blocks per stage": f"{BLOCKS[0]}-{BLOCKS[1]}",
                "family (per stage)": list(FAMILIES),
                "channels (per stage; x16 for fire/shuffle)": list(WIDTHS),
                "downsample (per stage, 70% when the map is >= 4)": list(DOWNSAMPLES),
                "pool": {"kernel": list(POOL_KERNELS), "stride": 2, "padding": list(PADDINGS)},
                "activation (per stage; fire/shuffle/ghost: ReLU)": list(ACTIVATIONS),
                "fire squeeze (output / r)": list(FIRE_SQUEEZE),
                "ghost": {"kernel": list(GHOST_KERNELS), "expansion": list(GHOST_EXPANSIONS),
                          "squeeze_excite": [False, True], "gate": list(GATES)},
                "resnet_bottleneck mid (output / r)": list(BOTTLENECK_RATIOS),
                "inverted_residual": {"kernel": list(IR_KERNELS), "expansion": list(IR_EXPANSIONS),
                                      "squeeze_excite": [False, True]},
                "separable kernel": list(SEPARABLE_KERNELS), "plain kernel": list(PLAIN_KERNELS),
                "head conv (35%)": list(HEAD_CONV_CHANNELS), "head classifier": list(CLASSIFIERS),
                "head pool": list(HEAD_POOLS), "classes": list(CLASSES), "softmax": [False, True]},
            "mlp": {
                "autoencoder (50%)": {"input (640 60%)": list(MLP_INPUTS), "encoder units": list(MLP_UNITS),
                                      "encoder layers": f"{AE_LAYERS[0]}-{AE_LAYERS[1]}",
                                      "bottleneck": list(AE_BOTTLENECKS)},
                "classifier": {"input": list(MLP_INPUTS), "hidden units": list(MLP_UNITS),
                               "hidden layers": f"{MLP_LAYERS[0]}-{MLP_LAYERS[1]}",
                               "classes": list(CLASSES), "softmax": [False, True]}},
        }

    def size_log10(self) -> float:
        """Before the caps and the width filter: input x stem x head, times the stage choices
        (family options x widths x blocks x downsampling x activation) for 2-5 stages; plus the MLPs."""
        fam_options = {"fire": len(FIRE_SQUEEZE), "shuffle": 1,
                       "ghost": len(GHOST_KERNELS) * len(GHOST_EXPANSIONS) * (1 + len(GATES)),
                       "resnet_basic": len(ACTIVATIONS), "resnet_bottleneck": len(BOTTLENECK_RATIOS) * len(ACTIVATIONS),
                       "inverted_residual": len(IR_KERNELS) * len(IR_EXPANSIONS) * 2 * len(ACTIVATIONS),
                       "separable": len(SEPARABLE_KERNELS) * len(ACTIVATIONS),
                       "plain": len(PLAIN_KERNELS) * len(ACTIVATIONS)}
        pools = len(POOL_KERNELS) * len(PADDINGS)
        downs = 1 + 1 + 2 * pools  # none, stride, max/avg pools
        per_stage = sum(fam_options.values()) * len(WIDTHS) * (BLOCKS[1] - BLOCKS[0] + 1) * downs
        inputs = len(SQUARE_RESOLUTIONS) * len(IN_CHANNELS) + len(AUDIO_SHAPES)
        stem = len(AUDIO_STEM_KERNELS) * len(STEM_STRIDES) * len(STEM_CHANNELS) * len(ACTIVATIONS) * (1 + pools)
        head = (1 + len(HEAD_CONV_CHANNELS) * len(ACTIVATIONS)) * len(HEAD_POOLS) * (1 + 2 * len(CLASSES) * 2)
        cnn = inputs * stem * head * sum(per_stage ** n for n in range(STAGES[0], STAGES[1] + 1))
        u = len(MLP_UNITS)
        ae = len(MLP_INPUTS) * len(AE_BOTTLENECKS) * sum(u ** n for n in range(AE_LAYERS[0], AE_LAYERS[1] + 1))
        mlp = len(MLP_INPUTS) * len(CLASSES) * 2 * sum(u ** n for n in range(MLP_LAYERS[0], MLP_LAYERS[1] + 1))
        return log10(cnn + ae + mlp)
