"""`perfsage predict` and the Predictor API: the shipped predictors, intervals, OOD reasons, per-layer parts."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from conftest import ROOT, TF_FIXTURES, run_cli
from perfsage.errors import PerfsageError
from perfsage.graph import load_graph
from perfsage.graph.encode import encode
from perfsage.model.calibration import Calibration, fit_calibration
from perfsage.model.domain import fit_domain
from perfsage.model.shipped import PREDICTED_METRICS, shipped_targets
from perfsage.predict import Predictor
from perfsage.spaces import get_space

DEMO = ROOT / "src" / "perfsage" / "data" / "models" / "demo_kws_int8.tflite"


@pytest.fixture(scope="module")
def u55() -> Predictor:
    return Predictor.load("ethos-u55-128")


def test_top_level_import_and_prediction_shape(u55):
    from perfsage import Predictor as P

    assert P is Predictor
    p = u55.predict(str(DEMO))
    assert p.target == "ethos-u55-128" and set(p.metrics) == set(PREDICTED_METRICS["ethos-u55-128"])
    for iv in p.metrics.values():
        assert 0 < iv.low < iv.value < iv.high  # every shipped predictor is calibrated
    # the demo is a KWS-space model whose classifier lost its all-zero bias to the TF converter; the
    # converter-style space trains on such layers, so it lies inside the training domain
    assert p.ood_reasons == [] and not p.ood
    graph = load_graph(DEMO)
    assert sorted(la.index for la in p.layers) == list(range(len(graph.nodes)))
    assert [la.op for la in sorted(p.layers, key=lambda la: la.index)] == [n.op for n in graph.nodes]
    lat = [la.values["latency_ms"] for la in p.layers]
    assert lat == sorted(lat, reverse=True)  # bottlenecks first
    assert sum(lat) == pytest.approx(p.metrics["latency_ms"].value, rel=1e-5)
    assert sum(la.share for la in p.layers) == pytest.approx(1.0, rel=1e-6)


def test_every_input_kind_gives_the_same_prediction(u55):
    data = DEMO.read_bytes()
    graph = load_graph(DEMO)
    preds = u55.predict_many([DEMO, str(DEMO), data, graph, encode(graph)], layers=False)
    for p in preds[1:]:
        for m, iv in p.metrics.items():
            assert iv.value == pytest.approx(preds[0].metrics[m].value, rel=1e-6)
    assert preds[4].ood_reasons == preds[0].ood_reasons


def test_batched_prediction_matches_one_at_a_time(u55):
    space = get_space("classification")
    models = [space.synth(900_000 + k)[1] for k in range(3)]
    batched = u55.predict_many(models, layers=False, batch_size=2)
    for x, b in zip(models, batched, strict=True):
        assert u55.predict(x, layers=False).metrics["latency_ms"].value == pytest.approx(
            b.metrics["latency_ms"].value, rel=1e-5)


def test_files_parsed_in_worker_processes_predict_as_in_this_one(u55, tmp_path):
    files = []
    for k in range(20):  # above ParallelEncoder.min_parallel: the pool runs
        files.append(tmp_path / f"m{k:02d}.tflite")
        files[-1].write_bytes(get_space(("kws", "classification")[k % 2]).synth(910_000 + k)[1])
    files.append(DEMO.read_bytes())
    pooled = u55.predict_many(files, batch_size=32, workers=2)
    inline = u55.predict_many(files, batch_size=32, workers=1)
    assert [p.to_dict() for p in pooled] == [p.to_dict() for p in inline]
    assert [p.model for p in pooled] == [str(f) for f in files[:-1]] + ["<bytes 20>"]


def test_a_bad_file_among_many_is_one_line_naming_it(tmp_path):
    for k in range(20):
        (tmp_path / f"m{k:02d}.tflite").write_bytes(DEMO.read_bytes())
    (tmp_path / "m07.tflite").write_bytes(b"not a flatbuffer at all" * 10)
    r = run_cli("predict", str(tmp_path))
    assert r.returncode == 2 and "m07.tflite" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_domain_names_unseen_operators_and_out_of_range_features():
    small = [encode(load_graph(get_space("kws").synth(s)[1])) for s in range(3)]
    domain = fit_domain(small)
    graph = load_graph(TF_FIXTURES / "mobilenetv2_int8.tflite")
    reasons = domain.check(encode(graph), [n.op for n in graph.nodes])
    assert reasons
    unseen = {n.op for n in graph.nodes} - set(domain.op_types)
    assert any(r.startswith("operators never seen in training") and all(op in r for op in unseen)
               for r in reasons) if unseen else True
    assert any(r.startswith("model params") and "outside the training range" in r for r in reasons)
    assert any(r.startswith("CONV_2D out c up to 1,280 at ") for r in reasons), reasons
    assert domain.check(small[0]) == []


def test_domain_ranges_are_per_op_type(tmp_path):
    """A fully connected layer without a bias lies inside the bias range that all nodes together span
    (pools have none), but no training FULLY_CONNECTED had zero bias bytes."""
    import dataclasses
    import json

    from perfsage.graph.encode import NODE_FEATURES, op_id
    from perfsage.model.domain import TrainingDomain

    small = [encode(load_graph(get_space("kws").synth(s)[1])) for s in range(3)]
    domain = fit_domain(small)
    e = dataclasses.replace(small[0], x=small[0].x.copy())
    fc = np.flatnonzero(e.op == op_id("FULLY_CONNECTED"))
    col = NODE_FEATURES.index("log_bias_bytes")
    assert len(fc) and domain.node_ranges["log_bias_bytes"][0] == 0.0
    e.x[fc, col] = 0.0
    assert domain.check(e) == [f"FULLY_CONNECTED bias bytes down to 0 at {len(fc)} layer"
                               f"{'s' if len(fc) > 1 else ''} (training min "
                               f"{np.expm1(domain.op_node_ranges['FULLY_CONNECTED']['log_bias_bytes'][0]):.0f})"]
    domain.save(tmp_path)  # a domain file from before per-op ranges still loads, and checks globally
    d = json.loads((tmp_path / "domain.json").read_text())
    del d["op_node_ranges"]
    (tmp_path / "domain.json").write_text(json.dumps(d))
    assert TrainingDomain.load(tmp_path).check(e) == []


def test_domain_words_for_flags_and_channel_blocks():
    """Out-of-domain reasons name one-hot flags and channel-block features in words (`in_c_pad16` is
    not an input type called C_PAD16)."""
    import dataclasses

    from perfsage.graph.encode import NODE_FEATURES, op_id

    small = [encode(load_graph(get_space("kws").synth(s)[1])) for s in range(3)]
    domain = fit_domain(small)
    e = dataclasses.replace(small[0], x=small[0].x.copy())
    conv = np.flatnonzero(e.op == op_id("CONV_2D"))[:1]
    e.x[conv, NODE_FEATURES.index("in_c_pad16")] = 2.0  # beyond any share
    e.x[conv, NODE_FEATURES.index("in_int16")] = 1.0
    reasons = domain.check(e)
    assert "input type INT16 never seen on CONV_2D in training (1 layer)" in reasons, reasons
    assert any(r.startswith("CONV_2D empty share of the last 16-channel input block up to 2 at 1 layer")
               for r in reasons), reasons


def test_conformal_bounds_cover_at_the_nominal_level():
    rng = np.random.default_rng(0)
    pred = {"latency_ms": np.exp(rng.normal(0, 1, 6000))}
    true = {"latency_ms": pred["latency_ms"] * np.exp(rng.normal(0.01, 0.03, 6000))}
    cal = fit_calibration({m: v[:1000] for m, v in pred.items()}, {m: v[:1000] for m, v in true.items()}, 0.9)
    assert cal.coverage({m: v[:1000] for m, v in pred.items()}, {m: v[:1000] for m, v in true.items()})[
        "latency_ms"] >= 0.9
    held_out = cal.coverage({m: v[1000:] for m, v in pred.items()}, {m: v[1000:] for m, v in true.items()})
    assert 0.87 <= held_out["latency_ms"] <= 0.93
    lo, hi = cal.log_bounds["latency_ms"]
    assert lo < 0.01 < hi and hi - lo == pytest.approx(2 * 1.645 * 0.03, rel=0.15)


def test_bands_of_distance_hold_the_level_where_one_pair_of_bounds_does_not(tmp_path):
    # errors grow with the distance to the training models: one pair of bounds over-covers the near
    # models and under-covers the far ones; Mondrian bands hold the level in each
    rng = np.random.default_rng(1)
    n = 8000
    distance = rng.uniform(0, 10, n)
    pred = {"latency_ms": np.exp(rng.normal(0, 1, n))}
    true = {"latency_ms": pred["latency_ms"] * np.exp(rng.normal(0, 0.01 * (1 + distance), n))}
    cal_part, test_part = slice(0, 4000), slice(4000, n)
    part = lambda d, s: {m: v[s] for m, v in d.items()}
    flat = fit_calibration(part(pred, cal_part), part(true, cal_part), 0.9)
    banded = fit_calibration(part(pred, cal_part), part(true, cal_part), 0.9, distance=distance[cal_part])
    assert len(banded.band_bounds["latency_ms"]) == 8 and len(banded.band_edges) == 7
    far = distance[test_part] > 8
    for cal, d in ((flat, None), (banded, distance[test_part])):
        cov_far = cal.coverage({m: v[test_part][far] for m, v in pred.items()},
                               {m: v[test_part][far] for m, v in true.items()}, None if d is None else d[far])
        cov_near = cal.coverage({m: v[test_part][~far] for m, v in pred.items()},
                                {m: v[test_part][~far] for m, v in true.items()}, None if d is None else d[~far])
        if cal is flat:
            assert cov_far["latency_ms"] < 0.8 and cov_near["latency_ms"] > 0.93
        else:
            assert 0.85 <= cov_far["latency_ms"] <= 0.95 and 0.85 <= cov_near["latency_ms"] <= 0.95
    lo1, hi1 = banded.bounds("latency_ms", 0.5)
    lo9, hi9 = banded.bounds("latency_ms", 9.5)
    assert hi9 - lo9 > 4 * (hi1 - lo1)
    assert banded.is_far(10.5) and not banded.is_far(5.0) and not flat.is_far(100.0)
    banded.save(tmp_path)
    assert Calibration.load(tmp_path) == banded
    from dataclasses import replace

    grouped = replace(banded, groups={"compressed": {"latency_ms": (-0.5, 0.25)}})
    grouped.save(tmp_path)
    back = Calibration.load(tmp_path)
    assert back == grouped and back.bounds("latency_ms", 0.5, "compressed") == (-0.5, 0.25)
    assert back.bounds("latency_ms", 0.5, "other") == banded.bounds("latency_ms", 0.5)
    flat.save(tmp_path)  # an old-style file: no bands, the one pair whatever the distance
    assert Calibration.load(tmp_path).bounds("latency_ms", 9.5) == flat.log_bounds["latency_ms"]


def test_the_embedding_distance_grows_away_from_the_training_models(tmp_path):
    from perfsage.model.distance import EmbeddingDistance, fit_distance

    rng = np.random.default_rng(0)
    train = rng.normal(0, 1, (3000, 40)).astype(np.float32)
    dist = fit_distance(train, reference=1000, dims=8)
    near = dist.score(rng.normal(0, 1, (50, 40)))
    away = dist.score(rng.normal(0, 1, (50, 40)) + 4.0)
    assert dist.reference.shape == (1000, 8) and near.shape == (50,)
    assert away.min() > near.max()
    dist.save(tmp_path)
    back = EmbeddingDistance.load(tmp_path)
    assert np.allclose(back.score(train[:20]), dist.score(train[:20]), rtol=1e-3, atol=1e-3)
    assert EmbeddingDistance.load(tmp_path / "none") is None
    (tmp_path / "distance.npz").write_text("garbage")
    with pytest.raises(PerfsageError, match="malformed"):
        EmbeddingDistance.load(tmp_path)


def test_a_model_far_from_the_training_models_is_flagged_and_gets_its_band(u55, tmp_path):
    from perfsage.model.distance import EmbeddingDistance

    folder = tmp_path / "u55"
    shutil.copytree(u55.source, folder)
    cal = json.loads((folder / "calibration.json").read_text())
    assert cal["band_bounds"] and cal["far"] > 0  # the shipped predictors are calibrated per distance band
    graph = encode(load_graph(DEMO))
    d = float(EmbeddingDistance.load(folder).score(u55.estimator.embed([graph]))[0])
    p = Predictor.load(folder).predict(str(DEMO))
    assert not p.ood  # a KWS-space model: near its training models
    band = int(np.searchsorted(cal["band_edges"], d, side="right"))
    for m, iv in p.metrics.items():
        lo, hi = cal["band_bounds"][m][band]
        assert iv.low == pytest.approx(iv.value * np.exp(lo)) and iv.high == pytest.approx(iv.value * np.exp(hi))
    cal["far"] = d / 2  # as if the demo lay beyond 99% of the held-out models
    (folder / "calibration.json").write_text(json.dumps(cal))
    p = Predictor.load(folder).predict(str(DEMO))
    assert p.ood and p.ood_details[0].kind == "distance" and "unlike every training model" in p.ood_reasons[0]


def test_shipped_calibration_records_its_level():
    for t in shipped_targets():
        cal = Calibration.load(ROOT / "src" / "perfsage" / "data" / "predictors" / t)
        assert cal is not None and cal.level == 0.9 and cal.n > 400
        assert set(cal.log_bounds) == set(PREDICTED_METRICS[t]) == set(cal.band_bounds)
        assert len(cal.band_edges) + 1 == len(next(iter(cal.band_bounds.values()))) >= 1 and cal.far > 0


def test_cli_json_schema_for_files_and_directories(tmp_path):
    shutil.copy(DEMO, tmp_path / "a.tflite")
    shutil.copy(TF_FIXTURES / "dscnn_kws_int8.tflite", tmp_path / "b.tflite")
    r = run_cli("predict", str(tmp_path), "--per-layer", "--json")
    assert r.returncode == 0, r.stderr
    recs = json.loads(r.stdout)
    assert [rec["model"] for rec in recs] == [str(tmp_path / "a.tflite"), str(tmp_path / "b.tflite")]
    for rec in recs:
        assert rec["target"] == "ethos-u55-128"
        assert set(rec["metrics"]) == {"latency_ms", "energy_mj", "sram_kib", "flash_kib"}
        assert all(set(v) == {"value", "low", "high"} for v in rec["metrics"].values())
        assert isinstance(rec["ood"]["flag"], bool) and isinstance(rec["ood"]["reasons"], list)
        assert {"index", "op", "latency_ms"} <= set(rec["layers"][0])
        assert "parts" not in rec  # no Ethos-U metric is predicted as parts


def test_the_arena_is_shown_as_its_head_and_tail_beside_the_tools_own():
    r = run_cli("predict", str(DEMO), "--target", "mcu-tflm", "--label", "--json", timeout=120)
    assert r.returncode == 0, r.stderr
    rec = json.loads(r.stdout)[0]
    parts, measured = rec["parts"], rec["measured_parts"]
    assert set(parts) == set(measured) == {"arena_head_kib", "arena_tail_kib"}
    assert sum(parts.values()) == pytest.approx(rec["metrics"]["arena_kib"]["value"], rel=1e-9)
    assert sum(measured.values()) == pytest.approx(rec["measured"]["arena_kib"], rel=1e-9)
    for name, value in parts.items():  # each part near TFLite Micro's own, not just their sum
        assert abs(value / measured[name] - 1) < 0.05, (name, value, measured[name])
    assert Predictor.load("mcu-tflm").predict(DEMO).parts == pytest.approx(parts, rel=1e-6)
    r = run_cli("predict", str(DEMO), "--target", "mcu-tflm", "--label", timeout=120)
    assert r.returncode == 0 and "arena_head_kib" in r.stdout and "arena_tail_kib" in r.stdout, r.stdout


def test_cli_all_targets_and_ground_truth_beside():
    r = run_cli("predict", str(DEMO), "--target", "all", "--json", timeout=120)
    assert r.returncode == 0, r.stderr
    assert [rec["target"] for rec in json.loads(r.stdout)] == shipped_targets()
    r = run_cli("predict", str(DEMO), "--per-layer", "--label", timeout=120)
    assert r.returncode == 0, r.stderr
    assert "measured" in r.stdout and "latency_ms" in r.stdout and "CONV_2D" in r.stdout
    r = run_cli("predict", str(DEMO), "--per-layer", "--label", "--json", timeout=120)
    layers = {la["op"]: la for la in json.loads(r.stdout)[0]["layers"]}
    assert layers["CONV_2D"]["measured_flash_kib"] > 0  # Vela's per-operator flash beside the prediction
    assert "measured_flash_kib" not in layers["SOFTMAX"]  # its part (lookup tables) is unknown: none shown


def test_ground_truth_for_many_files_starts_each_tool_once(monkeypatch, tmp_path):
    import perfsage.targets as targets
    from perfsage.predict.service import predict_paths

    started = []
    real = targets.get_target
    monkeypatch.setattr(targets, "get_target", lambda name: started.append(name) or real(name))
    files = []
    for k in range(3):
        files.append(tmp_path / f"m{k}.tflite")
        files[-1].write_bytes(get_space("kws").synth(k)[1])
    records = predict_paths(files, "ethos-u55-128", label=True)
    assert started == ["ethos-u55-128"]
    assert [r["model"] for r in records] == [str(f) for f in files]
    for r in records:  # the real tool's numbers, beside the predictions they should be near
        assert set(r["measured"]) == set(r["metrics"])
        assert 0.7 < r["measured"]["latency_ms"] / r["metrics"]["latency_ms"]["value"] < 1.4


@pytest.mark.parametrize("args, message", [
    (["nope.tflite"], "no such file"),
    ([str(ROOT / "README.md")], "README.md"),
    ([str(DEMO), "--target", "ethos-u99"], "ethos-u99"),
    ([str(DEMO), "--device", "tpu:9"], "tpu:9"),
])
def test_cli_bad_input_is_one_line(args, message):
    r = run_cli("predict", *args)
    assert r.returncode == 2 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "Traceback" not in r.stderr


def test_unknown_predictor_is_a_clear_error():
    with pytest.raises(PerfsageError, match="no predictor"):
        Predictor.load("no-such-target")


def test_domain_ranks_reasons_most_telling_first():
    """Never-seen things first, then model-level features, then per-operator ranges by how far outside
    (as a log ratio to the bound), whatever order the features come in the encoding."""
    import dataclasses

    from perfsage.graph.encode import GRAPH_FEATURES, NODE_FEATURES, op_id

    small = [encode(load_graph(get_space("kws").synth(s)[1])) for s in range(3)]
    domain = fit_domain(small)
    e = dataclasses.replace(small[0], x=small[0].x.copy(), g=small[0].g.copy())
    conv = np.flatnonzero(e.op == op_id("CONV_2D"))[:1]
    fc = np.flatnonzero(e.op == op_id("FULLY_CONNECTED"))
    macs, bias = NODE_FEATURES.index("log_macs"), NODE_FEATURES.index("log_bias_bytes")
    e.x[fc, bias] = 0.0  # below the FC bias minimum: a gap of log1p(that minimum), about 2.8 to 6
    e.x[conv, macs] = domain.op_node_ranges["CONV_2D"]["log_macs"][1] + 9.0  # e^9 times the largest seen
    e.x[conv, NODE_FEATURES.index("in_int16")] = 1.0
    e.g[GRAPH_FEATURES.index("log_ops")] = domain.graph_ranges["log_ops"][1] + 0.5
    details = domain.explain(e)
    assert [d.kind for d in details] == ["never_seen", "model", "layer", "layer"], details
    assert details[0].feature == "in_int16" and details[0].ops == ("CONV_2D",) and details[0].layers == 1
    assert details[1].feature == "log_ops" and details[1].excess == pytest.approx(0.5, abs=1e-3)
    assert (details[2].feature, details[2].ops) == ("log_macs", ("CONV_2D",))
    assert details[2].excess == pytest.approx(9.0, abs=1e-3)
    assert (details[3].feature, details[3].value) == ("log_bias_bytes", 0.0)
    assert details[3].bound == pytest.approx(np.expm1(domain.op_node_ranges["FULLY_CONNECTED"]["log_bias_bytes"][0]))
    assert domain.check(e) == [d.text for d in details]


def test_a_float_model_names_each_unseen_type_once_in_words():
    """A float32 model's layers are all FLOAT32: one reason per new type over all the op types it is on
    (not one per op type), and no reason that the trained INT8 is missing from 0 layers."""
    graph = load_graph(TF_FIXTURES / "small_float32.tflite")
    p = Predictor.load("ethos-u55-128").predict(TF_FIXTURES / "small_float32.tflite", layers=False)
    n_typed = sum(n.op in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "MAX_POOL_2D", "MEAN", "SOFTMAX")
                  for n in graph.nodes)
    assert p.ood_reasons[:2] == [
        f"{side} type FLOAT32 never seen on CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, MAX_POOL_2D, MEAN, "
        f"SOFTMAX in training ({n_typed} layers)" for side in ("input", "output")]
    assert not any("INT8" in r or "(0 layers)" in r for r in p.ood_reasons), p.ood_reasons
    assert p.ood_reasons == [d.text for d in p.ood_details]
    ranks = [d.rank for d in p.ood_details]
    assert ranks == sorted(ranks)
    layer_excess = [d.excess for d in p.ood_details if d.kind == "layer"]
    assert len(layer_excess) >= 4 and layer_excess == sorted(layer_excess, reverse=True)


def _normal(text: str) -> str:
    return " ".join(text.split())


def test_table_shows_the_most_telling_reasons_and_counts_the_rest():
    from perfsage.predict.predictor import SHOWN_REASONS

    model = str(TF_FIXTURES / "small_float32.tflite")
    r = run_cli("predict", model, "--json")
    assert r.returncode == 0, r.stderr
    ood = json.loads(r.stdout)[0]["ood"]
    reasons = ood["reasons"]
    assert len(reasons) > SHOWN_REASONS + 1, reasons  # more than fit: --json keeps all of them
    assert [d["text"] for d in ood["details"]] == reasons
    assert {d["kind"] for d in ood["details"]} <= {"operator", "never_seen", "model", "layer"}
    r = run_cli("predict", model)
    assert r.returncode == 0, r.stderr
    bullets = [line for line in r.stdout.splitlines() if line.strip().startswith("- ")]
    assert len(bullets) == SHOWN_REASONS, r.stdout
    text = _normal(r.stdout)
    assert all(_normal(reason) in text for reason in reasons[:SHOWN_REASONS]), r.stdout
    assert not any(_normal(reason) in text for reason in reasons[SHOWN_REASONS:]), r.stdout
    more = [line for line in r.stdout.splitlines() if "more (--json lists them all)" in line]
    assert [line.strip() for line in more] == [f"… and {len(reasons) - SHOWN_REASONS} more (--json lists them all)"]


def test_one_reason_more_is_shown_rather_than_counted():
    from perfsage.predict.predictor import brief_reasons

    assert brief_reasons(list("abcdef"), 5) == (list("abcdef"), 0)
    assert brief_reasons(list("abcdefg"), 5) == (list("abcde"), 2)
    assert brief_reasons([], 5) == ([], 0)


def test_a_failed_measurement_keeps_its_prediction_and_the_batch_goes_on(tmp_path):
    """TFLite Micro aborts on the converter's MobileNetV2; the batch still prints every prediction, the
    demo's measurement, and why the other has none; exit 0 as every prediction was made."""
    shutil.copy(TF_FIXTURES / "mobilenetv2_int8.tflite", tmp_path / "a_mobilenet.tflite")
    shutil.copy(DEMO, tmp_path / "b_demo.tflite")
    r = run_cli("predict", str(tmp_path), "--target", "mcu-tflm", "--label", "--json", timeout=120)
    assert r.returncode == 0, r.stderr
    failed, fine = json.loads(r.stdout)
    assert failed["model"].endswith("a_mobilenet.tflite") and fine["model"].endswith("b_demo.tflite")
    assert "measured" not in failed and failed["metrics"]["arena_kib"]["value"] > 0
    assert failed["measured_error"]["kind"] == "crashed" and "SIGABRT" in failed["measured_error"]["message"]
    assert "measured_error" not in fine and fine["measured"]["arena_kib"] > 0
    assert "1 of 2 measurements failed" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    r = run_cli("predict", str(tmp_path), "--target", "mcu-tflm", "--label", timeout=120)
    assert r.returncode == 0, r.stderr
    text = _normal(r.stdout)  # long paths wrap at the terminal's width
    assert "a_mobilenet.tflite on mcu-tflm" in text and "b_demo.tflite on mcu-tflm" in text
    failed_part, demo_part = text.split("b_demo.tflite on mcu-tflm")
    assert "measurement failed (crashed): the tool's process died (signal SIGABRT)" in failed_part, r.stdout
    assert "arena_kib" in failed_part and "measured" not in failed_part.replace("measurement failed", "")
    assert "measured" in demo_part and "measurement failed" not in demo_part, r.stdout
    assert "1 of 2 measurements failed" in r.stderr
    r = run_cli("predict", str(tmp_path / "a_mobilenet.tflite"), "--target", "mcu-tflm", "--label", timeout=120)
    text = _normal(r.stdout)
    assert r.returncode == 0 and "arena_kib" in text and "measurement failed (crashed)" in text, r.stderr
    assert "1 of 1 measurements failed" in r.stderr
