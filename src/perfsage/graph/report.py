"""The `inspect` report: one dict (the documented JSON schema) built from the IR and its features."""

from __future__ import annotations

from perfsage.graph.features import featurise
from perfsage.graph.ir import Graph

SCHEMA_VERSION = 1


def _tensor_info(graph: Graph, index: int) -> dict:
    t = graph.tensors[index]
    info = {"index": index, "name": t.name, "shape": list(t.shape), "dtype": t.dtype}
    if t.quant is not None and not t.quant.per_channel:
        info["scale"] = t.quant.scale
        info["zero_point"] = t.quant.zero_point
    return info


def inspect_report(graph: Graph) -> dict:
    nodes, g = featurise(graph)
    return {
        "schema_version": SCHEMA_VERSION,
        "model": graph.source,
        "ops": g.ops,
        "tensors": g.tensors,
        "macs": g.macs,
        "elementwise_ops": g.elementwise_ops,
        "params": g.params,
        "weight_bytes": g.weight_bytes,
        "bias_bytes": g.bias_bytes,
        "peak_activation_bytes": g.peak_activation_bytes,
        "planned_activation_bytes": g.planned_activation_bytes,
        "depth": g.depth,
        "op_types": dict(sorted(g.op_types.items(), key=lambda kv: (-kv[1], kv[0]))),
        "inputs": [_tensor_info(graph, t) for t in graph.inputs],
        "outputs": [_tensor_info(graph, t) for t in graph.outputs],
        "subgraphs": [{"index": 0, "name": graph.name, "operators": g.ops, "tensors": g.tensors,
                       "analysed": True}]
        + [{"index": s.index, "name": s.name, "operators": s.operators, "tensors": s.tensors,
            "analysed": False} for s in graph.other_subgraphs],
        "layers": [{
            "index": n.index, "op": n.op, "kind": n.kind, "output_shape": list(n.output_shape),
            "input_shape": list(n.input_shape), "dtype": n.output_dtype,
            "fused_activation": n.fused_activation,
            "kernel": [n.kernel_h, n.kernel_w], "stride": [n.stride_h, n.stride_w],
            "macs": n.macs, "elementwise_ops": n.elementwise_ops, "params": n.params,
            "weight_bytes": n.weight_bytes, "bias_bytes": n.bias_bytes,
            "input_bytes": n.input_bytes, "output_bytes": n.output_bytes,
            "arithmetic_intensity": round(n.arithmetic_intensity, 4), "scratch_bytes": n.scratch_bytes,
            "weights": n.weights.to_dict() if n.weights is not None else None,
        } for n in nodes],
        "weight_entropy_bytes": round(g.weight_entropy_bytes),
        "weight_codec_bytes": round(g.weight_codec_bytes),
    }
