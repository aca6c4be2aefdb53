"""The compressed space: other spaces' architectures with trained-like, compressed weights; deterministic,
every recipe family drawn, valid under LiteRT, Vela and TFLite Micro, and seen by the weight features."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from conftest import assert_extra_space_registered_and_deterministic, assert_runs_on_npu_and_mcu
from perfsage.graph import load_graph
from perfsage.graph.encode import NODE_FEATURES, encode
from perfsage.spaces import ArchSpec, get_space
from perfsage.spaces.compressed import FAMILIES


@pytest.fixture(scope="module")
def space():
    return get_space("compressed")


def test_registered_and_deterministic(space):
    assert_extra_space_registered_and_deterministic(space, 20)
    assert all(space.sample(s).arch["base_seed"] >= 1 << 21 for s in range(20))


def test_every_family_and_draw_is_drawn(space):
    archs = [space.sample(s).arch for s in range(300)]
    families = Counter(a["family"] for a in archs)
    assert set(families) == set(FAMILIES) and min(families.values()) >= 15, families
    assert {a["draw"] for a in archs} == {"trained", "keep"}
    assert len({a["base"]["space"] for a in archs}) == 8


def test_the_weights_are_what_the_recipe_says(space):
    """Its pruned models hold the zeros of their recipe, where the base model's weights hold ~1 in 255."""
    seen = 0
    for seed in range(40):
        arch = space.sample(seed)
        if arch.arch["family"] != "prune":
            continue
        data = space.build(arch, seed)
        a = arch.arch
        base = get_space(a["base"]["space"]).build(ArchSpec(a["base"]["space"], a["base"]["arch"]), seed)
        g, g0 = load_graph(data), load_graph(base)
        assert [n.op for n in g.nodes] == [n.op for n in g0.nodes] and len(data) == len(base)
        recipe = space.recipe(arch, [(n.index, "conv") for n in g.nodes])
        x, x0 = encode(g).x, encode(g0).x
        zero = NODE_FEATURES.index("w_zero_share")
        weighted = x0[:, NODE_FEATURES.index("log_w_distinct")] > 0
        first = int(np.flatnonzero(weighted)[0])
        pruned = weighted.copy()
        if a["dense_first"]:
            pruned[first] = False
        assert np.allclose(x[pruned, zero], recipe.default.sparsity, atol=0.03)  # k of n rounds: 1/n
        assert (x0[weighted, zero] < 0.05).all()
        seen += 1
    assert seen >= 3


def test_models_run_on_npu_and_mcu(space, tmp_path):
    assert_runs_on_npu_and_mcu(space, range(3), tmp_path)


@pytest.mark.slow
def test_models_run_on_npu_and_mcu_many_seeds(space, tmp_path):
    assert_runs_on_npu_and_mcu(space, range(3, 30), tmp_path)
