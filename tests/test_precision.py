"""int8 models rewritten as float32 and dynamic-range models (perfsage.compress.precision)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import TF_FIXTURES
from perfsage.compress.precision import DYNAMIC_MIN_VALUES, change_precision
from perfsage.errors import PerfsageError
from perfsage.graph import load_graph
from perfsage.spaces import get_space
from perfsage.targets.gates import litert_invoke

DSCNN = TF_FIXTURES / "dscnn_kws_int8.tflite"


def _run(data: bytes, x: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=data)
    it.allocate_tensors()
    d = it.get_input_details()[0]
    it.set_tensor(d["index"], x.astype(d["dtype"]))
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"])


@pytest.mark.parametrize("space, seed", [("unet", 1), ("tinyvision", 1), ("segmentation", 0)])
def test_float32_computes_what_the_int8_model_computes(space, seed):
    """Same input (dequantised), same output up to int8 rounding: scales, zero points and bias scales
    were carried over right (a wrong bias or channel scale decorrelates the outputs)."""
    from ai_edge_litert.interpreter import Interpreter

    data = get_space(space).synth(seed)[1]
    it = Interpreter(model_content=data)
    (sin, zin), (sout, zout) = (it.get_input_details()[0]["quantization"], it.get_output_details()[0]["quantization"])
    q = np.random.default_rng(0).integers(-128, 128, it.get_input_details()[0]["shape"])
    ref = (_run(data, q).astype(np.float64) - zout) * sout
    got = _run(change_precision(data, "float32"), (q - zin) * sin)
    assert ref.std() > 0 and np.corrcoef(ref.ravel(), got.ravel())[0, 1] > 0.98


@pytest.mark.parametrize("space", ["classification", "kws", "segmentation", "unet"])
def test_both_precisions_keep_the_graph_and_run_in_litert(space):
    data = get_space(space).synth(0)[1]
    before = load_graph(data)
    for precision in ("float32", "dynamic"):
        out = change_precision(data, precision)
        assert litert_invoke(out) == "ok"
        g = load_graph(out)
        # QUANTIZE (int8 requantisation) is the only operator a precision change may drop
        assert [n.op for n in g.nodes] == [n.op for n in before.nodes if n.op != "QUANTIZE"]
        activations = [t for t in g.tensors if not t.is_constant]
        assert activations and all(t.dtype == "FLOAT32" for t in activations if t.dtype in ("FLOAT32", "INT8"))
        weights = [t for n in g.nodes if n.op in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
                   for t in [g.tensors[n.inputs[1]]]]
        int8 = {t.index for t in weights if t.dtype == "INT8"}
        big = {t.index for t in weights if int(np.prod(t.shape)) >= DYNAMIC_MIN_VALUES}
        assert int8 == (big if precision == "dynamic" else set())


def test_bad_inputs_are_one_line_errors():
    with pytest.raises(PerfsageError, match="unknown precision"):
        change_precision(DSCNN.read_bytes(), "bfloat16")
    with pytest.raises(PerfsageError, match="no int8 tensors"):
        change_precision((TF_FIXTURES / "small_float32.tflite").read_bytes(), "float32")
    with pytest.raises(PerfsageError):
        change_precision(b"\x00" * 40, "float32")
