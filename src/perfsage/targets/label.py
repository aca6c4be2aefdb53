"""Ground truth for one model on one target, as the `label` command prints it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from perfsage.graph import load_graph
from perfsage.targets import get_target
from perfsage.targets.base import Target
from perfsage.targets.metrics import METRICS


def label_model(model: str | Path, target: str | Target, per_layer: bool = False) -> dict[str, Any]:
    """{"model", "target", "metrics", "units", "how", "layers", "provenance"}; layers carry the TFLite op."""
    graph = load_graph(model)  # validates the file first: one clear error for bad input
    t = get_target(target) if isinstance(target, str) else target
    try:
        labels = t.measure(Path(model), per_layer=per_layer)
    finally:
        if isinstance(target, str):
            t.close()
    layers = []
    if per_layer:
        for row in labels.layers:
            idx = row["index"]
            op = graph.nodes[idx].op if 0 <= idx < len(graph.nodes) else "(vela-inserted)"
            layers.append({"index": idx, "op": op, **{k: v for k, v in row.items() if k != "index"}})
    return {"model": str(model), "target": labels.target, "metrics": labels.metrics,
            "units": {m: METRICS[m].unit for m in labels.metrics},
            "how": {m.name: m.how for m in t.metrics if m.name in labels.metrics},
            "layers": layers, "provenance": labels.provenance}
