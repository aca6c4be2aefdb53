"""The same model at another precision: an int8 model rewritten as float32 or dynamic-range quantised.

CPU deployments run float32 and dynamic-range models at least as often as int8 ones, and XNNPACK runs
each through other kernels: float32 through its f32 kernels, dynamic range (int8 weights, float
activations) through its per-call input quantisation. The spaces write int8; this rewrite gives every
architecture the two other forms the TF converter writes for it:

- `float32`: every int8 tensor becomes float32 (constants dequantised with their own scales and zero
  points, int32 biases by input scale x weight scale), quantisation parameters dropped, and the
  int8-to-int8 QUANTIZE operators (requantisation) removed; int32 shape and axis constants stay.
- `dynamic`: as float32, then the weights of CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED with at
  least 1,024 values go back to int8 with symmetric per-channel scales (the converter's rule and
  threshold, read off its dynamic-range output in tests/fixtures/tf/dynamic_range.tflite), and fully
  connected layers quantise their inputs asymmetrically, as the converter sets them.

Shapes, operators and their options are unchanged, so an architecture keeps its graph across the three
precisions and only what the precision changes differs.
"""

from __future__ import annotations

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as s

from perfsage.errors import PerfsageError
from perfsage.graph.ops import OpSpec, spec
from perfsage.graph.schema import BUILTIN_OPS

PRECISIONS = ("int8", "float32", "dynamic")
DYNAMIC_MIN_VALUES = 1024  # the converter leaves smaller weight tensors float
_HYBRID = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")  # operators with dynamic-range kernels


def change_precision(data: bytes, precision: str) -> bytes:
    """data: an int8 .tflite model (a space's, or any fully int8 one)."""
    if precision not in PRECISIONS:
        raise PerfsageError(f"unknown precision {precision!r} (one of {', '.join(PRECISIONS)})")
    if precision == "int8":
        return bytes(data)
    from perfsage.graph import load_graph

    load_graph(bytes(data))  # the checked reader first: a bad file is a one-line error, not a crash
    model = s.ModelT.InitFromPackedBuf(bytearray(data), 0)
    if len(model.subgraphs or []) != 1:
        raise PerfsageError("precision changes handle single-subgraph models only")
    g = model.subgraphs[0]
    # each operator's spec (perfsage.graph.ops: where its data, weights and bias sit among its inputs)
    specs = [spec(BUILTIN_OPS.get(max(c.builtinCode, c.deprecatedBuiltinCode), "")) for c in model.operatorCodes]
    if not any(t.type == s.TensorType.INT8 for t in g.tensors):
        raise PerfsageError("the model has no int8 tensors: precision changes start from an int8 model")
    _drop_requantisation(g, specs)
    # the int8 weights' channel axes, read before the float rewrite drops their quantisation
    axes = {k: t.quantization.quantizedDimension for k, t in enumerate(g.tensors) if t.quantization is not None}
    biases = _bias_scales(g, specs)
    for k, t in enumerate(g.tensors):
        _to_float(model, t, biases.get(k))
    if precision == "dynamic":
        for op in g.operators:
            sp = specs[op.opcodeIndex]
            if sp.name in _HYBRID and sp.weight_input is not None and len(op.inputs) > sp.weight_input:
                w = int(op.inputs[sp.weight_input])
                t = g.tensors[w]
                if t.buffer and int(np.prod(t.shape)) >= DYNAMIC_MIN_VALUES:
                    _to_int8(model, t, axes.get(w, 0))
                    if sp.kind == "fully_connected" and op.builtinOptions is not None:
                        op.builtinOptions.asymmetricQuantizeInputs = True
    b = flatbuffers.Builder(len(data) * 4 + 1024)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _drop_requantisation(g, specs: list[OpSpec]) -> None:
    """int8 -> int8 QUANTIZE operators are identities once the model is float: their consumers read the
    input instead (the graph's outputs too)."""
    keep, alias = [], {}
    for op in g.operators:
        if specs[op.opcodeIndex].name == "QUANTIZE" and g.tensors[op.inputs[0]].type == s.TensorType.INT8:
            alias[int(op.outputs[0])] = int(op.inputs[0])
        else:
            keep.append(op)

    def resolve(i: int) -> int:
        while i in alias:
            i = alias[i]
        return i

    for op in keep:
        op.inputs = [resolve(int(i)) if i >= 0 else int(i) for i in op.inputs]
    g.outputs = [resolve(int(i)) for i in g.outputs]
    g.operators = keep


def _bias_scales(g, specs: list[OpSpec]) -> dict[int, np.ndarray]:
    """int32 bias tensor -> its scale per channel (input scale x weight scale), as int8 kernels read it."""
    out = {}
    for op in g.operators:
        sp = specs[op.opcodeIndex]
        if sp.weight_input is None or sp.bias_input is None or len(op.inputs) <= sp.bias_input:
            continue
        x, w, bias = (int(op.inputs[i]) for i in (sp.data_input, sp.weight_input, sp.bias_input))
        if bias < 0 or g.tensors[bias].type != s.TensorType.INT32:
            continue
        qx, qw = g.tensors[x].quantization, g.tensors[w].quantization
        if qx is None or qw is None or qx.scale is None or qw.scale is None:
            continue
        out[bias] = float(np.asarray(qx.scale)[0]) * np.asarray(qw.scale, dtype=np.float64)
    return out


def _buffer(model, t) -> np.ndarray | None:
    data = model.buffers[t.buffer].data if t.buffer else None
    return None if data is None or len(data) == 0 else np.asarray(data, dtype=np.uint8)


def _set_buffer(model, t, values: np.ndarray) -> None:
    model.buffers[t.buffer].data = np.frombuffer(values.tobytes(), dtype=np.uint8)


def _to_float(model, t, bias_scale: np.ndarray | None) -> None:
    q = t.quantization
    raw = _buffer(model, t)
    if t.type == s.TensorType.INT8:
        if raw is not None:
            scale = np.asarray(q.scale if q is not None and q.scale is not None else [1.0], dtype=np.float64)
            zp = np.asarray(q.zeroPoint if q is not None and q.zeroPoint is not None else [0], dtype=np.float64)
            axis = q.quantizedDimension if q is not None else 0
            v = raw.view(np.int8).astype(np.float64).reshape([int(d) for d in t.shape])
            _set_buffer(model, t, ((v - _along(zp, axis, v.ndim)) * _along(scale, axis, v.ndim)).astype(np.float32))
        t.type, t.quantization = s.TensorType.FLOAT32, None
    elif t.type == s.TensorType.INT32 and bias_scale is not None and raw is not None:
        v = raw.view(np.int32).astype(np.float64)
        _set_buffer(model, t, (v * (bias_scale if bias_scale.size == v.size else bias_scale[0])).astype(np.float32))
        t.type, t.quantization = s.TensorType.FLOAT32, None


def _to_int8(model, t, axis: int) -> None:
    """Symmetric per-channel int8 along axis, as the converter's dynamic-range weights."""
    v = _buffer(model, t).view(np.float32).reshape([int(d) for d in t.shape]).astype(np.float64)
    others = tuple(d for d in range(v.ndim) if d != axis)
    scale = np.maximum(np.abs(v).max(axis=others), 1e-12) / 127.0
    qv = np.clip(np.round(v / _along(scale, axis, v.ndim)), -127, 127).astype(np.int8)
    _set_buffer(model, t, qv)
    q = s.QuantizationParametersT()
    q.scale, q.zeroPoint, q.quantizedDimension = scale.astype(np.float32).tolist(), [0] * scale.size, axis
    t.type, t.quantization = s.TensorType.INT8, q


def _along(values: np.ndarray, axis: int, ndim: int) -> np.ndarray:
    """Per-channel values shaped to broadcast along axis (one value broadcasts everywhere)."""
    if values.size == 1:
        return values.reshape(())
    shape = [1] * ndim
    shape[axis] = values.size
    return values.reshape(shape)
