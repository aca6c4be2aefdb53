"""Real-device training data: the table architectures as TFLite graphs (through the space's builder and
the normal frontend) with one `latency_ms@<device>` metric per device column."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from perfsage.dataset import graphs
from perfsage.dataset.table_graphs import build_table_graphs, table_id
from perfsage.model.data import DEVICE_LATENCY, GraphSet
from perfsage.realdev.tables import LatencyTable, load_table, shared_data


def device_metric(device: str) -> str:
    return DEVICE_LATENCY + device


def default_graph_root(space: str) -> Path:
    return Path(os.environ.get("PERFSAGE_REALDEV", "data/realdev")) / space


def table_graphset(space: str, devices: list[str], root: Path | None = None,
                   table: LatencyTable | None = None, workers: int | None = None) -> GraphSet:
    """Every architecture of the space's table, in index order; graphs built (resumably) on first use."""
    table = table or load_table(space)
    root = root or default_graph_root(space)
    ids = [table_id(space, int(i)) for i in table.index]
    # resumable: builds only what is missing (nothing, after the first use)
    build_table_graphs(space, table.path or shared_data() / space / "latency.csv", root,
                       workers or os.cpu_count() or 1)
    g = graphs(root, ids)
    y = {device_metric(d): table.column(d).astype(float) for d in devices}
    return GraphSet(ids, [space] * len(ids), [g[i] for i in ids], y)


def take(gs: GraphSet, idx: np.ndarray) -> GraphSet:
    return gs.subset([gs.ids[int(i)] for i in idx])
