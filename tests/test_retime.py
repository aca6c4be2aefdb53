"""Re-timing a CPU target's labels in passes: only the chosen rows, the fastest pass wins, a kill resumes."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from perfsage.dataset import store
from perfsage.dataset.retime import plan, retime
from perfsage.errors import PerfsageError
from perfsage.spaces import get_space
from perfsage.targets.base import Labels

SEEDS = range(12)


class Scripted:
    """A host-bound tool whose latency readings come from a list, in the order they are asked for."""

    host_bound = True

    def __init__(self, readings: list[float], stop_after: int | None = None) -> None:
        self.readings, self.stop_after, self.asked = list(readings), stop_after, 0
        self.window_s, self.windows = 0.5, 3

    def measure(self, data: bytes, per_layer: bool = True) -> Labels:
        if self.stop_after is not None and self.asked >= self.stop_after:
            raise KeyboardInterrupt
        self.asked += 1
        return Labels("cpu-litert", {"latency_ms": self.readings.pop(0), "peak_heap_kib": 100.0}, [], {})

    def label_provenance(self) -> dict:
        return {"tool": "scripted", "window_s": self.window_s, "windows": self.windows,
                "host_fingerprint": {"key": "scripted"}}

    def close(self) -> None:
        pass


@pytest.fixture
def dataset(tmp_path):
    """Twelve precision-space rows labelled once at 10 ms; returns the root and the float32 ids."""
    space = get_space("precision")
    archs = {f"precision-{s}": space.sample(s).arch for s in SEEDS}
    store.write_manifest(tmp_path, {"generator_version": 1, "builds": [], "spaces": ["precision"]})
    store.write_shard(tmp_path / "models", pa.Table.from_pylist(
        [{"id": i, "space": "precision", "arch": json.dumps(a)} for i, a in archs.items()]))
    store.write_shard(tmp_path / "labels" / "cpu-litert", pa.Table.from_pylist(
        [{"id": i, "latency_ms": 10.0, "peak_heap_kib": 90.0, "seconds": 1.0,
          "provenance": json.dumps({"tool": "ai-edge-litert", "windows": 3})} for i in archs]))
    floats = sorted((i for i, a in archs.items() if a["precision"] == "float32"), key=lambda i: int(i.split("-")[1]))
    assert 2 <= len(floats) < len(archs)
    return tmp_path, floats


def use_tool(monkeypatch, tool) -> None:
    monkeypatch.setattr("perfsage.targets.get_target", lambda name: tool)


def labels_of(root) -> dict[str, tuple[float, dict]]:
    t = store.dedup(store.read_folder(root / "labels" / "cpu-litert"))
    return {i: (lat, json.loads(p)) for i, lat, p in zip(t.column("id").to_pylist(), t.column("latency_ms").to_pylist(),
                                                         t.column("provenance").to_pylist(), strict=True)}


def test_only_the_chosen_rows_are_retimed_and_the_fastest_pass_wins(dataset, monkeypatch):
    root, floats = dataset
    n = len(floats)
    # pass 1 reads every model at 12 ms, pass 2 at 8 ms, pass 3 at 9 ms: each keeps 8
    use_tool(monkeypatch, Scripted([12.0] * n + [8.0] * n + [9.0] * n))
    s = retime(root, "cpu-litert", "precision", "float32", passes=3)
    assert (s.planned, s.measured, s.failures) == (n, n, 0)
    assert s.median_ratio == pytest.approx(0.8)
    got = labels_of(root)
    assert len(got) == len(SEEDS) and len(store.shards(root / "labels" / "cpu-litert")) == 1
    for i, (lat, prov) in got.items():
        if i in floats:
            assert lat == 8.0 and prov["passes"] == 3 and prov["windows"] == 1 and "host_fingerprint" in prov
        else:
            assert lat == 10.0 and "passes" not in prov
    assert plan(root, "cpu-litert", "precision", "float32", 3) == []
    assert not list((root / "tflite").glob("*.jsonl"))  # the journal goes once its rows are in a shard


def test_a_killed_retime_resumes_without_measuring_again(dataset, monkeypatch):
    root, floats = dataset
    n = len(floats)
    first = Scripted([7.0] * (n + 1), stop_after=n + 1)  # killed in the second pass
    use_tool(monkeypatch, first)
    with pytest.raises(KeyboardInterrupt):
        retime(root, "cpu-litert", "precision", "float32", passes=2)
    assert all(lat == 10.0 for lat, _ in labels_of(root).values())  # nothing written before the end
    second = Scripted([6.0] * (n - 1))
    use_tool(monkeypatch, second)
    s = retime(root, "cpu-litert", "precision", "float32", passes=2)
    assert second.asked == n - 1 and s.measured == n
    got = labels_of(root)
    assert sorted(lat for i, (lat, _) in got.items() if i in floats) == [6.0] * (n - 1) + [7.0]


def test_only_host_bound_targets_and_two_passes_or_more(dataset):
    root, _ = dataset
    with pytest.raises(PerfsageError, match="host-bound"):
        retime(root, "ethos-u55-128")
    with pytest.raises(PerfsageError, match="at least 2"):
        retime(root, "cpu-litert", passes=1)
