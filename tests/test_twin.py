"""Compressed models read through their dense twin (perfsage.predict.twin)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import TF_FIXTURES
from perfsage.compress import LayerRecipe, Recipe, compress_model
from perfsage.predict import Predictor
from perfsage.predict.predictor import prepare
from perfsage.predict.twin import TwinRule, compose, load_rules, save_rules

DSCNN = TF_FIXTURES / "dscnn_kws_int8.tflite"


def test_compose_takes_the_saving_off_the_twin_and_falls_back_when_nothing_is_left():
    out = compose(np.array([100.0, 50.0]), np.array([80.0, 90.0]), np.array([30.0, 10.0]), np.array([60.0, 40.0]))
    assert out.tolist() == [50.0, 40.0]  # 100 - (80 - 30); 50 - 80 < 0: the model's own 40


def test_rules_round_trip_and_an_empty_list_removes_the_file(tmp_path):
    rules = [TwinRule("flash_kib", "ethos-u55-128", {"mape_direct": 7.3, "mape_twin": 5.2})]
    save_rules(tmp_path, rules)
    assert load_rules(tmp_path) == rules
    save_rules(tmp_path, [])
    assert load_rules(tmp_path) == [] and not (tmp_path / "twin.json").exists()


@pytest.fixture(scope="module")
def pruned() -> bytes:
    return compress_model(DSCNN.read_bytes(), Recipe(LayerRecipe(sparsity=0.8, clusters=4)))[0]


def test_a_rule_reads_a_compressed_models_metric_through_its_twin_and_leaves_dense_models_alone(pruned):
    predictor = Predictor.load("ethos-u65-256")
    rule = TwinRule("flash_kib", "ethos-u55-128", {})
    predictor.twin_rules = [rule]
    compressed, dense = prepare(pruned, twins=True), prepare(DSCNN, twins=True)
    assert compressed.twin is not None and dense.twin is None
    saver = Predictor.load(rule.saving_from, calibrated=False)
    own = predictor.network_totals([compressed.graph, compressed.twin])["flash_kib"]
    saved = saver.network_totals([compressed.twin])["flash_kib"][0] - \
        saver.network_totals([compressed.graph])["flash_kib"][0]
    got = predictor.predict_many([pruned, DSCNN], layers=False)
    assert got[0].metrics["flash_kib"].value == pytest.approx(own[1] - saved, rel=1e-6)
    assert got[1].metrics["flash_kib"].value == pytest.approx(
        float(predictor.network_totals([dense.graph])["flash_kib"][0]), rel=1e-6)
    layered = predictor.predict(pruned)  # its layers' flash still adds up to the total
    assert sum(la.values["flash_kib"] for la in layered.layers) == pytest.approx(own[1] - saved, rel=1e-4)
    predictor.twin_rules = []  # without the rule: the network's own reading of the compressed model
    assert predictor.predict(pruned, layers=False).metrics["flash_kib"].value == pytest.approx(float(own[0]), rel=1e-6)


def test_the_shipped_rules_name_shipped_predictors_and_were_chosen_on_validation_models():
    from perfsage.model.shipped import predictor_dir, shipped_targets

    for target in shipped_targets():
        for rule in load_rules(predictor_dir(target)):
            assert rule.saving_from in shipped_targets() and rule.saving_from != target
            assert rule.chosen_on["mape_twin"] < rule.chosen_on["mape_direct"]
