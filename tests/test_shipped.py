"""The predictors shipped in the package: loadable without the dataset, sane on their own test labels."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import run_cli
from perfsage.model.registry import load_estimator
from perfsage.model.shipped import PREDICTORS, predictor_dir, shipped_targets


def test_every_shipped_predictor_has_its_card_and_test_labels():
    assert set(shipped_targets()) == {"ethos-u55-128", "ethos-u65-256", "mcu-tflm", "cpu-litert"}
    for t in shipped_targets():
        d = predictor_dir(t)
        info = json.loads((d / "training.json").read_text())
        assert info["target"] == t and info["n_test"] >= 900
        assert f"`{t}`" in (d / "MODEL_CARD.md").read_text()
        assert (d / "test_labels.parquet").is_file()
        assert not list(d.rglob("*.pt")) and not list(d.rglob("*.pkl"))  # weights are safetensors only
        # at most three ~1.7 MB networks: two kept per metric (keep_better) and a compressed-model expert
        assert sum(f.stat().st_size for f in d.rglob("*") if f.is_file()) < 7e6


@pytest.mark.parametrize("target", ["mcu-tflm", "ethos-u55-128", "cpu-litert"])
def test_shipped_predictor_reproduces_its_card_on_a_sample(target):
    """The first 300 test models, graphs regenerated from space + seed (not read from the shipped file)."""
    import pyarrow.parquet as pq

    from perfsage.dataset import regenerate_graphs
    from perfsage.model.shipped import TEST_LABELS

    est = load_estimator(target)  # a shipped name resolves to the packaged checkpoint
    labels = pq.read_table(PREDICTORS / target / TEST_LABELS).slice(0, 300)
    ids = labels.column("id").to_pylist()
    graphs = regenerate_graphs(ids, workers=2)
    pred = est.predict([graphs[i] for i in ids])
    card = json.loads((PREDICTORS / target / "training.json").read_text())["test"]["metrics"]
    for m, p in pred.items():
        y = labels.column(m).to_numpy()
        mape = float(np.mean(np.abs(p - y) / y) * 100)
        assert mape < 2.5 * card[m]["mape"] + 1, (m, mape, card[m]["mape"])


def test_evaluate_cli_errors(tmp_path):
    r = run_cli("evaluate", "--target", "no-such-target")
    assert r.returncode != 0 and "no shipped predictor" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("evaluate", "--target", "mcu-tflm", "--split", "leave-out:kws")
    assert r.returncode != 0 and "give --data" in r.stderr


@pytest.mark.slow
def test_evaluate_shipped_default_matches_the_card():
    r = run_cli("evaluate", "--target", "mcu-tflm", "--json", timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout)
    card = json.loads((PREDICTORS / "mcu-tflm" / "training.json").read_text())["test"]
    assert out["n_test"] == card["n_test"]
    assert out["metrics"]["arena_kib"]["mape"] == pytest.approx(card["metrics"]["arena_kib"]["mape"], rel=1e-6)


def test_a_retraining_appends_its_new_test_graphs_as_a_shard(tmp_path, monkeypatch):
    from perfsage.model import shipped
    from perfsage.model.data import GraphSet
    from perfsage.search.cost import candidate
    from perfsage.spaces import get_space

    monkeypatch.setattr(shipped, "PREDICTORS", tmp_path)
    monkeypatch.setattr(shipped, "TEST_GRAPHS", tmp_path / "test_graphs.parquet")
    space = get_space("kws")
    graphs = {f"kws-{s}": candidate(space.sample(s)).encoded for s in range(4)}

    def part(ids):
        return GraphSet(ids, ["kws"] * len(ids), [graphs[i] for i in ids], {"latency_ms": np.ones(len(ids))})

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    shipped.write_test_labels(tmp_path / "a", part(["kws-0", "kws-1"]))
    first = (tmp_path / "test_graphs.parquet").read_bytes()
    shipped.write_test_labels(tmp_path / "b", part(["kws-1", "kws-2", "kws-3"]))
    assert (tmp_path / "test_graphs.parquet").read_bytes() == first  # the earlier shard is not rewritten
    assert [p.name for p in shipped.test_graph_shards()] == ["test_graphs.parquet", "test_graphs-1.parquet"]
    stored = shipped.stored_test_graphs()
    assert sorted(stored) == sorted(graphs)
    assert np.array_equal(stored["kws-3"].x, graphs["kws-3"].x)
