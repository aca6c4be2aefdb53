"""EdgeDLPerf-style datasets: build (local processes or Ray), Parquet storage, splits, info.

`load(DIR)` returns one row per model joined with `<target>/<metric>` label columns; `graphs(DIR, ids)`
returns the encoded graphs from the cache (regenerating any the cache lacks from space + seed).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from perfsage.dataset import store
from perfsage.dataset.records import decode_graph_table, graph_table
from perfsage.errors import PerfsageError
from perfsage.graph.encode import ENCODING_VERSION, EncodedGraph


def load(root: str | Path, targets: list[str] | None = None, with_layers: bool = False) -> pa.Table:
    root = Path(root)
    store.read_manifest(root)
    models = store.read_folder(root / "models")
    if models is None:
        raise PerfsageError(f"{root}: the dataset has no models yet")
    table = store.dedup(models)
    for t in targets or store.label_targets(root):
        labels = store.read_folder(root / "labels" / t)
        if labels is None:
            continue
        labels = store.dedup(labels)
        keep = [c for c in labels.column_names if c != "id" and (with_layers or not c.startswith("layer_"))
                and c not in ("provenance", "seconds")]
        # a left join by position (pyarrow's hash join cannot carry the per-layer list columns)
        rows = labels.take(pc.index_in(table.column("id"), value_set=labels.column("id")))
        for c in keep:
            table = table.append_column(f"{t}/{c}", rows.column(c))
    return table.sort_by("id")


def failures(root: str | Path) -> pa.Table | None:
    root = Path(root)
    parts = [store.read_folder(root / "failures" / t) for t in store.label_targets(root)]
    parts = [p for p in parts if p is not None]
    return pa.concat_tables(parts, promote_options="default") if parts else None


def provenance(root: str | Path, target: str) -> dict:
    t = store.read_folder(Path(root) / "labels" / target, ["provenance"])
    if t is None or not len(t):
        return {}
    return json.loads(t.column("provenance")[0].as_py())


def provenance_fields(root: str | Path, target: str, keys: list[str]) -> dict[str, dict[str, object]]:
    """Per model id, the given fields of its label's provenance (a field it lacks: absent)."""
    t = store.read_folder(Path(root) / "labels" / target, ["id", "provenance"])
    if t is None:
        return {}
    t = store.dedup(t)
    out = {}
    for i, text in zip(t.column("id").to_pylist(), t.column("provenance").to_pylist(), strict=True):
        try:
            p = json.loads(text) if text else {}
        except ValueError:  # provenance only informs: a damaged one reports no fields
            p = {}
        out[i] = {k: p[k] for k in keys if k in p} if isinstance(p, dict) else {}
    return out


def graphs(root: str | Path, ids: list[str]) -> dict[str, EncodedGraph]:
    """Encoded graphs for ids, from the cache; missing or stale ones are rebuilt from space + seed."""
    root = Path(root)
    out: dict[str, EncodedGraph] = {}
    wanted = pa.array(sorted(set(ids)))
    for shard in store.shards(root / "graphs"):  # one at a time: older shards may store float64 features
        cache = pq.read_table(shard)
        cache = cache.filter(pc.and_(pc.is_in(cache.column("id"), wanted),
                                     pc.equal(cache.column("encoding_version"), ENCODING_VERSION)))
        for mid, e in decode_graph_table(cache).items():
            out.setdefault(mid, e)
    missing = [i for i in ids if i not in out]
    if not missing:
        return out
    archs: dict[str, str] = {}
    if any(":" in i for i in missing):  # real-device table graphs rebuild from their stored architecture
        models = store.read_folder(root / "models", ["id", "arch"])
        archs = dict(zip(models.column("id").to_pylist(), models.column("arch").to_pylist(), strict=True))
    fresh = regenerate_graphs(missing, archs)
    out.update(fresh)
    if os.access(root, os.W_OK):  # keep them: the next load reads the cache instead of rebuilding
        store.write_shard(root / "graphs", graph_table(fresh))
    return out


def regenerate_graphs(ids: list[str], archs: dict[str, str] | None = None,
                      workers: int | None = None) -> dict[str, EncodedGraph]:
    """Encoded graphs rebuilt from their ids (and, for table ids, their architectures): in worker
    processes when there are many."""
    jobs = [(mid, (archs or {}).get(mid)) for mid in ids]
    workers = workers or os.cpu_count() or 1
    if len(ids) <= 200 or workers == 1:
        return {mid: regenerate_graph(job) for mid, job in zip(ids, jobs, strict=True)}
    from perfsage.process_pool import process_pool

    with process_pool(workers) as ex:
        return dict(zip(ids, ex.map(regenerate_graph, jobs, chunksize=32), strict=True))


def regenerate_graph(job: tuple[str, str | None]) -> EncodedGraph:
    """The encoded graph of a model id: `space-seed`, or a real-device table's `space:index` with its
    architecture string."""
    from perfsage.graph import load_graph
    from perfsage.graph.encode import encode
    from perfsage.spaces import get_space

    mid, arch = job
    if arch is not None:
        from perfsage.dataset.table_graphs import table_model

        data = table_model(mid.split(":", 1)[0], arch)
    else:
        space, seed = mid.rsplit("-", 1)
        data = get_space(space).synth(int(seed))[1]
    return encode(load_graph(data))
