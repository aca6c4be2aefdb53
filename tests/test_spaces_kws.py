"""The keyword-spotting space: its corners (DS-CNN-S/L, the largest and smallest nets) pass every gate,
and `arch_macs` (the MAC cap's arithmetic) equals the frontend's count and Vela's."""

from __future__ import annotations

import json

import pytest

from perfsage.graph import load_graph
from perfsage.graph.features import featurise
from perfsage.spaces import ArchSpec, get_space
from perfsage.spaces.kws import CLASSES, INPUT_SHAPE, MAX_MACS, arch_macs
from perfsage.targets.gates import run_gates

CORNERS = {
    "largest_ds_cnn": {"family": "ds_cnn", "first_kernel": [10, 4], "first_stride": [1, 1],
                       "channels": [128] * 6, "dw_kernels": [5] * 5, "act": "RELU6",
                       "pool": "AVERAGE_POOL_2D"},
    "ds_cnn_l": {"family": "ds_cnn", "first_kernel": [10, 4], "first_stride": [2, 2], "channels": [276] * 6,
                 "dw_kernels": [3] * 5, "act": "RELU", "pool": "AVERAGE_POOL_2D"},
    "ds_cnn_s": {"family": "ds_cnn", "first_kernel": [10, 4], "first_stride": [2, 2], "channels": [64] * 5,
                 "dw_kernels": [3] * 4, "act": "RELU", "pool": "MEAN"},
    "tc_resnet14_k2": {"family": "tc_resnet", "width": 2.0, "depth": 14, "kernels": [9] * 6,
                       "widths": [2.0] * 6},
    "tc_resnet8_k1": {"family": "tc_resnet", "width": 1.0, "depth": 8, "kernels": [3] * 3,
                      "widths": [1.0] * 3},
}
DS_CNN_S_MACS = 2_664_792  # MLPerf Tiny's DS-CNN-S reference reports about 2.7 M


def test_metadata_and_json_round_trip():
    sp = get_space("kws")
    json.dumps(sp.choices())
    assert sp.size_log10() > 8
    families = set()
    for seed in range(24):
        a = sp.sample(seed)
        families.add(a.arch["family"])
        assert ArchSpec.from_json(a.to_json()).arch == a.arch
        assert arch_macs(a.arch) <= MAX_MACS
    assert families == {"ds_cnn", "tc_resnet"}
    assert len({sp.sample(s).to_json() for s in range(300)}) >= 295  # diverse, few repeats


def test_arch_macs_equal_frontend_count():
    sp = get_space("kws")
    for seed in range(24):
        a = sp.sample(seed)
        g = featurise(load_graph(sp.build(a, seed)))[1]
        assert g.macs == arch_macs(a.arch)
        assert g.input_shapes == [INPUT_SHAPE] and g.output_shapes == [(1, CLASSES)]
    g = featurise(load_graph(sp.build(ArchSpec("kws", CORNERS["ds_cnn_s"]))))[1]
    assert g.macs == DS_CNN_S_MACS


@pytest.mark.parametrize("corner", sorted(CORNERS))
def test_corners_pass_every_gate(corner, tmp_path):
    arch = ArchSpec("kws", CORNERS[corner])
    rep = run_gates(get_space("kws").build(arch), tmp_path)
    assert rep.ok, rep


def test_bad_family_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown kws family"):
        get_space("kws").build(ArchSpec("kws", {"family": "rnn"}))
