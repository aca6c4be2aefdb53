"""The precision space: other spaces' architectures as int8, float32 and dynamic-range models;
deterministic, every precision drawn, valid under LiteRT, and told apart by the encoding."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from conftest import assert_extra_space_registered_and_deterministic
from perfsage.graph import load_graph
from perfsage.graph.encode import NODE_FEATURES, encode
from perfsage.spaces import get_space
from perfsage.targets.gates import litert_invoke


@pytest.fixture(scope="module")
def space():
    return get_space("precision")


def test_registered_and_deterministic(space):
    assert_extra_space_registered_and_deterministic(space, 20)


def test_every_precision_and_base_space_is_drawn(space):
    archs = [space.sample(s).arch for s in range(200)]
    assert set(Counter(a["precision"] for a in archs)) == {"int8", "float32", "dynamic"}
    assert len({a["base"]["space"] for a in archs}) == 8


def test_models_run_in_litert_and_their_precision_shows_in_the_encoding(space):
    f32 = NODE_FEATURES.index("in_float32")
    seen = set()
    for seed in range(12):
        arch, data = space.synth(seed)
        assert litert_invoke(data) == "ok", seed
        g = encode(load_graph(data))
        float_share = float(np.mean(g.x[:, f32]))
        precision = arch.arch["precision"]
        assert (float_share > 0.5) == (precision != "int8"), (seed, precision)
        seen.add(precision)
    assert seen == {"int8", "float32", "dynamic"}
