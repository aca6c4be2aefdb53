"""`perfsage inspect` as a user runs it: the table, the documented JSON schema, and no heavy imports."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import TF_FIXTURES, run_cli
from perfsage.graph import load_graph
from perfsage.graph.features import featurise

LAYER_KEYS = {"index", "op", "kind", "output_shape", "input_shape", "dtype", "fused_activation", "kernel",
              "stride", "macs", "elementwise_ops", "params", "weight_bytes", "bias_bytes", "input_bytes",
              "output_bytes", "arithmetic_intensity", "scratch_bytes", "weights"}
TOP_KEYS = {"schema_version", "model", "ops", "tensors", "macs", "elementwise_ops", "params", "weight_bytes",
            "bias_bytes", "peak_activation_bytes", "planned_activation_bytes", "depth", "op_types", "inputs",
            "outputs", "subgraphs", "layers", "weight_entropy_bytes", "weight_codec_bytes"}


def test_inspect_json_schema(mobilenet_path):
    r = run_cli("inspect", str(mobilenet_path), "--json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert set(rep) == TOP_KEYS
    assert rep["model"] == str(mobilenet_path)
    assert rep["ops"] == 65 and len(rep["layers"]) == 65
    assert rep["op_types"]["CONV_2D"] == 35
    assert set(rep["layers"][0]) == LAYER_KEYS
    assert rep["macs"] == sum(layer["macs"] for layer in rep["layers"])
    assert rep["inputs"][0]["shape"] == [1, 96, 96, 3] and rep["inputs"][0]["dtype"] == "INT8"
    gf = featurise(load_graph(mobilenet_path))[1]
    assert (rep["params"], rep["weight_bytes"], rep["peak_activation_bytes"]) == (
        gf.params, gf.weight_bytes, gf.peak_activation_bytes)
    assert rep["planned_activation_bytes"] == gf.planned_activation_bytes >= gf.peak_activation_bytes
    assert set(rep["layers"][0]["weights"]) == {"zero_share", "distinct", "entropy_bits", "mean_abs_share",
                                                "sparse_2of4_share", "values", "codec_bits"}
    assert rep["weight_entropy_bytes"] == round(gf.weight_entropy_bytes) < rep["weight_bytes"]
    # no lossless codec beats the entropy floor
    assert rep["weight_entropy_bytes"] <= rep["weight_codec_bytes"] == round(gf.weight_codec_bytes)


def test_inspect_table(mobilenet_path):
    r = run_cli("inspect", str(mobilenet_path))
    assert r.returncode == 0, r.stderr
    assert "CONV_2D" in r.stdout and "DEPTHWISE_CONV_2D" in r.stdout
    assert "total" in r.stdout and "peak activations" in r.stdout
    assert "1x3x3x16" in r.stdout.replace(" ", "") or "1x48x48" in r.stdout


def test_inspect_reports_unanalysed_subgraphs():
    r = run_cli("inspect", str(TF_FIXTURES / "multi_subgraph.tflite"))
    assert r.returncode == 0, r.stderr
    assert "not analysed" in r.stdout


def test_inspect_imports_neither_torch_nor_tensorflow(mobilenet_path):
    code = ("import sys, io, contextlib\n"
            "from perfsage.cli.main import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    rc = main(['inspect', {str(mobilenet_path)!r}, '--json'])\n"
            "heavy = [m for m in ('torch', 'tensorflow', 'torch_geometric', 'ethosu') if m in sys.modules]\n"
            "print(rc, heavy)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "0 []", out.stdout + out.stderr


def test_usage_errors_exit_2():
    r = run_cli("inspect")
    assert r.returncode == 2
    r = run_cli("no-such-command")
    assert r.returncode == 2


def test_spaces_lists_every_space():
    r = run_cli("spaces", "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert [x["name"] for x in rows] == ["classification", "detection", "kws", "segmentation", "nasbench201",
                                         "fbnet", "mixed", "converter", "unet", "tinyvision", "randgraph",
                                         "compressed", "precision"]
    assert all(x["size_log10"] > 3 and x["choices"] and x["description"] for x in rows)


def test_synth_writes_a_model_and_arch_round_trips(tmp_path):
    out = tmp_path / "m.tflite"
    r = run_cli("synth", "--space", "kws", "--seed", "3", "-o", str(out), "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert out.stat().st_size == info["bytes"]
    again = tmp_path / "again.tflite"
    r = run_cli("synth", "--space", "kws", "--seed", "3", "-o", str(again), "--arch", json.dumps(info["arch"]))
    assert r.returncode == 0, r.stderr
    assert again.read_bytes() == out.read_bytes()
    cell = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|skip_connect~2|"
    r = run_cli("synth", "--space", "nasbench201", "--arch", cell, "-o", str(tmp_path / "nb.tflite"))
    assert r.returncode == 0, r.stderr
    assert load_graph(tmp_path / "nb.tflite").tensors[0].shape == (1, 32, 32, 3)


def test_synth_bad_input_one_line(tmp_path):
    for args in (["--space", "nope"], ["--space", "nasbench201", "--arch", "bogus"],
                 ["--space", "fbnet", "--arch", "k3_e1"], ["--space", "classification", "--arch", "{"],
                 ["--space", "classification", "--arch", '{"resolution": 96}']):
        r = run_cli("synth", *args, "-o", str(tmp_path / "x.tflite"))
        assert r.returncode == 2, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr, r.stderr
