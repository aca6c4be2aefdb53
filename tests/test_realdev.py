"""Real-device tables and HELP's protocol: splits, reference architectures, the FLOPs proxy check."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from scipy.stats import spearmanr

from conftest import shared_table
from perfsage.errors import PerfsageError
from perfsage.realdev.tables import META_TEST, META_TRAIN, REFERENCE, help_split, load_table, trimmed


def test_trimming_drops_the_fastest_and_slowest_tenth():
    lat = np.array([5.0, 1, 9, 3, 7, 2, 8, 4, 6, 10])
    assert list(trimmed(np.arange(10), lat)) == [0, 2, 3, 4, 5, 6, 7, 8]  # drops values 1 and 10
    ties = np.array([1.0, 1, 1, 2, 2, 2, 3, 3, 3, 3])
    kept = trimmed(np.arange(10), ties)
    assert len(kept) == 8 and sorted(ties[kept]) == [1, 1, 2, 2, 2, 3, 3, 3]


def test_nasbench201_protocol_matches_the_data_readme():
    t = load_table("nasbench201", shared_table("nasbench201/latency.csv"))
    assert len(t.arch) == 15625 and len(t.devices) == 27
    assert set(META_TRAIN["nasbench201"]) | set(META_TEST["nasbench201"]) <= set(t.devices)
    assert all(0 <= i < 15625 for i in REFERENCE["nasbench201"])
    flops = {}
    with open(shared_table("nasbench201/flops_params.csv"), newline="") as f:
        for r in csv.DictReader(f):
            flops[int(r["index"])] = float(r["flops_M"])
    fl = np.array([flops[i] for i in range(15625)])
    # the README's own check of this FLOPs proxy on HELP's test protocol
    readme = {"titan_rtx_256": 0.951, "gold_6226": 0.830, "pixel2": 0.768, "raspi4": 0.871, "eyeriss": 0.390,
              "fpga": 0.895}
    for device, rho in readme.items():
        pool, test = help_split(t, device)
        assert len(pool) == 720 and len(test) == 800
        assert pool.max() < 900 <= test.min() and test.max() < 1900
        assert spearmanr(fl[test], t.column(device)[test])[0] == pytest.approx(rho, abs=0.004), device


def test_fbnet_protocol():
    t = load_table("fbnet", shared_table("fbnet/latency.csv"))
    pool, test = help_split(t, "raspi4")
    assert len(pool) == 3200 and len(test) == 800 and test.min() >= 4000


def test_bad_table_requests(tmp_path):
    with pytest.raises(PerfsageError, match="not 'cifar'"):
        load_table("cifar")
    with pytest.raises(PerfsageError, match="no such table"):
        load_table("fbnet", tmp_path / "missing.csv")
