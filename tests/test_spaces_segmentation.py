"""The segmentation space: deterministic bytes, valid graphs, and every model runs on LiteRT, TFLite Micro
and Vela (all operators on the NPU)."""

from __future__ import annotations

from functools import cache

import pytest

from perfsage.graph import load_graph
from perfsage.graph.features import featurise
from perfsage.spaces import ArchSpec, get_space
from perfsage.spaces.segmentation import SegmentationSpace

SPACE = get_space("segmentation")
# depthwise-separable levels, final bilinear (4x, no half-pixel) and nearest resizes, encoder stride 16
# and 32, output stride 4 and 1, a non-square input.



@cache
def _model(seed: int) -> bytes:
    return SPACE.build(SPACE.sample(seed), seed)


def test_registered_and_documented():
    assert isinstance(SPACE, SegmentationSpace)
    assert SPACE.task == "semantic segmentation" and SPACE.description
    assert SPACE.choices()["classes"] == [2, 19, 21]
    assert 30 < SPACE.size_log10() < 70


@pytest.mark.parametrize("seed", range(30))
def test_graph_is_valid(seed):
    arch = SPACE.sample(seed)
    assert ArchSpec.from_json(arch.to_json()) == arch and arch.to_json() == SPACE.sample(seed).to_json()
    a = arch.arch
    h, w = a["resolution"]
    assert h % 32 == 0 and w % 32 == 0
    strides = [lv["stride"] for lv in a["decoder"]]
    assert strides[0] == a["encoder_stride"] // 2 and strides[-1] == a["output_stride"]
    _, gf = featurise(load_graph(_model(seed)))
    s = 1 if a["final_resize"] else a["output_stride"]
    assert gf.input_shapes == [(1, h, w, 3)]
    assert gf.output_shapes == [(1, h // s, w // s, a["classes"])]
    assert "QUANTIZE" not in gf.op_types  # skip concatenations share one quantisation
    assert gf.op_types.get("CONCATENATION", 0) == sum(1 for lv in a["decoder"] if lv["skip"])
    assert gf.op_types.get("TRANSPOSE_CONV", 0) == sum(1 for lv in a["decoder"] if lv["up"] == "tconv")
    assert 30 <= gf.ops <= 400 and gf.macs > 1e7
