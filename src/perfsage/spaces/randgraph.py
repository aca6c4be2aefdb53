"""Random operator graphs: the patterns real networks are built from, wired at random over wide shapes.

Every other space draws one family's macro-structure (a MobileNet backbone, a DS-CNN, a U-Net, stages of
one block type), so a predictor trained on them learns those families and misses the next one
(issue 40: leave-one-space-out errors of 12-98%). This space draws no family. A model is a random
directed acyclic graph of patterns, each one a piece of how published networks are wired:

- convolutions: kernels 1-7, square or 1xk / kx1, dilation 1-3, stride 1 or 2, any activation;
- depthwise convolutions (kernels 3-9, dilation), depthwise-separable pairs, inverted residuals with
  an optional channel gate, grouped convolutions with a channel shuffle (RESHAPE-TRANSPOSE-RESHAPE);
- channel gating (squeeze-and-excitation): global MEAN, two small 1x1 convolutions or FULLY_CONNECTED
  layers, a sigmoid or hard-sigmoid gate, a broadcast MUL;
- standalone activations: ReLU, ReLU6, sigmoid, tanh, hard-swish, and swish (x * sigmoid(x));
- multi-branch cells (2-4 branches of 1x1 / 3x3 / separable / dilated separable convolutions, pools,
  identities) merged by CONCATENATION or ADD, as NAS cells and Inception modules are;
- dense blocks: each layer convolves the concatenation of all earlier ones (long concatenation chains);
- pooling (max / average, 2x2 or 3x3, stride 2, VALID or SAME), an explicit PAD before a VALID
  convolution (as the TF converter writes SAME padding for some layers), unfolded batch norms;
- upsampling (bilinear or nearest x2 resize, transposed convolution) merged with an earlier map of the
  same size (encoder-decoders, feature pyramids), and skip connections between any two maps of one size;
- one to three outputs: a classifier head (global pool, optional FULLY_CONNECTED and softmax), a dense
  1x1 prediction head on an intermediate map (detection), or a map itself (segmentation).

Inputs are 32-320 pixels (square, rectangular or audio-like maps, 1 or 3 channels), channels 8-1280
(sometimes not a multiple of 8), and graphs grow until a per-model budget of MACs (log-uniform, 5 M to
600 M, and at least 40 times the stem's) or operators (12 to 300) is spent. Each pattern reads the
latest map or, now and then, an earlier one, so graphs branch; joins prefer maps nothing reads yet.
Sampling runs the build through a counting builder pattern by pattern (`perfsage.spaces.tally`): every
choice sees the shapes the earlier ones made, and the architecture is the record of the choices, which
`build` replays with weights. Branches that never rejoin are pruned (`prune_dead`): every operator
feeds an output. Every pattern keeps to what LiteRT, TFLite Micro and Vela run (0 CPU operators on
Ethos-U): depth multiplier 1, strides <= 2, pooling kernels <= 3, resizes of exactly 2x, a reduced
MEAN of at most 4096 per axis.
"""

from __future__ import annotations

from math import log10
from typing import Any

import numpy as np

from perfsage.spaces.base import ArchSpec, Space
from perfsage.spaces.builder import Act, ModelBuilder
from perfsage.spaces.tally import TallyBuilder

# ------------------------------------------------------------------------------------------------ input
SIDES = tuple(range(32, 321, 8))
SHAPES = ("square", "rectangle", "audio")
SHAPE_P = (0.7, 0.2, 0.1)
AUDIO_SHAPES = ((49, 10), (49, 40), (98, 40), (124, 64), (32, 32))
IN_CHANNELS = (1, 3)
IN_CHANNELS_P = (0.25, 0.75)

# ------------------------------------------------------------------------------------------- budgets
MACS_RANGE = (5e6, 6e8)  # log-uniform per model
OPS_RANGE = (12, 300)  # uniform per model
MAX_PARAMS = 8_000_000
MAX_TENSOR = 2_000_000  # elements of the largest activation tensor
CHANNELS = (8, 1280)
ODD_CHANNELS_P = 0.15  # a width that is not a multiple of 8

# ------------------------------------------------------------------------------------------- patterns
PATTERNS = ("conv", "depthwise", "separable", "inverted_residual", "gate", "activation", "cell", "dense",
            "grouped", "pool", "pad_conv", "batch_norm", "upsample", "merge")
PATTERN_P = (0.16, 0.06, 0.12, 0.14, 0.05, 0.05, 0.08, 0.04, 0.05, 0.05, 0.03, 0.02, 0.06, 0.09)
ACTIVATIONS = ("NONE", "RELU", "RELU6", "HARD_SWISH", "SWISH", "LOGISTIC", "TANH")
ACTIVATION_P = (0.12, 0.35, 0.25, 0.12, 0.1, 0.03, 0.03)
STANDALONE = ("RELU", "RELU6", "HARD_SWISH", "SWISH", "LOGISTIC", "TANH")
CONV_KERNELS = ((1, 1), (3, 3), (5, 5), (7, 7), (1, 3), (3, 1), (1, 5), (5, 1), (1, 7), (7, 1))
CONV_KERNEL_P = (0.3, 0.38, 0.1, 0.06, 0.04, 0.04, 0.02, 0.02, 0.02, 0.02)
DW_KERNELS = (3, 5, 7, 9)
DW_KERNEL_P = (0.5, 0.3, 0.12, 0.08)
DILATIONS = (1, 2, 3)
DILATION_P = (0.8, 0.15, 0.05)
EXPANSIONS = (1, 2, 3, 4, 6)
GATES = ("sigmoid", "hard_sigmoid")
GATE_REDUCTIONS = (4, 8, 16)
BRANCHES = ("conv1", "conv3", "separable3", "separable5", "dilated3", "depthwise3", "max3", "avg3",
            "identity")
GROUPS = (2, 4, 8)
DOWN_P = 0.18  # a strided pattern downsamples (while the map is >= 8 on its shorter side)
EARLIER_P = 0.1  # a pattern reads an earlier map than the latest
MAX_MISSES = 40  # patterns that did not fit (a cap passed) before the graph is taken as grown
STEM_SHARE = 40  # the MACs budget is at least this many times the stem's
MIN_PATTERNS = 6  # after pruning dead branches
OUTPUT_COUNTS = (1, 2, 3)
OUTPUT_COUNT_P = (0.6, 0.25, 0.15)
HEADS = ("classifier", "dense", "map")
CLASSES = (2, 10, 12, 100, 1000)
SOFTMAX_MAX_CLASSES = 100


def _pick(rng: np.random.Generator, options, p=None) -> Any:
    return options[int(rng.choice(len(options), p=p))]


def _swish(b: ModelBuilder, x: Act) -> Act:
    """x * sigmoid(x), as the converter writes Keras' swish (LOGISTIC, MUL)."""
    return b.mul(x, b.logistic(x))


def _activate(b: ModelBuilder, x: Act, act: str) -> Act:
    if act == "NONE":
        return x
    if act == "SWISH":
        return _swish(b, x)
    return b.activation(x, act)


def _fusable(act: str) -> bool:
    return act in ("NONE", "RELU", "RELU6")


def _conv(b: ModelBuilder, x: Act, c: int, k, s: int = 1, act: str = "NONE", d: int = 1,
          padding: str = "SAME") -> Act:
    y = b.conv2d(x, c, tuple(k) if not isinstance(k, int) else k, s, padding,
                 act if _fusable(act) else "NONE", d)
    return y if _fusable(act) else _activate(b, y, act)


def _dw(b: ModelBuilder, x: Act, k: int, s: int = 1, act: str = "NONE", d: int = 1) -> Act:
    y = b.depthwise(x, k, s, "SAME", act if _fusable(act) else "NONE", 1, d)
    return y if _fusable(act) else _activate(b, y, act)


def _gate(b: ModelBuilder, x: Act, reduced: int, gate: str, fc: bool) -> Act:
    """Squeeze-and-excitation: global MEAN -> reduce + ReLU -> expand -> sigmoid or hard sigmoid
    (relu6(x + 3) / 6: RELU6 fused, MUL by 1/6) -> broadcast MUL. fc: the two layers are
    FULLY_CONNECTED on the pooled vector (reshaped back to 1x1xC), else 1x1 convolutions."""
    c = x.channels
    if fc:
        g = b.fully_connected(b.mean(x, keep_dims=False), reduced, act="RELU")
        g = b.fully_connected(g, c, act="NONE" if gate == "sigmoid" else "RELU6")
        g = b.reshape(g, (1, 1, 1, c))
    else:
        g = b.conv2d(b.mean(x, keep_dims=True), reduced, 1, act="RELU")
        g = b.conv2d(g, c, 1, act="NONE" if gate == "sigmoid" else "RELU6")
    g = b.logistic(g) if gate == "sigmoid" else b.scale_by_constant(g, 1 / 6)
    return b.mul(x, g)


def _project(b: ModelBuilder, x: Act, c: int) -> Act:
    return x if x.channels == c else b.conv2d(x, c, 1)


def _branch(b: ModelBuilder, x: Act, kind: str, c: int, act: str) -> Act:
    if kind == "conv1":
        return _conv(b, x, c, 1, act=act)
    if kind == "conv3":
        return _conv(b, x, c, 3, act=act)
    if kind in ("separable3", "separable5", "dilated3"):
        k, d = (5, 1) if kind == "separable5" else (3, 2 if kind == "dilated3" else 1)
        return _conv(b, _dw(b, x, k, 1, act, d), c, 1, act=act)
    if kind == "depthwise3":
        return _dw(b, x, 3, 1, act)
    if kind == "max3":
        return b.max_pool(x, 3, 1, "SAME")
    if kind == "avg3":
        return b.avg_pool(x, 3, 1, "SAME")
    if kind == "identity":
        return x
    raise ValueError(f"unknown branch {kind!r} (choose from {', '.join(BRANCHES)})")


def _upsample(b: ModelBuilder, x: Act, how: str, c: int, k: int) -> Act:
    _, h, w, _ = x.shape
    if how == "transpose_conv":
        return b.transpose_conv(x, c, k, 2)
    return b.resize(x, (2 * h, 2 * w), how, half_pixel_centers=True)


def emit_node(b: ModelBuilder, node: dict[str, Any], maps: list[Act]) -> Act:
    """One pattern's operators, reading maps[node["src"]] (and maps[node["with"]] for a merge)."""
    x = maps[node["src"]]
    kind = node["pattern"]
    c, act, s = node.get("channels"), node.get("act", "NONE"), node.get("stride", 1)
    if kind == "conv":
        return _conv(b, x, c, node["kernel"], s, act, node.get("dilation", 1))
    if kind == "depthwise":
        return _dw(b, x, node["kernel"], s, act, node.get("dilation", 1))
    if kind == "separable":
        return _conv(b, _dw(b, x, node["kernel"], s, act, node.get("dilation", 1)), c, 1, act=act)
    if kind == "inverted_residual":
        y = _conv(b, x, node["mid"], 1, act=act) if node["mid"] != x.channels else x
        y = _dw(b, y, node["kernel"], s, act)
        if node.get("gate"):
            y = _gate(b, y, node["reduced"], node["gate"], False)
        y = b.conv2d(y, c, 1)
        return b.add(y, x) if s == 1 and c == x.channels else y
    if kind == "gate":
        return _gate(b, x, node["reduced"], node["gate"], node["fc"])
    if kind == "activation":
        return _activate(b, x, act)
    if kind == "cell":
        outs = [_branch(b, x, k, c, act) for k in node["branches"]]
        if node["merge"] == "add":
            y = _project(b, outs[0], c)
            for o in outs[1:]:
                y = b.add(y, _project(b, o, c))
            return y
        return b.concat(outs, axis=3)
    if kind == "dense":
        feats = [x]
        for _ in range(node["layers"]):
            z = b.concat(feats, axis=3) if len(feats) > 1 else x
            if node["bottleneck"]:
                z = _conv(b, z, 4 * node["growth"], 1, act=act)
            feats.append(_conv(b, z, node["growth"], 3, act=act))
        return b.concat(feats, axis=3)
    if kind == "grouped":
        y = b.conv2d(x, c, node["kernel"], s, "SAME", act if _fusable(act) else "NONE", 1, node["groups"])
        return b.channel_shuffle(_activate(b, y, "NONE" if _fusable(act) else act), node["groups"])
    if kind == "pool":
        f = b.max_pool if node["op"] == "max" else b.avg_pool
        return f(x, node["kernel"], 2, node["padding"])
    if kind == "pad_conv":
        p = node["kernel"] // 2
        return _conv(b, b.pad(x, ((0, 0), (p, p), (p, p), (0, 0))), c, node["kernel"], s, act, padding="VALID")
    if kind == "batch_norm":
        return b.batch_norm(x, act)
    if kind == "upsample":
        y = _upsample(b, x, node["how"], c, node.get("kernel", 2))
        return _activate(b, y, act) if node["how"] == "transpose_conv" else y
    if kind == "merge":
        other = maps[node["with"]]
        if node["how"] == "add":
            return _activate(b, b.add(_project(b, x, other.channels), other), act) if not _fusable(act) \
                else b.add(_project(b, x, other.channels), other, act)
        return b.concat([x, other], axis=3)
    raise ValueError(f"unknown pattern {kind!r} (choose from {', '.join(PATTERNS)})")


def emit_head(b: ModelBuilder, head: dict[str, Any], maps: list[Act]) -> Act:
    x = maps[head["src"]]
    if head["kind"] == "map":
        return x
    if head["kind"] == "dense":
        return b.conv2d(x, head["channels"], 1)
    y = b.mean(x, keep_dims=False) if head["pool"] == "MEAN" else \
        b.reshape(b.avg_pool(x, x.shape[1:3], x.shape[1:3], "VALID"), (1, x.channels))
    if head["classes"]:
        y = b.fully_connected(y, head["classes"])
    return b.softmax(y) if head["softmax"] else y


def emit(b: ModelBuilder, arch: dict[str, Any]) -> list[Act]:
    maps = [b.input((1, *arch["input"]))]
    for node in arch["nodes"]:
        maps.append(emit_node(b, node, maps))
    return [emit_head(b, h, maps) for h in arch["heads"]]


# -------------------------------------------------------------------------------------------- sampling
class _Sampler:
    """Draws patterns one at a time against a counting builder, so each sees the maps made so far."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        shape = _pick(rng, SHAPES, SHAPE_P)
        if shape == "audio":
            h, w = _pick(rng, AUDIO_SHAPES)
            c = 1
        else:
            h = _pick(rng, SIDES)
            w = h if shape == "square" else _pick(rng, SIDES)
            c = _pick(rng, IN_CHANNELS, IN_CHANNELS_P)
        self.arch: dict[str, Any] = {"input": [h, w, c], "nodes": [], "heads": []}
        self.macs_budget = float(np.exp(rng.uniform(*np.log(MACS_RANGE))))
        self.ops_budget = int(rng.integers(OPS_RANGE[0], OPS_RANGE[1] + 1))
        self.tally = TallyBuilder()
        self.maps = [self.tally.input((1, h, w, c))]

    # ---- choices
    def width(self, like: int, h: int, w: int) -> int:
        """A width near the input's (x 1/4 to x 4), sometimes not a multiple of 8, capped so that the
        map stays under MAX_TENSOR."""
        c = like * 2 ** self.rng.uniform(-2, 2)
        c = round(c) if self.rng.random() < ODD_CHANNELS_P else 8 * max(1, round(c / 8))
        return int(np.clip(c, CHANNELS[0], min(CHANNELS[1], max(CHANNELS[0], MAX_TENSOR // (h * w)))))

    def act(self) -> str:
        return _pick(self.rng, ACTIVATIONS, ACTIVATION_P)

    def stride(self, h: int, w: int) -> int:
        return 2 if min(h, w) >= 8 and self.rng.random() < DOWN_P else 1

    def source(self) -> int:
        """The latest map, or now and then an earlier 4-D one (the graph branches)."""
        last = len(self.maps) - 1
        if last > 1 and self.rng.random() < EARLIER_P:
            cands = [i for i in range(1, last) if len(self.maps[i].shape) == 4]
            if cands:
                return int(self.rng.choice(cands))
        return last

    def same_size(self, src: int) -> list[int]:
        """Maps of src's size to join it with: those no pattern reads yet first (a branch left open
        would be dead code, which Vela drops and prune_dead removes)."""
        _, h, w, _ = self.maps[src].shape
        fit = [i for i, m in enumerate(self.maps) if i != src and len(m.shape) == 4 and m.shape[1:3] == (h, w)
               and i > 0]
        read = {n["src"] for n in self.arch["nodes"]} | {n["with"] for n in self.arch["nodes"] if "with" in n}
        return [i for i in fit if i not in read] or fit

    def node(self, kind: str, src: int) -> dict[str, Any] | None:
        """A pattern's parameters for the map it reads, or None where the pattern does not fit there."""
        rng = self.rng
        _, h, w, c = self.maps[src].shape
        n: dict[str, Any] = {"pattern": kind, "src": src}
        if kind in ("conv", "pad_conv"):
            k = tuple(_pick(rng, CONV_KERNELS, CONV_KERNEL_P)) if kind == "conv" else (_pick(rng, (3, 5, 7)),) * 2
            s = self.stride(h, w)
            d = _pick(rng, DILATIONS, DILATION_P) if s == 1 and max(k) > 1 and kind == "conv" else 1
            n.update(kernel=list(k) if kind == "conv" else k[0], stride=s, dilation=d,
                     channels=self.width(c, h, w), act=self.act())
            if kind == "pad_conv":
                n.pop("dilation")
        elif kind in ("depthwise", "separable"):
            k = _pick(rng, DW_KERNELS, DW_KERNEL_P)
            s = self.stride(h, w)
            n.update(kernel=k, stride=s, dilation=_pick(rng, DILATIONS, DILATION_P) if s == 1 else 1,
                     act=self.act())
            if kind == "separable":
                n["channels"] = self.width(c, h, w)
        elif kind == "inverted_residual":
            s = self.stride(h, w)
            e = _pick(rng, EXPANSIONS)
            mid = min(CHANNELS[1], 8 * max(1, round(c * e / 8))) if e > 1 else c
            if mid * h * w > MAX_TENSOR:
                return None
            n.update(kernel=_pick(rng, DW_KERNELS[:3]), stride=s, mid=mid,
                     channels=c if s == 1 and rng.random() < 0.6 else self.width(c, h, w),
                     act=_pick(rng, ("RELU", "RELU6", "HARD_SWISH", "SWISH")))
            if rng.random() < 0.35:
                n.update(gate=_pick(rng, GATES), reduced=max(8, mid // _pick(rng, GATE_REDUCTIONS)))
        elif kind == "gate":
            n.update(gate=_pick(rng, GATES), reduced=max(4, c // _pick(rng, GATE_REDUCTIONS)),
                     fc=bool(rng.random() < 0.4))
        elif kind == "activation":
            n["act"] = _pick(rng, STANDALONE)
        elif kind == "cell":
            branches = [_pick(rng, BRANCHES) for _ in range(int(rng.integers(2, 5)))]
            merge = "add" if rng.random() < 0.4 else "concat"
            out = self.width(c, h, w)
            total = sum(c if k in ("depthwise3", "max3", "avg3", "identity") else out for k in branches)
            if merge == "concat" and total * h * w > MAX_TENSOR:
                return None
            n.update(branches=branches, merge=merge, channels=out, act=_pick(rng, ("RELU", "RELU6", "NONE")))
        elif kind == "dense":
            layers, growth = int(rng.integers(2, 9)), _pick(rng, (8, 12, 16, 24, 32, 48))
            if (c + layers * growth) * h * w > MAX_TENSOR or c + layers * growth > 2048:
                return None
            n.update(layers=layers, growth=growth, bottleneck=bool(rng.random() < 0.5),
                     act=_pick(rng, ("RELU", "RELU6")))
        elif kind == "grouped":
            g = _pick(rng, GROUPS)
            out = 8 * g * max(1, round(self.width(c, h, w) / (8 * g)))
            if c % g or out * h * w > MAX_TENSOR:
                return None
            n.update(groups=g, channels=out, kernel=_pick(rng, (1, 3)), stride=self.stride(h, w),
                     act=_pick(rng, ("RELU", "RELU6", "NONE")))
        elif kind == "pool":
            if min(h, w) < 4:
                return None
            n.update(op=_pick(rng, ("max", "avg")), kernel=_pick(rng, (2, 3)), padding=_pick(rng, ("VALID", "SAME")))
        elif kind == "batch_norm":
            n["act"] = _pick(rng, ("NONE", "RELU", "RELU6"))
        elif kind == "upsample":
            if 4 * c * h * w > MAX_TENSOR or h * 2 > 640:
                return None
            how = _pick(rng, ("bilinear", "nearest", "transpose_conv"))
            n.update(how=how)
            if how == "transpose_conv":
                n.update(kernel=_pick(rng, (2, 3, 4)), channels=self.width(c, 2 * h, 2 * w),
                         act=_pick(rng, ("RELU", "RELU6", "NONE")))
        elif kind == "merge":
            partners = self.same_size(src)
            if not partners:
                return None
            other = int(rng.choice(partners))
            how = "add" if rng.random() < 0.5 else "concat"
            if how == "concat" and (c + self.maps[other].shape[3]) * h * w > MAX_TENSOR:
                return None
            n.update({"with": other, "how": how, "act": _pick(rng, ("NONE", "RELU", "RELU6"))})
        return n

    def grow(self, node: dict[str, Any]) -> bool:
        """Adds the pattern if the model stays within its caps (else leaves the tally as it was)."""
        t = self.tally
        before = t.mark()
        m = emit_node(t, node, self.maps)
        if t.macs > self.macs_budget or t.params > MAX_PARAMS or t.max_tensor > MAX_TENSOR \
                or t.ops > self.ops_budget:
            t.rewind(before)
            return False
        self.maps.append(m)
        self.arch["nodes"].append(node)
        return True

    def sample(self) -> dict[str, Any]:
        rng = self.rng
        h, w, c = self.arch["input"]
        stem = {"pattern": "conv", "src": 0, "kernel": [k := _pick(rng, (3, 5, 7)), k],
                "stride": 2 if min(h, w) >= 64 and rng.random() < 0.7 else 1, "dilation": 1,
                "channels": self.width(max(c, 16), h, w), "act": self.act()}
        if not self.grow(stem):
            stem.update(channels=8, kernel=[3, 3])
            self.maps.append(emit_node(self.tally, stem, self.maps))
            self.arch["nodes"].append(stem)
        # a large input's stem alone can spend a small budget: such a model gets STEM_SHARE stems' worth
        self.macs_budget = min(MACS_RANGE[1], max(self.macs_budget, STEM_SHARE * self.tally.macs))
        misses = 0
        while misses < MAX_MISSES and self.tally.ops < self.ops_budget - 4:
            kind = _pick(rng, PATTERNS, PATTERN_P)
            src = self.source()
            if kind == "upsample" and rng.random() < 0.7:  # encoder-decoder: up, then join a map of that size
                node = self.node(kind, src)
                if node is not None and self.grow(node):
                    join = self.node("merge", len(self.maps) - 1)
                    if join is not None:
                        self.grow(join)
                    continue
                misses += 1
                continue
            node = self.node(kind, src)
            if node is None or not self.grow(node):
                misses += 1
        self.add_heads()
        return prune_dead(self.arch)

    def add_heads(self) -> None:
        rng = self.rng
        last = len(self.maps) - 1
        count = _pick(rng, OUTPUT_COUNTS, OUTPUT_COUNT_P)
        srcs = [last] + [int(i) for i in rng.choice(np.arange(1, last), size=min(count - 1, last - 1),
                                                       replace=False)] if last > 1 else [last]
        for k, src in enumerate(srcs):
            x = self.maps[src]
            kind = "classifier" if k == 0 and rng.random() < 0.6 else _pick(rng, HEADS, (0.3, 0.45, 0.25))
            if len(x.shape) != 4 or (kind == "classifier" and max(x.shape[1:3]) > 4096):
                kind = "map"
            head: dict[str, Any] = {"kind": kind, "src": src}
            if kind == "classifier":
                head.update(pool=_pick(rng, ("MEAN", "AVERAGE_POOL_2D")) if max(x.shape[1:3]) <= 8 else "MEAN",
                            classes=_pick(rng, (0, *CLASSES)))
                # TFLite Micro's int8 softmax aborted on a third to two thirds of the weight seeds of
                # two 1000-class heads here (LiteRT and Vela ran them): softmax up to 100 classes
                head["softmax"] = bool(rng.random() < 0.5) if head["classes"] <= SOFTMAX_MAX_CLASSES else False
            elif kind == "dense":
                head["channels"] = _pick(rng, (4, 12, 18, 24, 36, 85, 255))
            before = self.tally.mark()
            emit_head(self.tally, head, self.maps)
            if self.tally.params > MAX_PARAMS or self.tally.max_tensor > MAX_TENSOR:
                self.tally.rewind(before)
                head = {"kind": "map", "src": src}
            self.arch["heads"].append(head)


def prune_dead(arch: dict[str, Any]) -> dict[str, Any]:
    """The architecture without the patterns no output depends on, maps renumbered. A branch that never
    rejoins is dead code: Vela drops it (a 64-pattern graph with 8 M parameters compiled to 2.9 KiB of
    flash) while LiteRT and TFLite Micro run it, and no published network carries one."""
    nodes = arch["nodes"]
    live = {h["src"] for h in arch["heads"]}
    for k in range(len(nodes), 0, -1):  # map k is made by nodes[k - 1]
        if k in live:
            live.add(nodes[k - 1]["src"])
            if "with" in nodes[k - 1]:
                live.add(nodes[k - 1]["with"])
    new_index = {0: 0}
    kept = []
    for k, n in enumerate(nodes, start=1):
        if k in live:
            kept.append(n)
            new_index[k] = len(kept)
    remap = [{**n, "src": new_index[n["src"]], **({"with": new_index[n["with"]]} if "with" in n else {})}
             for n in kept]
    return {**arch, "nodes": remap, "heads": [{**h, "src": new_index[h["src"]]} for h in arch["heads"]]}


# -------------------------------------------------------------------------------------------- space
class RandomGraphSpace(Space):
    name = "randgraph"
    task = "random operator graphs"
    description = ("random DAGs of the patterns real networks use (convolutions with 1-7 and dilated kernels, "
                   "depthwise and separable convolutions, inverted residuals, squeeze-and-excitation gates, "
                   "swish / hard-swish, multi-branch cells, dense concatenation chains, grouped convolutions "
                   "with channel shuffles, pools, explicit pads, batch norms, upsampling with skip joins), "
                   "inputs 32-320 px, channels 8-1280, up to 300 operators and 600 M MACs, 1-3 outputs")

    def sample(self, seed: int) -> ArchSpec:
        rng = self.sample_rng(seed)
        while True:  # a graph whose outputs depend on a few patterns only is drawn again
            arch = _Sampler(rng).sample()
            if len(arch["nodes"]) >= MIN_PATTERNS:
                return ArchSpec(self.name, arch)

    def build(self, arch: ArchSpec, seed: int = 0) -> bytes:
        b = self.builder(seed, "randgraph")
        return b.finish(emit(b, arch.arch))

    def choices(self) -> dict[str, Any]:
        return {"input": {"shape": dict(zip(SHAPES, SHAPE_P, strict=True)), "sides": [SIDES[0], SIDES[-1]],
                          "audio": [list(s) for s in AUDIO_SHAPES], "channels": list(IN_CHANNELS)},
                "budgets": {"macs (log-uniform)": list(MACS_RANGE), "operators": list(OPS_RANGE),
                            "params (cap)": MAX_PARAMS, "largest tensor (cap)": MAX_TENSOR},
                "patterns": dict(zip(PATTERNS, PATTERN_P, strict=True)),
                "activations": dict(zip(ACTIVATIONS, ACTIVATION_P, strict=True)),
                "conv kernels": [list(k) for k in CONV_KERNELS], "depthwise kernels": list(DW_KERNELS),
                "dilations": list(DILATIONS), "cell branches": list(BRANCHES), "groups": list(GROUPS),
                "outputs": list(OUTPUT_COUNTS), "heads": list(HEADS)}

    def size_log10(self) -> float:
        """A loose lower bound: a chain of 12 patterns, each a choice of pattern, width and activation."""
        return float(12 * log10(len(PATTERNS) * 160 * len(ACTIVATIONS)) + log10(len(SIDES) ** 2))
