"""Compression as a what-if: the weight transforms do what they say, change weight values only, keep the
model valid for every tool, and refuse bad recipes with one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import TF_FIXTURES, run_cli
from perfsage.compress import LayerRecipe, Recipe, compress_model, load_recipe
from perfsage.compress import transforms as T
from perfsage.graph import load_graph
from perfsage.graph.reader import buffer_spans
from perfsage.graph.weights import share_2of4, weight_stats

DSCNN = TF_FIXTURES / "dscnn_kws_int8.tflite"


@pytest.fixture(scope="module")
def w() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.clip(np.round(rng.laplace(0, 25, (16, 3, 3, 24))), -127, 127).astype(np.int8)


def test_prune_zeroes_exactly_the_smallest_share(w):
    p = T.prune(w, 0.75)
    assert (p == 0).mean() == pytest.approx(0.75, abs=1 / w.size)
    assert np.abs(w[p != 0].astype(int)).min() >= np.abs(w[(p == 0) & (w != 0)].astype(int)).max()
    assert np.array_equal(p[p != 0], w[p != 0])


def test_two_of_four_keeps_the_two_largest_of_each_group(w):
    s = T.two_of_four(w)
    assert share_2of4(s) == 1.0 and share_2of4(w) < 0.2
    groups, kept = np.abs(w.reshape(-1, 4).astype(int)), np.abs(s.reshape(-1, 4).astype(int))
    assert np.array_equal(np.sort(groups, 1)[:, 2:], np.sort(kept, 1)[:, 2:])


@pytest.mark.parametrize("k", [2, 4, 16, 32])
def test_clusters_leave_at_most_k_values_and_keep_pruned_zeros(w, k):
    c = T.cluster(w, k, axis=0)
    assert len(np.unique(c)) <= k
    pc = T.cluster(T.prune(w, 0.5), k, axis=0)
    assert (pc == 0).mean() >= 0.5 and len(np.unique(pc)) <= k
    per_channel = T.cluster(w, k, axis=0, per_channel=True)
    assert all(len(np.unique(ch)) <= k for ch in per_channel)
    assert np.abs(c.astype(int) - w).mean() < np.abs(w.astype(int)).mean()  # levels sit near the values


@pytest.mark.parametrize("bits", [2, 3, 4, 6])
def test_fewer_bits_leave_a_symmetric_grid_per_channel(w, bits):
    f = T.fewer_bits(w, bits, axis=0)
    assert len(np.unique(f)) <= 2 ** bits - 1
    assert np.array_equal(np.abs(f).reshape(16, -1).max(1), np.full(16, 127))  # each channel's max stays


def test_trained_redraw_is_bell_shaped_and_scaled_by_each_channel_max(w):
    r = T.redraw_trained(w, 3, np.random.default_rng(1), shape=1.0)
    assert r.shape == w.shape and np.all(np.abs(r).max(axis=(0, 1, 2)) == 127)
    uniform = np.random.default_rng(2).integers(-127, 128, w.shape).astype(np.int8)
    assert weight_stats(r).mean_abs_share < 0.35 < weight_stats(uniform).mean_abs_share


def test_compress_changes_weight_values_only_and_is_deterministic():
    data = DSCNN.read_bytes()
    out, changes = compress_model(data, Recipe(LayerRecipe(sparsity=0.5, clusters=8)))
    assert len(out) == len(data) and out != data
    assert compress_model(data, Recipe(LayerRecipe(sparsity=0.5, clusters=8)))[0] == out
    weight_buffers = {load_graph(data).tensors[load_graph(data).nodes[c.index].inputs[1]].buffer for c in changes}
    spans = buffer_spans(data)
    diff = np.flatnonzero(np.frombuffer(out, np.uint8) != np.frombuffer(data, np.uint8))
    inside = np.zeros(len(data), bool)
    for b in weight_buffers:
        start, n = spans[b]
        inside[start:start + n] = True
    assert inside[diff].all()  # not one byte outside the weight buffers
    g0, g1 = load_graph(data), load_graph(out)
    assert [n.op for n in g0.nodes] == [n.op for n in g1.nodes]
    for c in changes:
        assert c.after.zero_share >= 0.5 and c.after.distinct <= 8


def test_per_layer_recipe_precedence_and_file_forms(tmp_path):
    toml = tmp_path / "r.toml"
    toml.write_text('sparsity = 0.5\n[layers.0]\nsparsity = 0.0\n[layers.DEPTHWISE_CONV_2D]\nbits = 3\n')
    recipe = load_recipe(toml)
    _out, changes = compress_model(DSCNN.read_bytes(), recipe)
    by_index = {c.index: c for c in changes}
    assert by_index[0].after.zero_share < 0.05  # its own table: dense
    assert by_index[1].op == "DEPTHWISE_CONV_2D" and by_index[1].after.distinct <= 7
    assert by_index[1].after.zero_share >= 0.5  # a type's table inherits the defaults
    assert by_index[2].after.zero_share >= 0.5 and by_index[2].after.distinct > 7
    js = tmp_path / "r.json"
    js.write_text(json.dumps(recipe.to_dict()))
    assert load_recipe(js) == recipe


@pytest.mark.parametrize("args, message", [
    (["--sparsity", "1.5"], "sparsity 1.5"),
    (["--clusters", "0"], "clusters 0"),
    (["--clusters", "300"], "clusters 300"),
    (["--bits", "1"], "bits 1"),
    (["--structured", "3:4"], "3:4"),
    ([], "nothing to do"),
])
def test_bad_options_are_one_line(tmp_path, args, message):
    r = run_cli("compress", str(DSCNN), "-o", str(tmp_path / "o.tflite"), *args)
    assert r.returncode == 2 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path / "o.tflite").exists()


@pytest.mark.parametrize("model, recipe, message", [
    (DSCNN, "[layers.99]\nsparsity = 0.5\n", "'99' is no operator index"),
    (DSCNN, "[layers.9]\nsparsity = 0.5\n", "AVERAGE_POOL_2D operator, which has no weights"),
    (DSCNN, "[layers.1]\nstructured = '2:4'\n", "depthwise filter"),
    (DSCNN, "[layers.0]\nsparsty = 0.5\n", "unknown setting sparsty"),
    (DSCNN, "sparsity = 'lots'\n", "wrong type"),
    (DSCNN, "sparsity = [\n", "not a valid TOML"),
    (TF_FIXTURES / "small_float32.tflite", "sparsity = 0.5\n", "no int8 weights"),
])
def test_bad_recipes_are_one_line(tmp_path, model, recipe, message):
    path = tmp_path / "r.toml"
    path.write_text(recipe)
    r = run_cli("compress", str(model), "--recipe", str(path), "-o", str(tmp_path / "o.tflite"))
    assert r.returncode == 2 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_cli_writes_the_model_and_reports_each_layer(tmp_path):
    out = tmp_path / "o.tflite"
    r = run_cli("compress", str(DSCNN), "--sparsity", "0.75", "--clusters", "16", "-o", str(out), "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["recipe"] == {"sparsity": 0.75, "clusters": 16} and out.is_file()
    assert len(report["layers"]) == 10
    for layer in report["layers"]:
        assert layer["after"]["zero_share"] >= 0.74 and layer["after"]["distinct"] <= 16


RECIPES = {
    "prune 90%": LayerRecipe(sparsity=0.9),
    "16 levels": LayerRecipe(clusters=16),
    "prune 50% + 4 levels": LayerRecipe(sparsity=0.5, clusters=4),
    "2:4": LayerRecipe(structured="2:4"),
    "3 bits": LayerRecipe(bits=3),
    "trained-like, 8 levels per channel": LayerRecipe(draw="trained", clusters=8, cluster_per_channel=True),
}


@pytest.mark.parametrize("name", list(RECIPES))
def test_every_recipe_family_passes_the_validity_gates(name, tmp_path):
    from perfsage.spaces.validate import spec_errors
    from perfsage.targets.gates import run_gates

    data = (TF_FIXTURES / "resnet_branches_int8.tflite").read_bytes()
    out, _changes = compress_model(data, Recipe(RECIPES[name]))
    report = run_gates(out, tmp_path)
    assert (report.litert, report.tflm, report.vela, report.vela_cpu_ops) == ("ok", "ok", "ok", 0), report
    assert spec_errors(out) == spec_errors(data)  # the writer's rules: no new violation


def test_a_compressed_model_is_told_from_a_dense_one_and_compared_with_its_dense_twin(tmp_path):
    from perfsage.graph.encode import encode
    from perfsage.predict.service import predict_paths
    from perfsage.predict.whatif import dense_counterpart, looks_compressed

    data = DSCNN.read_bytes()
    dense_graph = encode(load_graph(dense_counterpart(data)))
    assert not looks_compressed(encode(load_graph(data))) and not looks_compressed(dense_graph)
    for recipe in (LayerRecipe(sparsity=0.5), LayerRecipe(clusters=16), LayerRecipe(bits=4)):
        out, _ = compress_model(data, Recipe(recipe))
        assert looks_compressed(encode(load_graph(out))), recipe
        twin = load_graph(dense_counterpart(out))
        assert [t.stats.zero_share < 0.05 for t in twin.tensors if t.stats is not None] == \
            [True] * sum(t.stats is not None for t in twin.tensors)
    path = tmp_path / "pruned.tflite"
    path.write_bytes(compress_model(data, Recipe(LayerRecipe(sparsity=0.8)))[0])
    (tmp_path / "dense.tflite").write_bytes(data)
    records = {Path(r["model"]).name: r for r in predict_paths([tmp_path], "ethos-u55-128", per_layer=True)}
    assert "dense" not in records["dense.tflite"]
    pruned = records["pruned.tflite"]
    assert set(pruned["dense"]) == set(pruned["metrics"])
    weighted = [la for la in pruned["layers"] if la["op"] in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")]
    assert weighted and all("dense_flash_kib" in la for la in weighted)


def test_weight_statistics_are_read_from_the_file_and_named_out_of_distribution():
    from perfsage.graph.encode import GRAPH_FEATURES, NODE_FEATURES, encode
    from perfsage.model.domain import fit_domain

    data = DSCNN.read_bytes()
    pruned, _ = compress_model(data, Recipe(LayerRecipe(sparsity=0.9)))
    g, gp = load_graph(data), load_graph(pruned)
    conv = g.nodes[2]
    w = np.frombuffer(data, np.int8, count=g.tensors[conv.inputs[1]].data_bytes,
                      offset=buffer_spans(data)[g.tensors[conv.inputs[1]].buffer][0])
    assert g.tensors[conv.inputs[1]].stats == weight_stats(w.reshape(g.tensors[conv.inputs[1]].shape))
    e, ep = encode(g), encode(gp)
    z = NODE_FEATURES.index("w_zero_share")
    assert ep.x[2, z] == pytest.approx(0.9, abs=1e-3) and e.x[2, z] < 0.05
    k = GRAPH_FEATURES.index("log_weight_entropy_bytes")
    assert np.expm1(ep.g[k]) < 0.4 * np.expm1(e.g[k])
    others = [encode(load_graph(compress_model(data, Recipe(LayerRecipe(draw="trained")), seed=s)[0]))
              for s in range(3)]
    domain = fit_domain([e, *others])
    assert domain.check(e) == []
    reasons = domain.check(ep)
    assert any("share of zero weights" in r for r in reasons), reasons


def test_the_report_shows_what_a_compressed_model_saves(tmp_path):
    from perfsage.predict.report import write_report

    model = tmp_path / "pruned.tflite"
    model.write_bytes(compress_model(DSCNN.read_bytes(), Recipe(LayerRecipe(sparsity=0.8)))[0])
    page = tmp_path / "r.html"
    write_report(model, page)
    html = page.read_text()
    assert 'class="dense" data-metric="flash_kib"' in html and "dense_flash_kib" in html
    write_report(DSCNN, page)
    assert "dense weights" not in page.read_text()
