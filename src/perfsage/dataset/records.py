"""One dataset task: synthesise (space, seed), featurise, label on targets; and the row formats."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from perfsage.graph import load_graph
from perfsage.graph.encode import ENCODING_VERSION, EncodedGraph, encode
from perfsage.graph.features import featurise
from perfsage.spaces import GENERATOR_VERSION, get_space
from perfsage.targets import Target, TargetError, get_target

# per-layer label fields a target may report: additive parts of a total (flash_kib: NaN where an
# operator's share is unknown), or (sram_kib) the memory in use while the layer runs, whose maximum is
# the total
LAYER_FIELDS = {"latency_ms": "float32", "npu_cycles": "int64", "energy_mj": "float32", "macs": "int64",
                "sram_kib": "float32", "flash_kib": "float32"}


def model_id(space: str, seed: int) -> str:
    return f"{space}-{seed}"


def target_key(target: str) -> str:
    """The dataset's name for a target: its registry name, or a device file's stem."""
    from pathlib import Path

    return Path(target).stem if target.endswith(".toml") else target


@dataclass(frozen=True, slots=True)
class Task:
    space: str
    seed: int
    targets: tuple[str, ...]
    need_model_row: bool = True
    keep_model: bool = False


@dataclass
class TaskResult:
    id: str
    model_row: dict[str, Any] | None = None
    graph: EncodedGraph | None = None
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)  # target -> label row
    failures: list[dict[str, Any]] = field(default_factory=list)
    model_bytes: bytes | None = None


_TARGETS: dict[str, Target] = {}  # per worker process: warm targets reused across tasks


def _target(name: str) -> Target:
    if name not in _TARGETS:
        _TARGETS[name] = get_target(name)
    return _TARGETS[name]


def close_targets() -> None:
    for t in _TARGETS.values():
        t.close()
    _TARGETS.clear()


def graph_table(graphs: dict[str, EncodedGraph]) -> pa.Table:
    """The graph cache's rows, built column-wise with the arrays' own dtypes (float32 features)."""
    items = list(graphs.items())

    def lists(arrays: list[np.ndarray], typ: pa.DataType) -> pa.ListArray:
        flat = np.concatenate([a.ravel() for a in arrays]) if arrays else np.zeros(0)
        offsets = np.concatenate([[0], np.cumsum([a.size for a in arrays])]).astype(np.int32)
        return pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat.astype(typ.to_pandas_dtype())))

    es = [e for _, e in items]
    return pa.table({"id": [k for k, _ in items],
                     "encoding_version": pa.array([ENCODING_VERSION] * len(es), pa.int64()),
                     "n_nodes": pa.array([e.x.shape[0] for e in es], pa.int64()),
                     "op": lists([e.op for e in es], pa.int16()), "kind": lists([e.kind for e in es], pa.int8()),
                     "x": lists([e.x for e in es], pa.float32()),
                     "edge_index": lists([e.edge_index for e in es], pa.int32()),
                     "edge_attr": lists([e.edge_attr for e in es], pa.float32()),
                     "g": lists([e.g for e in es], pa.float32())})


def decode_graph_table(table: pa.Table) -> dict[str, EncodedGraph]:
    """Cache rows -> encoded graphs, slicing each list column's flat values (no per-float Python objects:
    20k graphs decode in seconds)."""
    def flat(name: str, dtype) -> tuple[np.ndarray, np.ndarray]:
        col = table.column(name).combine_chunks()
        offsets = col.offsets.to_numpy()
        values = col.values.to_numpy(zero_copy_only=False).astype(dtype, copy=False)
        return values[offsets[0]:], offsets - offsets[0]

    cols = {k: flat(k, t) for k, t in (("op", np.int16), ("kind", np.int8), ("x", np.float32),
                                      ("edge_index", np.int32), ("edge_attr", np.float32), ("g", np.float32))}

    def part(name: str, i: int) -> np.ndarray:
        values, offsets = cols[name]
        return values[offsets[i]:offsets[i + 1]]

    out: dict[str, EncodedGraph] = {}
    for i, (mid, n) in enumerate(zip(table.column("id").to_pylist(), table.column("n_nodes").to_pylist(),
                                     strict=True)):
        x = part("x", i).reshape(n, -1) if n else np.zeros((0, 0), np.float32)
        ei = part("edge_index", i).reshape(2, -1)
        out[mid] = EncodedGraph(part("op", i), part("kind", i), x, ei, part("edge_attr", i).reshape(ei.shape[1], -1),
                                part("g", i))
    return out


def run_task(task: Task) -> TaskResult:
    """Runs in a builder worker (local process or Ray). Never raises for a tool failure."""
    mid = model_id(task.space, task.seed)
    arch, data = get_space(task.space).synth(task.seed)
    res = TaskResult(mid, model_bytes=data if task.keep_model else None)
    if task.need_model_row:
        graph = load_graph(data)
        nodes, gf = featurise(graph)
        res.model_row = {
            "id": mid, "space": task.space, "seed": task.seed, "generator_version": GENERATOR_VERSION,
            "arch": json.dumps(arch.arch, sort_keys=True, separators=(",", ":")), "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "macs": gf.macs, "elementwise_ops": gf.elementwise_ops, "params": gf.params,
            "weight_bytes": gf.weight_bytes, "bias_bytes": gf.bias_bytes,
            "peak_activation_bytes": gf.peak_activation_bytes, "ops": gf.ops, "tensors": gf.tensors,
            "depth": gf.depth, "input_bytes": gf.input_bytes, "output_bytes": gf.output_bytes,
            "op_types": json.dumps(gf.op_types, sort_keys=True)}
        res.graph = encode(graph, (nodes, gf))
    for name in task.targets:
        t0 = time.perf_counter()
        try:
            labels = _target(name).measure(data, per_layer=True)
        except TargetError as e:
            res.failures.append({"id": mid, "space": task.space, "seed": task.seed, "target": target_key(name),
                                 "kind": e.kind, "reason": e.reason[:2000], "time": time.time()})
            continue
        row: dict[str, Any] = {"id": mid, **{k: float(v) for k, v in labels.metrics.items()},
                               "seconds": time.perf_counter() - t0,
                               "provenance": json.dumps(labels.provenance, sort_keys=True)}
        if labels.layers:
            row["layer_index"] = [int(r["index"]) for r in labels.layers]
            for f in LAYER_FIELDS:
                if f in labels.layers[0]:
                    row[f"layer_{f}"] = [r[f] for r in labels.layers]
        res.labels[target_key(name)] = row
    return res
