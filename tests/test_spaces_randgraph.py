"""The random-graph space: deterministic, covers every pattern it lists (and their operators), stays within
its caps, grows graphs from a dozen to hundreds of operators, and runs on LiteRT, Vela and TFLite Micro."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from conftest import assert_runs_on_npu_and_mcu
from perfsage.graph import load_graph
from perfsage.graph.features import featurise
from perfsage.spaces import TASK_SPACES, ArchSpec, get_space, space_names
from perfsage.spaces.randgraph import MAX_PARAMS, MAX_TENSOR, OPS_RANGE, PATTERNS, emit
from perfsage.spaces.tally import TallyBuilder
from perfsage.spaces.validate import spec_errors
from perfsage.targets.gates import litert_invoke

SEEDS = range(60)
REQUIRED_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "MEAN", "LOGISTIC", "MUL", "HARD_SWISH", "CONCATENATION", "ADD",
                "MAX_POOL_2D", "AVERAGE_POOL_2D", "SPLIT", "TRANSPOSE", "RESHAPE", "PAD", "RESIZE_BILINEAR",
                "RESIZE_NEAREST_NEIGHBOR", "TRANSPOSE_CONV", "FULLY_CONNECTED", "SOFTMAX", "TANH"}


@pytest.fixture(scope="module")
def space():
    return get_space("randgraph")


@pytest.fixture(scope="module")
def models(space):
    return {seed: space.synth(seed) for seed in SEEDS}


def test_registered_but_not_a_task_space(space):
    assert "randgraph" in space_names() and "randgraph" not in TASK_SPACES
    json.dumps(space.choices())
    assert space.size_log10() > 30


def test_deterministic_bytes_per_seed(space, models):
    for seed in (0, 7):
        a, d = get_space("randgraph").synth(seed)
        assert (a, d) == models[seed]
        assert space.build(ArchSpec.from_json(a.to_json()), seed) == d
    assert len({a.to_json() for a, _ in models.values()}) == len(models)


def test_every_pattern_and_its_operators_appear(models):
    patterns: Counter[str] = Counter()
    ops: set[str] = set()
    dilated = multi_output = odd_width = False
    for arch, data in models.values():
        patterns.update(n["pattern"] for n in arch.arch["nodes"])
        g = load_graph(data)
        ops |= {n.op for n in g.nodes}
        dilated |= any(n.get("dilation", 1) > 1 for n in arch.arch["nodes"])
        multi_output |= len(arch.arch["heads"]) > 1
        odd_width |= any(n.get("channels", 8) % 8 for n in arch.arch["nodes"])
    assert set(patterns) == set(PATTERNS), set(PATTERNS) - set(patterns)
    assert ops >= REQUIRED_OPS, REQUIRED_OPS - ops
    assert dilated and multi_output and odd_width


def test_caps_hold_and_graphs_span_small_to_deep(models):
    sizes = []
    for seed, (arch, data) in models.items():
        g = load_graph(data)
        gf = featurise(g)[1]
        t = TallyBuilder()
        emit(t, arch.arch)
        assert t.macs == gf.macs and t.params <= MAX_PARAMS and t.max_tensor <= MAX_TENSOR, seed
        h, w, _ = arch.arch["input"]
        assert 10 <= h <= 320 and 10 <= w <= 320
        sizes.append(len(g.nodes))
    assert min(sizes) >= 8 and max(sizes) > 100 and max(sizes) <= OPS_RANGE[1] + 10
    assert np.median(sizes) > 30


def test_every_operator_feeds_an_output(models):
    """No dead branches: Vela drops operators no output depends on, the runtimes run them."""
    for seed, (_, data) in models.items():
        g = load_graph(data)
        needed = set(g.outputs)
        for node in reversed(g.nodes):
            if needed & set(node.outputs):
                needed |= set(node.inputs)
            else:
                raise AssertionError(f"seed {seed}: {node.op} feeds no output")


def test_dry_build_is_the_parsed_graph(space):
    from perfsage.spaces.builder import dry_build

    for seed in (3, 4):
        arch, data = space.synth(seed)
        with dry_build():
            dry = space.build(arch, seed)
        parsed = load_graph(data)
        assert [n.op for n in dry.nodes] == [n.op for n in parsed.nodes]
        assert featurise(dry)[1].macs == featurise(parsed)[1].macs


def test_twenty_seeds_pass_spec_and_litert(models):
    for seed in range(20):
        arch, data = models[seed]
        assert spec_errors(data) == [], (seed, arch.to_json())
        assert litert_invoke(data) == "ok", (seed, arch.to_json())


def test_three_seeds_compile_with_vela_and_run_on_tflm(space, tmp_path):
    assert_runs_on_npu_and_mcu(space, range(3), tmp_path)


@pytest.mark.slow
def test_forty_seeds_compile_with_vela_and_run_on_tflm(space, tmp_path):
    assert_runs_on_npu_and_mcu(space, range(300, 340), tmp_path)
