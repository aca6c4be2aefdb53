"""The mixed-block-families space: deterministic, covers the block types of the published zoo models
(MAX_POOL_2D, SPLIT, TRANSPOSE, ...), stays within its size caps, and passes LiteRT, Vela and TFLite Micro."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from conftest import assert_runs_on_npu_and_mcu
from perfsage.graph import load_graph
from perfsage.graph.features import featurise
from perfsage.spaces import TASK_SPACES, ArchSpec, get_space, space_names
from perfsage.spaces.mixed import FAMILIES, MAX_MACS, MAX_PARAMS, arch_tally
from perfsage.spaces.validate import spec_errors
from perfsage.targets.gates import litert_invoke

COVERAGE_SEEDS = range(40)
REQUIRED_OPS = {"MAX_POOL_2D", "SPLIT", "TRANSPOSE", "CONCATENATION", "FULLY_CONNECTED", "DEPTHWISE_CONV_2D",
                "ADD", "MUL"}


@pytest.fixture(scope="module")
def space():
    return get_space("mixed")


@pytest.fixture(scope="module")
def coverage_models(space):
    return {seed: space.synth(seed) for seed in COVERAGE_SEEDS}


def test_registered_but_not_a_task_space(space):
    assert "mixed" in space_names() and "mixed" not in TASK_SPACES
    assert space.name == "mixed" and space.task and space.description
    json.dumps(space.choices())
    assert space.size_log10() > 20


def test_deterministic_bytes_per_seed(space):
    for seed in (0, 5, 11):
        a1, d1 = space.synth(seed)
        a2, d2 = get_space("mixed").synth(seed)
        assert a1 == a2 and d1 == d2
        assert space.build(ArchSpec.from_json(a1.to_json()), seed) == d1
    assert space.synth(1)[1] != space.synth(2)[1]
    assert len({space.sample(s).to_json() for s in range(100)}) == 100


def test_op_and_family_coverage(coverage_models):
    ops: Counter[str] = Counter()
    families: set[str] = set()
    kinds: set[str] = set()
    for arch, data in coverage_models.values():
        ops.update({n.op for n in load_graph(data).nodes})
        kinds.add(arch.arch["kind"])
        families.update(st["family"] for st in arch.arch.get("stages", ()))
    assert set(ops) >= REQUIRED_OPS, REQUIRED_OPS - set(ops)
    assert kinds == {"cnn", "mlp"}
    assert families == set(FAMILIES)


def test_size_caps_and_tally_equal_frontend_count(coverage_models):
    for seed, (arch, data) in coverage_models.items():
        g = featurise(load_graph(data))[1]
        t = arch_tally(arch.arch)
        assert t.macs == g.macs, seed
        assert g.macs <= MAX_MACS and t.params <= MAX_PARAMS, seed


def test_twenty_seeds_pass_spec_and_litert(coverage_models):
    for seed in range(20):
        arch, data = coverage_models[seed]
        assert spec_errors(data) == [], (seed, arch.to_json())
        assert litert_invoke(data) == "ok", (seed, arch.to_json())


@pytest.mark.slow
def test_thirty_seeds_compile_with_vela_and_run_on_tflm(space, tmp_path):
    assert_runs_on_npu_and_mcu(space, range(200, 230), tmp_path)
