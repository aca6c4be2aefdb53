"""Per-node and per-graph features of the IR: the numbers `inspect` prints and the models learn from.

Constant inputs are folded into the consuming node (weight/bias bytes, parameters); activation tensors
stay edges. Everything here is plain Python over the IR so that `inspect` never imports torch.
"""

from __future__ import annotations

import bisect
from dataclasses import asdict, dataclass, field

from perfsage.graph.ir import Graph, Node, Tensor
from perfsage.graph.ops import OpSpec, count_macs, elementwise_ops, scratch_bytes, spec
from perfsage.graph.weights import WeightStats


@dataclass(slots=True)
class NodeFeatures:
    index: int
    op: str
    kind: str
    fused_activation: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    input_dtype: str
    output_dtype: str
    kernel_h: int
    kernel_w: int
    stride_h: int
    stride_w: int
    padding: str  # as written in the file
    pads_input: bool  # the operator really adds border pixels (SAME that needs them; see pads_input)
    dilation_h: int
    dilation_w: int
    depth_multiplier: int
    groups: int
    macs: int
    elementwise_ops: int
    params: int
    weight_bytes: int
    bias_bytes: int
    input_bytes: int  # activation bytes read (all non-constant inputs)
    output_bytes: int  # activation bytes written
    arithmetic_intensity: float  # MACs per byte moved (weights + activations)
    scratch_bytes: int  # kernel scratch while it runs (perfsage.graph.ops.scratch_bytes)
    live_bytes: int  # activation bytes live while it runs (live_bytes)
    per_channel: bool
    n_inputs: int
    n_outputs: int
    # an earlier operator did the same work: same type, shapes, parameters and constant sizes (a compiler
    # can reuse what it generated for it: Vela stores one copy of the weights it makes for MEAN and
    # RESIZE decompositions, so the repeat owns no flash; see repeats)
    repeats_earlier: bool = False
    # the main weight tensor's stored values as a weight encoder sees them (None: no constant weights
    # of a type we read, e.g. float16 weights behind a DEQUANTIZE)
    weights: WeightStats | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(slots=True)
class GraphFeatures:
    ops: int
    tensors: int
    macs: int
    elementwise_ops: int
    params: int
    weight_bytes: int  # all parameter bytes (weights + biases), each constant tensor counted once
    bias_bytes: int
    # weight_bytes with each operator's main weight tensor at its entropy (what a lossless weight encoder
    # can at best store; perfsage.graph.weights): far below weight_bytes for pruned or clustered models
    weight_entropy_bytes: float
    weight_codec_bytes: float  # the same with Ethos-U's weight codec in place of entropy (estimated)
    input_bytes: int
    output_bytes: int
    peak_activation_bytes: int
    planned_activation_bytes: int  # greedy offset plan of activations and scratch (planned_arena_bytes)
    depth: int  # operators on the longest path
    op_types: dict[str, int] = field(default_factory=dict)
    input_shapes: list[tuple[int, ...]] = field(default_factory=list)
    output_shapes: list[tuple[int, ...]] = field(default_factory=list)


def _kernel(node: Node, s: OpSpec, w: Tensor | None) -> tuple[int, int]:
    if s.kind in ("conv", "transpose_conv") and w is not None and len(w.shape) == 4:
        return w.shape[1], w.shape[2]
    if s.kind == "depthwise" and w is not None and len(w.shape) == 4:
        return w.shape[1], w.shape[2]
    if s.kind == "pool":
        return int(node.options.get("filter_h", 1)), int(node.options.get("filter_w", 1))
    return 1, 1


def pads_input(kind: str, in_shape: tuple[int, ...], out_shape: tuple[int, ...], kernel: tuple[int, int],
               stride: tuple[int, int], dilation: tuple[int, int]) -> bool:
    """Whether a windowed operator reads border pixels that are not in its input, from the shapes alone.

    The file's SAME/VALID flag is not canonical: a 1x1 stride-1 convolution, a global pool or an even
    stride-2 1x1 convolution computes the same thing under either, and converters and our spaces pick
    differently. The shapes decide: SAME pads (out - 1) * stride + effective kernel - in pixels, VALID
    gives no positive amount; a transposed convolution crops (in - 1) * stride + kernel - out instead.
    """
    if kind not in ("conv", "depthwise", "pool", "transpose_conv") or len(in_shape) < 4 or len(out_shape) < 4:
        return False
    for axis in (0, 1):
        i, o = in_shape[-3 + axis], out_shape[-3 + axis]
        k, s, d = kernel[axis], stride[axis], max(dilation[axis], 1)
        need = (i - 1) * s + k - o if kind == "transpose_conv" else (o - 1) * s + (k - 1) * d + 1 - i
        if need > 0:
            return True
    return False


def node_features(graph: Graph, node: Node, live: int = 0) -> NodeFeatures:
    """live: the activation bytes live at its step (featurise passes live_bytes)."""
    s = spec(node.op)
    tensors = graph.tensors
    opts = node.options
    weight_bytes = bias_bytes = params = in_bytes = 0
    per_channel = False
    data_in: Tensor | None = None
    w: Tensor | None = None
    for pos, ti in enumerate(node.inputs):
        if ti < 0:
            continue
        t = tensors[ti]
        if t.is_constant:
            if pos in s.aux_inputs:
                continue
            if pos == s.bias_input:
                bias_bytes += t.data_bytes
            else:
                weight_bytes += t.data_bytes
                if pos == s.weight_input:
                    w = t
                    per_channel = t.quant is not None and t.quant.per_channel
            params += t.elements
        else:
            in_bytes += t.nbytes
            if data_in is None or pos == s.data_input:
                data_in = t
    if w is None and s.weight_input is not None and s.weight_input < len(node.inputs):
        wi = node.inputs[s.weight_input]
        w = tensors[wi] if wi >= 0 else None  # e.g. float16 weights behind a DEQUANTIZE
    out_t = tensors[node.outputs[0]] if node.outputs and node.outputs[0] >= 0 else None
    out_bytes = sum(tensors[t].nbytes for t in node.outputs if t >= 0)
    macs = count_macs(graph, node, s)
    kh, kw = _kernel(node, s, w)
    sh, sw = int(opts.get("stride_h", 1)) or 1, int(opts.get("stride_w", 1)) or 1
    dh, dw = int(opts.get("dilation_h", 1)), int(opts.get("dilation_w", 1))
    groups = 1
    if s.kind == "conv" and w is not None and data_in is not None and w.shape and data_in.shape:
        groups = max(data_in.shape[-1] // max(w.shape[-1], 1), 1)
    elif s.kind == "depthwise" and data_in is not None and data_in.shape:
        groups = max(data_in.shape[-1], 1)
    moved = weight_bytes + bias_bytes + in_bytes + out_bytes
    return NodeFeatures(
        index=node.index, op=node.op, kind=s.kind,
        fused_activation=str(opts.get("fused_activation", "NONE")),
        input_shape=data_in.shape if data_in is not None else (),
        output_shape=out_t.shape if out_t is not None else (),
        input_dtype=data_in.dtype if data_in is not None else "",
        output_dtype=out_t.dtype if out_t is not None else "",
        kernel_h=kh, kernel_w=kw,
        stride_h=sh, stride_w=sw,
        padding=str(opts.get("padding", "")),
        pads_input=pads_input(s.kind, data_in.shape if data_in is not None else (),
                              out_t.shape if out_t is not None else (), (kh, kw), (sh, sw), (dh, dw)),
        dilation_h=dh, dilation_w=dw,
        depth_multiplier=int(opts.get("depth_multiplier", 0)), groups=groups,
        macs=macs, elementwise_ops=elementwise_ops(graph, node, s), params=params,
        weight_bytes=weight_bytes, bias_bytes=bias_bytes, input_bytes=in_bytes, output_bytes=out_bytes,
        arithmetic_intensity=macs / moved if moved else 0.0, scratch_bytes=scratch_bytes(graph, node, s),
        live_bytes=live, per_channel=per_channel,
        n_inputs=sum(1 for t in node.inputs if t >= 0), n_outputs=len(node.outputs),
        weights=w.stats if w is not None else None)


def lifetimes(graph: Graph) -> dict[int, tuple[int, int]]:
    """Activation tensor -> (first step, last step) it is live when operators run in file order.

    A tensor is live from the step that produces it (step 0 for graph inputs) through its last reader
    (the last step for graph outputs); an operator's inputs and outputs are live together.
    """
    tensors = graph.tensors
    last_step = max(len(graph.nodes) - 1, 0)
    first: dict[int, int] = {t: 0 for t in graph.inputs}
    last: dict[int, int] = {}
    for node in graph.nodes:
        for t in node.outputs:
            if t >= 0 and not tensors[t].is_constant:
                first.setdefault(t, node.index)
                last[t] = max(last.get(t, node.index), node.index)
        for t in node.inputs:
            if t >= 0 and not tensors[t].is_constant:
                first.setdefault(t, 0)
                last[t] = node.index
    for t in graph.outputs:
        last[t] = last_step
        first.setdefault(t, 0)
    return {t: (start, max(last.get(t, start), start)) for t, start in sorted(first.items())}


Spans = dict[int, tuple[int, int]]  # what lifetimes returns; pass it on rather than recompute it


def live_bytes(graph: Graph, spans: Spans | None = None) -> list[int]:
    """Bytes of activation tensors live while each operator runs (see lifetimes); a graph without
    operators has one step, holding its inputs and outputs."""
    n = len(graph.nodes)
    delta = [0] * (n + 2)
    for t, (start, end) in (spans if spans is not None else lifetimes(graph)).items():
        b = graph.tensors[t].nbytes
        delta[start] += b
        delta[end + 1] -= b
    out, live = [], 0
    for d in delta[: max(n, 1)]:
        live += d
        out.append(live)
    return out


PLAN_ALIGNMENT = 16  # bytes; TFLite Micro aligns every planned buffer to 16


def planned_arena_bytes(graph: Graph, spans: Spans | None = None) -> int:
    """Arena bytes for activations and kernel scratch under greedy-by-size offset planning.

    Buffers (each activation tensor over its lifetime, each operator's scratch over its own step) are
    placed largest first, at the lowest offset that does not overlap a placed buffer live at the same
    time; equal sizes go latest-added first, as in TensorFlow Lite Micro's GreedyMemoryPlanner, whose
    non-persistent arena this reproduces byte for byte on the generated spaces. Unlike the peak of live
    bytes it sees fragmentation, and the scratch that transposed convolutions and means ask for.
    """
    spans = spans if spans is not None else lifetimes(graph)
    buffers = [(graph.tensors[t].nbytes, start, end) for t, (start, end) in spans.items()]
    buffers += [(scratch_bytes(graph, node), node.index, node.index) for node in graph.nodes]
    buffers = [(-(-size // PLAN_ALIGNMENT) * PLAN_ALIGNMENT, a, b) for size, a, b in buffers if size > 0]
    order = sorted(reversed(range(len(buffers))), key=lambda i: -buffers[i][0])  # stable: latest first
    placed: list[tuple[int, int, int, int]] = []  # (offset, size, first, last), kept sorted by offset
    top = 0
    for i in order:
        size, first, last = buffers[i]
        offset = 0
        for o, s, f, la in placed:
            if f > last or first > la:  # not live at the same time
                continue
            if o - offset >= size:  # the gap below this buffer fits
                break
            offset = max(offset, o + s)
        bisect.insort(placed, (offset, size, first, last))
        top = max(top, offset + size)
    return top


def peak_activation_bytes(graph: Graph) -> int:
    """Peak bytes of simultaneously live activation tensors when operators run in file order (see
    lifetimes). A planner without in-place reuse needs at least this; planned_arena_bytes is what a
    greedy one takes."""
    return max(live_bytes(graph), default=0)


def depth(graph: Graph) -> int:
    """Operators on the longest producer->consumer path, following execution order (cycles ignored)."""
    producer: dict[int, int] = {}
    d = [0] * len(graph.nodes)
    for node in graph.nodes:
        best = 0
        for t in node.inputs:
            p = producer.get(t)
            if p is not None and d[p] > best:
                best = d[p]
        d[node.index] = best + 1
        for t in node.outputs:
            producer[t] = node.index
    return max(d, default=0)


def repeats(nodes: list[NodeFeatures]) -> list[bool]:
    """Per operator in execution order, whether an earlier one did the same work (NodeFeatures.repeats_earlier)."""
    seen: set[tuple] = set()
    out = []
    for n in nodes:
        key = (n.op, n.input_shape, n.output_shape, n.input_dtype, n.output_dtype, n.fused_activation,
               n.kernel_h, n.kernel_w, n.stride_h, n.stride_w, n.pads_input, n.dilation_h, n.dilation_w,
               n.depth_multiplier, n.groups, n.weight_bytes, n.bias_bytes, n.n_inputs)
        out.append(key in seen)
        seen.add(key)
    return out


def featurise(graph: Graph) -> tuple[list[NodeFeatures], GraphFeatures]:
    spans = lifetimes(graph)
    live = live_bytes(graph, spans)
    nodes = [node_features(graph, n, live[n.index]) for n in graph.nodes]
    for n, rep in zip(nodes, repeats(nodes), strict=True):
        n.repeats_earlier = rep
    counted: set[int] = set()
    weight_bytes = bias_bytes = params = 0
    coded = codec = 0.0  # weight_entropy_bytes and weight_codec_bytes less the stored bytes they code
    for node in graph.nodes:
        s = spec(node.op)
        for pos, ti in enumerate(node.inputs):
            if ti < 0 or ti in counted or pos in s.aux_inputs:
                continue
            t = graph.tensors[ti]
            if t.is_constant:
                counted.add(ti)
                params += t.elements
                weight_bytes += t.data_bytes
                if pos == s.bias_input:
                    bias_bytes += t.data_bytes
                if t.stats is not None:
                    coded += t.stats.entropy_bytes - t.data_bytes
                    codec += t.stats.codec_bytes - t.data_bytes
    g = GraphFeatures(
        ops=len(graph.nodes), tensors=len(graph.tensors),
        macs=sum(n.macs for n in nodes), elementwise_ops=sum(n.elementwise_ops for n in nodes),
        params=params, weight_bytes=weight_bytes, bias_bytes=bias_bytes,
        weight_entropy_bytes=max(weight_bytes + coded, 0.0), weight_codec_bytes=max(weight_bytes + codec, 0.0),
        input_bytes=sum(graph.tensors[t].nbytes for t in graph.inputs),
        output_bytes=sum(graph.tensors[t].nbytes for t in graph.outputs),
        peak_activation_bytes=max(live), planned_activation_bytes=planned_arena_bytes(graph, spans),
        depth=depth(graph),
        op_types=graph.op_types(),
        input_shapes=[graph.tensors[t].shape for t in graph.inputs],
        output_shapes=[graph.tensors[t].shape for t in graph.outputs])
    return nodes, g
