"""Graphs for the architectures of a real-device table (NAS-Bench-201, FBNet), for the real-device issue.

The tables in shared/data list architectures by index; each becomes a model (weights seed 0) through
the space's own builder and the normal frontend, stored like a dataset (models + graph cache shards,
resumable) with ids `<space>:<index>`. No labels: the table's device columns are the labels.
"""

from __future__ import annotations

import csv
from pathlib import Path

from perfsage.dataset import store
from perfsage.dataset.build import ShardWriter
from perfsage.dataset.records import TaskResult
from perfsage.errors import PerfsageError
from perfsage.graph import load_graph
from perfsage.graph.encode import encode
from perfsage.graph.features import featurise
from perfsage.process_pool import process_pool
from perfsage.spaces import GENERATOR_VERSION, get_space

TABLE_SPACES = ("nasbench201", "fbnet")


def table_id(space: str, index: int) -> str:
    return f"{space}:{index}"


def read_table(path: Path) -> list[tuple[int, str]]:
    if not path.is_file():
        raise PerfsageError(f"{path}: no such table")
    with open(path, newline="") as f:
        return [(int(r["index"]), r["arch"]) for r in csv.DictReader(f)]


def table_model(space: str, arch: str) -> bytes:
    """The model of one table architecture (weights seed 0)."""
    sp = get_space(space)
    return sp.build(sp.parse_arch(arch), 0)


def _one(job: tuple[str, int, str]) -> TaskResult:
    space, index, arch = job
    data = table_model(space, arch)
    graph = load_graph(data)
    nodes, gf = featurise(graph)
    mid = table_id(space, index)
    row = {"id": mid, "space": space, "index": index, "arch": arch, "generator_version": GENERATOR_VERSION,
           "bytes": len(data), "macs": gf.macs, "params": gf.params, "ops": gf.ops, "depth": gf.depth,
           "peak_activation_bytes": gf.peak_activation_bytes, "weight_bytes": gf.weight_bytes}
    return TaskResult(mid, model_row=row, graph=encode(graph, (nodes, gf)))


def build_table_graphs(space: str, table: Path, out: Path, workers: int = 2, flush_every: int = 500) -> int:
    if space not in TABLE_SPACES:
        raise PerfsageError(f"table graphs exist for {', '.join(TABLE_SPACES)}, not {space!r}")
    rows = read_table(table)
    out.mkdir(parents=True, exist_ok=True)
    store.clean_temporaries(out)
    if not (out / "manifest.json").is_file():
        store.write_manifest(out, {"generator_version": GENERATOR_VERSION, "space": space, "table": str(table),
                                   "builds": []})
    done = store.ids_in(out / "models") & store.ids_in(out / "graphs")
    jobs = [(space, i, a) for i, a in rows if table_id(space, i) not in done]
    writer = ShardWriter(out, keep_models=False)
    n = 0
    try:
        with process_pool(workers) as ex:
            for r in ex.map(_one, jobs, chunksize=16):
                writer.add(r)
                n += 1
                if writer.due(flush_every, 120):
                    writer.flush()
    finally:
        writer.flush()
    return n
