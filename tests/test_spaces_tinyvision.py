"""The tiny-vision space: deterministic, covers its choices, valid under LiteRT, Vela and TFLite Micro,
shaped as MLPerf Tiny writes its models, and never draws the two MLPerf Tiny models it holds out."""

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
from perfsage.spaces.tinyvision import HELD_OUT, TinyVisionSpace
from perfsage.spaces.validate import spec_errors
from perfsage.spaces.zoo import build_zoo_model
from perfsage.targets.gates import litert_invoke


@pytest.fixture(scope="module")
def space():
    return get_space("tinyvision")


def _ops(data: bytes) -> Counter:
    return Counter(n.op for n in load_graph(data).nodes)


def test_registered_not_a_task_space_and_deterministic(space):
    assert isinstance(space, TinyVisionSpace)
    assert_extra_space_registered_and_deterministic(space, 5)


def test_every_choice_is_drawn_and_the_held_out_models_never_are(space):
    archs = [space.sample(s).arch for s in range(300)]
    assert {a["family"] for a in archs} == {"resnet", "mobilenet_v1"}
    assert {a["pool"] for a in archs} == {"avgpool", "mean"} and {a["softmax"] for a in archs} == {True, False}
    res = [a for a in archs if a["family"] == "resnet"]
    assert {len(a["blocks"]) for a in res} == {2, 3, 4} and {a["stem_stride"] for a in res} == {1, 2}
    assert all(a["resolution"] >= 64 for a in res if a["stem_stride"] == 2)
    assert {a["depth"] for a in archs if a["family"] == "mobilenet_v1"} == {9, 10, 11, 12, 13}
    assert not any(a == h for a in archs for h in HELD_OUT)


def test_the_held_out_configurations_build_the_mlperf_tiny_models(space):
    """HELD_OUT names ResNet-8 and VWW exactly: built here they have the zoo models' operators and shapes."""
    for held, zoo in zip(HELD_OUT, ("mlperf-tiny-resnet8", "mlperf-tiny-vww"), strict=True):
        mine, theirs = load_graph(space.build(ArchSpec("tinyvision", held), 0)), load_graph(build_zoo_model(zoo))
        assert Counter(n.op for n in mine.nodes) == Counter(n.op for n in theirs.nodes), zoo
        shapes = [[mine.tensors[o].shape for o in n.outputs] for n in mine.nodes]
        assert shapes == [[theirs.tensors[o].shape for o in n.outputs] for n in theirs.nodes], zoo


def test_resnet_blocks_add_their_shortcut(space):
    arch = {"family": "resnet", "resolution": 32, "in_channels": 1, "stem_stride": 1, "base": 8, "growth": 2.0,
            "blocks": [2, 1], "pool": "mean", "classes": 12, "softmax": False}
    data = space.build(ArchSpec("tinyvision", arch), 0)
    ops = _ops(data)
    # stem + 3 blocks x 2 convs + one 1x1 stride-2 shortcut; an ADD per block; MEAN head, no SOFTMAX
    assert ops == {"CONV_2D": 1 + 6 + 1, "ADD": 3, "MEAN": 1, "FULLY_CONNECTED": 1}
    g = load_graph(data)
    assert g.tensors[g.outputs[0]].shape[-1] == 12
    assert spec_errors(data) == [] and litert_invoke(data) == "ok"


def test_twenty_seeds_pass_spec_and_litert(space):
    assert_seeds_pass_spec_and_litert(space, range(20))


@pytest.mark.slow
def test_twenty_seeds_run_on_the_npu_and_the_mcu(space, tmp_path):
    assert_runs_on_npu_and_mcu(space, range(20), tmp_path)
