"""Dataset builder: rows, byte-identical regeneration, SIGKILL-safe resume, failures, Ray, splits, info."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from conftest import run_cli, shared_table
from perfsage.dataset import graphs, load, store
from perfsage.dataset.build import BuildConfig, build, compact_dataset
from perfsage.dataset.splits import make_split
from perfsage.graph import load_graph
from perfsage.graph.encode import encode
from perfsage.spaces import get_space

FAKE_BOARD = Path(__file__).parent / "fixtures" / "device" / "fake_board.py"


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    out = tmp_path_factory.mktemp("ds")
    cfg = BuildConfig(out=out, spaces=["kws", "nasbench201"], per_space=3, targets=["ethos-u55-128", "mcu-tflm"],
                      workers=2, keep_models=True)
    s = build(cfg, progress=False)
    assert s.done == 6 and s.labels == 12 and s.failures == 0
    return out


def test_rows_and_labels(small):
    t = load(small, with_layers=True)
    assert t.num_rows == 6
    rows = t.to_pylist()
    assert {r["space"] for r in rows} == {"kws", "nasbench201"}
    for r in rows:
        assert r["ethos-u55-128/latency_ms"] > 0 and r["mcu-tflm/arena_kib"] > 0
        assert sum(r["ethos-u55-128/layer_npu_cycles"]) == r["ethos-u55-128/npu_cycles"]
        assert len(r["ethos-u55-128/layer_index"]) <= r["ops"]
        assert json.loads(r["arch"])


def test_regeneration_is_byte_identical(small):
    for r in load(small).to_pylist():
        data = get_space(r["space"]).synth(r["seed"])[1]
        assert hashlib.sha256(data).hexdigest() == r["sha256"]
        assert (small / "tflite" / f"{r['id']}.tflite").read_bytes() == data


def test_graph_cache_matches_fresh_encoding(small):
    t = load(small)
    ids = t.column("id").to_pylist()
    cached = graphs(small, ids)
    for r in t.to_pylist()[:3]:
        fresh = encode(load_graph(get_space(r["space"]).synth(r["seed"])[1]))
        assert (cached[r["id"]].x == fresh.x).all() and (cached[r["id"]].edge_index == fresh.edge_index).all()


def test_resume_without_graph_cache(small, tmp_path):
    """A fresh clone has the committed label shards but not the graph cache: nothing is redone."""
    import shutil

    copy = tmp_path / "clone"
    shutil.copytree(small, copy, ignore=shutil.ignore_patterns("graphs", "tflite"))
    cfg = BuildConfig(out=copy, spaces=["kws", "nasbench201"], per_space=3, targets=["ethos-u55-128", "mcu-tflm"])
    s = build(cfg, progress=False)
    assert s.planned == 0
    assert len(graphs(copy, load(copy).column("id").to_pylist())) == 6


def test_rerun_is_idempotent(small):
    s = build(BuildConfig(out=small, spaces=["kws", "nasbench201"], per_space=3,
                          targets=["ethos-u55-128", "mcu-tflm"], workers=1), progress=False)
    assert s.planned == 0
    assert len(store.ids_in(small / "models")) == 6


def test_completed_build_is_compacted_and_duplicates_never_show(small, tmp_path):
    import shutil

    for folder in (small / "models", small / "labels" / "ethos-u55-128", small / "labels" / "mcu-tflm"):
        assert len(store.shards(folder)) == 1, folder  # the build merged its per-flush shards
    copy = tmp_path / "copy"
    shutil.copytree(small, copy, ignore=shutil.ignore_patterns("tflite"))
    labels = copy / "labels" / "mcu-tflm"
    (only,) = store.shards(labels)
    shutil.copy(only, labels / "part-00000000000000-killed00.parquet")  # a compaction killed before its delete
    t = load(copy)
    assert t.num_rows == 6 and len(set(t.column("id").to_pylist())) == 6
    assert compact_dataset(copy)["labels/mcu-tflm"] == 2
    assert len(_raw_ids(labels)) == 6 and load(copy).equals(t)
    assert run_cli("dataset", "compact", str(copy)).stdout.strip() == "nothing to compact"


def _raw_ids(folder: Path) -> list[str]:
    return [i for f in store.shards(folder) for i in pq.read_table(f, columns=["id"]).column("id").to_pylist()]


def test_sigkill_at_any_moment_then_resume(tmp_path):
    out = tmp_path / "ds"
    cmd = [sys.executable, "-m", "perfsage", "dataset", "build", "--out", str(out), "--spaces", "kws,nasbench201",
           "--per-space", "8", "--targets", "ethos-u55-128,mcu-tflm", "--workers", "2", "--flush-every", "1",
           "--json"]
    for delay in (1.5, 3.0, 4.5):
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(delay)
        os.killpg(p.pid, signal.SIGKILL)  # the builder and all its workers, mid-write or not
        p.wait()
        for f in store.shards(out / "models"):  # every visible shard is whole
            pq.read_table(f)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    expected = {f"{s}-{i}" for s in ("kws", "nasbench201") for i in range(8)}
    for folder in (out / "models", out / "labels" / "ethos-u55-128", out / "labels" / "mcu-tflm"):
        ids = _raw_ids(folder)
        assert sorted(ids) == sorted(expected), folder  # none lost, none duplicated
    cached = _raw_ids(out / "graphs")  # the cache may miss a model killed between shards, never repeat one
    assert len(cached) == len(set(cached)) and set(cached) <= expected
    assert set(graphs(out, sorted(expected))) == expected
    assert not list(out.rglob("*.tmp"))


def test_failures_are_recorded_not_dropped(tmp_path):
    dev = tmp_path / "flaky.toml"
    dev.write_text(f'name = "flaky"\ncommand = "{sys.executable} {FAKE_BOARD} fail {{model}}"\n'
                   '[metrics.latency_ms]\nregex = "avg: ([0-9.]+)"\n')
    out = tmp_path / "ds"
    s = build(BuildConfig(out=out, spaces=["kws"], per_space=2, targets=["mcu-tflm", str(dev)], workers=1),
              progress=False)
    assert s.failures == 2 and s.labels == 2
    r = run_cli("dataset", "info", str(out), "--json")
    info = json.loads(r.stdout)
    assert info["failures"]["flaky"]["count"] == 2 and "exited 3" in info["failures"]["flaky"]["examples"][0]
    assert info["targets"]["mcu-tflm"]["labelled"] == 2


def test_ray_local_cluster_gives_the_same_rows(tmp_path, small):
    pytest.importorskip("ray")
    out = tmp_path / "ray"
    s = build(BuildConfig(out=out, spaces=["kws"], per_space=3, targets=["ethos-u55-128"], workers=2,
                          ray_address="local"), progress=False)
    assert s.done == 3
    a = {r["id"]: r for r in load(out).to_pylist()}
    b = {r["id"]: r for r in load(small).to_pylist() if r["space"] == "kws"}
    assert set(a) == set(b)
    for k in a:
        assert a[k]["sha256"] == b[k]["sha256"]
        assert a[k]["ethos-u55-128/npu_cycles"] == b[k]["ethos-u55-128/npu_cycles"]  # Vela is deterministic


def test_splits_are_deterministic_and_disjoint():
    ids = [f"{s}-{i}" for s in ("kws", "classification", "detection") for i in range(300)]
    spaces = [i.rsplit("-", 1)[0] for i in ids]
    macs = [float(hash(i) % 1000 + 1) for i in ids]
    for name in ("random", "size", "leave-out:kws"):
        a = make_split(name, ids, spaces, macs)
        b = make_split(name, ids, spaces, macs)
        assert a == b
        parts = [set(a.train), set(a.val), set(a.test)]
        assert sum(map(len, parts)) == len(ids) and not (parts[0] & parts[1] or parts[0] & parts[2])
    r = make_split("random", ids, spaces)
    assert 0.15 < len(r.test) / len(ids) < 0.25
    lo = make_split("leave-out:kws", ids, spaces)
    assert {i.rsplit("-", 1)[0] for i in lo.test} == {"kws"} and not any(i.startswith("kws") for i in lo.train)
    grown = make_split("random", [*ids, "kws-9999"], [*spaces, "kws"])
    assert set(r.test) <= set(grown.test)  # adding models never moves old ones between sides


def test_dataset_cli_errors(tmp_path):
    for args in (["--spaces", "nope"], ["--per-space", "0"], ["--targets", "cpu-litert", "--workers", "2"],
                 ["--targets", "warp-drive"]):
        r = run_cli("dataset", "build", "--out", str(tmp_path / "x"), *args)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)
    r = run_cli("dataset", "info", str(tmp_path / "nothing"))
    assert r.returncode == 2 and "not a perfsage dataset" in r.stderr


def test_table_graphs_for_real_device_tables(tmp_path):
    from perfsage.dataset.table_graphs import build_table_graphs

    shared = shared_table("nasbench201/flops_params.csv")
    rows = shared.read_text().splitlines()[:6]
    table = tmp_path / "nb.csv"
    table.write_text("\n".join(rows) + "\n")
    out = tmp_path / "g"
    assert build_table_graphs("nasbench201", table, out, workers=1) == 5
    assert build_table_graphs("nasbench201", table, out, workers=1) == 0  # resumable: nothing left
    t = store.read_folder(out / "models").to_pylist()
    assert sorted(r["id"] for r in t) == [f"nasbench201:{i}" for i in range(5)]
    g = graphs(out, [r["id"] for r in t])
    assert all(g[r["id"]].x.shape[0] == r["ops"] for r in t)


def test_table_graphs_rebuild_without_cache(tmp_path):
    """A real-device table graph whose cache entry is gone rebuilds from its stored architecture."""
    import shutil

    from perfsage.dataset.table_graphs import build_table_graphs

    shared = shared_table("fbnet/latency.csv")
    table = tmp_path / "fb.csv"
    table.write_text("\n".join(line.split(",", 2)[0] + "," + line.split(",", 2)[1]
                               for line in shared.read_text().splitlines()[:3]) + "\n")
    out = tmp_path / "g"
    build_table_graphs("fbnet", table, out, workers=1)
    ids = store.read_folder(out / "models").column("id").to_pylist()
    cached = graphs(out, ids)
    shutil.rmtree(out / "graphs")
    rebuilt = graphs(out, ids)
    for i in ids:
        assert (rebuilt[i].x == cached[i].x).all()


def test_relabel_adds_a_per_layer_field_to_old_rows(small, tmp_path):
    """Rows labelled before Vela reported per-layer SRAM gain it; totals stay; a rerun has nothing to do."""
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(small, copy, ignore=shutil.ignore_patterns("tflite"))
    folder = copy / "labels" / "ethos-u55-128"
    (only,) = store.shards(folder)
    old = pq.read_table(only)
    pq.write_table(old.drop_columns(["layer_sram_kib"]), only)  # as the rows were before
    half = old.slice(0, 3)
    pq.write_table(half, folder / "part-20990101000000-partial0.parquet")  # a killed relabel's shard
    r = run_cli("dataset", "relabel", str(copy), "--target", "ethos-u55-128", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["planned"] == 3 and json.loads(r.stdout)["changed"] == 0
    assert len(store.shards(folder)) == 1
    t = load(copy, with_layers=True)
    assert t.num_rows == 6
    before = load(small, with_layers=True)
    for c in ("ethos-u55-128/sram_kib", "ethos-u55-128/latency_ms", "ethos-u55-128/layer_npu_cycles",
              "ethos-u55-128/layer_sram_kib"):
        assert t.column(c).to_pylist() == before.column(c).to_pylist(), c
    for row in t.to_pylist():
        assert max(row["ethos-u55-128/layer_sram_kib"]) == row["ethos-u55-128/sram_kib"]
    again = run_cli("dataset", "relabel", str(copy), "--target", "ethos-u55-128", "--json")
    assert json.loads(again.stdout)["planned"] == 0
    bad = run_cli("dataset", "relabel", str(copy), "--target", "ethos-u55-128", "--field", "nope")
    assert bad.returncode != 0 and "unknown per-layer field" in bad.stderr and "Traceback" not in bad.stderr
    bad = run_cli("dataset", "relabel", str(copy), "--target", "mcu-tflm", "--field", "flash_kib")
    assert bad.returncode != 0 and "does not report per-layer 'flash_kib'" in bad.stderr
    assert "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_relabel_replaces_rows_whose_totals_moved_within_the_tolerance(small, tmp_path):
    """Vela's totals move slightly between runs on some models: without a tolerance such a row keeps its
    old labels and is reported; within the tolerance the new measurement replaces it whole."""
    import shutil

    import pyarrow.compute as pc

    copy = tmp_path / "copy"
    shutil.copytree(small, copy, ignore=shutil.ignore_patterns("tflite"))
    folder = copy / "labels" / "ethos-u55-128"
    (only,) = store.shards(folder)
    old = pq.read_table(only).drop_columns(["layer_flash_kib"])
    moved = pc.multiply(old.column("flash_kib"), 1.001)  # as if an earlier run had read 0.1% more
    pq.write_table(old.set_column(old.column_names.index("flash_kib"), "flash_kib", moved), only)
    strict = run_cli("dataset", "relabel", str(copy), "--target", "ethos-u55-128", "--field", "flash_kib", "--json")
    assert strict.returncode == 1 and json.loads(strict.stdout)["changed"] == 6
    assert json.loads(strict.stdout)["replaced"] == 0
    tight = run_cli("dataset", "relabel", str(copy), "--target", "ethos-u55-128", "--field", "flash_kib",
                    "--tolerance", "0.0005", "--json")
    assert json.loads(tight.stdout)["changed"] == 6
    loose = run_cli("dataset", "relabel", str(copy), "--target", "ethos-u55-128", "--field", "flash_kib",
                    "--tolerance", "0.005", "--json")
    assert loose.returncode == 0, loose.stderr
    summary = json.loads(loose.stdout)
    assert summary["replaced"] == 6 and summary["changed"] == 0
    assert abs(summary["largest_change"] - 0.001 / 1.001) < 1e-6
    t, before = load(copy, with_layers=True), load(small, with_layers=True)
    for c in ("ethos-u55-128/flash_kib", "ethos-u55-128/latency_ms"):
        assert t.column(c).to_pylist() == before.column(c).to_pylist(), c
    for a, b in zip(t.column("ethos-u55-128/layer_flash_kib").to_pylist(),
                    before.column("ethos-u55-128/layer_flash_kib").to_pylist(), strict=True):
        assert np.array_equal(a, b, equal_nan=True)  # operators with lookup tables: NaN (unknown)
    assert pc.all(pc.is_valid(t.column("ethos-u55-128/layer_flash_kib"))).as_py()
    bad = run_cli("dataset", "relabel", str(copy), "--target", "ethos-u55-128", "--tolerance", "2")
    assert bad.returncode != 0 and "tolerance must be" in bad.stderr and "Traceback" not in bad.stderr
