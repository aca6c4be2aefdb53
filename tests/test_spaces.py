"""Every search space: deterministic bytes, the int8 spec, LiteRT, TFLite Micro, Vela with 0 CPU ops."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

from conftest import shared_table
from perfsage.graph import load_graph
from perfsage.graph.features import featurise
from perfsage.spaces import get_space, space_names
from perfsage.spaces.validate import spec_errors
from perfsage.targets.gates import run_gates

FAST_SEEDS = (0, 1)
# extra seeds chosen to cover each space's main choices (extra layers, heads, upsampling methods, ...)
COVERING_SEEDS = {"detection": (8, 78, 112), "segmentation": (34, 37, 63)}
INT8_SPACES = [n for n in space_names() if get_space(n).fully_int8]  # the others test their own gates
GATE_CASES = [(n, s) for n in INT8_SPACES for s in FAST_SEEDS + COVERING_SEEDS.get(n, ())]


@pytest.mark.parametrize("name", space_names())
def test_deterministic_from_space_seed_and_version(name):
    sp = get_space(name)
    a1, d1 = sp.synth(7)
    a2, d2 = get_space(name).synth(7)
    assert a1 == a2 and d1 == d2
    assert sp.synth(8)[1] != d1
    assert sp.build(a1, 7) == d1


@pytest.mark.parametrize("name,seed", GATE_CASES)
def test_validity_gates(name, seed, tmp_path):
    arch, data = get_space(name).synth(seed)
    rep = run_gates(data, tmp_path)
    assert rep.spec_errors == []
    assert rep.litert == "ok"
    assert rep.tflm == "ok"
    assert rep.vela == "ok" and rep.vela_cpu_ops == 0, arch.to_json()


@pytest.mark.slow
@pytest.mark.parametrize("name", INT8_SPACES)
def test_validity_gates_many_seeds(name, tmp_path):
    for seed in range(100, 130):
        arch, data = get_space(name).synth(seed)
        rep = run_gates(data, tmp_path)
        assert rep.ok, (seed, rep, arch.to_json())


def test_spec_checker_catches_converter_differences():
    """The checker is not vacuous: converter output breaks our stricter layout rules."""
    data = (Path(__file__).parent / "fixtures" / "tf" / "dscnn_kws_int8.tflite").read_bytes()
    errs = spec_errors(data)
    assert any("points at buffer" in e for e in errs)


def test_nasbench201_macs_equal_published_flops():
    """Conv + linear MACs of our NB201 graphs equal the FLOPs table for sampled cells."""
    rows = list(csv.DictReader(shared_table("nasbench201/flops_params.csv").read_text().splitlines()))
    sp = get_space("nasbench201")
    for r in random.Random(0).sample(rows, 40):
        nodes, _ = featurise(load_graph(sp.build(sp.parse_arch(r["arch"]))))
        macs = sum(n.macs for n in nodes if n.kind in ("conv", "fully_connected"))
        assert macs == pytest.approx(float(r["flops_M"]) * 1e6, abs=1), r["arch"]


def test_nasbench201_cells_without_a_path_are_the_readmes_341():
    from perfsage.spaces.nasbench201 import all_archs, has_path, parse_arch_string

    assert sum(not has_path(parse_arch_string(a)) for a in all_archs()) == 341  # shared/data/README.md
    assert has_path(parse_arch_string("|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"))
    assert has_path(parse_arch_string("|nor_conv_1x1~0|+|none~0|avg_pool_3x3~1|+|none~0|none~1|skip_connect~2|"))
    assert not has_path(parse_arch_string("|skip_connect~0|+|none~0|skip_connect~1|+|none~0|none~1|none~2|"))
    assert not has_path(parse_arch_string("|none~0|+|skip_connect~0|none~1|+|none~0|skip_connect~1|none~2|"))


def test_fbnet_parses_every_shared_architecture():
    rows = list(csv.DictReader(shared_table("fbnet/latency.csv").read_text().splitlines()))
    sp = get_space("fbnet")
    for r in rows[:200]:
        assert sp.parse_arch(r["arch"]).arch["arch"] == r["arch"]
    g = load_graph(sp.build(sp.parse_arch(rows[0]["arch"])))
    assert g.tensors[g.inputs[0]].shape == (1, 32, 32, 3)
    assert g.tensors[g.outputs[0]].shape == (1, 100)


# SHA-256 prefixes of (space, seed 3) under GENERATOR_VERSION 1. Datasets store only (space, seed,
# generator version), so a change that alters these bytes must bump GENERATOR_VERSION (and these pins).
PINNED_V1 = {"classification": "ea329e4451c2", "detection": "b209eae69f40", "nasbench201": "f5a7309eb0b1",
             "kws": "d2603849561d", "fbnet": "eecf87673c08", "segmentation": "80430414d949"}


@pytest.mark.parametrize("name", sorted(PINNED_V1))
def test_generator_output_is_pinned(name):
    import hashlib

    from perfsage.spaces import GENERATOR_VERSION

    assert GENERATOR_VERSION == 1, "update PINNED_V1 for the new generator version"
    assert hashlib.sha256(get_space(name).synth(3)[1]).hexdigest()[:12] == PINNED_V1[name]
