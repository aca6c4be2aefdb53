"""The zoo of published architectures: each builds, passes the int8 spec and LiteRT, is deterministic in
(name, seed), has the parameter count (and, where published, the MACs) of its paper, and compiles with
Vela onto the NPU with no CPU fallback."""

from __future__ import annotations

import pytest

from perfsage.errors import PerfsageError
from perfsage.graph import load_graph
from perfsage.graph.features import featurise
from perfsage.spaces import space_names
from perfsage.spaces.validate import spec_errors
from perfsage.spaces.zoo import ZOO, build_zoo_model, zoo_names
from perfsage.targets.gates import litert_invoke, run_gates

# Parameters (weights + biases) the paper or the reference code reports. Batch norm is folded into the
# convolutions here, so a reference that counts BN gamma/beta separately is slightly higher.
PAPER_PARAMS = {
    "squeezenet1.1": 1_235_496,  # torchvision squeezenet1_1 / the authors' v1.1 prototxt
    "shufflenetv2-1.0": 2_300_000,  # Ma et al. 2018, Table 5: 2.3M (torchvision: 2,278,604)
    "mnasnet-a1": 3_900_000,  # Tan et al. 2019: 3.9M
    "ghostnet-1.0": 5_200_000,  # Han et al. 2020: 5.2M
    "mcunet-in2": 730_000,  # MCUNet model zoo README, mcunet-256kB (mcunet-in2): 0.73M
    # MLPerf Tiny references (mlcommons/tiny benchmark/training), counted from their Keras models:
    "mlperf-tiny-dscnn": 23_756,  # keras_model.py DS-CNN: 22,604 conv/dense + 1,152 BN gamma/beta
    "mlperf-tiny-vww": 210_000,  # MobileNetV1 0.25x, 2 classes: ~0.21M
    "mlperf-tiny-resnet8": 78_000,  # resnet_v1_eembc with 16 filters: ~78K
    "mlperf-tiny-autoencoder": 270_000,  # FC autoencoder: ~270K
}

# Multiply-accumulates where the paper reports them (perfsage counts Vela's way; pools add a little).
PAPER_MACS = {
    "squeezenet1.1": 350e6,  # torchvision: 0.35 GFLOPS (multiply-adds)
    "shufflenetv2-1.0": 146e6,  # Table 5: 146M FLOPs (multiply-adds)
    "mnasnet-a1": 312e6,  # Tan et al. 2019: 312M MACs
    "ghostnet-1.0": 141e6,  # Han et al. 2020: 141M FLOPs (multiply-adds)
    "mcunet-in2": 67.3e6,  # model zoo README: 67.3M MACs
    "mlperf-tiny-dscnn": 2.7e6,  # Hello Edge DS-CNN-S (the same network): 5.4M ops = 2.7M MACs
    "mlperf-tiny-resnet8": 12.5e6,  # MLPerf Tiny ResNet-8: ~12.5M MACs
}

WEIGHTED = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"}


def weight_params(data: bytes) -> int:
    """Elements of the constant inputs (weights, biases) of CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED."""
    g = load_graph(data)
    seen: set[int] = set()
    for node in g.nodes:
        if node.op in WEIGHTED:
            seen.update(t for t in node.inputs if t >= 0 and g.tensors[t].is_constant)
    return sum(g.tensors[t].elements for t in seen)


@pytest.fixture(scope="module")
def models() -> dict[str, bytes]:
    return {name: build_zoo_model(name) for name in zoo_names()}


def test_registry_covers_the_brief_and_stays_out_of_the_spaces():
    assert set(PAPER_PARAMS) <= set(ZOO)
    assert any(n.startswith("mcunet-") for n in ZOO)
    assert not set(ZOO) & set(space_names())
    for name, m in ZOO.items():
        assert m.name == name and m.paper and m.description and callable(m.build)


@pytest.mark.parametrize("name", zoo_names())
def test_builds_and_passes_spec_and_litert(name, models):
    data = models[name]
    assert data[4:8] == b"TFL3"
    assert spec_errors(data) == []
    assert litert_invoke(data) == "ok"


@pytest.mark.parametrize("name", zoo_names())
def test_deterministic_in_name_and_seed(name, models):
    assert build_zoo_model(name, 0) == models[name]
    assert ZOO[name].build(0) == models[name]
    other = build_zoo_model(name, 1)
    assert other != models[name]
    assert build_zoo_model(name, 1) == other


@pytest.mark.parametrize("name", sorted(PAPER_PARAMS))
def test_parameter_count_matches_the_paper(name, models):
    got, paper = weight_params(models[name]), PAPER_PARAMS[name]
    assert abs(got - paper) <= 0.10 * paper, f"{name}: {got:,} parameters vs {paper:,} published"


@pytest.mark.parametrize("name", sorted(PAPER_MACS))
def test_macs_match_the_paper(name, models):
    _, g = featurise(load_graph(models[name]))
    paper = PAPER_MACS[name]
    assert abs(g.macs - paper) <= 0.10 * paper, f"{name}: {g.macs:,} MACs vs {paper:,.0f} published"


def test_unknown_name_is_a_one_line_perfsage_error():
    with pytest.raises(PerfsageError) as e:
        build_zoo_model("resnet50")
    msg = str(e.value)
    assert "\n" not in msg and "resnet50" in msg
    assert all(name in msg for name in ZOO)


def test_vela_compiles_every_model_onto_the_npu(models):
    from perfsage.targets import get_target

    t = get_target("ethos-u55-128")
    try:
        for name, data in models.items():
            lab = t.measure(data, per_layer=False)
            assert lab.metrics["cpu_ops"] == 0, name
            assert lab.metrics["npu_cycles"] > 0, name
    finally:
        t.close()


@pytest.mark.slow
@pytest.mark.parametrize("name", zoo_names())
def test_all_validity_gates(name, models, tmp_path):
    rep = run_gates(models[name], tmp_path)
    assert rep.ok, rep
