"""Every search space: deterministic bytes, the int8 spec, LiteRT, TFLite Micro, Vela with 0 CPU ops."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

from perfsage.graph import load_graph
from perfsage.graph.features import featurise
from perfsage.spaces import get_space, space_names
from perfsage.spaces.validate import run_gates, spec_errors

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
FAST_SEEDS = (0, 1)


@pytest.mark.parametrize("name", space_names())
def test_deterministic_from_space_seed_and_version(name):
    sp = get_space(name)
    a1, d1 = sp.synth(7)
    a2, d2 = get_space(name).synth(7)
    assert a1 == a2 and d1 == d2
    assert sp.synth(8)[1] != d1
    assert sp.build(a1, 7) == d1


@pytest.mark.parametrize("name", space_names())
@pytest.mark.parametrize("seed", FAST_SEEDS)
def test_validity_gates(name, seed, tmp_path):
    arch, data = get_space(name).synth(seed)
    rep = run_gates(data, tmp_path)
    assert rep.spec_errors == []
    assert rep.litert == "ok"
    assert rep.tflm == "ok"
    assert rep.vela == "ok" and rep.vela_cpu_ops == 0, arch.to_json()


@pytest.mark.slow
@pytest.mark.parametrize("name", space_names())
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
    rows = list(csv.DictReader((SHARED / "nasbench201" / "flops_params.csv").read_text().splitlines()))
    sp = get_space("nasbench201")
    for r in random.Random(0).sample(rows, 40):
        nodes, _ = featurise(load_graph(sp.build(sp.parse_arch(r["arch"]))))
        macs = sum(n.macs for n in nodes if n.kind in ("conv", "fully_connected"))
        assert macs == pytest.approx(float(r["flops_M"]) * 1e6, abs=1), r["arch"]


def test_fbnet_parses_every_shared_architecture():
    rows = list(csv.DictReader((SHARED / "fbnet" / "latency.csv").read_text().splitlines()))
    sp = get_space("fbnet")
    for r in rows[:200]:
        assert sp.parse_arch(r["arch"]).arch["arch"] == r["arch"]
    g = load_graph(sp.build(sp.parse_arch(rows[0]["arch"])))
    assert g.tensors[g.inputs[0]].shape == (1, 32, 32, 3)
    assert g.tensors[g.outputs[0]].shape == (1, 100)
