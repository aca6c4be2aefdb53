"""Names and field layouts of the TFLite schema, taken from LiteRT's generated schema module.

Enum names come straight from `ai_edge_litert.schema_py_generated` (the single source of truth for the
operator vocabulary); only the table slot numbers the bounds-checked reader needs are written here, and a
test checks them against the generated accessors.
"""

from __future__ import annotations

from functools import cache

from ai_edge_litert import schema_py_generated as _s


def _enum(cls: type) -> dict[int, str]:
    return {v: k for k, v in vars(cls).items() if not k.startswith("_") and isinstance(v, int)}


BUILTIN_OPS: dict[int, str] = _enum(_s.BuiltinOperator)
TENSOR_TYPES: dict[int, str] = _enum(_s.TensorType)
OPTION_TYPES: dict[int, str] = _enum(_s.BuiltinOptions)
OPTION2_TYPES: dict[int, str] = _enum(_s.BuiltinOptions2)
ACTIVATIONS: dict[int, str] = _enum(_s.ActivationFunctionType)
PADDINGS: dict[int, str] = _enum(_s.Padding)
CUSTOM_CODE = _s.BuiltinOperator.CUSTOM
BUILTIN_OPS_CODE_PLACEHOLDER = _s.BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES

FILE_IDENTIFIER = b"TFL3"


@cache
def op_code(name: str) -> int:
    """Builtin operator code for a name such as "CONV_2D"."""
    return getattr(_s.BuiltinOperator, name)


@cache
def tensor_type_code(name: str) -> int:
    return getattr(_s.TensorType, name)


# Table slots (field ids) of the schema tables the reader walks.
class Slot:
    MODEL_VERSION, MODEL_OPCODES, MODEL_SUBGRAPHS, MODEL_DESCRIPTION, MODEL_BUFFERS = 0, 1, 2, 3, 4
    SUBGRAPH_TENSORS, SUBGRAPH_INPUTS, SUBGRAPH_OUTPUTS, SUBGRAPH_OPERATORS, SUBGRAPH_NAME = 0, 1, 2, 3, 4
    TENSOR_SHAPE, TENSOR_TYPE, TENSOR_BUFFER, TENSOR_NAME, TENSOR_QUANT, TENSOR_VARIABLE = 0, 1, 2, 3, 4, 5
    TENSOR_SHAPE_SIGNATURE = 7
    OP_OPCODE, OP_INPUTS, OP_OUTPUTS, OP_OPTIONS_TYPE, OP_OPTIONS = 0, 1, 2, 3, 4
    OP_OPTIONS2_TYPE, OP_OPTIONS2 = 11, 12
    OPCODE_DEPRECATED, OPCODE_CUSTOM, OPCODE_VERSION, OPCODE_BUILTIN = 0, 1, 2, 3
    BUFFER_DATA, BUFFER_OFFSET, BUFFER_SIZE = 0, 1, 2
    QUANT_SCALE, QUANT_ZERO_POINT, QUANT_DIMENSION = 2, 3, 6


# Option fields perfsage reads, per option table: (name, slot, scalar kind, default, enum).
# Enum "act" maps through ACTIVATIONS, "pad" through PADDINGS.
OptionField = tuple[str, int, str, int | float, str | None]
OPTION_FIELDS: dict[str, tuple[OptionField, ...]] = {
    "Conv2DOptions": (
        ("padding", 0, "i8", 0, "pad"), ("stride_w", 1, "i32", 0, None), ("stride_h", 2, "i32", 0, None),
        ("fused_activation", 3, "i8", 0, "act"), ("dilation_w", 4, "i32", 1, None),
        ("dilation_h", 5, "i32", 1, None)),
    "DepthwiseConv2DOptions": (
        ("padding", 0, "i8", 0, "pad"), ("stride_w", 1, "i32", 0, None), ("stride_h", 2, "i32", 0, None),
        ("depth_multiplier", 3, "i32", 0, None), ("fused_activation", 4, "i8", 0, "act"),
        ("dilation_w", 5, "i32", 1, None), ("dilation_h", 6, "i32", 1, None)),
    "Pool2DOptions": (
        ("padding", 0, "i8", 0, "pad"), ("stride_w", 1, "i32", 0, None), ("stride_h", 2, "i32", 0, None),
        ("filter_w", 3, "i32", 0, None), ("filter_h", 4, "i32", 0, None),
        ("fused_activation", 5, "i8", 0, "act")),
    "FullyConnectedOptions": (
        ("fused_activation", 0, "i8", 0, "act"), ("keep_num_dims", 2, "bool", 0, None)),
    "TransposeConvOptions": (
        ("padding", 0, "i8", 0, "pad"), ("stride_w", 1, "i32", 0, None), ("stride_h", 2, "i32", 0, None),
        ("fused_activation", 3, "i8", 0, "act")),
    "Conv3DOptions": (
        ("padding", 0, "i8", 0, "pad"), ("stride_d", 1, "i32", 0, None), ("stride_w", 2, "i32", 0, None),
        ("stride_h", 3, "i32", 0, None), ("fused_activation", 4, "i8", 0, "act"),
        ("dilation_d", 5, "i32", 1, None), ("dilation_w", 6, "i32", 1, None),
        ("dilation_h", 7, "i32", 1, None)),
    "AddOptions": (("fused_activation", 0, "i8", 0, "act"),),
    "SubOptions": (("fused_activation", 0, "i8", 0, "act"),),
    "MulOptions": (("fused_activation", 0, "i8", 0, "act"),),
    "DivOptions": (("fused_activation", 0, "i8", 0, "act"),),
    "ConcatenationOptions": (("axis", 0, "i32", 0, None), ("fused_activation", 1, "i8", 0, "act")),
    "SoftmaxOptions": (("beta", 0, "f32", 0.0, None),),
    "ReducerOptions": (("keep_dims", 0, "bool", 0, None),),
    "ResizeBilinearOptions": (("align_corners", 2, "bool", 0, None),
                              ("half_pixel_centers", 3, "bool", 0, None)),
    "ResizeNearestNeighborOptions": (("align_corners", 0, "bool", 0, None),
                                     ("half_pixel_centers", 1, "bool", 0, None)),
    "BatchMatMulOptions": (("adj_x", 0, "bool", 0, None), ("adj_y", 1, "bool", 0, None)),
    "GatherOptions": (("axis", 0, "i32", 0, None),),
    "PackOptions": (("values_count", 0, "i32", 0, None), ("axis", 1, "i32", 0, None)),
    "SplitOptions": (("num_splits", 0, "i32", 0, None),),
    "PadOptions": (),
    "ReshapeOptions": (),
}
