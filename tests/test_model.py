"""Estimators: one interface, lossless save/load without pickles, per-layer sums, evaluation, CLI."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from conftest import run_cli
from perfsage.dataset.build import BuildConfig, build
from perfsage.graph.encode import GRAPH_FEATURES
from perfsage.model.data import load_graphset
from perfsage.model.evaluate import evaluate
from perfsage.model.registry import ESTIMATORS, estimator_class, load_estimator
from perfsage.model.train import split_graphset
from perfsage.spaces import get_space

METRICS = ["latency_ms", "energy_mj", "sram_kib", "flash_kib"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("model-ds")
    build(BuildConfig(out=out, spaces=["kws", "nasbench201"], per_space=24, targets=["ethos-u55-128"], workers=2),
          progress=False)
    return out


@pytest.fixture(scope="module")
def graphset(data):
    return load_graphset(data, "ethos-u55-128", METRICS)


def _small(name: str):
    params = {"perfsage": {"epochs": 40, "batch_size": 16, "hidden": 64, "layers": 2},
              "brp-nas-gcn": {"epochs": 20, "batch_size": 16, "hidden": 64},
              "gbdt": {"n_estimators": 60}, "nn-meter-kernels": {"n_estimators": 20}}.get(name, {})
    return estimator_class(name)(METRICS, **params)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_fit_predict_save_load(name, graphset, tmp_path):
    torch.set_num_threads(1)
    train, val, test = split_graphset(graphset, "random")
    est = _small(name).fit(train, val)
    pred = est.predict(test.graphs)
    expected = METRICS if name != "nn-meter-kernels" else ["latency_ms", "energy_mj", "flash_kib"]
    assert sorted(pred) == sorted(expected)
    assert all(np.all(np.isfinite(v)) and np.all(v > 0) for v in pred.values())
    if name in ("perfsage", "brp-nas-gcn"):  # the networks keep their epochs, which accuracy.py records
        assert 0 < len(est.history) <= _small(name).hp["epochs"] and all("seconds" in r for r in est.history)
    est.save(tmp_path / name)
    assert not list((tmp_path / name).glob("*.pkl")) and not list((tmp_path / name).glob("*.pt"))
    again = load_estimator(tmp_path / name).predict(test.graphs)
    for m in pred:
        np.testing.assert_allclose(again[m], pred[m], rtol=1e-5)


def test_perfsage_learns_and_layers_sum_to_total(graphset):
    torch.set_num_threads(1)
    train, val, test = split_graphset(graphset, "random")
    est = _small("perfsage").fit(train, val)
    rep = evaluate(est, train)
    baseline = np.mean(np.abs(np.median(train.y["latency_ms"]) / train.y["latency_ms"] - 1)) * 100
    assert rep["metrics"]["latency_ms"]["mape"] < baseline / 2  # far better than a constant guess
    layers = est.predict_layers(test.graphs[:5])
    total = est.predict(test.graphs[:5])["latency_ms"]
    for per_op, t, g in zip(layers, total, test.graphs[:5], strict=True):
        assert len(per_op["latency_ms"]) == g.x.shape[0]
        assert per_op["latency_ms"].sum() == pytest.approx(t, rel=1e-5)


def test_checkpoints_read_the_feature_columns_they_were_trained_on(graphset, tmp_path):
    """The encoding grows (encode.ADDED_AFTER_V2); a checkpoint from before lists no features and keeps
    reading the version-2 columns, and ignores the newer ones."""
    from perfsage.graph.encode import (
        CHANNEL_BLOCKS,
        FLAG_WORDS,
        GRAPH_FEATURES,
        NODE_FEATURES,
        WEIGHT_WORDS,
        feature_columns,
        feature_names,
    )
    from perfsage.model.perfsage import PerfSAGENetModel

    torch.set_num_threads(1)
    train, val, test = split_graphset(graphset, "random")
    old = PerfSAGENetModel(METRICS, epochs=3, batch_size=16, hidden=32, layers=2)
    old.features = feature_names()  # as a version-2 checkpoint
    old.cols = feature_columns(old.features)
    # version 3 added the kernel scratch, 5 the channel blocks, 6 the repeat flag, 7 the weight statistics
    assert len(old.features["node"]) == (len(NODE_FEATURES) - 1 - 2 * len(CHANNEL_BLOCKS) - len(FLAG_WORDS)
                                         - len(WEIGHT_WORDS))
    old.fit(train, val)
    old.save(tmp_path / "old")
    cfg = json.loads((tmp_path / "old" / "config.json").read_text())
    del cfg["features"]
    (tmp_path / "old" / "config.json").write_text(json.dumps(cfg))
    loaded = PerfSAGENetModel.load(tmp_path / "old")
    pred = loaded.predict(test.graphs)
    np.testing.assert_allclose(pred["latency_ms"], old.predict(test.graphs)["latency_ms"], rtol=1e-5)
    k = GRAPH_FEATURES.index("log_planned_activation_bytes")
    shifted = [dataclasses.replace(e, g=e.g + 5.0 * (np.arange(len(e.g)) == k)) for e in test.graphs]
    np.testing.assert_allclose(loaded.predict(shifted)["latency_ms"], pred["latency_ms"], rtol=1e-6)


def test_checkpoints_keep_the_readout_each_metric_was_trained_with(graphset, tmp_path):
    """Which metrics a network sums over operators is part of its checkpoint: one trained with SRAM read
    as a sum reloads that way, and one from before the choice was recorded reads the peaks as peaks."""
    from perfsage.model.perfsage import PerfSAGENetModel

    torch.set_num_threads(1)
    assert PerfSAGENetModel(["latency_ms", "peak_heap_kib"]).additive == ["latency_ms", "peak_heap_kib"]
    assert PerfSAGENetModel(METRICS).peak == ["sram_kib"]
    train, val, test = split_graphset(graphset, "random")
    hp = {"epochs": 2, "batch_size": 16, "hidden": 16, "layers": 1}
    summed = PerfSAGENetModel(METRICS, summed=METRICS, **hp).fit(train, val)
    assert summed.peak == [] and summed.net.graph_head is None
    summed.save(tmp_path / "summed")
    assert json.loads((tmp_path / "summed" / "config.json").read_text())["hp"]["summed"] == METRICS
    again = PerfSAGENetModel.load(tmp_path / "summed")
    assert again.additive == METRICS
    np.testing.assert_allclose(again.predict(test.graphs)["sram_kib"], summed.predict(test.graphs)["sram_kib"],
                               rtol=1e-5)
    rows, total = again.predict_layers(test.graphs[:3]), again.predict(test.graphs[:3])["sram_kib"]
    assert [r["sram_kib"].sum() for r in rows] == pytest.approx(total, rel=1e-5)

    peak = PerfSAGENetModel(METRICS, **hp).fit(train, val)
    peak.save(tmp_path / "old")
    cfg = json.loads((tmp_path / "old" / "config.json").read_text())
    del cfg["hp"]["summed"]  # as a checkpoint from before
    (tmp_path / "old" / "config.json").write_text(json.dumps(cfg))
    old = PerfSAGENetModel.load(tmp_path / "old")
    assert old.peak == ["sram_kib"]
    np.testing.assert_allclose(old.predict(test.graphs)["sram_kib"], peak.predict(test.graphs)["sram_kib"],
                               rtol=1e-5)
    with pytest.raises(ValueError, match="readouts"):
        PerfSAGENetModel(METRICS, summed=METRICS, **hp).fit(train, val, init=peak)
    # a warm start from an older checkpoint keeps its readouts unless told otherwise
    assert PerfSAGENetModel(METRICS, **{**hp, "epochs": 0}).fit(train, val, init=summed).peak == []


def test_a_metric_whose_target_reports_its_parts_is_predicted_as_their_sum(tmp_path_factory, tmp_path):
    """TFLite Micro's arena is a planned head (a peak) plus a persistent tail (a sum over operators), and
    every label's provenance keeps both: PerfSAGE reads each out its own way and sums them, the head as
    a correction to the graph's own greedy plan; the composition is part of the checkpoint; data without
    the parts trains the whole directly."""
    from perfsage.model.perfsage import PerfSAGENetModel

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("mcu-ds")
    build(BuildConfig(out=out, spaces=["kws", "nasbench201"], per_space=16, targets=["mcu-tflm"], workers=2),
          progress=False)
    gs = load_graphset(out, "mcu-tflm")
    assert sorted(gs.parts) == ["arena_head_kib", "arena_tail_kib"]
    np.testing.assert_allclose(gs.parts["arena_head_kib"] + gs.parts["arena_tail_kib"], gs.y["arena_kib"])
    assert np.all(gs.parts["arena_tail_kib"] > 0)
    train, val, test = split_graphset(gs, "random")
    assert list(train.subset(train.ids[:3]).parts["arena_tail_kib"]) == list(train.parts["arena_tail_kib"][:3])
    hp = {"epochs": 3, "batch_size": 8, "hidden": 16, "layers": 1}
    est = PerfSAGENetModel(["arena_kib"], **hp).fit(train, val)
    assert est.composed == {"arena_kib": ["arena_head_kib", "arena_tail_kib"]}
    assert (est.peak, est.additive) == (["arena_head_kib"], ["arena_tail_kib"])
    whole, parts = est.predict(test.graphs)["arena_kib"], est.predict_parts(test.graphs)
    np.testing.assert_allclose(whole, parts["arena_head_kib"] + parts["arena_tail_kib"], rtol=1e-9)
    assert est.predict_layers(test.graphs[:2]) == [{}, {}]  # the tail's per-operator values are no metric's
    # the head is the planner's plan (a graph feature) times a learned correction: without one, the plan
    assert est.anchors == {"arena_head_kib": ["log_planned_activation_bytes", 1 / 1024]}
    planned = np.array([np.expm1(g.g[GRAPH_FEATURES.index("log_planned_activation_bytes")]) for g in test.graphs])
    assert np.max(np.abs(parts["arena_head_kib"] / (planned / 1024) - 1)) < 0.5
    est.save(tmp_path / "parts")
    uncorrected = PerfSAGENetModel.load(tmp_path / "parts")
    for layer in (uncorrected.net.graph_head[-1].weight, uncorrected.net.graph_head[-1].bias):
        torch.nn.init.zeros_(layer)
    np.testing.assert_allclose(uncorrected.predict_parts(test.graphs)["arena_head_kib"], planned / 1024, rtol=1e-5)
    again = PerfSAGENetModel.load(tmp_path / "parts")
    assert (again.composed, again.anchors) == (est.composed, est.anchors)
    np.testing.assert_allclose(again.predict(test.graphs)["arena_kib"], whole, rtol=1e-5)
    # a warm start keeps the composition; dropping it is a different network
    assert PerfSAGENetModel(["arena_kib"], **{**hp, "epochs": 0}).fit(train, val, init=again).composed
    with pytest.raises(ValueError, match="parts"):
        PerfSAGENetModel(["arena_kib"], parts=False, **hp).fit(train, val, init=again)
    assert PerfSAGENetModel(["arena_kib"], anchors={}, **hp).fit(train, val).anchors == {}
    # asked not to, or given data whose provenance lacks the parts: the arena is read out as one peak
    assert PerfSAGENetModel(["arena_kib"], parts=False, **hp).fit(train, val).peak == ["arena_kib"]
    bare = PerfSAGENetModel(["arena_kib"], **hp).fit(dataclasses.replace(train, parts={}), val)
    assert (bare.composed, bare.peak) == ({}, ["arena_kib"])
    # the tabular baseline is given the same parts: one booster each, their predictions summed
    from perfsage.model.baselines.gbdt import GradientBoosting, tabular

    gb = GradientBoosting(["arena_kib"], n_estimators=20).fit(train, val)
    assert gb.composed == est.composed and sorted(gb.boosters) == ["arena_head_kib", "arena_tail_kib"]
    x = tabular(test.graphs)
    np.testing.assert_allclose(gb.predict(test.graphs)["arena_kib"],
                               sum(np.exp(gb.boosters[p].predict(x)) for p in gb.composed["arena_kib"]))
    gb.save(tmp_path / "gbdt")
    np.testing.assert_allclose(GradientBoosting.load(tmp_path / "gbdt").predict(test.graphs)["arena_kib"],
                               gb.predict(test.graphs)["arena_kib"])
    assert sorted(GradientBoosting(["arena_kib"], n_estimators=20, parts=False).fit(train, val).boosters) == \
        ["arena_kib"]
    # and so, when asked, is the BRP-NAS GCN: one output each, trained on the parts and their sum
    from perfsage.model.baselines.brpnas import BRPNASGCN

    gcn = BRPNASGCN(["arena_kib"], hidden=16, layers=1, epochs=2, batch_size=8, parts=True).fit(train, val)
    assert gcn.outputs == ["arena_head_kib", "arena_tail_kib"] and gcn.net.out[-1].out_features == 2
    gcn.save(tmp_path / "gcn")
    again_gcn = BRPNASGCN.load(tmp_path / "gcn")
    assert again_gcn.composed == est.composed
    np.testing.assert_allclose(again_gcn.predict(test.graphs)["arena_kib"], gcn.predict(test.graphs)["arena_kib"],
                               rtol=1e-5)
    assert BRPNASGCN(["arena_kib"], hidden=16, layers=1, epochs=1).fit(train, val).outputs == ["arena_kib"]


def test_a_baseline_from_another_encoding_is_a_clear_error(graphset, tmp_path):
    from perfsage.errors import PerfsageError

    train, val, _ = split_graphset(graphset, "random")
    estimator_class("flops")(METRICS).fit(train, val).save(tmp_path / "flops")
    cfg = json.loads((tmp_path / "flops" / "config.json").read_text())
    del cfg["features"]
    (tmp_path / "flops" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(PerfsageError, match="another feature encoding"):
        load_estimator(tmp_path / "flops")


def test_metric_groups():
    from perfsage.model.perfsage import metric_groups

    assert metric_groups(METRICS, "split") == [["latency_ms", "energy_mj"], ["sram_kib"], ["flash_kib"]]
    assert metric_groups(METRICS, "joint") == [METRICS]
    assert metric_groups(["arena_kib"], "split") == [["arena_kib"]]
    with pytest.raises(ValueError):
        metric_groups(METRICS, "other")


def test_evaluate_report_and_plots(graphset, tmp_path):
    est = _small("flops").fit(graphset)
    rep = evaluate(est, graphset, plots=tmp_path)
    assert set(rep["metrics"]["latency_ms"]) == {"n", "mape", "rmspe", "bias", "acc5", "acc10", "spearman",
                                                 "kendall"}
    assert set(rep["per_space"]) == {"kws", "nasbench201"}
    assert (tmp_path / "latency_ms.png").stat().st_size > 5000


class Killed(Exception):
    pass


def test_a_killed_fit_resumes_to_the_weights_of_an_uninterrupted_one(graphset, tmp_path):
    """The state is saved after every epoch: a fit stopped after epoch 3 and run again ends with the
    very weights and history of a fit never stopped; a finished state returns without training."""
    from perfsage.model.perfsage import PerfSAGE

    torch.set_num_threads(1)
    train, val, _ = split_graphset(graphset, "random")
    hp = {"epochs": 6, "batch_size": 16, "hidden": 32, "layers": 2, "patience": 100}
    whole = PerfSAGE(METRICS, **hp).fit(train, val)

    def kill_after_3(rec):
        if rec.get("epoch") == 3:
            raise Killed

    with pytest.raises(Killed):
        PerfSAGE(METRICS, log=kill_after_3, resume=tmp_path / "partial", **hp).fit(train, val)
    seen = []
    resumed = PerfSAGE(METRICS, log=seen.append, resume=tmp_path / "partial", **hp).fit(train, val)
    assert seen[0] == {"metrics": METRICS, "resumed_after_epoch": 3} and seen[-1]["epoch"] == 6
    assert [r["train_loss"] for r in resumed.history] == [r["train_loss"] for r in whole.history]
    for a, b in zip(whole.members[0].net.parameters(), resumed.members[0].net.parameters(), strict=True):
        assert torch.equal(a, b)
    again = PerfSAGE(METRICS, log=seen.append, resume=tmp_path / "partial", **hp).fit(train, val)
    assert len(seen) == 4 and again.history == resumed.history  # finished: nothing trained
    # other data never picks up this state
    other = PerfSAGE(METRICS, log=seen.append, resume=tmp_path / "partial", **hp).fit(val, train)
    assert len(other.history) == 6 and "resumed_after_epoch" not in seen[4]


def test_train_cli_killed_resumes_and_cleans_up(data, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    ck = tmp_path / "ck"
    args = [sys.executable, "-m", "perfsage", "train", "--data", str(data), "--target", "ethos-u55-128", "--out",
            str(ck), "--metrics", "latency_ms", "--epochs", "400"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    state = tmp_path / "ck.partial" / "member0.pt"
    t0 = time.time()
    while not state.is_file() and time.time() - t0 < 120 and proc.poll() is None:
        time.sleep(0.2)
    time.sleep(1.0)
    assert proc.poll() is None, proc.communicate()[1][-2000:]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not ck.exists() and state.is_file()
    r = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "resumed_after_epoch" in r.stdout
    assert (ck / "config.json").is_file() and not (tmp_path / "ck.partial").exists()


def test_train_and_evaluate_cli(data, tmp_path):
    ck = tmp_path / "ck"
    r = run_cli("train", "--data", str(data), "--target", "ethos-u55-128", "--out", str(ck), "--estimator", "gbdt",
                "--metrics", "latency_ms,sram_kib", "--json", timeout=300)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["n_train"] > 0 and info["metrics"] == ["latency_ms", "sram_kib"]
    r = run_cli("evaluate", "--data", str(data), "--model", str(ck), "--target", "ethos-u55-128", "--json",
                timeout=300)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["target"] == "ethos-u55-128" and out["split"] == "random" and out["n_test"] > 0
    assert 0 <= out["metrics"]["latency_ms"]["acc10"] <= 1
    r = run_cli("evaluate", "--data", str(data), "--model", str(tmp_path / "nope"), "--target", "ethos-u55-128")
    assert r.returncode == 2 and "not a perfsage checkpoint" in r.stderr


def test_a_trained_checkpoint_serves_predictions_with_intervals(data, tmp_path):
    ck = tmp_path / "ck"
    r = run_cli("train", "--data", str(data), "--target", "ethos-u55-128", "--out", str(ck), "--epochs", "1",
                "--max-seconds", "20", "--metrics", "latency_ms,sram_kib", "--json", timeout=300)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert set(info["interval_coverage_val"]) == {"latency_ms", "sram_kib"}
    assert (ck / "domain.json").is_file() and (ck / "calibration.json").is_file() and (ck / "distance.npz").is_file()
    r = run_cli("evaluate", "--data", str(data), "--model", str(ck), "--target", "ethos-u55-128", "--json",
                timeout=300)
    assert r.returncode == 0, r.stderr
    assert set(json.loads(r.stdout)["interval"]["coverage"]) == {"latency_ms", "sram_kib"}
    model = tmp_path / "m.tflite"
    model.write_bytes(get_space("kws").synth(77)[1])
    r = run_cli("predict", str(model), "--target", str(ck), "--per-layer", "--json", timeout=300)
    assert r.returncode == 0, r.stderr
    rec = json.loads(r.stdout)[0]
    assert rec["target"] == "ethos-u55-128"
    bounds = json.loads((ck / "calibration.json").read_text())["log_bounds"]
    for m, v in rec["metrics"].items():  # conformal bounds shift with the model's bias, so they need not
        lo, hi = bounds[m]                 # straddle an undertrained model's value
        assert v["low"] == pytest.approx(v["value"] * np.exp(lo)) and v["high"] == pytest.approx(
            v["value"] * np.exp(hi)) and v["low"] < v["high"]
    assert rec["layers"] and "latency_ms" in rec["layers"][0]


def test_a_warm_start_carries_the_network_over_and_then_trains_it(graphset):
    """Warm start (new spaces without a retrain): with no epochs the new fit is the old network
    exactly (weights, normalisation and offsets, not refitted to the new data); with epochs it moves
    from there; a network of another shape is refused."""
    from perfsage.model.perfsage import PerfSAGE

    torch.set_num_threads(1)
    train, val, test = split_graphset(graphset, "random")
    hp = {"batch_size": 16, "hidden": 32, "layers": 2, "patience": 100}
    # trained on other data than the warm fit's, and reading its features unclipped, as older checkpoints do
    old = PerfSAGE(METRICS, epochs=4, feature_clip=None, **hp).fit(val, None)
    frozen = PerfSAGE(METRICS, epochs=0, **hp).fit(train, val, init=old)
    before, after = old.predict(test.graphs), frozen.predict(test.graphs)
    for m in METRICS:
        np.testing.assert_array_equal(after[m], before[m])
    assert frozen.members[0].y_offset == old.members[0].y_offset
    moved = PerfSAGE(METRICS, epochs=2, **hp).fit(train, val, init=old)
    assert any(not np.allclose(moved.predict(test.graphs)[m], before[m]) for m in METRICS)
    with pytest.raises(ValueError, match="same metrics"):
        PerfSAGE(METRICS, epochs=1, **{**hp, "hidden": 16}).fit(train, val, init=old)


def test_a_warm_start_grows_a_network_into_features_added_since(graphset):
    """A predictor trained before the encoding gained columns warm-starts with them at zero weight: it
    computes what it did (its own normalisation kept), then learns to use them."""
    from perfsage.graph.encode import CHANNEL_BLOCK_WORDS, GRAPH_FEATURES, NODE_FEATURES, feature_columns, feature_names
    from perfsage.model.perfsage import PerfSAGENetModel

    torch.set_num_threads(1)
    train, val, test = split_graphset(graphset, "random")
    hp = {"batch_size": 16, "hidden": 32, "layers": 2, "patience": 100}
    added = list(CHANNEL_BLOCK_WORDS)
    old = PerfSAGENetModel(METRICS, epochs=3, **hp)
    old.features = feature_names([n for n in NODE_FEATURES if n not in added], list(GRAPH_FEATURES))
    old.cols = feature_columns(old.features)
    old.fit(val, None)
    grown = PerfSAGENetModel(METRICS, epochs=0, **hp).fit(train, val, init=old)
    assert grown.features["node"] == list(NODE_FEATURES) and grown.y_offset == old.y_offset
    keep = [NODE_FEATURES.index(n) for n in old.features["node"]]
    np.testing.assert_array_equal(grown.norm["x_mean"][keep], old.norm["x_mean"])
    before, after = old.predict(test.graphs), grown.predict(test.graphs)
    for m in METRICS:
        np.testing.assert_allclose(after[m], before[m], rtol=1e-5)
    emb = grown.net.op_emb.embedding_dim + grown.net.kind_emb.embedding_dim  # the features come after these
    new_cols = [emb + NODE_FEATURES.index(n) for n in added]
    assert not grown.net.inp[0].weight[:, new_cols].any()
    moved = PerfSAGENetModel(METRICS, epochs=2, **hp).fit(train, val, init=old)
    assert moved.net.inp[0].weight[:, new_cols].abs().sum() > 0
    wider = PerfSAGENetModel(METRICS, epochs=0, **hp)
    wider.features = {"node": [*NODE_FEATURES, "log_future"], "graph": list(GRAPH_FEATURES)}
    with pytest.raises(ValueError, match="no feature this encoding lacks"):
        old.fit(val, None, init=wider)


def test_the_peak_readout_has_no_node_count_bias(graphset, tmp_path):
    """k nodes holding the same memory read as that memory (logsumexp / T read log(k) / T above it);
    a checkpoint saved before the readout was recorded loads with the logsumexp it was trained with.
    Trained on per-operator SRAM labels the maximum is sharp (T = 64), on totals alone soft (T = 8);
    a checkpoint that recorded no T was trained with 8."""
    from perfsage.model.perfsage import (
        PEAK_T,
        SHARP_PEAK_T,
        PerfSAGENetModel,
        segment_boltzmann,
        segment_logsumexp,
    )

    z = torch.tensor([2.0] * 9 + [1.0, 3.0, 0.5])
    index = torch.tensor([0] * 9 + [1, 1, 1])
    boltz = segment_boltzmann(z, index, 2, PEAK_T)
    assert boltz[0].item() == pytest.approx(2.0)
    assert (segment_logsumexp(PEAK_T * z, index, 2) / PEAK_T)[0].item() == pytest.approx(2.0 + np.log(9) / PEAK_T)
    assert 2.9 < boltz[1].item() <= 3.0  # near the max, never above it

    torch.set_num_threads(1)
    train, val, test = split_graphset(graphset, "random")
    est = PerfSAGENetModel(METRICS, epochs=1, batch_size=16, hidden=32, layers=2).fit(train, val)
    assert est.hp["peak_readout"] == "boltzmann" and est.net.peak_readout == "boltzmann"
    assert est.hp["peak_t"] == SHARP_PEAK_T and est.net.peak_t == SHARP_PEAK_T  # SRAM labelled per operator
    est.save(tmp_path / "m")
    again = PerfSAGENetModel.load(tmp_path / "m")
    assert again.net.peak_t == SHARP_PEAK_T
    assert np.array_equal(again.predict(test.graphs)["sram_kib"], est.predict(test.graphs)["sram_kib"])
    blind = dataclasses.replace(train, layer_values={m: v for m, v in train.layer_values.items() if m != "sram_kib"})
    assert PerfSAGENetModel(METRICS, epochs=1, batch_size=16, hidden=16, layers=1).fit(blind).hp["peak_t"] == PEAK_T
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    del cfg["hp"]["peak_readout"], cfg["hp"]["peak_t"]
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    old = PerfSAGENetModel.load(tmp_path / "m")
    assert old.net.peak_readout == "logsumexp" and old.net.peak_t == PEAK_T
    assert not np.allclose(old.predict(test.graphs)["sram_kib"], est.predict(test.graphs)["sram_kib"])


def test_flash_is_supervised_per_operator_where_its_share_is_known(graphset):
    """Ethos-U55 labels each operator's flash (its weights and scales); operators with lookup tables hold
    the unattributed rest and are unknown, so the known parts add up to the total or a little under it."""
    from perfsage.model.perfsage import PerfSAGENetModel

    per_node = graphset.layer_values["flash_kib"]
    unknown = 0
    for v, total in zip(per_node, graphset.y["flash_kib"], strict=True):
        known = np.nansum(v)
        assert 0.9 * total <= known <= total * (1 + 1e-5)
        if np.isnan(v).any():
            unknown += 1
        else:
            assert known == pytest.approx(total, rel=1e-5)
    assert 0 < unknown < len(per_node)  # kws ends in a softmax (lookup tables); NAS-Bench-201 has none
    est = PerfSAGENetModel(METRICS, epochs=1, batch_size=16, hidden=16, layers=1)
    node_y = est._node_targets(graphset, est.additive)
    col = est.additive.index("flash_kib")
    for y, v in zip(node_y, per_node, strict=True):
        assert np.array_equal(np.isnan(y[:, col]), np.isnan(v))  # unknown stays out of the loss
        assert (y[v == 0, col] <= -1e29).all()  # operators without weights: zero, pushed below the total


def test_peak_metrics_are_supervised_per_operator_where_labelled(graphset):
    """Vela labels each operator's SRAM in use; its largest is the total, operators Vela never ran are
    unknown (not zero), and the loss adds the per-operator log-L1 of the peak head."""
    from perfsage.model.perfsage import PerfSAGENetModel

    per_node = graphset.layer_values["sram_kib"]
    for v, total in zip(per_node, graphset.y["sram_kib"], strict=True):
        assert np.nanmax(v) == pytest.approx(total, rel=1e-6)
    assert any(np.isnan(v).any() for v in per_node)  # e.g. a RESHAPE Vela folds away

    torch.set_num_threads(1)
    train, val, _ = split_graphset(graphset, "random")
    # unclipped features: on these 40 small-data epochs the clip costs the labelled network 0.30 -> 0.37
    # below, though at scale it changed nothing (ethos-u55-128 random split, 600 s: median per-operator
    # SRAM log error 0.094 unclipped, 0.096 clipped; measured by a one-off script in session 24, not kept)
    hp = {"epochs": 40, "batch_size": 16, "hidden": 64, "layers": 2, "feature_clip": None}
    est = PerfSAGENetModel(METRICS, **hp).fit(train, val)
    peak_y = est._node_targets(train, est.peak)
    node_y = est._node_targets(train, est.additive)
    idx = list(range(8))
    batch = est._batch(train.graphs, idx)
    y = est._targets(train, idx)
    est.net.eval()
    out = est.net(batch)
    py = torch.from_numpy(np.concatenate([peak_y[i] for i in idx]))
    ny = torch.from_numpy(np.concatenate([node_y[i] for i in idx]))
    with_peak, _ = est._loss(out, y, batch, ny, py)
    without, _ = est._loss(out, y, batch, ny, None)
    zp = out["peak_node_log"][:, 0] + est.y_offset["sram_kib"]
    have = torch.isfinite(py[:, 0])
    expected = est.hp["layer_weight"] * torch.abs(zp - py[:, 0])[have].mean()
    assert (with_peak - without).item() == pytest.approx(expected.item(), rel=1e-4)
    # trained on them, the per-operator SRAM predictions follow the labels far closer than those of the
    # same network trained on the totals alone (median log error 0.30 against 0.65 here with encoding 6,
    # where the blind network reads the soft maximum; 0.59 with encoding 5 and 0.69 before the
    # channel-block features, which tell the blind network something about each operator too)
    blind = dataclasses.replace(train, layer_values={m: v for m, v in train.layer_values.items() if m != "sram_kib"})
    alone = PerfSAGENetModel(METRICS, **hp).fit(blind, val)
    alone.net.eval()
    zp_alone = alone.net(batch)["peak_node_log"][:, 0] + alone.y_offset["sram_kib"]
    err, err_alone = (torch.abs(z - py[:, 0])[have].median().item() for z in (zp, zp_alone))
    assert err < 0.6 * err_alone, (err, err_alone)


def test_operators_of_types_never_trained_on_read_as_the_unknown_type(graphset, tmp_path):
    """A network trained without some operator types never reads their (untrained) embeddings: those
    operators reach it as the `<unknown>` type and `other` kind, which training showed it on a share of
    known operators; the checkpoint keeps the ids it saw, and one without them maps nothing."""
    from perfsage.graph.encode import OP_VOCAB
    from perfsage.graph.ops import KINDS
    from perfsage.model.perfsage import PerfSAGENetModel, as_seen

    torch.set_num_threads(1)
    nb = graphset.subset([i for i, s in zip(graphset.ids, graphset.spaces, strict=True) if s == "nasbench201"])
    kws = graphset.subset([i for i, s in zip(graphset.ids, graphset.spaces, strict=True) if s == "kws"])
    est = PerfSAGENetModel(METRICS, epochs=3, batch_size=16, hidden=32, layers=2).fit(nb)
    seen_ops = {int(o) for e in nb.graphs for o in e.op}
    assert est.seen["ops"] == sorted(seen_ops)
    unseen = sorted({int(o) for e in kws.graphs for o in e.op} - seen_ops)
    assert unseen  # kws has depthwise convolutions and fully connected layers; NAS-Bench-201 cells none
    pred = est.predict(kws.graphs)
    with torch.no_grad():  # whatever an unseen type's embedding holds, nothing changes
        est.net.op_emb.weight[unseen] += 10.0
        unseen_kinds = sorted(set(range(len(KINDS))) - set(est.seen["kinds"]) - {KINDS.index("other")})
        est.net.kind_emb.weight[unseen_kinds] += 10.0
    again = est.predict(kws.graphs)
    for m in METRICS:
        np.testing.assert_allclose(again[m], pred[m], rtol=1e-5)
    est.save(tmp_path / "net")
    loaded = PerfSAGENetModel.load(tmp_path / "net")
    assert loaded.seen == est.seen
    np.testing.assert_allclose(loaded.predict(kws.graphs)["latency_ms"], again["latency_ms"], rtol=1e-5)
    cfg = json.loads((tmp_path / "net" / "config.json").read_text())
    del cfg["seen"]  # as a checkpoint from before: every id reaches its own embedding
    (tmp_path / "net" / "config.json").write_text(json.dumps(cfg))
    older = PerfSAGENetModel.load(tmp_path / "net")
    assert older.seen is None
    assert not np.allclose(older.predict(kws.graphs)["latency_ms"], again["latency_ms"], rtol=1e-3)
    # training hides a share of the known ones, at random; nothing known is hidden outside training
    op = torch.tensor(sorted(seen_ops) * 200)
    kind = torch.full_like(op, KINDS.index("conv"))
    assert KINDS.index("conv") in est.seen["kinds"]
    shown, shown_kind = as_seen(op, kind, est.seen)
    assert torch.equal(shown, op) and torch.equal(shown_kind, kind)
    hidden, hidden_kind = as_seen(op, kind, est.seen, hide=0.25)
    share = (hidden == OP_VOCAB.index("<unknown>")).float().mean().item()
    kind_share = (hidden_kind == KINDS.index("other")).float().mean().item()
    assert 0.18 < share < 0.32 and 0.18 < kind_share < 0.32


def test_features_far_outside_the_normalised_range_grow_only_logarithmically():
    from perfsage.model.perfsage import soft_clip

    z = torch.linspace(-3, 3, 61)
    assert torch.equal(soft_clip(z, 3.0), z)
    far = soft_clip(torch.tensor([4.0, 30.0, 300.0, -30.0]), 3.0)
    assert far[0] == pytest.approx(3 + np.log(2)) and far[1] < far[2] < 10 and far[3] == -far[1]


@pytest.mark.parametrize("context, sums_see_it, peaks_see_it",
                         [(True, True, True), ("additive", True, False), (False, False, False)])
def test_which_operator_heads_see_the_graph_context(graphset, context, sums_see_it, peaks_see_it):
    """node_context: all operator heads read the graph context, the additive ones only, or none; the peak's
    graph-level correction reads it whatever the setting."""
    from perfsage.model.perfsage import PerfSAGENet, PerfSAGENetModel, collate, normalisation

    torch.manual_seed(0)
    net = PerfSAGENet(["latency_ms"], ["sram_kib"], hidden=16, layers=1, node_context=context)
    batch = collate(graphset.graphs, normalisation(graphset.graphs), list(range(4)))
    plain, shifted = net(batch), net(dict(batch, g=batch["g"] + 1.0))
    assert torch.equal(plain["node_log"], shifted["node_log"]) is not sums_see_it
    assert torch.equal(plain["peak_node_log"], shifted["peak_node_log"]) is not peaks_see_it
    assert not torch.equal(plain["graph_log_peak"], shifted["graph_log_peak"])
    for bad in ("peak", 1):  # 1 == True, but would read as "additive" in forward's `is True`
        with pytest.raises(ValueError, match="node_context"):
            PerfSAGENet(["latency_ms"], ["sram_kib"], node_context=bad)
        with pytest.raises(ValueError, match="node_context"):  # the estimator says so before any training
            PerfSAGENetModel(["latency_ms"], node_context=bad)
    with pytest.raises(ValueError, match="peak_readout"):
        PerfSAGENetModel(["latency_ms"], peak_readout="max")


def test_keep_better_serves_each_metric_from_the_network_better_on_validation(graphset, tmp_path):
    """A per-metric choice between two networks, scored on validation data only: each metric (and its
    layers) comes from the one with the lower validation MAPE; it saves, loads, and warm-starts from its
    first network."""
    from perfsage.model.perfsage import PerfSAGE

    torch.set_num_threads(1)
    train, val, test = split_graphset(graphset, "random")
    hp = {"batch_size": 16, "hidden": 32, "layers": 2, "patience": 100}
    good = PerfSAGE(METRICS, epochs=6, **hp).fit(train, val)
    poor = PerfSAGE(METRICS, epochs=0, **hp).fit(train, val)  # untrained: worse on every metric
    alone, mape = PerfSAGE.keep_better([poor, good], val)
    assert all(v[1] < v[0] for v in mape.values()) and len(alone.members) == 1 and not alone.serves
    assert not PerfSAGE.keep_better([good, poor], val)[0].serves  # the first wins: one network
    # a choice that serves flash from one network and the rest from the other
    swapped = PerfSAGE(METRICS, "joint")
    swapped.members = [poor.members[0], good.members[0]]
    swapped.serves = {m: 1 if m != "flash_kib" else 0 for m in METRICS}
    # its networks, each alone, are candidates for the next choice (train_shipped --keep-better)
    assert [n.members for n in swapped.networks()] == [[poor.members[0]], [good.members[0]]]
    assert not PerfSAGE.keep_better([poor, *swapped.networks()], val)[0].serves
    got, layers = swapped.predict_with_layers(test.graphs)
    want_good, layers_good = good.predict_with_layers(test.graphs)
    want_poor, layers_poor = poor.predict_with_layers(test.graphs)
    np.testing.assert_allclose(got["latency_ms"], want_good["latency_ms"])
    np.testing.assert_allclose(got["flash_kib"], want_poor["flash_kib"])
    np.testing.assert_allclose(layers[0]["latency_ms"], layers_good[0]["latency_ms"])
    np.testing.assert_allclose(layers[0]["flash_kib"], layers_poor[0]["flash_kib"])
    swapped.save(tmp_path / "kept")
    again = PerfSAGE.load(tmp_path / "kept")
    assert again.serves == swapped.serves
    np.testing.assert_allclose(again.predict(test.graphs)["flash_kib"], want_poor["flash_kib"], rtol=1e-6)
    warm = PerfSAGE(METRICS, epochs=0, **hp).fit(train, val, init=again)  # from its first network: poor
    np.testing.assert_allclose(warm.predict(test.graphs)["latency_ms"], want_poor["latency_ms"], rtol=1e-6)


def test_the_analytic_prior_is_what_an_untrained_correction_leaves_and_it_saves(graphset, tmp_path):
    """prior=True: each operator's log prediction is the log of a sum of terms linear in its raw work (one
    coefficient per operator type, output and term) plus the head's correction; with the heads' last
    layers zeroed, a node's prediction is that sum, computed here from its encoded features by hand. The
    checkpoint records the setting and its term centres, and a network without the prior loads as before."""
    from perfsage.graph.encode import NODE_FEATURES, OP_VOCAB
    from perfsage.model.perfsage import PRIOR_TERMS, PerfSAGENetModel

    torch.set_num_threads(1)
    train, val, test = split_graphset(graphset, "random")
    est = PerfSAGENetModel(METRICS, epochs=2, batch_size=16, hidden=16, layers=1, prior=True).fit(train, val)
    assert est.net.prior_add is not None and est.net.prior_peak is not None
    with torch.no_grad():
        est.net.node_head[-1].weight.zero_()
        est.net.node_head[-1].bias.zero_()
    g = test.graphs[0]
    got = est.predict_layers([g])[0]["latency_ms"]
    k = est.additive.index("latency_ms")
    coef = est.net.prior_add.weight.detach().numpy().astype(np.float64)
    x = g.x.astype(np.float64)
    centre = est.norm["prior_additive_c"].astype(np.float64)
    n_terms = 1 + len(PRIOR_TERMS["additive"])
    for i in range(len(got)):
        theta = coef[g.op[i]].reshape(len(est.additive), n_terms)[k]
        total = np.exp(theta[0])
        for j, names in enumerate(PRIOR_TERMS["additive"], start=1):
            raw = sum(np.expm1(x[i, NODE_FEATURES.index(n)]) for n in names)
            total += np.exp(theta[j] - centre[j]) * raw
        assert got[i] == pytest.approx(total * np.exp(est.y_offset["latency_ms"]), rel=1e-4)
    # an operator of a type training never saw keeps the unknown type's constant alone
    unseen = int(g.op[0])
    est.seen = dict(est.seen, ops=[o for o in est.seen["ops"] if o != unseen])
    alone = est.predict_layers([g])[0]["latency_ms"]
    theta = coef[OP_VOCAB.index("<unknown>")].reshape(len(est.additive), n_terms)[k]
    for i in np.where(g.op == unseen)[0]:
        assert alone[i] == pytest.approx(np.exp(theta[0] + est.y_offset["latency_ms"]), rel=1e-4)
    est.seen = None
    est.save(tmp_path / "prior")
    again = PerfSAGENetModel.load(tmp_path / "prior")
    assert again.hp["prior"] and again.net.prior_add is not None
    np.testing.assert_allclose(again.predict([g])["sram_kib"], est.predict([g])["sram_kib"], rtol=1e-5)
    plain = PerfSAGENetModel(METRICS, epochs=0, batch_size=16, hidden=16, layers=1).fit(train, val)
    plain.save(tmp_path / "plain")
    assert PerfSAGENetModel.load(tmp_path / "plain").net.prior_add is None
    sums_only = PerfSAGENetModel(METRICS, epochs=1, batch_size=16, hidden=16, layers=1, prior="additive")
    sums_only.fit(train, val)
    assert sums_only.net.prior_add is not None and sums_only.net.prior_peak is None
    assert np.all(np.isfinite(sums_only.predict([g])["sram_kib"]))
    for bad in (1, "peak"):
        with pytest.raises(ValueError, match="prior"):
            PerfSAGENetModel(METRICS, prior=bad)
    with pytest.raises(ValueError, match="warm start"):  # the prior is part of the network's shape
        PerfSAGENetModel(METRICS, epochs=1, batch_size=16, hidden=16, layers=1, prior=True).fit(train, val, plain)


def test_bias_tells_one_factor_off_from_scattered_errors():
    from perfsage.model.scores import regression_report

    off = regression_report([1, 2, 4], [1.1, 2.2, 4.4])
    scattered = regression_report([1, 2, 4], [1.1, 1.8, 4.0])
    assert off["mape"] == pytest.approx(10) and off["bias"] == pytest.approx(10)
    assert scattered["mape"] == pytest.approx(20 / 3) and scattered["bias"] == pytest.approx(0)


def test_an_interval_warns_where_it_reaches_a_miss(graphset):
    from perfsage.model.evaluate import MISS, flag_report, wider_than_miss

    # log(true / predicted) bounds: a miss is |predicted / true - 1| > 10%, i.e. true < p / 1.1 or > p / 0.9
    lo_edge, hi_edge = -np.log1p(MISS), -np.log1p(-MISS)
    b = np.array([[lo_edge, hi_edge], [lo_edge - 1e-6, 0.0], [0.0, hi_edge + 1e-6], [-0.01, 0.01]])
    assert wider_than_miss(b).tolist() == [False, True, True, False]

    train, val, test = split_graphset(graphset, "random")
    rep = flag_report(_small("flops").fit(train), train, val, test)
    assert any(rec["wide"] and rec["misses"] for rec in rep.values())  # a FLOPs fit misses, and its intervals say so
    for rec in rep.values():
        assert 0 <= rec["wide"] <= rec["n"]
        if rec["wide"] and rec["misses"]:  # precision and recall of the same hits
            hits_p, hits_r = rec["wide_precision"] * rec["wide"], rec["wide_recall"] * rec["misses"]
            assert hits_p == pytest.approx(hits_r)
