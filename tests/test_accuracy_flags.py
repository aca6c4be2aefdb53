"""benchmarks/accuracy.py's flag table: the out-of-distribution flag and the interval as a warning."""

from __future__ import annotations

from conftest import benchmark_module


def _job(seed: int, cell: dict) -> dict:
    return {"split": "leave-out:kws", "target": "ethos-u55-128", "row": "perfsage", "seed": seed,
            "flags": {"latency_ms": cell}}


def test_the_flag_table_pools_cells_and_the_interval_over_the_jobs_that_scored_it():
    flag_lines = benchmark_module("accuracy").flag_lines
    old = {"n": 10, "misses": 4, "flagged": 10, "precision": 0.4, "recall": 1.0}  # before the warning
    new = {"n": 10, "misses": 6, "flagged": 5, "precision": 0.6, "recall": 0.5,
           "wide": 4, "wide_precision": 0.75, "wide_recall": 0.5}
    row = next(line for line in flag_lines([_job(0, old), _job(1, new)]) if line.startswith("| leave-out:kws"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    # flag: 7 of 15 flagged cells miss, of 10 misses; interval: 3 of 4 warned cells miss, of the 6 misses
    # of the one job that scored it
    assert cells[2:] == ["20", "10", "15", "0.47", "0.70", "4", "0.75", "0.50"]
    only_old = next(line for line in flag_lines([_job(0, old)]) if line.startswith("| leave-out:kws"))
    assert only_old.rstrip(" |").endswith("n/a | n/a | n/a")
