"""Training data for the estimators: encoded graphs plus labels of one target, from a dataset directory."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from perfsage.dataset import graphs, load, provenance_fields
from perfsage.errors import PerfsageError
from perfsage.graph.encode import EncodedGraph
from perfsage.targets.metrics import PARTS, parts_of

# Metrics that are sums over operators (per-layer labels, where a target has them, add up to them;
# flash is the sum of each operator's encoded weights and commands), and metrics that are peaks over
# the execution (the most memory live at any operator). PerfSAGE reads both out of per-operator values.
ADDITIVE = ("latency_ms", "npu_cycles", "energy_mj", "flash_kib")
PEAK = ("sram_kib", "arena_kib", "peak_heap_kib")
DEVICE_LATENCY = "latency_ms@"  # a real device's latency column: `latency_ms@<device>`, additive like latency


def is_additive(metric: str) -> bool:
    return metric in ADDITIVE or metric.startswith(DEVICE_LATENCY)


# Metrics a network reads out as a sum over operators although they are not plain sums. LiteRT's heap
# growth across allocate_tensors is one arena (a peak) plus what every operator keeps for the whole run
# (XNNPACK's packed weights, per-operator state), and the kept part dominates: PerfSAGE on cpu-litert's
# random split, 1,750 s on 2 cores, got 2.00% heap MAPE read as a sum against 8.28% read as a peak.
SUMMED_READOUT = ("peak_heap_kib",)


def reads_as_sum(metric: str) -> bool:
    """Whether a network should predict the metric (or part of one) as a sum over operators (else a peak
    over them)."""
    return is_additive(metric) or metric in SUMMED_READOUT or any(p.summed for p in PARTS if p.name == metric)


# Parts that a graph feature computes outright, so a network predicts only a correction to it (in log
# space): the part, the graph feature (a log1p of bytes, perfsage.graph.encode) and its scale to the
# part's unit. The greedy-by-size offset plan of the activations and kernel scratch is TFLite Micro's
# arena head: on the 20,000 task-space models of data/edgedlperf they differ by at most 5e-7 relatively.
PART_ANCHORS = {"arena_head_kib": ("log_planned_activation_bytes", 1 / 1024)}


# Additive metrics that targets label per operator (Vela's per-layer report), so PerfSAGE supervises
# every node on them. (Vela also labels, where a dataset's rows have the columns, each operator's flash
# on Ethos-U55 (`layer_flash_kib`; the split grouping keeps flash on its own network all the same) and
# each operator's SRAM in use, a peak metric (`layer_sram_kib`).)
LAYER_LABELLED = ("latency_ms", "npu_cycles", "energy_mj")


@dataclass
class GraphSet:
    ids: list[str]
    spaces: list[str]
    graphs: list[EncodedGraph]
    y: dict[str, np.ndarray]  # metric -> values (nan where missing)
    layer_share: list[np.ndarray | None] = field(default_factory=list)  # per node, of the latency label
    layer_values: dict[str, list[np.ndarray | None]] = field(default_factory=dict)  # metric -> per node
    macs: np.ndarray | None = None
    params: np.ndarray | None = None
    parts: dict[str, np.ndarray] = field(default_factory=dict)  # part name (metrics.PARTS) -> values (nan: unknown)

    def subset(self, ids: list[str]) -> GraphSet:
        pos = {i: k for k, i in enumerate(self.ids)}
        idx = [pos[i] for i in ids if i in pos]
        return GraphSet([self.ids[k] for k in idx], [self.spaces[k] for k in idx], [self.graphs[k] for k in idx],
                        {m: v[idx] for m, v in self.y.items()},
                        [self.layer_share[k] for k in idx] if self.layer_share else [],
                        {m: [v[k] for k in idx] for m, v in self.layer_values.items()},
                        self.macs[idx] if self.macs is not None else None,
                        self.params[idx] if self.params is not None else None,
                        {p: v[idx] for p, v in self.parts.items()})

    def __len__(self) -> int:
        return len(self.ids)

    def label(self, name: str) -> np.ndarray:
        """A metric's values, or a part's (metrics.PARTS)."""
        return self.y[name] if name in self.y else self.parts[name]


def data_hash(gs: GraphSet) -> str:
    """Names the models and labels a predictor was trained on (model cards, resumable training)."""
    h = hashlib.sha256()
    for i in sorted(range(len(gs)), key=lambda k: gs.ids[k]):
        h.update(gs.ids[i].encode())
        for m in sorted(gs.y):
            h.update(np.float64(gs.y[m][i]).tobytes())
    return h.hexdigest()[:16]


def fit_key(train: GraphSet, val: GraphSet | None) -> str:
    """Names the data of one fit, so a resumed training never picks up another fit's state."""
    return f"{data_hash(train)}|{data_hash(val) if val is not None else ''}"


def load_graphset(root: str | Path, target: str, metrics: list[str] | None = None,
                  spaces: list[str] | tuple[str, ...] | None = None) -> GraphSet:
    """spaces: only models of these spaces (default: every space the dataset holds)."""
    table = load(root, [target], with_layers=True)
    if spaces is not None:
        import pyarrow.compute as pc

        table = table.filter(pc.is_in(table.column("space"), value_set=pa.array(list(spaces))))
    prefix = f"{target}/"
    available = [c[len(prefix):] for c in table.column_names
                 if c.startswith(prefix) and not c[len(prefix):].startswith("layer_")]
    if not available:
        raise PerfsageError(f"{root}: no labels for target {target!r}")
    metrics = metrics or [m for m in available if m != "cpu_ops"]
    missing = [m for m in metrics if m not in available]
    if missing:
        raise PerfsageError(f"target {target} has no metric(s) {', '.join(missing)} (has {', '.join(available)})")
    first = table.column(prefix + metrics[0]).to_pylist()
    keep = [k for k, v in enumerate(first) if v is not None]
    table = table.take(keep)
    ids = table.column("id").to_pylist()
    g = graphs(root, ids)
    y = {m: np.array([np.nan if v is None else v for v in table.column(prefix + m).to_pylist()], float)
         for m in metrics}
    layer_values: dict[str, list[np.ndarray | None]] = {}
    if prefix + "layer_index" in table.column_names:
        index_col = table.column(prefix + "layer_index").to_pylist()
        for m in metrics:
            if prefix + f"layer_{m}" not in table.column_names:
                continue
            additive = is_additive(m)  # parts of the total (an operator without a row: 0, NaN: unknown);
            vals = []                  # else memory in use while it runs (an operator without a row: unknown)
            for gid, idx, v in zip(ids, index_col, table.column(prefix + f"layer_{m}").to_pylist(), strict=True):
                if idx is None or v is None:
                    vals.append(None)
                    continue
                per_node = np.zeros(g[gid].x.shape[0], np.float64) if additive else \
                    np.full(g[gid].x.shape[0], np.nan)
                for i, val in zip(idx, v, strict=True):
                    if 0 <= i < len(per_node):
                        per_node[i] = per_node[i] + val if additive else np.fmax(per_node[i], val)
                vals.append(per_node)
            layer_values[m] = vals
    shares: list[np.ndarray | None] = []
    for v in layer_values.get("latency_ms", []):
        shares.append(None if v is None or v.sum() <= 0 else (v / v.sum()).astype(np.float32))
    return GraphSet(ids, table.column("space").to_pylist(), [g[i] for i in ids], y, shares, layer_values,
                    np.array(table.column("macs").to_pylist(), float),
                    np.array(table.column("params").to_pylist(), float), part_labels(root, target, metrics, ids))


def part_labels(root: str | Path, target: str, metrics: list[str], ids: list[str]) -> dict[str, np.ndarray]:
    """The parts of the metrics (metrics.PARTS) that the labels' provenance reports, per model (nan: not)."""
    parts = [p for m in metrics for p in parts_of(m)]
    if not parts:
        return {}
    fields = provenance_fields(root, target, [p.provenance_key for p in parts])
    out = {}
    for p in parts:
        v = np.array([p.read(fields.get(i, {})) for i in ids], dtype=float)  # None -> nan
        if np.isfinite(v).any():
            out[p.name] = v
    return out
