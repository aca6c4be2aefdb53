"""On-disk layout of a dataset directory, written so that a SIGKILL at any moment loses nothing written.

    DIR/manifest.json                 build parameters (spaces, seeds, targets, generator version)
    DIR/models/part-*.parquet         one row per model: id, space, seed, generator version, arch, features
    DIR/labels/<target>/part-*.parquet  one row per (model, target): metrics, per-layer arrays, provenance
    DIR/failures/<target>/part-*.parquet  one row per failed (model, target): kind, reason
    DIR/graphs/part-*.parquet         the encoded graphs (training cache; rebuildable, not committed)
    DIR/tflite/<id>.tflite            only with --keep-models

Every shard is written to a temporary name and renamed into place (atomic on POSIX), so readers only
ever see whole shards; temporaries left by a kill are ignored and removed on the next build. Labels live
per target so that targets can be built separately (cpu-litert with one worker) and resumed
independently; `load()` joins them into one row per model with `<target>/<metric>` columns.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from perfsage.errors import PerfsageError

COMPRESSION = "zstd"
COMPACT_LEVEL = 19  # a compacted shard is written once and read often: spend the time to halve it


def shard_name() -> str:
    return f"part-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}.parquet"


def write_shard(folder: Path, table: pa.Table, level: int | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / shard_name()
    tmp = final.with_suffix(".parquet.tmp")
    pq.write_table(table, tmp, compression=COMPRESSION, compression_level=level)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, final)
    return final


def shards(folder: Path) -> list[Path]:
    return sorted(folder.glob("part-*.parquet")) if folder.is_dir() else []


def clean_temporaries(root: Path) -> int:
    n = 0
    for tmp in root.rglob("*.parquet.tmp"):
        tmp.unlink(missing_ok=True)
        n += 1
    return n


def read_folder(folder: Path, columns: list[str] | None = None) -> pa.Table | None:
    files = shards(folder)
    if not files:
        return None
    tables = [pq.read_table(f, columns=columns) for f in files]
    return pa.concat_tables(tables, promote_options="default")


# A shard this large is left as it is by compaction: committed label files stay byte-identical when a
# later build appends (git keeps every rewrite of a large file; the clone was 407 MiB of them).
SEALED_BYTES = 2 << 20


def compact(folder: Path, keep=None, sealed_bytes: int | None = SEALED_BYTES, level: int | None = COMPACT_LEVEL) -> int:
    """Merge a folder's shards into one (first row per id wins; `keep(table)` may filter rows), written
    before the old shards are removed: a kill in between leaves duplicate rows, which readers drop, and
    the next compaction removes. Builds write many small shards so that a kill loses little; one shard
    compresses about 2x better and loads faster. Shards of `sealed_bytes` or more are left alone (None:
    merge everything), so a build appends one new shard beside them. `level`: zstd's; None, its default,
    for a cache that git never keeps (level 19 took minutes on 33,000 graphs). Returns the number merged."""
    files = shards(folder)
    if sealed_bytes is not None:
        files = [f for f in files if f.stat().st_size < sealed_bytes]
    if not files or (len(files) == 1 and keep is None):
        return 0
    table = pa.concat_tables([pq.read_table(f) for f in files], promote_options="permissive")
    n = table.num_rows
    table = dedup(keep(table) if keep is not None else table)
    if len(files) == 1 and table.num_rows == n:
        return 0
    write_shard(folder, table, level)
    for f in files:
        f.unlink(missing_ok=True)
    return len(files)


def ids_in(folder: Path) -> set[str]:
    t = read_folder(folder, ["id"])
    return set(t.column("id").to_pylist()) if t is not None else set()


def label_targets(root: Path) -> list[str]:
    found = set()
    for kind in ("labels", "failures"):
        d = root / kind
        if d.is_dir():
            found |= {p.name for p in d.iterdir() if p.is_dir()}
    return sorted(found)


def read_manifest(root: Path) -> dict[str, Any]:
    p = root / "manifest.json"
    if not p.is_file():
        raise PerfsageError(f"{root}: not a perfsage dataset (no manifest.json)")
    return json.loads(p.read_text())


def write_manifest(root: Path, manifest: dict[str, Any]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    os.replace(tmp, root / "manifest.json")


def dedup(table: pa.Table, key: str = "id") -> pa.Table:
    """Keep the first row per key (a rerun after a kill may, rarely, repeat a model row)."""
    ids = table.column(key).to_pylist()
    seen: set = set()
    keep = []
    for i, k in enumerate(ids):
        if k not in seen:
            seen.add(k)
            keep.append(i)
    return table if len(keep) == len(ids) else table.take(pa.array(keep))
