"""Operator registry: what kind of work each TFLite operator does and how to count it.

MACs follow Vela's `nn_macs` convention, so the two agree on NPU-mappable models:
- convolution, transposed convolution (run by the NPU as a convolution over the zero-upsampled input)
  and fully-connected: kernel x input depth x output elements;
- depthwise convolution and pooling: kernel x output elements; reductions (MEAN): input elements;
- work Vela runs on its pooling engine (standalone activations, memory copies for TILE, the softmax
  decomposition) counts `vela_elem_macs` per output element; CONCATENATION counts none, because Vela
  usually has the producers write straight into the output;
- binary elementwise arithmetic (ADD, MUL, ...) counts no MACs, as in Vela.
Elementwise work is reported separately as `elementwise_ops` (output elements).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

from perfsage.graph.ir import Graph, Node, Tensor


@dataclass(frozen=True, slots=True)
class OpSpec:
    name: str
    kind: str
    weight_input: int | None = None  # position of the main weight tensor (filter) in the inputs
    bias_input: int | None = None  # position of the bias tensor
    aux_inputs: tuple[int, ...] = ()  # shape/axis/index arguments: not parameters, not activations
    data_input: int = 0  # position of the main activation input
    vela_elem_macs: int = 0  # MACs Vela's nn_macs counts per output element for non-MAC work
    # bytes of int32 accumulator scratch per output element that TFLite Micro's int8 reference kernel
    # asks the memory planner for (checked against TFLM's recorded arena plans)
    int8_scratch_per_output: int = 0


KINDS = ("conv", "depthwise", "transpose_conv", "fully_connected", "matmul", "pool", "reduce",
         "elementwise", "unary", "softmax", "data_movement", "resize", "quantize", "control", "other",
         "custom")

_SPECS: list[OpSpec] = [
    OpSpec("CONV_2D", "conv", weight_input=1, bias_input=2),
    OpSpec("CONV_3D", "conv", weight_input=1, bias_input=2),
    OpSpec("DEPTHWISE_CONV_2D", "depthwise", weight_input=1, bias_input=2),
    OpSpec("TRANSPOSE_CONV", "transpose_conv", weight_input=1, bias_input=3, aux_inputs=(0,), data_input=2,
           int8_scratch_per_output=4),
    OpSpec("CONV_3D_TRANSPOSE", "transpose_conv", weight_input=1, bias_input=3, aux_inputs=(0,),
           data_input=2),
    OpSpec("FULLY_CONNECTED", "fully_connected", weight_input=1, bias_input=2),
    OpSpec("BATCH_MATMUL", "matmul"),
    OpSpec("AVERAGE_POOL_2D", "pool"), OpSpec("MAX_POOL_2D", "pool"), OpSpec("L2_POOL_2D", "pool"),
    OpSpec("MEAN", "reduce", aux_inputs=(1,), int8_scratch_per_output=4),
    *(OpSpec(n, "reduce", aux_inputs=(1,)) for n in (
        "SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD", "REDUCE_ANY", "REDUCE_ALL",
        "ARG_MAX", "ARG_MIN")),
    *(OpSpec(n, "elementwise") for n in (
        "ADD", "SUB", "MUL", "DIV", "MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE", "POW", "FLOOR_DIV",
        "FLOOR_MOD", "ADD_N", "PRELU", "LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL", "EQUAL",
        "NOT_EQUAL", "LOGICAL_AND", "LOGICAL_OR", "SELECT", "SELECT_V2", "ATAN2", "RIGHT_SHIFT",
        "BITWISE_XOR")),
    *(OpSpec(n, "unary") for n in (
        "ELU", "GELU", "EXP", "LOG", "SQRT", "RSQRT", "ABS", "NEG", "SQUARE", "SIN", "COS", "FLOOR",
        "CEIL", "ROUND", "SIGN", "LOGICAL_NOT", "LOCAL_RESPONSE_NORMALIZATION", "L2_NORMALIZATION")),
    *(OpSpec(n, "unary", vela_elem_macs=1) for n in (
        "RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1", "LOGISTIC", "TANH", "HARD_SWISH", "LEAKY_RELU")),
    OpSpec("SOFTMAX", "softmax", vela_elem_macs=2), OpSpec("LOG_SOFTMAX", "softmax"),
    *(OpSpec(n, "data_movement", aux_inputs=(1,)) for n in (
        "RESHAPE", "EXPAND_DIMS", "TRANSPOSE", "PAD", "PADV2", "MIRROR_PAD", "BROADCAST_TO",
        "SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND", "REVERSE_V2", "GATHER", "GATHER_ND")),
    OpSpec("SLICE", "data_movement", aux_inputs=(1, 2)),
    OpSpec("STRIDED_SLICE", "data_movement", aux_inputs=(1, 2, 3)),
    OpSpec("SPLIT", "data_movement", aux_inputs=(0,), data_input=1),
    OpSpec("SPLIT_V", "data_movement", aux_inputs=(1, 2)),
    OpSpec("TILE", "data_movement", aux_inputs=(1,), vela_elem_macs=1),
    *(OpSpec(n, "data_movement") for n in (
        # Vela usually writes CONCATENATION inputs straight into the output (no copy, no MACs)
        "CONCATENATION", "SQUEEZE", "PACK", "UNPACK", "SPACE_TO_DEPTH", "DEPTH_TO_SPACE", "SHAPE",
        "RANK", "ZEROS_LIKE", "FILL")),
    OpSpec("RESIZE_BILINEAR", "resize", aux_inputs=(1,)),
    OpSpec("RESIZE_NEAREST_NEIGHBOR", "resize", aux_inputs=(1,)),
    *(OpSpec(n, "quantize") for n in ("QUANTIZE", "DEQUANTIZE", "CAST")),
    *(OpSpec(n, "control") for n in ("WHILE", "IF", "CALL_ONCE", "CALL", "STABLEHLO_COMPOSITE")),
]
REGISTRY: dict[str, OpSpec] = {s.name: s for s in _SPECS}


def spec(op: str) -> OpSpec:
    """The spec for an operator name; unknown builtins get a generic "other" spec, custom ops "custom"."""
    s = REGISTRY.get(op)
    if s is not None:
        return s
    return OpSpec(op, "custom" if op.startswith("CUSTOM:") else "other")


def _input(graph: Graph, node: Node, pos: int | None) -> Tensor | None:
    if pos is None or pos >= len(node.inputs) or node.inputs[pos] < 0:
        return None
    return graph.tensors[node.inputs[pos]]


def _elements(shape: tuple[int, ...]) -> int:
    return prod(max(d, 1) for d in shape) if shape else 1


def count_macs(graph: Graph, node: Node, s: OpSpec | None = None) -> int:
    """Multiply-accumulates of one operator, in Vela's `nn_macs` convention."""
    s = s or spec(node.op)
    if not node.outputs or node.outputs[0] < 0:
        return 0
    out = graph.tensors[node.outputs[0]]
    out_elems = out.elements
    kind = s.kind
    if kind == "conv":
        w = _input(graph, node, s.weight_input)
        return prod(max(d, 1) for d in w.shape[1:]) * out_elems if w is not None and w.shape else 0
    if kind == "depthwise":
        w = _input(graph, node, s.weight_input)
        if w is None or len(w.shape) < 3:
            return 0
        return prod(max(d, 1) for d in w.shape[1:-1]) * out_elems
    if kind == "transpose_conv":  # weights are [out, kh, kw, in] like CONV_2D
        w = _input(graph, node, s.weight_input)
        return prod(max(d, 1) for d in w.shape[1:]) * out_elems if w is not None and w.shape else 0
    if kind == "fully_connected":
        w = _input(graph, node, s.weight_input)
        return (max(w.shape[-1], 1) * out_elems) if w is not None and w.shape else 0
    if kind == "matmul":
        a = _input(graph, node, 0)
        if a is None or len(a.shape) < 2:
            return 0
        k = a.shape[-2] if node.options.get("adj_x") else a.shape[-1]
        return max(k, 1) * out_elems
    if kind == "pool":
        return int(node.options.get("filter_h", 1)) * int(node.options.get("filter_w", 1)) * out_elems
    if kind == "reduce":
        x = _input(graph, node, s.data_input)
        return x.elements if x is not None else 0
    return s.vela_elem_macs * out_elems


def elementwise_ops(graph: Graph, node: Node, s: OpSpec | None = None) -> int:
    """Output elements computed by arithmetic that is not a MAC (elementwise, activations, softmax)."""
    s = s or spec(node.op)
    if s.kind not in ("elementwise", "unary", "softmax", "resize"):
        return 0
    return sum(graph.tensors[t].elements for t in node.outputs if t >= 0)


def scratch_bytes(graph: Graph, node: Node, s: OpSpec | None = None) -> int:
    """Kernel scratch the operator needs while it runs, beyond its input and output tensors."""
    s = s or spec(node.op)
    if not s.int8_scratch_per_output or not node.outputs or node.outputs[0] < 0:
        return 0
    out = graph.tensors[node.outputs[0]]
    return s.int8_scratch_per_output * out.elements if out.dtype in ("INT8", "UINT8") else 0
