"""Validity gates for synthesised models: the int8 spec rules, LiteRT, TFLite Micro and Vela.

LiteRT is the real checker (Vela accepts broken quantisation silently); TFLite Micro and Vela run in
subprocesses because both can take the process down on bad input. Used by the tests and by
`scripts/check_spaces.py`, which runs the gates over many seeds per space.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ai_edge_litert import schema_py_generated as s

from perfsage.spaces.builder import OP_VERSIONS

_FIXED_OUTPUT = {"SOFTMAX": (1 / 256, -128), "LOGISTIC": (1 / 256, -128), "TANH": (1 / 128, 0)}
_SAME_QUANT = {"AVERAGE_POOL_2D", "MAX_POOL_2D", "RESHAPE", "PAD", "RESIZE_BILINEAR",
               "RESIZE_NEAREST_NEIGHBOR", "SPLIT", "TRANSPOSE", "CONCATENATION"}
_WEIGHT_AXIS = {"CONV_2D": (1, 0), "DEPTHWISE_CONV_2D": (1, 3), "FULLY_CONNECTED": (1, 0),
                "TRANSPOSE_CONV": (1, 0)}
_BIAS_POS = {"CONV_2D": (0, 2), "DEPTHWISE_CONV_2D": (0, 2), "FULLY_CONNECTED": (0, 2),
             "TRANSPOSE_CONV": (2, 3)}


@dataclass
class GateReport:
    spec_errors: list[str] = field(default_factory=list)
    litert: str = "not run"
    tflm: str = "not run"
    vela_cpu_ops: int | None = None
    vela: str = "not run"

    @property
    def ok(self) -> bool:
        return (not self.spec_errors and self.litert == "ok" and self.tflm == "ok"
                and self.vela == "ok" and self.vela_cpu_ops == 0)


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
            pos, axis = _WEIGHT_AXIS[name]
            w = sg.tensors[ins[pos]]
            wdata = np.frombuffer(bytes(m.buffers[w.buffer].data), np.int8)
            if w.quantization.quantizedDimension != axis:
                errs.append(f"{name} weights quantised on dimension {w.quantization.quantizedDimension}")
            if np.any(np.asarray(w.quantization.zeroPoint) != 0):
                errs.append(f"{name} weights have a non-zero zero point")
            if wdata.size and wdata.min() == -128:
                errs.append(f"{name} weights contain -128")
            xpos, bpos = _BIAS_POS[name]
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


def litert_invoke(data: bytes) -> str:
    from ai_edge_litert.interpreter import Interpreter

    try:
        it = Interpreter(model_content=data)
        it.allocate_tensors()
        rng = np.random.default_rng(0)
        for d in it.get_input_details():
            it.set_tensor(d["index"], rng.integers(-128, 128, d["shape"], dtype=np.int8))
        it.invoke()
        return "ok"
    except Exception as e:
        return f"{type(e).__name__}: {e}"


_TFLM_SCRIPT = """
import sys, numpy as np
from tflite_micro.python.tflite_micro import runtime
data = open(sys.argv[1], 'rb').read()
it = runtime.Interpreter.from_bytes(data, arena_size=256 << 20)
d = it.get_input_details(0)
it.set_input(np.random.default_rng(0).integers(-128, 128, d['shape'], dtype=np.int8), 0)
it.invoke()
print('TFLM-OK')
"""


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout)


def tflm_invoke(path: Path, timeout: float = 120) -> str:
    try:
        r = _run([sys.executable, "-c", _TFLM_SCRIPT, str(path)], timeout)
    except subprocess.TimeoutExpired:
        return "timeout"
    if "TFLM-OK" in r.stdout:
        return "ok"
    return f"exit {r.returncode}: {(r.stderr or r.stdout).strip().splitlines()[-1:] }"


def vela_cpu_ops(path: Path, out_dir: Path, accelerator: str = "ethos-u55-128",
                 timeout: float = 300) -> tuple[str, int | None]:
    args = [sys.executable, "-c", "import sys; from ethosu.vela.vela import main; sys.exit(main())",
            "--accelerator-config", accelerator, "--system-config", "Ethos_U55_High_End_Embedded",
            "--memory-mode", "Shared_Sram", "--output-dir", str(out_dir), str(path)]
    try:
        r = _run(args, timeout)
    except subprocess.TimeoutExpired:
        return "timeout", None
    m = re.search(r"CPU operators = (\d+)", r.stdout)
    if r.returncode != 0 or not m:
        return f"exit {r.returncode}: {(r.stderr or r.stdout).strip()[-300:]}", None
    return "ok", int(m.group(1))


def run_gates(data: bytes, workdir: Path | None = None) -> GateReport:
    rep = GateReport(spec_errors=spec_errors(data), litert=litert_invoke(data))
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        path = Path(tmp) / "model.tflite"
        path.write_bytes(data)
        rep.tflm = tflm_invoke(path)
        rep.vela, rep.vela_cpu_ops = vela_cpu_ops(path, Path(tmp) / "vela")
    return rep
