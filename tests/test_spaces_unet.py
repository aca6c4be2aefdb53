"""The small U-Net space: deterministic, covers its choices, valid under LiteRT, Vela and TFLite Micro,
and shaped as the docstring says (each upsampling lands on its encoder map, concatenations never
requantise)."""

from __future__ import annotations

from collections import Counter

import pytest

from conftest import (
    assert_extra_space_registered_and_deterministic,
    assert_runs_on_npu_and_mcu,
    assert_seeds_pass_spec_and_litert,
)
from perfsage.graph import load_graph
from perfsage.spaces import ArchSpec, get_space
from perfsage.spaces.unet import UNetSpace, level_channels
from perfsage.spaces.validate import spec_errors
from perfsage.targets.gates import litert_invoke


@pytest.fixture(scope="module")
def space():
    return get_space("unet")


def test_registered_not_a_task_space_and_deterministic(space):
    assert isinstance(space, UNetSpace)
    assert_extra_space_registered_and_deterministic(space, 10)


def test_every_choice_is_drawn(space):
    archs = [space.sample(s).arch for s in range(200)]
    assert {a["down"] for a in archs} == {"conv", "maxpool", "avgpool"}
    assert {lv["up"] for a in archs for lv in a["decoder"]} == {"tconv", "bilinear", "nearest"}
    assert {a["depth"] for a in archs} == {2, 3, 4} and {a["conv"] for a in archs} == {"conv", "dwsep"}
    assert {a["head_act"] for a in archs} == {"NONE", "LOGISTIC"}


def _graph(space, **arch):
    base = {"resolution": [32, 48], "in_channels": 3, "depth": 2, "base": 8, "growth": 2.0, "act": "RELU",
            "conv": "conv", "down": "conv", "encoder_convs": [1, 1, 1],
            "decoder": [{"up": "tconv", "up_kernel": 3, "skip": True, "convs": 1},
                        {"up": "bilinear", "skip": True, "convs": 2}],
            "classes": 2, "head_act": "LOGISTIC"}
    data = space.build(ArchSpec("unet", {**base, **arch}), 0)
    return data, load_graph(data)


def test_the_fixture_shaped_unet_is_written_as_the_converter_writes_it(space):
    """The TF converter's U-Net (tests/fixtures/tf/transpose_conv_int8.tflite) in this space's terms."""
    data, g = _graph(space)
    ops = Counter(n.op for n in g.nodes)
    assert ops == {"CONV_2D": 3 + 3 + 1, "TRANSPOSE_CONV": 1, "RELU": 1, "RESIZE_BILINEAR": 1,
                   "CONCATENATION": 2, "LOGISTIC": 1}
    t = g.tensors
    for n in g.nodes:
        if n.op == "CONCATENATION":  # both inputs at the output's size and quantisation: no requantising
            shapes = {t[i].shape[:3] for i in n.inputs}
            assert shapes == {t[n.outputs[0]].shape[:3]}
            assert len({(t[i].quant.scale, t[i].quant.zero_point) for i in n.inputs}) == 1
    assert t[g.outputs[0]].shape == (1, 32, 48, 2)
    assert [level_channels(8, 2.0, lv) for lv in range(3)] == [8, 16, 32]
    assert spec_errors(data) == [] and litert_invoke(data) == "ok"


def test_pooling_and_depthwise_variants(space):
    _, g = _graph(space, down="maxpool", conv="dwsep", head_act="NONE", in_channels=1)
    ops = Counter(n.op for n in g.nodes)
    assert ops["MAX_POOL_2D"] == 2 and ops["DEPTHWISE_CONV_2D"] > 0 and "LOGISTIC" not in ops


def test_twenty_seeds_pass_spec_and_litert(space):
    assert_seeds_pass_spec_and_litert(space, range(20))


@pytest.mark.slow
def test_twenty_seeds_run_on_the_npu_and_the_mcu(space, tmp_path):
    assert_runs_on_npu_and_mcu(space, range(20), tmp_path)
