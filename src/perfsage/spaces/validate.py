"""The int8 spec rules a synthesised model must follow (the writer's own gate, no tools run).

The real tools' gates (LiteRT, TFLite Micro, Vela) live in perfsage.targets.gates: running a tool is the
targets stage's business, and Vela's arguments have one source there.
"""

from __future__ import annotations

import numpy as np
from ai_edge_litert import schema_py_generated as s

from perfsage.graph.ops import spec
from perfsage.spaces.builder import OP_VERSIONS

_FIXED_OUTPUT = {"SOFTMAX": (1 / 256, -128), "LOGISTIC": (1 / 256, -128), "TANH": (1 / 128, 0)}
_SAME_QUANT = {"AVERAGE_POOL_2D", "MAX_POOL_2D", "RESHAPE", "PAD", "RESIZE_BILINEAR",
               "RESIZE_NEAREST_NEIGHBOR", "SPLIT", "TRANSPOSE", "CONCATENATION"}
# the int8 spec's channel axis of each weighted operator's weights; where the data, weights and bias sit
# among its inputs is the operator registry's (perfsage.graph.ops)
_WEIGHT_AXIS = {"CONV_2D": 0, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 0, "TRANSPOSE_CONV": 0}


def spec_errors(data: bytes) -> list[str]:
    """Violations of the TFLite int8 quantisation spec and of the writer's layout rules."""
    errs: list[str] = []
    m = s.ModelT.InitFromPackedBuf(bytearray(data), 0)
    if m.version != 3:
        errs.append(f"schema version {m.version}")
    if m.buffers[0].data is not None and len(m.buffers[0].data):
        errs.append("buffer 0 is not empty")
    sg = m.subgraphs[0]
    names = {v: k for k, v in vars(s.BuiltinOperator).items() if isinstance(v, int)}
    for code in m.operatorCodes:
        name = names[max(code.builtinCode, code.deprecatedBuiltinCode)]
        expected = OP_VERSIONS.get(name)
        if name in ("TRANSPOSE_CONV", "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR"):
            expected = code.version if code.version in (2, 3) else -1
        if expected != code.version:
            errs.append(f"{name} has version {code.version}, the converter writes {expected}")
    produced = {int(t) for op in sg.operators for t in op.outputs} | {int(t) for t in sg.inputs}
    for i, t in enumerate(sg.tensors):
        if i in produced and t.buffer != 0:
            errs.append(f"activation tensor {i} points at buffer {t.buffer}, not 0")
        q = t.quantization
        if t.type == s.TensorType.INT8 and (q is None or q.scale is None):
            errs.append(f"int8 tensor {i} has no quantisation")
        if (i in produced and q is not None and q.scale is not None
                and np.any(np.asarray(q.scale) < 1e-6)):
            errs.append(f"activation tensor {i} has a degenerate scale {np.min(q.scale):.3g}")
    off = _buffer_offsets(data)
    for i, pos in off.items():
        if pos % 16:
            errs.append(f"buffer {i} data at {pos} is not 16-byte aligned")
    for op in sg.operators:
        code = m.operatorCodes[op.opcodeIndex]
        name = names[max(code.builtinCode, code.deprecatedBuiltinCode)]
        ins, outs = [int(i) for i in op.inputs], [int(i) for i in op.outputs]
        qout = sg.tensors[outs[0]].quantization
        if name in _FIXED_OUTPUT:
            sc, zp = _FIXED_OUTPUT[name]
            if not (np.isclose(qout.scale[0], sc) and qout.zeroPoint[0] == zp):
                errs.append(f"{name} output quantisation ({qout.scale[0]}, {qout.zeroPoint[0]}) != ({sc}, {zp})")
        if name in _SAME_QUANT:
            data_ins = [i for i in ins if i >= 0 and sg.tensors[i].type == s.TensorType.INT8]
            for i in data_ins + outs[1:]:
                qi = sg.tensors[i].quantization
                if not (np.isclose(qi.scale[0], qout.scale[0]) and qi.zeroPoint[0] == qout.zeroPoint[0]):
                    errs.append(f"{name}: tensor {i} quantisation differs from the output's")
        if name in _WEIGHT_AXIS:
            sp, axis = spec(name), _WEIGHT_AXIS[name]
            w = sg.tensors[ins[sp.weight_input]]
            wdata = np.frombuffer(bytes(m.buffers[w.buffer].data), np.int8)
            if w.quantization.quantizedDimension != axis:
                errs.append(f"{name} weights quantised on dimension {w.quantization.quantizedDimension}")
            if np.any(np.asarray(w.quantization.zeroPoint) != 0):
                errs.append(f"{name} weights have a non-zero zero point")
            if wdata.size and wdata.min() == -128:
                errs.append(f"{name} weights contain -128")
            xpos, bpos = sp.data_input, sp.bias_input
            if bpos < len(ins) and ins[bpos] >= 0:
                bt = sg.tensors[ins[bpos]]
                x_scale = sg.tensors[ins[xpos]].quantization.scale[0]
                expect = x_scale * np.asarray(w.quantization.scale, np.float64)
                if bt.type != s.TensorType.INT32 or not np.allclose(bt.quantization.scale, expect, rtol=1e-5):
                    errs.append(f"{name} bias is not int32 at input scale x weight scale")
    return errs


def _buffer_offsets(data: bytes) -> dict[int, int]:
    """File position of each non-empty buffer's data."""
    from perfsage.graph.flatbuf import Buffer
    from perfsage.graph.schema import Slot

    root = Buffer(data).root()
    out = {}
    for i, b in enumerate(root.tables(Slot.MODEL_BUFFERS)):
        start, n = b.vector_span(Slot.BUFFER_DATA)
        if n:
            out[i] = start
    return out
