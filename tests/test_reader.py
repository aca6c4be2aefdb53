"""The frontend against two references: LiteRT's generated object API and the LiteRT interpreter."""

from __future__ import annotations

import flatbuffers
import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as s
from ai_edge_litert.interpreter import Interpreter

from conftest import TF_MODELS, manifest_entry
from perfsage.graph import load_graph
from perfsage.graph.schema import BUILTIN_OPS, TENSOR_TYPES


def _object_api(path):
    return s.ModelT.InitFromPackedBuf(bytearray(path.read_bytes()), 0)


@pytest.mark.parametrize("path", TF_MODELS, ids=lambda p: p.stem)
def test_matches_generated_object_api(path):
    g = load_graph(path)
    ref = _object_api(path)
    sg = ref.subgraphs[0]
    assert len(g.tensors) == len(sg.tensors)
    for t, rt in zip(g.tensors, sg.tensors, strict=True):
        ref_shape = tuple(int(d) for d in rt.shape) if rt.shape is not None else ()
        assert t.shape == ref_shape
        assert t.dtype == TENSOR_TYPES[rt.type]
        assert t.buffer == rt.buffer
        assert t.name == (rt.name.decode() if rt.name else "")
        data = ref.buffers[rt.buffer].data if rt.buffer else None
        assert t.data_bytes == (len(data) if data is not None else 0)
        if rt.quantization is not None and rt.quantization.scale is not None:
            np.testing.assert_allclose(t.quant.scale, rt.quantization.scale[0], rtol=1e-7)
            assert t.quant.zero_point == rt.quantization.zeroPoint[0]
            assert t.quant.channels == len(rt.quantization.scale)
            assert t.quant.axis == rt.quantization.quantizedDimension
    assert len(g.nodes) == len(sg.operators)
    for n, op in zip(g.nodes, sg.operators, strict=True):
        code = ref.operatorCodes[op.opcodeIndex]
        assert n.op == BUILTIN_OPS[max(code.builtinCode, code.deprecatedBuiltinCode)]
        assert n.inputs == tuple(int(i) for i in op.inputs)
        assert n.outputs == tuple(int(i) for i in op.outputs)
        o = op.builtinOptions
        if isinstance(o, s.Conv2DOptionsT):
            assert (n.options["stride_h"], n.options["stride_w"]) == (o.strideH, o.strideW)
            dil = (n.options["dilation_h"], n.options["dilation_w"])
            assert dil == (o.dilationHFactor, o.dilationWFactor)
        if isinstance(o, s.DepthwiseConv2DOptionsT):
            assert n.options["depth_multiplier"] == o.depthMultiplier
        if isinstance(o, s.Pool2DOptionsT):
            assert (n.options["filter_h"], n.options["filter_w"]) == (o.filterHeight, o.filterWidth)
    assert g.inputs == tuple(int(i) for i in sg.inputs)
    assert g.outputs == tuple(int(i) for i in sg.outputs)
    assert len(g.other_subgraphs) == len(ref.subgraphs) - 1


@pytest.mark.parametrize("path", TF_MODELS, ids=lambda p: p.stem)
def test_matches_litert_interpreter(path):
    g = load_graph(path)
    interp = Interpreter(model_path=str(path))
    ops = interp._get_ops_details()
    main_ops = [o for o in ops if o.get("subgraph_index", 0) == 0] if "subgraph_index" in ops[0] else ops
    assert [n.op for n in g.nodes] == [o["op_name"] for o in main_ops[:len(g.nodes)]]
    details = {d["index"]: d for d in interp.get_tensor_details()}
    for i in g.inputs + g.outputs:
        assert tuple(details[i]["shape"]) == g.tensors[i].shape


@pytest.mark.parametrize("path", TF_MODELS, ids=lambda p: p.stem)
def test_op_histogram_matches_manifest(path):
    assert load_graph(path).op_types() == manifest_entry(path)["subgraphs"][0]["op_histogram"]


def test_bytes_and_path_agree(mobilenet_path):
    a = load_graph(mobilenet_path)
    b = load_graph(mobilenet_path.read_bytes())
    assert [(n.op, n.inputs, n.outputs) for n in a.nodes] == [(n.op, n.inputs, n.outputs) for n in b.nodes]
    assert b.source == "<bytes>"


def test_dtypes_and_quantisation():
    by_name = {p.stem: load_graph(p) for p in TF_MODELS}
    assert {t.dtype for t in by_name["small_float16"].tensors} >= {"FLOAT16", "FLOAT32"}
    assert "INT16" in {t.dtype for t in by_name["small_int16x8"].tensors}
    mnv2 = by_name["mobilenetv2_int8"]
    conv = next(n for n in mnv2.nodes if n.op == "CONV_2D")
    w = mnv2.tensors[conv.inputs[1]]
    assert w.quant.per_channel and w.quant.axis == 0 and w.dtype == "INT8"
    dw = next(n for n in mnv2.nodes if n.op == "DEPTHWISE_CONV_2D")
    assert mnv2.tensors[dw.inputs[1]].quant.axis == 3
    act = mnv2.tensors[conv.outputs[0]]
    assert not act.quant.per_channel and not act.is_constant


def test_other_subgraphs_reported():
    g = load_graph(next(p for p in TF_MODELS if p.stem == "multi_subgraph"))
    assert {"WHILE", "IF"} <= set(g.op_types())
    assert len(g.other_subgraphs) >= 2
    assert all(sg.operators >= 1 for sg in g.other_subgraphs)


def _repack(model: s.ModelT) -> bytes:
    b = flatbuffers.Builder(1024)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def test_custom_and_unknown_operators_become_custom_nodes(mobilenet_path):
    from perfsage.graph.features import featurise

    model = _object_api(mobilenet_path)
    codes = model.operatorCodes
    softmax = next(i for i, c in enumerate(codes) if c.builtinCode == s.BuiltinOperator.SOFTMAX)
    codes[softmax].builtinCode = s.BuiltinOperator.CUSTOM
    codes[softmax].deprecatedBuiltinCode = s.BuiltinOperator.CUSTOM
    codes[softmax].customCode = "MyFancySoftmax"
    mean = next(i for i, c in enumerate(codes) if c.builtinCode == s.BuiltinOperator.MEAN)
    codes[mean].builtinCode = 4000  # an operator from a future schema
    codes[mean].deprecatedBuiltinCode = 127
    g = load_graph(_repack(model))
    ops = g.op_types()
    assert ops["CUSTOM:MyFancySoftmax"] == 1
    assert ops["CUSTOM:builtin_4000"] == 1
    nodes, _gf = featurise(g)
    custom = [n for n in nodes if n.op.startswith("CUSTOM:")]
    assert {n.kind for n in custom} == {"custom"}
    assert all(n.output_bytes > 0 for n in custom)


def test_absent_optional_strings(mobilenet_path):
    """Description, subgraph name and tensor names are optional in the schema."""
    model = _object_api(mobilenet_path)
    model.description = None
    model.subgraphs[0].name = None
    for t in model.subgraphs[0].tensors:
        t.name = None
    g = load_graph(_repack(model))
    assert g.description == "" and g.name == "" and all(t.name == "" for t in g.tensors)
    assert len(g.nodes) == 65
