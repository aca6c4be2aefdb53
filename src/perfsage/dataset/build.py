"""Build a dataset: sample (space, seed), synthesise, label on every target, write shards; resumable.

Work is planned from what the directory already holds, so rerunning the same command after a kill (even
SIGKILL) only does what is missing: no row lost, none duplicated. Local runs use worker processes; with
`ray_address` the same `run_task` runs as Ray tasks (address "local" starts a local cluster).
"""

from __future__ import annotations

import itertools
import os
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from perfsage.dataset import store
from perfsage.dataset.records import (
    Task,
    TaskResult,
    close_targets,
    decode_graph_table,
    graph_table,
    model_id,
    run_task,
    target_key,
)
from perfsage.errors import PerfsageError
from perfsage.graph.encode import EncodedGraph
from perfsage.process_pool import process_pool
from perfsage.spaces import GENERATOR_VERSION, space_names
from perfsage.targets import target_names


@dataclass
class BuildConfig:
    out: Path
    spaces: list[str]
    per_space: int
    targets: list[str]
    workers: int = 1
    ray_address: str | None = None
    keep_models: bool = False
    first_seed: int = 0
    flush_every: int = 100
    flush_seconds: float = 60.0


@dataclass
class BuildSummary:
    planned: int = 0
    done: int = 0
    labels: int = 0
    failures: int = 0
    seconds: float = 0.0


def validate(cfg: BuildConfig) -> None:
    for s in cfg.spaces:
        if s not in space_names():
            raise PerfsageError(f"unknown space {s!r} (choose from {', '.join(space_names())})")
    for t in cfg.targets:
        if t not in target_names() and not t.endswith(".toml"):
            raise PerfsageError(f"unknown target {t!r} (choose from {', '.join(target_names())})")
    if cfg.per_space < 1:
        raise PerfsageError("--per-space must be at least 1")
    if cfg.workers < 1:
        raise PerfsageError("--workers must be at least 1")
    if "cpu-litert" in cfg.targets and (cfg.workers > 1 or cfg.ray_address):
        raise PerfsageError("cpu-litert measures wall-clock time and must not share a core: build it with "
                            "--workers 1 and no --ray")


class ShardWriter:
    """Buffers results and writes them as atomic shards: models and graphs first, then labels."""

    def __init__(self, root: Path, keep_models: bool) -> None:
        self.root, self.keep_models = root, keep_models
        self.models: list[dict] = []
        self.graphs: dict[str, EncodedGraph] = {}
        self.labels: dict[str, list[dict]] = {}
        self.failures: dict[str, list[dict]] = {}
        self.pending = 0
        self.last_flush = time.monotonic()

    def add(self, r: TaskResult) -> None:
        if r.model_row is not None:
            self.models.append(r.model_row)
            self.graphs[r.id] = r.graph
        for t, row in r.labels.items():
            self.labels.setdefault(t, []).append(row)
        for f in r.failures:
            self.failures.setdefault(f["target"], []).append(f)
        if self.keep_models and r.model_bytes is not None:
            d = self.root / "tflite"
            d.mkdir(parents=True, exist_ok=True)
            tmp = d / f"{r.id}.tflite.tmp"
            tmp.write_bytes(r.model_bytes)
            os.replace(tmp, d / f"{r.id}.tflite")
        self.pending += 1

    def due(self, every: int, seconds: float) -> bool:
        return self.pending >= every or (self.pending and time.monotonic() - self.last_flush >= seconds)

    def flush(self) -> None:
        if self.models:
            store.write_shard(self.root / "models", pa.Table.from_pylist(self.models))
            store.write_shard(self.root / "graphs", graph_table(self.graphs))
        for t, rows in self.labels.items():
            if rows:
                store.write_shard(self.root / "labels" / target_key(t), pa.Table.from_pylist(rows))
        for t, rows in self.failures.items():
            if rows:
                store.write_shard(self.root / "failures" / target_key(t), pa.Table.from_pylist(rows))
        self.models, self.graphs, self.labels, self.failures = [], {}, {}, {}
        self.pending = 0
        self.last_flush = time.monotonic()


def plan(cfg: BuildConfig) -> list[Task]:
    """Tasks for everything missing, spaces interleaved so a partial build stays balanced."""
    # the graph cache is not required: it is not committed, and `dataset.graphs()` rebuilds missing entries
    have_model = store.ids_in(cfg.out / "models")
    done = {t: store.ids_in(cfg.out / "labels" / target_key(t)) | store.ids_in(cfg.out / "failures" / target_key(t))
            for t in cfg.targets}
    per_space = []
    for space in cfg.spaces:
        tasks = []
        for seed in range(cfg.first_seed, cfg.first_seed + cfg.per_space):
            mid = model_id(space, seed)
            need = tuple(t for t in cfg.targets if mid not in done[t])
            if need or mid not in have_model:
                tasks.append(Task(space, seed, need, mid not in have_model, cfg.keep_models))
        per_space.append(tasks)
    return [t for group in itertools.zip_longest(*per_space) for t in group if t is not None]


def _update_manifest(cfg: BuildConfig) -> None:
    path = cfg.out / "manifest.json"
    m = store.read_manifest(cfg.out) if path.is_file() else {"generator_version": GENERATOR_VERSION, "builds": []}
    if m.get("generator_version") != GENERATOR_VERSION:
        raise PerfsageError(f"{cfg.out} was built with generator version {m.get('generator_version')}, this "
                            f"perfsage writes version {GENERATOR_VERSION}: use a new directory")
    m["spaces"] = sorted(set(m.get("spaces", [])) | set(cfg.spaces))
    m["targets"] = sorted(set(m.get("targets", [])) | set(cfg.targets))
    m["builds"].append({"spaces": cfg.spaces, "per_space": cfg.per_space, "first_seed": cfg.first_seed,
                        "targets": cfg.targets, "workers": cfg.workers, "ray": cfg.ray_address,
                        "started": time.strftime("%Y-%m-%dT%H:%M:%S")})
    store.write_manifest(cfg.out, m)


def _local(tasks: list[Task], workers: int) -> Iterator[TaskResult]:
    if workers == 1:
        try:
            for t in tasks:
                yield run_task(t)
        finally:
            close_targets()
        return
    with process_pool(workers) as ex:
        queue = deque(tasks)
        running = set()
        try:
            while queue or running:
                while queue and len(running) < 2 * workers:
                    running.add(ex.submit(run_task, queue.popleft()))
                finished, running = wait(running, return_when=FIRST_COMPLETED)
                for f in finished:
                    yield f.result()
        finally:
            for f in running:
                f.cancel()


def _ray(tasks: list[Task], address: str, workers: int) -> Iterator[TaskResult]:
    from perfsage.process_pool import connect_ray

    ray = connect_ray(address, workers)
    remote = ray.remote(num_cpus=1)(run_task)
    queue = deque(tasks)
    running: list = []
    limit = 2 * max(workers, int(ray.cluster_resources().get("CPU", workers)))
    while queue or running:
        while queue and len(running) < limit:
            running.append(remote.remote(queue.popleft()))
        ready, running = ray.wait(running, num_returns=1)
        for ref in ready:
            yield ray.get(ref)


def build(cfg: BuildConfig, progress: bool = True, on_result=None) -> BuildSummary:
    validate(cfg)
    cfg.out.mkdir(parents=True, exist_ok=True)
    store.clean_temporaries(cfg.out)
    _update_manifest(cfg)
    tasks = plan(cfg)
    summary = BuildSummary(planned=len(tasks))
    writer = ShardWriter(cfg.out, cfg.keep_models)
    results: Iterable[TaskResult] = (_ray(tasks, cfg.ray_address, cfg.workers) if cfg.ray_address
                                     else _local(tasks, cfg.workers))
    t0 = time.monotonic()
    bar = _Progress(len(tasks), progress)
    try:
        for r in results:
            writer.add(r)
            summary.done += 1
            summary.labels += len(r.labels)
            summary.failures += len(r.failures)
            bar.advance(summary.failures)
            if on_result is not None:
                on_result(summary)
            if writer.due(cfg.flush_every, cfg.flush_seconds):
                writer.flush()
    finally:
        writer.flush()
        bar.close()
        summary.seconds = time.monotonic() - t0
    compact_dataset(cfg.out)
    return summary


def compact_dataset(root: Path) -> dict[str, int]:
    """Merge each folder's shards into one (see store.compact); the graph cache also drops graphs of an
    older encoding. Run when a build completes, so a committed dataset is a handful of files."""
    import pyarrow.compute as pc

    from perfsage.graph.encode import ENCODING_VERSION

    merged = {}
    folders = [root / "models"] + [root / kind / t for kind in ("labels", "failures")
                                   for t in store.label_targets(root) if (root / kind / t).is_dir()]
    for folder in folders:
        merged[str(folder.relative_to(root))] = store.compact(folder)
    if store.shards(root / "graphs"):
        merged["graphs"] = store.compact(root / "graphs", keep=lambda t: graph_table(decode_graph_table(
            t.filter(pc.equal(t.column("encoding_version"), ENCODING_VERSION)))), sealed_bytes=None, level=None)
    return merged


class _Progress:
    def __init__(self, total: int, enabled: bool) -> None:
        self.p = None
        if enabled and total:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.p = Progress(TextColumn("[bold]building"), BarColumn(), MofNCompleteColumn(),
                              TextColumn("{task.fields[rate]:.2f} models/s"),
                              TextColumn("failures {task.fields[fail]}"), TimeElapsedColumn(), TimeRemainingColumn())
            self.p.start()
            self.task = self.p.add_task("build", total=total, rate=0.0, fail=0)
            self.t0 = time.monotonic()
            self.n = 0

    def advance(self, failures: int) -> None:
        if self.p is not None:
            self.n += 1
            self.p.update(self.task, advance=1, fail=failures, rate=self.n / max(time.monotonic() - self.t0, 1e-9))

    def close(self) -> None:
        if self.p is not None:
            self.p.stop()
