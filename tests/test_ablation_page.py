"""benchmarks/ablation.py: accuracy.py job records, arm beside arm."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import benchmark_module


def _module():
    return benchmark_module("ablation")


def _record(folder: Path, seed: int, mape: float, bias: float | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    m = {"mape": mape, "acc10": 0.5, **({"bias": bias} if bias is not None else {})}
    rec = {"target": "ethos-u55-128", "split": "leave-out:kws", "row": "perfsage", "seed": seed, "epochs": 6,
           "metrics": {"latency_ms": m}, "history": [{"seconds": 1.0}]}
    name = "ethos-u55-128__leave-out-kws__perfsage" + (f"__seed{seed}" if seed else "")  # accuracy.job_key
    (folder / f"{name}.json").write_text(json.dumps(rec))


def test_arms_side_by_side_with_the_seed_range_and_bias(tmp_path):
    mod = _module()
    _record(tmp_path / "a", 0, 10.0)
    _record(tmp_path / "b", 0, 8.0, -6.0)
    _record(tmp_path / "b", 1, 12.0, -2.0)
    arms = {"plain": mod.records([tmp_path / "a"]), "prior": mod.records([tmp_path / "b"])}
    text = mod.table(arms)
    assert "| plain | 0 | 6 | 10.00 / 0.50 |" in text  # no bias recorded: none shown
    assert "| prior | 0,1 | 6,6 | 10.00 (8.0–12.0) / -4.0 / 0.50 |" in text


def test_a_missing_run_folder_is_a_one_line_exit(tmp_path):
    with pytest.raises(SystemExit, match="no run folder"):
        _module().records([tmp_path / "nothing"])
