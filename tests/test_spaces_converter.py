"""The converter-style space: other spaces' architectures with standalone activations, bias-less fully
connected layers and activated transposed convolutions; deterministic, valid under LiteRT, Vela and
TFLite Micro, and the canonical builders' bytes unchanged by the hooks it uses."""

from __future__ import annotations

from collections import Counter

import pytest

from conftest import assert_runs_on_npu_and_mcu
from perfsage.graph import load_graph
from perfsage.spaces import TASK_SPACES, ArchSpec, get_space, space_names
from perfsage.spaces.converter import ConverterStyleSpace
from perfsage.spaces.validate import spec_errors
from perfsage.targets.gates import litert_invoke


@pytest.fixture(scope="module")
def space():
    return get_space("converter")


def _styled(space, base: str, base_seed: int, **style) -> ArchSpec:
    arch = {"base": {"space": base, "arch": get_space(base).sample(base_seed).arch}, "base_seed": base_seed,
            "unfuse_p": 0.0, "drop_fc_bias_p": 0.0, "tconv_act": "NONE", "style_seed": 1, **style}
    return ArchSpec(space.name, arch)


def test_registered_not_a_task_space_and_deterministic(space):
    assert "converter" in space_names() and "converter" not in TASK_SPACES
    assert isinstance(space, ConverterStyleSpace) and space.size_log10() > 20
    for seed in (0, 3):
        a, d = space.synth(seed)
        assert space.build(ArchSpec.from_json(a.to_json()), seed) == d
        assert a.arch["base_seed"] >= 1 << 20  # never a seed the base space's own rows use
    assert len({space.sample(s).to_json() for s in range(50)}) == 50


def test_no_style_builds_the_base_model(space):
    """With every share 0 the hooks change nothing: the base space's operators, options and tensors
    (names, shapes, stored bytes, quantisation); the files differ only in the description string."""
    def layers(data: bytes):
        g = load_graph(data)
        return [(n.op, n.options, [(t.name, t.shape, t.data_bytes, t.quant) for t in
                                   (g.tensors[i] for i in (*n.inputs, *n.outputs) if i >= 0)]) for n in g.nodes]

    for base, seed in (("mixed", 4), ("kws", 2)):
        plain = get_space(base).build(get_space(base).sample(seed), 7)
        assert layers(space.build(_styled(space, base, seed), 7)) == layers(plain)


def test_unfused_activations_and_bias_less_fc(space):
    mlp_seed = next(s for s in range(50) if get_space("mixed").sample(s).arch["kind"] == "mlp")
    plain = load_graph(space.build(_styled(space, "mixed", mlp_seed), 0))
    styled = load_graph(space.build(_styled(space, "mixed", mlp_seed, unfuse_p=1.0, drop_fc_bias_p=1.0), 0))
    fc = [n for n in styled.nodes if n.op == "FULLY_CONNECTED"]
    assert fc and all(n.inputs[2] == -1 and n.options["fused_activation"] == "NONE" for n in fc)
    fused = sum(n.options.get("fused_activation") == "RELU" for n in plain.nodes)
    assert fused > 0 and Counter(n.op for n in styled.nodes)["RELU"] == fused
    assert spec_errors(styled_bytes := space.build(_styled(space, "mixed", mlp_seed, unfuse_p=1.0,
                                                           drop_fc_bias_p=1.0), 0)) == []
    assert litert_invoke(styled_bytes) == "ok"


def test_transposed_convolutions_get_the_activation(space):
    seg = get_space("segmentation")
    seed = next(s for s in range(200) if any(lv["up"] == "tconv" for lv in seg.sample(s).arch["decoder"]))
    g = load_graph(space.build(_styled(space, "segmentation", seed, tconv_act="RELU"), 0))
    consumers = [m.op for n in g.nodes if n.op == "TRANSPOSE_CONV"
                 for m in g.nodes if n.outputs[0] in m.inputs]
    assert consumers and set(consumers) == {"RELU"}, consumers


def test_twenty_seeds_pass_spec_and_litert(space):
    bases = set()
    for seed in range(20):
        arch, data = space.synth(seed)
        bases.add(arch.arch["base"]["space"])
        assert spec_errors(data) == [], seed
        assert litert_invoke(data) == "ok", (seed, arch.to_json())
    assert len(bases) >= 4


@pytest.mark.slow
def test_twenty_seeds_compile_with_vela_and_run_on_tflm(space, tmp_path):
    assert_runs_on_npu_and_mcu(space, range(20), tmp_path)
