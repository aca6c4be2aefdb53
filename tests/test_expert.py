"""The compressed-model expert (perfsage.predict.expert): it serves its metrics for compressed-looking
models only, and the shipped ones serve only what beat the main network on validation models."""

from __future__ import annotations

import json

import pytest

from conftest import TF_FIXTURES
from perfsage.compress import LayerRecipe, Recipe, compress_model
from perfsage.model.shipped import predictor_dir, shipped_targets
from perfsage.predict import Predictor
from perfsage.predict.expert import EXPERT_FILE, load_expert
from perfsage.predict.predictor import prepare

DSCNN = TF_FIXTURES / "dscnn_kws_int8.tflite"
WITH_EXPERT = [t for t in shipped_targets() if load_expert(predictor_dir(t)) is not None]


@pytest.mark.parametrize("target", WITH_EXPERT)
def test_the_expert_serves_its_metrics_for_compressed_models_and_nothing_for_dense_ones(target):
    predictor = Predictor.load(target)
    served = predictor.expert.metrics
    pruned = compress_model(DSCNN.read_bytes(), Recipe(LayerRecipe(sparsity=0.8, clusters=4)))[0]
    g_pruned, g_dense = prepare(pruned).graph, prepare(DSCNN).graph
    main = predictor.estimator.predict([g_pruned, g_dense])
    expert = predictor.expert.estimator.predict([g_pruned])
    got = predictor.network_totals([g_pruned, g_dense])
    for m in predictor.metrics:
        assert got[m][0] == pytest.approx(float((expert if m in served else main)[m][0]), rel=1e-6), m
        assert got[m][1] == pytest.approx(float(main[m][1]), rel=1e-6), m
    twinless = list(predictor.twin_rules)
    predictor.twin_rules = []
    layered = predictor.predict(pruned)
    predictor.twin_rules = twinless
    for m in served:  # the layers of a served additive metric come from the expert too
        parts = [la.values[m] for la in layered.layers if m in la.values]
        if parts:
            assert sum(parts) == pytest.approx(layered.metrics[m].value, rel=1e-4), m


@pytest.mark.parametrize("target", WITH_EXPERT)
def test_a_shipped_expert_serves_only_what_it_did_better_on_validation_models(target):
    record = json.loads((predictor_dir(target) / EXPERT_FILE).read_text())
    chosen = record["chosen_on"]
    assert record["metrics"]
    for m in record["metrics"]:
        assert chosen["validation_mape_expert"][m] < chosen["validation_mape_main"][m]
    assert chosen["space"] == "compressed" and chosen["validation_models"] > 100


@pytest.mark.parametrize("target", WITH_EXPERT)
def test_compressed_looking_models_get_the_bounds_fitted_on_them_as_served(target):
    import numpy as np

    from perfsage.predict.expert import COMPRESSED

    predictor = Predictor.load(target)
    bounds = predictor.calibration.groups.get(COMPRESSED)
    assert bounds and set(bounds) == set(predictor.metrics)
    pruned = compress_model(DSCNN.read_bytes(), Recipe(LayerRecipe(sparsity=0.8, clusters=4)))[0]
    p, dense = predictor.predict(pruned, layers=False), predictor.predict(DSCNN, layers=False)
    for m, iv in p.metrics.items():
        lo, hi = bounds[m]
        assert iv.low == pytest.approx(iv.value * np.exp(lo)) and iv.high == pytest.approx(iv.value * np.exp(hi))
        # a dense model is in no group: its band's bounds
        d_lo, d_hi = dense.metrics[m].low / dense.metrics[m].value, dense.metrics[m].high / dense.metrics[m].value
        assert (d_lo, d_hi) != pytest.approx((np.exp(lo), np.exp(hi)))
