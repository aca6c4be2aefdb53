"""Measuring in passes: the fastest reading per model, a failure recorded once, a killed run resumed."""

from __future__ import annotations

import json

import pytest

from perfsage.targets.base import Labels, TargetError
from perfsage.targets.passes import measure_in_passes


class Scripted:
    """A tool whose readings are given in advance: model -> readings, in the order they are asked for."""

    name = "scripted"

    def __init__(self, readings: dict[bytes, list[float]]) -> None:
        self.readings = {k: list(v) for k, v in readings.items()}
        self.asked: list[bytes] = []

    def measure(self, data: bytes, per_layer: bool = True) -> Labels:
        self.asked.append(data)
        v = self.readings[data].pop(0)
        if v is None:
            raise TargetError("scripted", "crashed", "segfault")
        return Labels("scripted", {"latency_ms": v, "peak_heap_kib": 10.0 + v}, [], {})


def test_each_model_keeps_its_fastest_reading_over_round_robin_passes(tmp_path):
    tool = Scripted({b"a": [5.0, 3.0, 4.0], b"b": [2.0, 2.5, 1.5], b"c": [None]})
    seen = []
    out = measure_in_passes(tool, [("a", b"a"), ("b", b"b"), ("c", b"c")], 3, tmp_path / "j.jsonl",
                            lambda d, t: seen.append((d, t)))
    assert out["a"] == {"latency_ms": 3.0, "peak_heap_kib": 13.0} and out["b"]["latency_ms"] == 1.5
    assert "crashed" in out["c"]["error"]
    assert tool.asked == [b"a", b"b", b"c", b"a", b"b", b"a", b"b"]  # round robin; the failure not retried
    assert seen[0] == (0, 9) and seen[-1] == (9, 9)


def test_a_killed_run_resumes_from_its_journal(tmp_path):
    journal = tmp_path / "j.jsonl"
    journal.write_text(json.dumps({"id": "a", "pass": 0, "latency_ms": 5.0}) + "\n"
                       + json.dumps({"id": "b", "pass": 0, "error": "crashed: x"}) + "\n{\"id\": \"a\", \"pa")
    tool = Scripted({b"a": [4.0], b"b": []})
    out = measure_in_passes(tool, [("a", b"a"), ("b", b"b")], 2, journal)
    assert tool.asked == [b"a"] and out["a"]["latency_ms"] == 4.0 and "error" in out["b"]
    again = Scripted({b"a": [], b"b": []})
    assert measure_in_passes(again, [("a", b"a"), ("b", b"b")], 2, journal) == out and again.asked == []
    with pytest.raises(ValueError):
        measure_in_passes(tool, [], 0)
