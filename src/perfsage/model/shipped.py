"""The predictors shipped inside the package, and the labelled test split each was scored on.

    perfsage/data/predictors/<target>/   config.json, member*/ weights, training.json, MODEL_CARD.md,
                                         test_labels.parquet (id, space, seed and the metrics)
    perfsage/data/predictors/test_graphs*.parquet  the encoded test graphs, shared by every target: a
                                                   retraining appends the graphs it adds as a new shard
                                                   rather than rewriting the (large) earlier ones

They let `perfsage evaluate --target T` re-score a shipped predictor on a plain install in seconds. The
graphs also regenerate exactly from space + seed (generator version pinned), which is what happens to
any the file lacks. `scripts/train_shipped.py` writes these folders.
"""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from perfsage.errors import PerfsageError

PREDICTORS = Path(__file__).resolve().parent.parent / "data" / "predictors"
TEST_LABELS = "test_labels.parquet"
TEST_GRAPHS = PREDICTORS / "test_graphs.parquet"  # the first shard; later ones are test_graphs-<k>.parquet
# What each target's predictor covers, and the PerfSAGE settings it is trained with (the accuracy
# benchmark scores the same settings).
PREDICTED_METRICS = {"ethos-u55-128": ["latency_ms", "energy_mj", "sram_kib", "flash_kib"],
                     "ethos-u65-256": ["latency_ms", "energy_mj", "sram_kib", "flash_kib"],
                     "mcu-tflm": ["arena_kib"], "cpu-litert": ["latency_ms", "peak_heap_kib"]}
PERFSAGE_HP = {"hidden": 128, "layers": 4, "batch_size": 128, "lr": 3e-3, "epochs": 400, "patience": 40}


def shipped_targets() -> list[str]:
    return sorted(p.name for p in PREDICTORS.iterdir() if (p / "config.json").is_file()) if PREDICTORS.is_dir() \
        else []


def predictor_dir(target: str) -> Path:
    path = PREDICTORS / target
    if not (path / "config.json").is_file():
        have = ", ".join(shipped_targets()) or "none"
        raise PerfsageError(f"no shipped predictor for target {target!r} (shipped: {have})")
    return path


def write_test_labels(folder: Path, test) -> None:
    """test: a GraphSet (ids are `space-seed`). Its graphs join the shared test-graph file."""
    from perfsage.dataset.store import COMPACT_LEVEL

    seeds = [int(i.rsplit("-", 1)[1]) for i in test.ids]
    cols = {"id": test.ids, "space": test.spaces, "seed": seeds, **{m: test.y[m] for m in test.y}}
    pq.write_table(pa.table(cols), folder / TEST_LABELS, compression="zstd", compression_level=COMPACT_LEVEL)
    with _test_graphs_locked():  # trainers of several targets may run side by side on one checkout
        stored = stored_test_graphs()
        new = {i: g for i, g in zip(test.ids, test.graphs, strict=True) if i not in stored}
        if new:
            _write_test_graphs(new, _next_shard())


@contextmanager
def _test_graphs_locked():
    fd = os.open(PREDICTORS, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def test_graph_shards() -> list[Path]:
    return [TEST_GRAPHS] * TEST_GRAPHS.is_file() + sorted(
        PREDICTORS.glob("test_graphs-*.parquet"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))


def _next_shard() -> Path:
    shards = test_graph_shards()
    if not shards:
        return TEST_GRAPHS
    last = shards[-1]
    return PREDICTORS / f"test_graphs-{1 if last == TEST_GRAPHS else int(last.stem.rsplit('-', 1)[1]) + 1}.parquet"


def _write_test_graphs(graphs: dict, path: Path = TEST_GRAPHS) -> None:
    from perfsage.dataset.records import graph_table
    from perfsage.dataset.store import COMPACT_LEVEL

    tmp = path.with_suffix(".tmp")  # a reader never sees half a file
    pq.write_table(graph_table(dict(sorted(graphs.items()))), tmp, compression="zstd",
                   compression_level=COMPACT_LEVEL)
    os.replace(tmp, path)


def stored_test_graphs() -> dict:
    """The shared test-graph shards' graphs, of those that hold today's encoding (the rest regenerate)."""
    from perfsage.dataset.records import decode_graph_table
    from perfsage.graph.encode import ENCODING_VERSION

    graphs: dict = {}
    for path in test_graph_shards():
        stored = pq.read_table(path)
        if stored.num_rows and stored.column("encoding_version")[0].as_py() == ENCODING_VERSION:
            graphs.update(decode_graph_table(stored))
    return graphs


def refresh_test_graphs(workers: int | None = None) -> int:
    """Re-encode the test graphs of every shipped predictor into the shared file (after the encoding
    grows); returns how many it holds."""
    from perfsage.dataset import regenerate_graphs

    ids = sorted({i for t in shipped_targets() for i in pq.read_table(predictor_dir(t) / TEST_LABELS,
                                                                       columns=["id"]).column("id").to_pylist()})
    with _test_graphs_locked():
        graphs = stored_test_graphs()
        missing = [i for i in ids if i not in graphs]
        graphs.update(regenerate_graphs(missing, workers=workers) if missing else {})
        _write_test_graphs({i: graphs[i] for i in ids})  # one shard again: every graph was re-encoded
        for path in test_graph_shards()[1:]:
            path.unlink()
    return len(ids)


def shipped_test_set(target: str, metrics: list[str], workers: int | None = None):
    """The shipped predictor's test split as a GraphSet, its graphs regenerated from space + seed."""
    from perfsage.dataset import regenerate_graphs
    from perfsage.model.data import GraphSet

    table = pq.read_table(predictor_dir(target) / TEST_LABELS)
    ids = table.column("id").to_pylist()
    graphs = stored_test_graphs()
    missing = [i for i in ids if i not in graphs]
    graphs.update(regenerate_graphs(missing, workers=workers) if missing else {})
    y = {m: np.asarray(table.column(m).to_numpy(zero_copy_only=False), float) for m in metrics}
    return GraphSet(ids, table.column("space").to_pylist(), [graphs[i] for i in ids], y)


