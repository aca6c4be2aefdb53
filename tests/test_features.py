"""Features: MACs against Vela itself, liveness-based peak memory and depth on hand-built graphs."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import INT8_MODELS, TF_FIXTURES, TF_MODELS
from perfsage.graph import Graph, Node, Tensor, load_graph
from perfsage.graph.features import depth, featurise, peak_activation_bytes, planned_arena_bytes
from perfsage.graph.ops import REGISTRY, count_macs, spec

VELA_RESIZE = {"ResizeBilinear", "ResizeNearestNeighbor"}


def _vela_macs(model: Path, tmp: Path) -> tuple[int, int]:
    """(nn_macs, MACs of layers not derived from a resize) from Vela's per-layer report."""
    out = subprocess.run(
        [sys.executable, "-c", "import sys; from ethosu.vela.vela import main; sys.exit(main())",
         "--accelerator-config", "ethos-u55-128", "--system-config", "Ethos_U55_High_End_Embedded",
         "--memory-mode", "Shared_Sram", "--verbose-performance", "--output-dir", str(tmp), str(model)],
        capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    cpu = re.search(r"CPU operators = (\d+)", out.stdout)
    assert cpu and int(cpu.group(1)) == 0, "fixture must be fully NPU-mappable"
    total = int(re.search(r"Neural network macs\s+(\d+)", out.stdout).group(1))
    with open(next(tmp.glob("*_per-layer.csv"))) as f:
        rows = list(csv.DictReader(f))
    assert sum(int(r["MAC Count"]) for r in rows) == total
    return total, sum(int(r["MAC Count"]) for r in rows if r["Original Operator"] not in VELA_RESIZE)


@pytest.mark.parametrize("path", INT8_MODELS, ids=lambda p: p.stem)
def test_macs_agree_with_vela_within_1_percent(path, tmp_path):
    """Whole-model agreement. Resize layers are left out on both sides: Vela lowers them to tiled
    depthwise convolutions whose MAC count depends on where their output is written (e.g. straight into
    a following concatenation), not on the operator itself; perfsage counts resize work as elementwise."""
    g = load_graph(path)
    nodes, gf = featurise(g)
    total, without_resize = _vela_macs(path, tmp_path)
    ours = sum(n.macs for n in nodes if n.kind != "resize")
    assert abs(ours - without_resize) <= 0.01 * without_resize, (ours, without_resize)
    if not any(n.kind == "resize" for n in nodes):
        assert abs(gf.macs - total) <= 0.01 * total, (gf.macs, total)


def _t(i, shape, const=0, dtype="INT8"):
    return Tensor(index=i, name=f"t{i}", shape=shape, dtype=dtype, buffer=i if const else 0, data_bytes=const)


def _residual_graph() -> Graph:
    # x(0) -> conv A -> a(1) -> conv B -> b(2);  add(a, b) -> y(3)
    tensors = [_t(0, (1, 8, 8, 4)), _t(1, (1, 8, 8, 4)), _t(2, (1, 8, 8, 4)), _t(3, (1, 8, 8, 4)),
               _t(4, (4, 3, 3, 4), const=144), _t(5, (4,), const=16, dtype="INT32"),
               _t(6, (4, 1, 1, 4), const=16)]
    nodes = [
        Node(0, "CONV_2D", 1, (0, 4, 5), (1,), {"stride_h": 1, "stride_w": 1}),
        Node(1, "CONV_2D", 1, (1, 6, 5), (2,), {"stride_h": 1, "stride_w": 1}),
        Node(2, "ADD", 1, (1, 2), (3,), {"fused_activation": "RELU"}),
    ]
    return Graph(tensors=tensors, nodes=nodes, inputs=(0,), outputs=(3,))


def test_peak_activation_is_liveness_based():
    g = _residual_graph()
    # at the ADD step a, b and y are live (x died after conv A): 3 x 256 B; at conv B x is dead too
    assert peak_activation_bytes(g) == 3 * 256
    _nodes, gf = featurise(g)
    assert gf.peak_activation_bytes == 768
    assert gf.depth == depth(g) == 3


def test_planned_arena_packs_buffers_by_size_and_time():
    g = _residual_graph()
    # all four 256 B tensors: y at 0, b above it, a above b, and x (dead before b and y live) back at 0
    assert planned_arena_bytes(g) == 768
    # buffers are 16-byte aligned: t0 (24 B) takes 32, so steps 0's 24 + 32 B need 64, not 56
    tensors = [_t(0, (1, 24)), _t(1, (1, 32)), _t(2, (1, 16)), _t(3, (1, 40))]
    nodes = [Node(0, "RELU", 1, (0,), (1,), {}), Node(1, "RELU", 1, (1,), (2,), {}),
             Node(2, "RELU", 1, (2,), (3,), {})]
    chain = Graph(tensors=tensors, nodes=nodes, inputs=(0,), outputs=(3,))
    assert peak_activation_bytes(chain) == 56
    assert planned_arena_bytes(chain) == 64


def test_planned_arena_counts_kernel_scratch():
    """TFLite Micro's int8 TRANSPOSE_CONV asks for an int32 accumulator per output element."""
    tensors = [_t(0, (1, 8, 8, 4)), _t(1, (1, 16, 16, 4)), _t(2, (4,), const=16, dtype="INT32"),
               _t(3, (4, 3, 3, 4), const=144)]
    node = Node(0, "TRANSPOSE_CONV", 1, (2, 3, 0), (1,), {"stride_h": 2, "stride_w": 2, "padding": "SAME"})
    g = Graph(tensors=tensors, nodes=[node], inputs=(0,), outputs=(1,))
    nodes, gf = featurise(g)
    assert nodes[0].scratch_bytes == 4 * 16 * 16 * 4
    assert gf.peak_activation_bytes == 256 + 1024
    assert gf.planned_activation_bytes == 256 + 1024 + 4096


def test_node_features_fold_constants():
    g = _residual_graph()
    nodes, gf = featurise(g)
    a = nodes[0]
    assert (a.kernel_h, a.kernel_w, a.macs) == (3, 3, 3 * 3 * 4 * 256)
    assert (a.weight_bytes, a.bias_bytes, a.params) == (144, 16, 144 + 4)
    assert a.input_bytes == 256 and a.output_bytes == 256
    assert nodes[2].macs == 0 and nodes[2].elementwise_ops == 256
    assert nodes[2].fused_activation == "RELU"
    # the shared bias tensor counts once in the graph totals
    assert gf.params == 144 + 4 + 16 and gf.weight_bytes == 144 + 16 + 16 and gf.bias_bytes == 16


def test_every_fixture_featurises_consistently():
    for path in TF_MODELS:
        g = load_graph(path)
        nodes, gf = featurise(g)
        assert gf.ops == len(nodes) == len(g.nodes)
        assert gf.macs == sum(n.macs for n in nodes)
        assert gf.peak_activation_bytes > 0
        assert 1 <= gf.depth <= gf.ops
        for n in nodes:
            assert n.macs >= 0 and n.arithmetic_intensity >= 0


def test_registry_is_the_one_vocabulary():
    from perfsage.graph.schema import BUILTIN_OPS

    assert set(REGISTRY) <= set(BUILTIN_OPS.values()), set(REGISTRY) - set(BUILTIN_OPS.values())
    assert spec("CUSTOM:Foo").kind == "custom"
    assert spec("SOME_FUTURE_OP").kind == "other"


def test_depthwise_and_fc_macs():
    tensors = [_t(0, (1, 10, 10, 8)), _t(1, (1, 8, 8, 8)), _t(2, (1, 3, 3, 8), const=72),
               _t(3, (1, 512)), _t(4, (12, 512), const=6144), _t(5, (1, 12))]
    dw = Node(0, "DEPTHWISE_CONV_2D", 1, (0, 2, -1), (1,), {})
    fc = Node(1, "FULLY_CONNECTED", 1, (3, 4, -1), (5,), {})
    g = Graph(tensors=tensors, nodes=[dw, fc], inputs=(0,), outputs=(5,))
    assert count_macs(g, dw) == 9 * 8 * 8 * 8
    assert count_macs(g, fc) == 512 * 12


def test_graph_without_operators():
    g = Graph(tensors=[_t(0, (1, 4))], nodes=[], inputs=(0,), outputs=(0,))
    nodes, gf = featurise(g)
    assert nodes == [] and gf.ops == 0 and gf.peak_activation_bytes == 4 and gf.depth == 0


def test_encoding_of_a_graph_without_operators():
    from perfsage.graph.encode import NODE_FEATURES, encode

    e = encode(Graph(tensors=[_t(0, (1, 4))], nodes=[], inputs=(0,), outputs=(0,)))
    assert e.x.shape == (0, len(NODE_FEATURES)) and e.edge_index.shape == (2, 0)


@pytest.mark.parametrize(("kind", "i", "o", "k", "s", "d", "padded"), [
    ("conv", 25, 25, 1, 1, 1, False),  # 1x1 stride 1: SAME and VALID compute the same
    ("conv", 16, 8, 1, 2, 1, False),  # even 1x1 stride 2
    ("conv", 15, 8, 1, 2, 1, False),  # odd 1x1 stride 2 under SAME: (8-1)*2+1-15 = 0
    ("conv", 25, 25, 3, 1, 1, True),
    ("conv", 25, 23, 3, 1, 1, False),  # VALID 3x3
    ("conv", 16, 16, 3, 1, 2, True),  # dilated
    ("depthwise", 16, 8, 3, 2, 1, True),  # SAME stride 2: (8-1)*2+3-16 = 1
    ("pool", 25, 1, 25, 25, 1, False),  # global pool, whichever flag the file carries
    ("transpose_conv", 8, 16, 3, 2, 1, True),  # SAME transposed conv crops one row
    ("transpose_conv", 8, 16, 2, 2, 1, False),  # kernel == stride: nothing to crop
    ("fully_connected", 16, 16, 3, 1, 1, False),
])
def test_pads_input_depends_on_shapes_not_on_the_flag(kind, i, o, k, s, d, padded):
    from perfsage.graph.features import pads_input

    assert pads_input(kind, (1, i, i, 4), (1, o, o, 4), (k, k), (s, s), (d, d)) is padded


def test_converter_valid_and_space_same_pointwise_convs_encode_alike():
    """The TF converter writes VALID on 1x1 convolutions, our spaces SAME: the encoding must not tell
    them apart (it once did, and moved the DS-CNN arena prediction by 13%)."""
    from perfsage.graph.encode import NODE_FEATURES, encode

    g = load_graph(TF_FIXTURES / "dscnn_kws_int8.tflite")
    nodes, _ = featurise(g)
    col = NODE_FEATURES.index("pads_input")
    x = encode(g).x
    for n in nodes:
        if n.op == "CONV_2D" and n.kernel_h == 1:
            assert n.padding == "VALID" and x[n.index, col] == 0.0
        if n.op == "DEPTHWISE_CONV_2D":
            assert n.padding == "SAME" and x[n.index, col] == 1.0
    g.nodes[2].options["padding"] = "SAME"  # the pointwise conv as a space writes it
    assert np.array_equal(encode(g).x, x)


def test_channel_block_padding_is_encoded():
    """Costs step at channel-block boundaries (a 16 x 64 pointwise conv's weights take 1,936 bytes of
    Ethos-U55 flash, not 16 x 64 + scales): each node carries the share of its last 4-, 8-, 16- and
    32-channel block that its input and output channels leave empty."""
    from perfsage.graph.encode import CHANNEL_BLOCKS, NODE_FEATURES, encode

    tensors = [_t(0, (1, 8, 8, 24)), _t(1, (144, 1, 1, 24), const=144 * 24), _t(2, (1, 8, 8, 144))]
    conv = Node(0, "CONV_2D", 1, (0, 1, -1), (2,), {})
    x = encode(Graph(tensors=tensors, nodes=[conv], inputs=(0,), outputs=(2,))).x[0]
    pad = {f"{side}_c_pad{m}": x[NODE_FEATURES.index(f"{side}_c_pad{m}")] for side in ("in", "out")
           for m in CHANNEL_BLOCKS}
    assert pad == {"in_c_pad4": 0.0, "in_c_pad8": 0.0, "in_c_pad16": 0.5, "in_c_pad32": 0.25,
                   "out_c_pad4": 0.0, "out_c_pad8": 0.0, "out_c_pad16": 0.0, "out_c_pad32": 0.5}


def test_an_operator_repeating_an_earlier_one_is_flagged():
    """Vela stores one copy of the weights it generates for identical MEAN decompositions, so a repeat
    owns no flash: each node says whether an earlier one did the same work (type, shapes, parameters,
    constant sizes), in execution order; any difference, or weights of another size, is new work."""
    from perfsage.graph.encode import NODE_FEATURES, encode

    tensors = [_t(0, (1, 8, 8, 16)), _t(1, (1, 1, 1, 16)), _t(2, (1, 1, 1, 16)), _t(3, (1, 4, 4, 16)),
               _t(4, (1, 1, 1, 16)), _t(5, (16, 1, 1, 16), const=256), _t(6, (1, 8, 8, 16)),
               _t(7, (16, 1, 1, 16), const=256), _t(8, (1, 8, 8, 16)), _t(9, (8, 1, 1, 16), const=128),
               _t(10, (1, 8, 8, 8)), _t(11, (4,), const=16)]
    nodes = [Node(0, "MEAN", 0, (0, 11), (1,), {}), Node(1, "MEAN", 0, (0, 11), (2,), {}),
             Node(2, "MEAN", 0, (3, 11), (4,), {}), Node(3, "CONV_2D", 1, (0, 5, -1), (6,), {}),
             Node(4, "CONV_2D", 1, (6, 7, -1), (8,), {}), Node(5, "CONV_2D", 1, (8, 9, -1), (10,), {})]
    g = Graph(tensors=tensors, nodes=nodes, inputs=(0, 3), outputs=(1, 2, 4, 10))
    feats, _ = featurise(g)
    assert [n.repeats_earlier for n in feats] == [False, True, False, False, True, False]
    x = encode(g).x
    assert x[:, NODE_FEATURES.index("repeats_earlier")].tolist() == [0, 1, 0, 0, 1, 0]
