"""The SSDLite-style detection space: deterministic bytes, valid graphs, and every model runs on LiteRT,
TFLite Micro and Vela (all operators on the NPU)."""

from __future__ import annotations

from functools import cache

import pytest

from perfsage.graph import load_graph
from perfsage.graph.features import featurise
from perfsage.spaces import ArchSpec, get_space
from perfsage.spaces.detection import DetectionSpace

SPACE = get_space("detection")



@cache
def _model(seed: int) -> bytes:
    return SPACE.build(SPACE.sample(seed), seed)


def _expected_anchors(arch: dict) -> int:
    size = arch["resolution"]
    sizes = []
    for _ in range(4):  # stem + stages down to stride 16
        size = -(-size // 2)
    sizes.append(size)
    size = -(-size // 2)
    sizes.append(size)
    for _ in arch["extra_channels"]:
        size = -(-size // 2)
        sizes.append(size)
    return sum(s * s * a for s, a in zip(sizes, arch["anchors"], strict=True))


def test_registered_and_documented():
    assert isinstance(SPACE, DetectionSpace)
    assert SPACE.task == "object detection" and SPACE.description
    ch = SPACE.choices()
    assert ch["anchors (per feature map)"] == [3, 6] and ch["classes (+1 background logit)"] == [20, 90]
    assert 30 < SPACE.size_log10() < 90


@pytest.mark.parametrize("seed", range(30))
def test_graph_is_valid(seed):
    arch = SPACE.sample(seed)
    assert ArchSpec.from_json(arch.to_json()) == arch and arch.to_json() == SPACE.sample(seed).to_json()
    a = arch.arch
    assert 2 <= len(a["extra_channels"]) <= 4 and len(a["anchors"]) == len(a["head_kernels"]) == 2 + len(
        a["extra_channels"])
    _, gf = featurise(load_graph(_model(seed)))
    n = _expected_anchors(a)
    assert gf.input_shapes == [(1, a["resolution"], a["resolution"], 3)]
    assert gf.output_shapes == [(1, n, 4), (1, n, a["classes"] + 1)]
    assert "QUANTIZE" not in gf.op_types  # concatenated head outputs share one quantisation
    assert "CUSTOM" not in gf.op_types
    assert gf.op_types["CONCATENATION"] == 2 and gf.op_types["RESHAPE"] == 2 * len(a["anchors"])
    assert 50 <= gf.ops <= 400 and gf.macs > 1e7
