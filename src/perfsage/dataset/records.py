"""One dataset task: synthesise (space, seed), featurise, label on targets; and the row formats."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from perfsage.graph import load_graph
from perfsage.graph.encode import ENCODING_VERSION, EncodedGraph, encode
from perfsage.graph.features import featurise
from perfsage.spaces import GENERATOR_VERSION, get_space
from perfsage.targets import Target, TargetError, get_target

LAYER_FIELDS = {"latency_ms": "float32", "npu_cycles": "int64", "energy_mj": "float32", "macs": "int64"}


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
    graph_row: dict[str, Any] | None = None
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


def graph_row(mid: str, e: EncodedGraph) -> dict[str, Any]:
    return {"id": mid, "encoding_version": ENCODING_VERSION, "n_nodes": int(e.x.shape[0]),
            "op": e.op.tolist(), "kind": e.kind.tolist(), "x": e.x.ravel().tolist(),
            "edge_index": e.edge_index.ravel().tolist(), "edge_attr": e.edge_attr.ravel().tolist(),
            "g": e.g.tolist()}


def decode_graph_row(row: dict[str, Any]) -> EncodedGraph:
    n = row["n_nodes"]
    x = np.asarray(row["x"], dtype=np.float32).reshape(n, -1) if n else np.zeros((0, 0), np.float32)
    ei = np.asarray(row["edge_index"], dtype=np.int32).reshape(2, -1)
    ea = np.asarray(row["edge_attr"], dtype=np.float32).reshape(ei.shape[1], -1)
    return EncodedGraph(np.asarray(row["op"], np.int16), np.asarray(row["kind"], np.int8), x, ei, ea,
                        np.asarray(row["g"], np.float32))


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
        res.graph_row = graph_row(mid, encode(graph, (nodes, gf)))
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
