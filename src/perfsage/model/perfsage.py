"""PerfSAGE: a GraphSAGE-style GNN over the operator graph (Chai, Tripathy, Zhou et al., arXiv 2301.10999).

Nodes are operators: an op-type embedding, an op-kind embedding and normalised numeric features
(perfsage.graph.encode). Each layer aggregates messages from producers and from consumers separately
(the graph is directed: what feeds an operator differs from what it feeds), each message gated by the
connecting tensor's features, then a residual update with layer norm. Readout:
- additive metrics (latency, cycles, energy, flash) are sums over operators: each node predicts a log
  value z_i, the graph's log prediction is logsumexp(z) (so the total is exactly the sum of
  per-operator predictions), supervised per operator by the target's per-layer labels where it has
  them (Vela);
- LiteRT's heap growth, a peak by name, is read out as a sum too (data.SUMMED_READOUT says why);
  checkpoints record which metrics they sum;
- peak metrics (SRAM, arena) are a maximum over the execution: each node predicts the log memory
  in use while it runs (it sees the liveness-based live bytes at its step), the graph takes a smooth
  maximum, plus a graph-level correction from pooled embeddings and graph features (planners share
  and pad buffers in ways no single step shows). The smooth maximum is the softmax(T z)-weighted mean
  of z ("boltzmann": never above the largest node, whatever the node count); checkpoints from before
  it used logsumexp(T z) / T, which reads log(k) / T high when k nodes hold the same memory (+27% on a
  DS-CNN whose eight blocks all hold 18 KiB), and keep it. Where the target labels each operator's
  memory in use (Vela's SRAM allocation), every node is supervised on it, and the maximum is sharp
  (T = 64): fed the true per-operator SRAM of the ethos-u55-128 task spaces, T = 8 reads 2.4-5.7%
  low on average (near-peak operators pull it down), T = 64 0.2-0.4%. Without per-operator labels
  T = 8 spreads the gradient over the operators near the peak (checkpoints without a recorded T: 8).
- a metric whose target reports its parts (metrics.PARTS: TFLite Micro's arena is a planned head, a
  peak, plus a persistent tail, a sum over operators) is predicted as the sum of its parts, each read
  out its own way, and trained on the parts and the whole; checkpoints record the composition.
Training minimises |log y_hat - log y| (which tracks relative error, the paper's MAPE) on totals and,
where available, on every operator's own label.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from perfsage.graph.encode import (
    EDGE_FEATURES,
    GRAPH_FEATURES,
    NODE_FEATURES,
    OP_VOCAB,
    feature_columns,
    feature_names,
    graph_feature_values,
)
from perfsage.graph.ops import KINDS
from perfsage.model.loop import train_loop, val_mape
from perfsage.targets.metrics import composition, outputs_of, part_names, parts_of, with_sums


def scatter_mean(src: torch.Tensor, index: torch.Tensor, n: int) -> torch.Tensor:
    out = torch.zeros(n, src.shape[1], dtype=src.dtype, device=src.device).index_add_(0, index, src)
    ones = torch.ones_like(index, dtype=src.dtype)
    cnt = torch.zeros(n, dtype=src.dtype, device=src.device).index_add_(0, index, ones)
    return out / cnt.clamp(min=1).unsqueeze(1)


def scatter_max(src: torch.Tensor, index: torch.Tensor, n: int) -> torch.Tensor:
    out = torch.full((n, src.shape[1]), -1e30, dtype=src.dtype, device=src.device)
    out = out.scatter_reduce(0, index.unsqueeze(1).expand_as(src), src, reduce="amax", include_self=True)
    return torch.where(out < -1e29, torch.zeros_like(out), out)


def segment_max(z: torch.Tensor, index: torch.Tensor, n: int) -> torch.Tensor:
    return torch.full((n,), -1e30, dtype=z.dtype, device=z.device).scatter_reduce(0, index, z, "amax")


def segment_logsumexp(z: torch.Tensor, index: torch.Tensor, n: int) -> torch.Tensor:
    m = segment_max(z, index, n)
    s = torch.zeros(n, dtype=z.dtype, device=z.device).index_add_(0, index, torch.exp(z - m[index]))
    return m + torch.log(s.clamp(min=1e-30))


PEAK_T = 8.0  # the smooth maximum's sharpness where only totals supervise it
SHARP_PEAK_T = 64.0  # where every operator's own memory in use is labelled
PEAK_READOUTS = ("boltzmann", "logsumexp")
# which operator heads see the graph context: all, none, or the additive ones only
NODE_CONTEXTS = (True, False, "additive")
PRIORS = (False, True, "additive")  # the analytic prior (PRIOR_TERMS): none, every operator head's, the summed ones'


def one_of(name: str, value, allowed: tuple):
    """value if it is one of allowed, of the same type too (1 is not True), else a ValueError naming it."""
    if not any(value == a and type(value) is type(a) for a in allowed):
        raise ValueError(f"{name} must be one of {allowed}, not {value!r}")
    return value


def segment_boltzmann(z: torch.Tensor, index: torch.Tensor, n: int, t: float) -> torch.Tensor:
    """Per segment, the softmax(t z)-weighted mean of z: between the mean and the max."""
    m = segment_max(z, index, n)
    e = torch.exp(t * (z - m[index]))
    s = torch.zeros(n, dtype=z.dtype, device=z.device).index_add_(0, index, e)
    return torch.zeros(n, dtype=z.dtype, device=z.device).index_add_(0, index, e * z) / s.clamp(min=1e-30)


class SageLayer(nn.Module):
    def __init__(self, h: int, e: int) -> None:
        super().__init__()
        self.self_lin = nn.Linear(h, h)
        self.in_lin = nn.Linear(h, h)
        self.out_lin = nn.Linear(h, h)
        self.gate_in = nn.Linear(e, h)
        self.gate_out = nn.Linear(e, h)
        self.norm = nn.LayerNorm(h)

    def forward(self, h, edge_index, edge_attr):
        src, dst = edge_index
        n = h.shape[0]
        # the three node projections as one matrix product (one pass over h instead of three)
        w = torch.cat([self.self_lin.weight, self.in_lin.weight, self.out_lin.weight])
        bias = torch.cat([self.self_lin.bias, self.in_lin.bias, self.out_lin.bias])
        h_self, h_in, h_out = nn.functional.linear(h, w, bias).split(h.shape[1], dim=1)
        gates = torch.sigmoid(nn.functional.linear(edge_attr, torch.cat([self.gate_in.weight, self.gate_out.weight]),
                                                   torch.cat([self.gate_in.bias, self.gate_out.bias])))
        g_in, g_out = gates.split(h.shape[1], dim=1)
        m_in = scatter_mean(h_in[src] * g_in, dst, n)
        m_out = scatter_mean(h_out[dst] * g_out, src, n)
        return self.norm(h + torch.relu(h_self + m_in + m_out))


class PerfSAGENet(nn.Module):
    def __init__(self, additive: list[str], peak: list[str], hidden: int = 128, layers: int = 4,
                 op_dim: int = 32, kind_dim: int = 8, n_node: int = len(NODE_FEATURES),
                 n_graph: int = len(GRAPH_FEATURES), peak_readout: str = "boltzmann",
                 peak_t: float = PEAK_T, node_context: bool | str = True, prior: bool | str = False) -> None:
        super().__init__()
        one_of("prior", prior, PRIORS)
        self.node_context = one_of("node_context", node_context, NODE_CONTEXTS)
        one_of("peak_readout", peak_readout, PEAK_READOUTS)
        self.additive, self.peak = list(additive), list(peak)
        self.peak_readout, self.peak_t = peak_readout, peak_t
        self.op_emb = nn.Embedding(len(OP_VOCAB), op_dim)
        self.kind_emb = nn.Embedding(len(KINDS), kind_dim)
        self.inp = nn.Sequential(nn.Linear(op_dim + kind_dim + n_node, hidden), nn.ReLU(),
                                 nn.Linear(hidden, hidden))
        self.edge = nn.Sequential(nn.Linear(len(EDGE_FEATURES), 16), nn.ReLU())
        self.layers = nn.ModuleList([SageLayer(hidden, 16) for _ in range(layers)])
        self.g_mlp = nn.Sequential(nn.Linear(n_graph, hidden), nn.ReLU())
        # additive heads see the node and its graph's context (global features)
        self.node_head = nn.Sequential(nn.Linear(2 * hidden + n_node, hidden), nn.ReLU(),
                                       nn.Linear(hidden, len(self.additive))) if self.additive else None
        self.peak_node_head = nn.Sequential(nn.Linear(2 * hidden + n_node, hidden), nn.ReLU(),
                                            nn.Linear(hidden, len(self.peak))) if self.peak else None
        self.graph_head = nn.Sequential(nn.Linear(4 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                                        nn.ReLU(), nn.Linear(hidden, len(self.peak))) if self.peak else None
        # the analytic prior (see analytic_prior_terms): per operator type, one log coefficient per output
        # and term; the operator heads then predict a log correction to it
        self.prior_add = nn.Embedding(len(OP_VOCAB), len(self.additive) * (1 + len(PRIOR_TERMS["additive"]))) \
            if prior and self.additive else None
        self.prior_peak = nn.Embedding(len(OP_VOCAB), len(self.peak) * (1 + len(PRIOR_TERMS["peak"]))) \
            if prior is True and self.peak else None

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        x = torch.cat([self.op_emb(batch["op"]), self.kind_emb(batch["kind"]), batch["x"]], dim=1)
        h = self.inp(x)
        e = self.edge(batch["edge_attr"])
        for layer in self.layers:
            h = layer(h, batch["edge_index"], e)
        b, n_graphs = batch["batch"], batch["n_graphs"]
        g = self.g_mlp(batch["g"])
        out: dict[str, torch.Tensor] = {}
        # what the network makes of the whole graph, before any head: its mean operator state and its read
        # of the graph features (perfsage.model.distance measures how far a model lies from the training
        # models in this space)
        out["embedding"] = torch.cat([scatter_mean(h, b, n_graphs), g], dim=1)
        no_context = torch.zeros_like(g)  # the graph context the additive and the peak operator heads read:
        g_sums = g if self.node_context else no_context
        g_peaks = g if self.node_context is True else no_context
        if self.node_head is not None:
            z = node_head(self.node_head, h, g_sums, batch["x"], b)  # [N, additive]
            if self.prior_add is not None:
                z = z + prior_log(self.prior_add, batch["op"], batch["prior_additive"], len(self.additive))
            out["node_log"] = z
            out["graph_log_additive"] = torch.stack(
                [segment_logsumexp(z[:, k], b, n_graphs) for k in range(z.shape[1])], dim=1)
        if self.graph_head is not None:
            zp = node_head(self.peak_node_head, h, g_peaks, batch["x"], b)  # [N, peak]
            if self.prior_peak is not None:
                zp = zp + prior_log(self.prior_peak, batch["op"], batch["prior_peak"], len(self.peak))
            def smooth(z: torch.Tensor) -> torch.Tensor:
                if self.peak_readout == "boltzmann":
                    return segment_boltzmann(z, b, n_graphs, self.peak_t)
                return segment_logsumexp(self.peak_t * z, b, n_graphs) / self.peak_t

            out["peak_node_log"] = zp
            smooth_max = torch.stack([smooth(zp[:, k]) for k in range(zp.shape[1])], dim=1)
            if "peak_anchor" in batch:  # outputs a graph feature computes: that, corrected (nan: none)
                smooth_max = torch.where(torch.isnan(batch["peak_anchor"]), smooth_max, batch["peak_anchor"])
            pooled = torch.cat([torch.zeros(n_graphs, h.shape[1], device=h.device).index_add_(0, b, h),
                                scatter_mean(h, b, n_graphs), scatter_max(h, b, n_graphs), g], dim=1)
            out["graph_log_peak"] = smooth_max + 0.1 * self.graph_head(pooled)
        return out


# The analytic prior: what an operator costs as a sum of terms linear in its work (MACs, elementwise
# operations, bytes moved, weight bytes as stored and as Ethos-U's codec would store them) for the summed
# metrics, and in the memory around it (bytes live at its step, its own tensors, its scratch, its
# weights) for the peaks, each with one coefficient per operator type and output that training learns (a
# roofline-like model whose slopes are MACs per cycle and bytes per cycle). The operator heads predict a
# log correction to it. A network without it must extrapolate a cost from normalised features it never
# saw so large; a sum that is linear in the raw work carries the scale, and the network only corrects
# its shape.
PRIOR_TERMS: dict[str, tuple[tuple[str, ...], ...]] = {
    "additive": (("log_macs",), ("log_elementwise_ops",), ("log_input_bytes", "log_output_bytes"),
                 ("log_weight_bytes", "log_bias_bytes"), ("log_w_codec_bytes",)),
    # the weights too: Vela buffers an operator's weight stream in SRAM, which only shows where the
    # activations are small (kws: SRAM is 1.3x the activation peak on ethos-u55-128, 2.5x on
    # ethos-u65-256, against 1.0x in the other task spaces)
    "peak": (("log_live_bytes",), ("log_input_bytes", "log_output_bytes"), ("log_scratch_bytes",),
             ("log_w_codec_bytes", "log_bias_bytes"))}


def raw_node_features(graphs, idx: list[int]) -> np.ndarray:
    """The encoded node features of the graphs idx in batch order, all columns, as float64: what the
    prior's terms are read from (once per batch, for both kinds of head)."""
    return np.concatenate([graphs[i].x for i in idx]).astype(np.float64)


def analytic_prior_terms(x: np.ndarray, terms: tuple[tuple[str, ...], ...]) -> np.ndarray:
    """[nodes, 1 + terms]: 0 (the constant term), then the log of each term's raw value (the sum of its
    log1p-encoded features in x, raw_node_features, expm1'd; -inf where it is zero)."""
    cols = [np.zeros(len(x))]
    for names in terms:
        raw = sum(np.expm1(x[:, NODE_FEATURES.index(n)]) for n in names)
        with np.errstate(divide="ignore"):
            cols.append(np.where(raw > 0, np.log(np.maximum(raw, 1e-300)), -np.inf))
    return np.stack(cols, 1)


def prior_log(coef: nn.Embedding, op: torch.Tensor, terms: torch.Tensor, outputs: int) -> torch.Tensor:
    """[N, outputs]: log of sum_j exp(coef[op, output, j]) * term_j, the terms given as logs less their
    training centre (one coefficient per term, the constant's included). An operator of unknown type
    keeps the constant alone: how its cost grows with its work is what a type says, and the unknown
    type's slopes, learnt from whichever known operators training hid, scaled an unseen type's large
    tensors into a peak SRAM 8x too high (segmentation left out: resizes and transposed convolutions)."""
    c = coef(op).view(op.shape[0], outputs, -1)  # [N, outputs, 1 + terms]
    unknown = (op == _UNKNOWN_OP).unsqueeze(1)
    terms = torch.where(unknown, torch.cat([terms[:, :1], torch.full_like(terms[:, 1:], -torch.inf)], 1), terms)
    return torch.logsumexp(c + terms.unsqueeze(1), dim=2)


def node_head(head: nn.Sequential, h: torch.Tensor, g: torch.Tensor, x: torch.Tensor,
              b: torch.Tensor) -> torch.Tensor:
    """head(cat([h, g[b], x])) with the graph context projected once per graph, not once per node."""
    first, rest = head[0], head[1:]
    wh, wg, wx = first.weight.split([h.shape[1], g.shape[1], x.shape[1]], dim=1)
    per_graph = nn.functional.linear(g, wg, first.bias)[b]
    return rest(torch.addmm(torch.addmm(per_graph, h, wh.T), x, wx.T))


# Operators of a type the training data never held would reach the network with an embedding no gradient
# ever moved (its random initialisation), and so would their kind. Instead they are shown as the
# vocabulary's `<unknown>` type and the `other` kind, and training shows that many operators of known
# types that way, so the network learns what an operator of unknown type costs from its shapes, bytes and
# MACs. Checkpoints record the ids they saw (older ones: none, and nothing is mapped).
UNKNOWN_OP_RATE = 0.05
_UNKNOWN_OP, _OTHER_KIND = OP_VOCAB.index("<unknown>"), KINDS.index("other")


# A normalised feature far outside its training range (a 49 x 10 pooling kernel where training saw at most
# 7 x 7 reads 30 standard deviations out) drives the network's first layer linearly far out too, and one
# such operator can swamp a whole graph's prediction. Beyond FEATURE_CLIP standard deviations a feature
# grows only logarithmically: still ordered, still distinct, no longer dominant. Inside it nothing changes.
FEATURE_CLIP = 3.0


def soft_clip(z: torch.Tensor, c: float) -> torch.Tensor:
    """z where |z| <= c, else sign(z) (c + log(1 + |z| - c))."""
    over = (z.abs() - c).clamp(min=0)
    return torch.where(over > 0, torch.sign(z) * (c + torch.log1p(over)), z)


def seen_ids(graphs) -> dict[str, list[int]]:
    """The op-type and op-kind ids that occur in graphs."""
    return {"ops": sorted({int(o) for e in graphs for o in np.unique(e.op)}),
            "kinds": sorted({int(k) for e in graphs for k in np.unique(e.kind)})}


def as_seen(op: torch.Tensor, kind: torch.Tensor, seen: dict[str, list[int]], hide: float = 0.0
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Op and kind ids with those outside `seen` (and a `hide` share of the rest, at random) replaced by
    the unknown type and the `other` kind."""
    known_op = torch.zeros(len(OP_VOCAB), dtype=torch.bool)
    known_op[seen["ops"]] = True
    known_kind = torch.zeros(len(KINDS), dtype=torch.bool)
    known_kind[seen["kinds"]] = True
    keep_op, keep_kind = known_op[op], known_kind[kind]
    if hide > 0:
        keep_op &= torch.rand(op.shape) >= hide
        keep_kind &= torch.rand(kind.shape) >= hide
    return torch.where(keep_op, op, _UNKNOWN_OP), torch.where(keep_kind, kind, _OTHER_KIND)


def collate(graphs, norm: dict[str, np.ndarray], idx: list[int],
            cols: tuple[np.ndarray | None, np.ndarray | None] = (None, None)) -> dict[str, torch.Tensor]:
    """Stack graphs idx into one disjoint batch graph, normalising numeric features; cols: the node and
    graph feature columns the model reads (encode.feature_columns; None: all)."""
    xs, ops, kinds, eis, eas, gs, bs, offs = [], [], [], [], [], [], [], 0
    for k, i in enumerate(idx):
        e = graphs[i]
        n = e.x.shape[0]
        xs.append(e.x if cols[0] is None else e.x[:, cols[0]])
        ops.append(e.op)
        kinds.append(e.kind)
        eis.append(e.edge_index + offs)
        eas.append(e.edge_attr)
        gs.append(e.g if cols[1] is None else e.g[cols[1]])
        bs.append(np.full(n, k, np.int64))
        offs += n
    x = (np.concatenate(xs) - norm["x_mean"]) / norm["x_std"]
    ea = (np.concatenate(eas) - norm["e_mean"]) / norm["e_std"] if sum(len(a) for a in eas) else \
        np.zeros((0, len(EDGE_FEATURES)), np.float32)
    g = (np.stack(gs) - norm["g_mean"]) / norm["g_std"]
    return {"x": torch.from_numpy(x.astype(np.float32)), "op": torch.from_numpy(np.concatenate(ops).astype(np.int64)),
            "kind": torch.from_numpy(np.concatenate(kinds).astype(np.int64)),
            "edge_index": torch.from_numpy(np.concatenate(eis, axis=1).astype(np.int64)),
            "edge_attr": torch.from_numpy(ea.astype(np.float32)), "g": torch.from_numpy(g.astype(np.float32)),
            "batch": torch.from_numpy(np.concatenate(bs)), "n_graphs": len(idx)}


def to_device(batch: dict, device: str) -> dict:
    return {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def log_labels(gs, names: list[str], idx) -> torch.Tensor:
    """Log of each named metric's or part's labels [len(idx), names] (nan: unlabelled or not positive)."""
    cols = [np.log(np.where(v > 0, v, np.nan)) for v in (gs.label(n)[idx] for n in names)]
    return torch.tensor(np.stack(cols, 1), dtype=torch.float32)


def composed_log(pred: torch.Tensor, outputs: list[str], composed: dict[str, list[str]]) -> torch.Tensor:
    """Log of each composed metric (the sum of its parts) from the outputs' log predictions [B, outputs]."""
    return torch.stack([torch.logsumexp(pred[:, [outputs.index(p) for p in parts]], dim=1)
                        for parts in composed.values()], dim=1)


def normalisation(graphs, cols: tuple[np.ndarray | None, np.ndarray | None] = (None, None)) -> dict[str, np.ndarray]:
    x = np.concatenate([e.x if cols[0] is None else e.x[:, cols[0]] for e in graphs])
    ea = np.concatenate([e.edge_attr for e in graphs if len(e.edge_attr)] or [np.zeros((1, len(EDGE_FEATURES)))])
    g = np.stack([e.g if cols[1] is None else e.g[cols[1]] for e in graphs])

    def ms(a):
        s = a.std(0)
        return a.mean(0).astype(np.float32), np.where(s > 1e-6, s, 1.0).astype(np.float32)

    (xm, xs), (em, es), (gm, gsd) = ms(x), ms(ea), ms(g)
    return {"x_mean": xm, "x_std": xs, "e_mean": em, "e_std": es, "g_mean": gm, "g_std": gsd}


class PerfSAGENetModel:
    """One PerfSAGE network over some metrics of a target: fit / predict / predict_layers / save / load."""

    def __init__(self, metrics: list[str], hidden: int = 64, layers: int = 3, epochs: int = 120,
                 batch_size: int = 64, lr: float = 2e-3, weight_decay: float = 1e-4, layer_weight: float = 0.5,
                 patience: int = 25, seed: int = 0, max_seconds: float = 0.0, peak_readout: str = "boltzmann",
                 peak_t: float | None = None, summed: list[str] | None = None, parts: bool | dict | None = None,
                 anchors: dict | None = None, unknown_op_rate: float = UNKNOWN_OP_RATE,
                 feature_clip: float | None = FEATURE_CLIP, node_context: bool | str = True,
                 prior: bool | str = False, device: str | None = None, log=None,
                 resume: Path | None = None) -> None:
        """summed: the metrics read out as a sum over operators, the rest as a peak over them (default:
        data.reads_as_sum, or a warm start's own). parts: whether to predict a metric as the sum of the
        parts its target reports (metrics.PARTS, each read out its own way), where the training data
        labels them (None: yes; or a checkpoint's {metric: [parts]}). anchors: {part: [graph feature,
        scale]} for peak parts a feature computes (default: data.PART_ANCHORS); the network predicts a
        correction to them. Checkpoints record all three, so a predictor keeps the readouts it was
        trained with. unknown_op_rate: the share of operators whose type (and, independently, kind) a
        training batch hides (see UNKNOWN_OP_RATE). feature_clip: where normalised features start to
        grow logarithmically (see FEATURE_CLIP; None: never). node_context: which operator heads see the
        graph context (NODE_CONTEXTS: True all, "additive" the summed metrics' only, False none; the peak's
        graph-level correction always does). An ablation switch: with kws left out on ethos-u55-128, SRAM
        MAPE was 41.5% with True, 18.6% with False and 16.9% with "additive", but on ethos-u65-256 48.4
        and 46.3% against 34.9 and 44.5% with True (seeds 0 and 1); see the README. A warm start keeps
        init's feature_clip and node_context. prior: the operator heads correct an analytic prior (see
        PRIOR_TERMS) instead of predicting each operator's cost from nothing (PRIORS: True every head,
        "additive" the summed outputs' only); an ablation switch."""
        from perfsage.model.data import reads_as_sum

        # here already, not only when fit builds the network: a bad setting must not wait for training
        one_of("node_context", node_context, NODE_CONTEXTS)
        one_of("peak_readout", peak_readout, PEAK_READOUTS)
        one_of("prior", prior, PRIORS)
        self.metrics = list(metrics)
        self.summed_given = summed is not None
        named = set(self.metrics) | {p.name for m in self.metrics for p in parts_of(m)}
        if summed is not None and not set(summed) <= named:
            raise ValueError(f"summed metrics {sorted(set(summed) - named)} are not among {self.metrics}")
        self.summed = [m for m in named if reads_as_sum(m)] if summed is None else list(summed)
        self.parts_wanted = parts is not False
        self.anchors_given = anchors
        self.hp = {"hidden": hidden, "layers": layers, "epochs": epochs, "batch_size": batch_size, "lr": lr,
                   "weight_decay": weight_decay, "layer_weight": layer_weight, "patience": patience, "seed": seed,
                   "max_seconds": max_seconds, "peak_readout": peak_readout,
                   "peak_t": peak_t,  # None: sharp where the training data labels operators' memory
                   "unknown_op_rate": unknown_op_rate, "feature_clip": feature_clip, "node_context": node_context,
                   "prior": prior}
        self.seen: dict[str, list[int]] | None = None  # op and kind ids in the training data (None: all)
        self._set_outputs(parts if isinstance(parts, dict) else {})
        self.device = device or default_device()
        self.log = log or (lambda msg: None)
        self.resume = resume  # per-epoch state file: a killed fit goes on from there
        self.net: PerfSAGENet | None = None
        self.norm: dict[str, np.ndarray] = {}
        self.y_offset: dict[str, float] = {}
        self.history: list[dict] = []
        self.features = feature_names(NODE_FEATURES, GRAPH_FEATURES)  # what it reads, by name
        self.cols = feature_columns(self.features)

    def _set_outputs(self, composed: dict[str, list[str]]) -> None:
        """What the network predicts: each metric, or for a metric in `composed` its parts instead (the
        metric is their sum); `additive` holds the outputs read out as sums, `peak` the rest."""
        from perfsage.model.data import PART_ANCHORS

        self.composed = {m: list(composed[m]) for m in self.metrics if m in composed}
        outputs = outputs_of(self.metrics, self.composed)
        self.additive = [o for o in outputs if o in self.summed]
        self.peak = [o for o in outputs if o not in self.summed]
        parts = part_names(self.composed)
        anchors = PART_ANCHORS if self.anchors_given is None else self.anchors_given
        self.anchors = {o: list(anchors[o]) for o in self.peak if o in anchors and o in parts}
        self.hp["summed"], self.hp["parts"], self.hp["anchors"] = self.additive, self.composed, self.anchors

    # ------------------------------------------------------------------ training
    def _targets(self, gs, idx):
        """Log labels of the outputs (additive, then peak), then of the metrics composed of parts."""
        return log_labels(gs, self.additive + self.peak + list(self.composed), idx)

    def _loss(self, out, y, batch, node_y, peak_y=None):
        """log-L1 on graph totals, plus (where the target has per-layer labels) log-L1 on every operator
        with a positive label and a hinge pushing operators with a zero label below 0.01% of the total;
        for peak metrics, log-L1 on each operator's memory in use while it runs, where labelled."""
        pred = []
        if self.additive:
            pred.append(out["graph_log_additive"])
        if self.peak:
            pred.append(out["graph_log_peak"])
        offsets = torch.tensor([self.y_offset[m] for m in self.additive + self.peak], device=y.device)
        pred = torch.cat(pred, 1) + offsets
        if self.composed:  # each part and the whole are labels alike
            pred = torch.cat([pred, composed_log(pred, self.additive + self.peak, self.composed)], 1)
        mask = torch.isfinite(y)
        loss = torch.abs(pred - torch.nan_to_num(y))[mask].mean()
        terms = []
        if node_y is not None and self.hp["layer_weight"] > 0:
            z = out["node_log"] + offsets[: len(self.additive)]
            have = torch.isfinite(node_y)
            pos = have & (node_y > -1e29)
            zero = have & (node_y <= -1e29)
            if pos.any():
                terms.append(torch.abs(z - torch.nan_to_num(node_y))[pos].mean())
            if zero.any():
                floor = (pred[:, : len(self.additive)] - 9.2)[batch["batch"]]  # log(1e-4) below the total
                terms.append(torch.relu(z - floor)[zero].mean())
        if peak_y is not None and self.hp["layer_weight"] > 0:
            have = torch.isfinite(peak_y) & (peak_y > -1e29)
            if have.any():
                zp = out["peak_node_log"] + offsets[len(self.additive):]
                terms.append(torch.abs(zp - torch.nan_to_num(peak_y))[have].mean())
        if terms:
            loss = loss + self.hp["layer_weight"] * sum(terms)
        return loss, pred

    def fit(self, train, val=None, init: PerfSAGENetModel | None = None) -> PerfSAGENetModel:
        """init: a trained network of the same shape to start from (warm start: its weights, feature
        normalisation and target offsets carry over, so new data refines it rather than retraining)."""
        torch.manual_seed(self.hp["seed"])
        if init is not None and init.metrics == self.metrics:  # init's parts, and readouts unless given
            if not self.summed_given:
                self.summed = list(init.additive)
            if self.anchors_given is None:
                self.anchors_given = init.anchors
            self._set_outputs(init.composed if self.parts_wanted else {})
        elif init is None and self.parts_wanted:  # the parts this training data labels
            self._set_outputs(composition(self.metrics, train.parts))
        # per graph, computed once: a Python loop per batch cost ~40%
        node_y, peak_y = self._node_targets(train, self.additive), self._node_targets(train, self.peak)
        if self.hp["peak_t"] is None:
            self.hp["peak_t"] = init.hp["peak_t"] if init is not None else \
                SHARP_PEAK_T if peak_y is not None else PEAK_T
        if init is None:
            self.seen = seen_ids(train.graphs)
            self.norm = normalisation(train.graphs, self.cols)
            self.y_offset = {}
            for m in self.additive + self.peak:
                v = train.label(m)
                self.y_offset[m] = float(np.nanmedian(np.log(v[v > 0])))
            self.net = self._net().to(self.device)
            if self.hp["prior"]:
                self._centre_prior(train.graphs)
        else:
            self._grow_from(init, train)

        graph_y = self._targets(train, list(range(len(train))))

        def per_node(labels, idx):
            return torch.from_numpy(np.concatenate([labels[i] for i in idx])).to(self.device) if labels else None

        def batch_loss(idx):
            batch = self._batch(train.graphs, idx, hide=self.hp["unknown_op_rate"])
            return self._loss(self.net(batch), graph_y[idx].to(self.device), batch, per_node(node_y, idx),
                              per_node(peak_y, idx))[0]

        score = (lambda: val_mape(self.predict(val.graphs), val, self.metrics)) if val is not None and len(val) \
            else None
        from perfsage.model.data import fit_key

        warm = f"|warm:{sum(float(v.sum()) for v in init.net.state_dict().values()):.6g}" if init else ""
        readouts = f"{self.metrics}|{self.additive}|{self.composed}|{self.anchors}"
        key = f"{readouts}|{fit_key(train, val)}|{self.features}{warm}" if self.resume else ""
        self.history = train_loop(self.net, len(train), self.hp, batch_loss, score, self.log,
                                  self.hp["weight_decay"], self.resume, key)
        return self

    def _centre_prior(self, graphs) -> None:
        """Each prior term's log is read less its median over the training operators (kept in norm), and
        every coefficient starts where the terms at their medians sum to a graph's median total shared
        evenly by its operators (summed outputs) or to the median peak (peak outputs)."""
        rng = np.random.default_rng(0)
        some = sorted(rng.choice(len(graphs), min(len(graphs), 2000), replace=False).tolist())
        nodes = float(np.median([graphs[i].x.shape[0] for i in some]))
        x = raw_node_features(graphs, some)
        for kind, emb, level in (("additive", self.net.prior_add, -np.log(max(nodes, 1.0))),
                                 ("peak", self.net.prior_peak, 0.0)):
            if emb is None:
                continue
            t = analytic_prior_terms(x, PRIOR_TERMS[kind])
            self.norm[f"prior_{kind}_c"] = np.array(
                [0.0] + [float(np.median(c[np.isfinite(c)])) if np.isfinite(c).any() else 0.0 for c in t.T[1:]],
                np.float32)
            with torch.no_grad():
                emb.weight.fill_(level - np.log(t.shape[1]))

    def _grow_from(self, init: PerfSAGENetModel, train) -> None:
        """Take over init's network, normalisation, offsets and the way it reads its inputs (feature clip,
        graph context, the operator types it knows: init's and, once it trains, this data's). Features
        the encoding gained since init was trained (read by name) join with zero weights, so the network
        starts out computing exactly what init did and learns from there how much the new columns matter."""
        same = (init.metrics, init.additive, init.composed, init.anchors, init.hp["hidden"], init.hp["layers"],
                init.hp.get("prior", False)) == \
            (self.metrics, self.additive, self.composed, self.anchors, self.hp["hidden"], self.hp["layers"],
             self.hp["prior"])
        grows = all(set(init.features[k]) <= set(self.features[k]) for k in ("node", "graph"))
        if not (same and grows):
            raise ValueError("a warm start needs a network with the same metrics, parts, readouts and shape, "
                             "reading no feature this encoding lacks")
        self.y_offset = dict(init.y_offset)
        self.norm = dict(init.norm)
        self.hp["feature_clip"], self.hp["node_context"] = init.hp["feature_clip"], init.hp["node_context"]
        # and init's objective: a fine-tune that starts hiding operator types init always saw trains a
        # harder task than the one init solved (ethos-u65-256 was trained with none hidden)
        self.hp["unknown_op_rate"] = init.hp["unknown_op_rate"]
        self.seen = init.seen if init.seen is None or not self.hp["epochs"] else \
            {k: sorted(set(init.seen[k]) | set(v)) for k, v in seen_ids(train.graphs).items()}
        keep = {k: [self.features[k].index(n) for n in init.features[k]] for k in ("node", "graph")}
        if self.features != init.features:  # new columns get this data's statistics, old ones keep init's
            fresh = normalisation(train.graphs, self.cols)
            for kind, prefix in (("node", "x"), ("graph", "g")):
                for stat in ("mean", "std"):
                    merged = fresh[f"{prefix}_{stat}"].copy()
                    merged[keep[kind]] = init.norm[f"{prefix}_{stat}"]
                    self.norm[f"{prefix}_{stat}"] = merged
        self.net = self._net().to(self.device)
        state = self.net.state_dict()
        h, emb = self.hp["hidden"], self.net.op_emb.embedding_dim + self.net.kind_emb.embedding_dim
        # the first layers that read raw features: (weight, kind, where its feature columns start)
        reads = {"inp.0.weight": ("node", emb), "node_head.0.weight": ("node", 2 * h),
                 "peak_node_head.0.weight": ("node", 2 * h), "g_mlp.0.weight": ("graph", 0)}
        for name, old in init.net.state_dict().items():
            if name in reads and old.shape != state[name].shape:
                kind, start = reads[name]
                new = torch.zeros_like(state[name])
                new[:, :start] = old[:, :start].to(new.device)
                new[:, [start + j for j in keep[kind]]] = old[:, start:].to(new.device)
                state[name] = new
            else:
                state[name] = old.to(state[name].device)
        self.net.load_state_dict(state)

    def _node_targets(self, gs, metrics: list[str]) -> list[np.ndarray] | None:
        """Per graph, [nodes, metrics] log per-layer labels: nan where unknown, -1e30 where zero. A metric
        whose per-operator labels mean another thing than its readout's per-operator values (a peak's
        memory in use, read out as a sum) supervises no operator."""
        from perfsage.model.data import is_additive

        labelled = [m for m in metrics if m in gs.layer_values and is_additive(m) == (m in self.additive)]
        if not labelled:
            return None
        out = []
        for i in range(len(gs)):
            n = gs.graphs[i].x.shape[0]
            cols = []
            for m in metrics:
                v = gs.layer_values[m][i] if m in labelled else None
                if v is None:
                    cols.append(np.full(n, np.nan))
                else:
                    with np.errstate(divide="ignore", invalid="ignore"):
                        cols.append(np.where(v > 0, np.log(np.maximum(v, 1e-300)), np.where(v == 0, -1e30, np.nan)))
            out.append(np.stack(cols, 1).astype(np.float32))
        return out

    def _net(self) -> PerfSAGENet:
        return PerfSAGENet(self.additive, self.peak, self.hp["hidden"], self.hp["layers"],
                           peak_readout=self.hp["peak_readout"], peak_t=self.hp["peak_t"] or PEAK_T,
                           n_node=len(self.features["node"]), n_graph=len(self.features["graph"]),
                           node_context=self.hp["node_context"], prior=self.hp["prior"])

    def _batch(self, graphs, idx: list[int], hide: float = 0.0) -> dict[str, torch.Tensor]:
        """hide: the share of operators shown as of unknown type and, independently, of unknown kind."""
        batch = collate(graphs, self.norm, idx, self.cols)
        if self.seen is not None:
            batch["op"], batch["kind"] = as_seen(batch["op"], batch["kind"], self.seen, hide)
        if self.hp["feature_clip"]:
            for key in ("x", "g", "edge_attr"):
                batch[key] = soft_clip(batch[key], self.hp["feature_clip"])
        if self.anchors:  # log of each anchored output's feature value, less its offset (nan: not anchored)
            anchor = np.full((len(idx), len(self.peak)), np.nan)
            for m, (feature, scale) in self.anchors.items():
                value = graph_feature_values([graphs[i] for i in idx], feature) * scale
                anchor[:, self.peak.index(m)] = np.log(np.maximum(value, 1e-9)) - self.y_offset[m]
            batch["peak_anchor"] = torch.from_numpy(anchor.astype(np.float32))
        if self.hp["prior"]:
            x = raw_node_features(graphs, idx)
            for kind, coef in (("additive", self.net.prior_add), ("peak", self.net.prior_peak)):
                if coef is not None:
                    terms = analytic_prior_terms(x, PRIOR_TERMS[kind]) - self.norm[f"prior_{kind}_c"]
                    batch[f"prior_{kind}"] = torch.from_numpy(terms.astype(np.float32))
        return to_device(batch, self.device)

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def _forward_all(self, graphs, batch_size: int = 256):
        self.net.eval()
        outs = []
        for s in range(0, len(graphs), batch_size):
            idx = list(range(s, min(s + batch_size, len(graphs))))
            batch = self._batch(graphs, idx)
            outs.append((idx, batch, {k: v.cpu() for k, v in self.net(batch).items()}))
        return outs

    def predict_with_layers(self, graphs, layers: bool = True, batch_size: int = 256, parts: bool = False
                            ) -> tuple[dict[str, np.ndarray], list[dict[str, np.ndarray]]]:
        """Totals and (with `layers`) per-operator values of the metrics read out as sums, from one forward
        pass; batch_size graphs per network call. A metric composed of parts is their sum (`parts`: the
        parts' predictions too)."""
        values, rows, _ = self.predict_full(graphs, layers, batch_size, parts)
        return values, rows

    def embed(self, graphs, batch_size: int = 256) -> np.ndarray:
        """Each graph's embedding [graphs, 2 x hidden] (PerfSAGENet's "embedding")."""
        return self.predict_full(graphs, False, batch_size)[2]

    def predict_full(self, graphs, layers: bool = True, batch_size: int = 256, parts: bool = False
                     ) -> tuple[dict[str, np.ndarray], list[dict[str, np.ndarray]], np.ndarray]:
        """predict_with_layers and the graphs' embeddings, from the same forward pass."""
        res = {m: np.zeros(len(graphs)) for m in self.additive + self.peak}
        rows: list[dict[str, np.ndarray]] = []
        embedding = np.zeros((len(graphs), 2 * self.hp["hidden"]), np.float32)
        offsets = np.array([self.y_offset[m] for m in self.additive])
        per_layer = [k for k, m in enumerate(self.additive) if m in self.metrics]
        for idx, batch, out in self._forward_all(graphs, batch_size):
            embedding[idx] = out["embedding"].numpy()
            for k, m in enumerate(self.additive):
                res[m][idx] = np.exp(out["graph_log_additive"][:, k].numpy() + self.y_offset[m])
            for k, m in enumerate(self.peak):
                res[m][idx] = np.exp(out["graph_log_peak"][:, k].numpy() + self.y_offset[m])
            if layers and per_layer:
                counts = np.bincount(batch["batch"].cpu().numpy(), minlength=batch["n_graphs"])
                z = np.exp(out["node_log"].numpy().astype(np.float64) + offsets)  # nodes arrive grouped by graph
                for zi in np.split(z, np.cumsum(counts)[:-1]):
                    rows.append({self.additive[k]: zi[:, k] for k in per_layer})
            elif layers:
                rows.extend({} for _ in idx)
        res = with_sums(res, self.composed)
        return (res if parts else {m: res[m] for m in self.metrics}), rows, embedding

    def predict(self, graphs) -> dict[str, np.ndarray]:
        return self.predict_with_layers(graphs, layers=False)[0]

    def predict_parts(self, graphs) -> dict[str, np.ndarray]:
        """The predicted parts of the metrics composed of parts (e.g. the arena's head and tail)."""
        out = self.predict_with_layers(graphs, layers=False, parts=True)[0]
        return {p: out[p] for p in part_names(self.composed)}

    def predict_layers(self, graphs) -> list[dict[str, np.ndarray]]:
        """Per operator, each summed metric's predicted value; rows sum exactly to `predict`."""
        return self.predict_with_layers(graphs)[1]

    def to(self, device: str) -> PerfSAGENetModel:
        """Serve on another device (a GPU in a search loop); training picks its own (default_device)."""
        self.device = device
        self.net.to(device)
        return self

    # ------------------------------------------------------------------ persistence
    def save(self, path) -> None:
        from pathlib import Path

        from safetensors.torch import save_file

        from perfsage.model.base import write_json

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in self.net.state_dict().items()}, path / "weights.safetensors")
        write_json(path / "config.json", {"estimator": "perfsage-net", "metrics": self.metrics, "hp": self.hp,
                                          "norm": self.norm, "y_offset": self.y_offset,
                                          "features": self.features, "seen": self.seen,
                                          "op_vocab_size": len(OP_VOCAB), "history": self.history[-5:]})

    @classmethod
    def load(cls, path) -> PerfSAGENetModel:
        import json
        from pathlib import Path

        from safetensors.torch import load_file

        from perfsage.model.data import is_additive

        path = Path(path)
        cfg = json.loads((path / "config.json").read_text())
        hp = cfg["hp"]
        est = cls(cfg["metrics"], **{k: hp[k] for k in ("hidden", "layers", "epochs", "batch_size", "lr",
                                                          "weight_decay", "layer_weight", "patience", "seed")},
                  peak_readout=hp.get("peak_readout", "logsumexp"),  # older: logsumexp
                  peak_t=hp.get("peak_t") or PEAK_T,
                  summed=hp.get("summed", [m for m in cfg["metrics"] if is_additive(m)]),  # older: sums only
                  parts=hp.get("parts") or {}, anchors=hp.get("anchors") or {},
                  unknown_op_rate=hp.get("unknown_op_rate", 0.0), feature_clip=hp.get("feature_clip"),
                  node_context=hp.get("node_context", True), prior=hp.get("prior", False), device="cpu")
        est.seen = cfg.get("seen")  # older checkpoints: every operator type and kind as trained
        est.norm = {k: np.asarray(v, np.float32) for k, v in cfg["norm"].items()}
        est.y_offset = cfg["y_offset"]
        est.features = feature_names(**cfg.get("features", {}))
        est.cols = feature_columns(est.features)
        est.net = est._net()
        est.net.load_state_dict(load_file(path / "weights.safetensors"))
        est.net.eval()
        return est


def metric_groups(metrics: list[str], grouping: str) -> list[list[str]]:
    """'joint': one network for every metric (the default). 'split': the additive metrics with
    per-operator labels (latency, cycles, energy) share one network and every other metric gets its own.
    Given the same training time the joint network was better on 8 of 9 random-split columns
    (docs/results/accuracy.md, the `perfsage (split)` row): the split networks each train a third as long."""
    from perfsage.model.data import LAYER_LABELLED

    if grouping == "joint":
        return [list(metrics)]
    if grouping != "split":
        raise ValueError(f"grouping must be 'joint' or 'split', not {grouping!r}")
    shared = [m for m in metrics if m in LAYER_LABELLED]
    return ([shared] if shared else []) + [[m] for m in metrics if m not in shared]


class PerfSAGE:
    """The estimator: one PerfSAGE network per metric group (see metric_groups), trained in turn. A
    predictor may also serve each metric from whichever of several networks did best on validation data
    (`keep_better`): `serves` maps a metric to the member that predicts it."""

    name = "perfsage"

    def __init__(self, metrics: list[str], grouping: str = "joint", log=None, resume: Path | None = None,
                 **hp) -> None:
        self.metrics, self.grouping = list(metrics), grouping
        self.resume = Path(resume) if resume is not None else None  # a folder: one state file per network
        self.groups = metric_groups(self.metrics, grouping)
        self.log = log or (lambda rec: None)
        self.hp = hp
        self.members: list[PerfSAGENetModel] = []
        self.serves: dict[str, int] = {}  # metric -> member; empty: each member serves its whole group

    @property
    def history(self) -> list[dict]:
        return [rec for m in self.members for rec in m.history]

    def fit(self, train, val=None, init: PerfSAGE | None = None) -> PerfSAGE:
        """init: a trained PerfSAGE with the same metric groups to warm-start every network from."""
        if init is not None and init.serves:  # a per-metric choice: go on from its newest network
            init = init.first_network()
        if init is not None and init.groups != self.groups:
            raise ValueError(f"a warm start needs the same metric groups ({init.groups} != {self.groups})")
        budget = self.hp.get("max_seconds") or 0.0
        self.members = []
        for k, group in enumerate(self.groups):
            hp = dict(self.hp, max_seconds=budget / len(self.groups)) if budget else dict(self.hp)
            member = PerfSAGENetModel(group, log=lambda rec, g=group: self.log({"metrics": g, **rec}),
                                      resume=self.resume / f"member{k}.pt" if self.resume else None, **hp)
            self.members.append(member.fit(train, val, init.members[k] if init is not None else None))
        return self

    def predict_with_layers(self, graphs, layers: bool = True, batch_size: int = 256, parts: bool = False
                            ) -> tuple[dict[str, np.ndarray], list[dict[str, np.ndarray]]]:
        """Totals (`parts`: and the parts of the metrics composed of parts) and (with `layers`) per-operator
        values, each network run once."""
        values, rows, _ = self.predict_full(graphs, layers, batch_size, parts)
        return values, rows

    def embed(self, graphs, batch_size: int = 256) -> np.ndarray:
        """The first network's embedding of each graph (PerfSAGENetModel.embed)."""
        return self.members[0].embed(graphs, batch_size)

    def predict_full(self, graphs, layers: bool = True, batch_size: int = 256, parts: bool = False
                     ) -> tuple[dict[str, np.ndarray], list[dict[str, np.ndarray]], np.ndarray]:
        """predict_with_layers and the first network's embeddings, from the same forward passes."""
        out: dict[str, np.ndarray] = {}
        rows: list[dict[str, np.ndarray]] = [{} for _ in graphs] if layers else []
        embedding = np.zeros((len(graphs), 0), np.float32)
        for k, member in enumerate(self.members):
            values, per_layer, emb = member.predict_full(graphs, layers and bool(member.additive), batch_size,
                                                         parts=parts)
            if k == 0:
                embedding = emb
            served = self._served(k)
            out.update({n: v for n, v in values.items() if n in served})
            for row, extra in zip(rows, per_layer, strict=False):
                row.update({n: v for n, v in extra.items() if n in served})
        return {m: out[m] for m in self.metrics + (self.part_names if parts else [])}, rows, embedding

    def _served(self, k: int) -> set[str]:
        """The metrics, and their parts, that member k predicts for this estimator."""
        member = self.members[k]
        metrics = [m for m in member.metrics if self.serves.get(m, k) == k]
        return set(metrics) | set(part_names({m: p for m, p in member.composed.items() if m in metrics}))

    def first_network(self) -> PerfSAGE:
        """The first member alone, serving its whole group (of a per-metric choice: the newest network)."""
        return self.networks()[0]

    def networks(self) -> list[PerfSAGE]:
        """Each member alone, serving its whole group (a per-metric choice's networks, newest first)."""
        out = []
        for member in self.members:
            est = PerfSAGE(member.metrics, "joint", log=self.log, **self.hp)
            est.members = [member]
            out.append(est)
        return out

    @staticmethod
    def winner(mapes: list[float]) -> int:
        """The candidate keep_better chooses from these MAPEs: the lowest, the first on ties; a NaN (no
        judged model) never wins unless all are NaN, and then the first does."""
        return int(np.argmin(np.nan_to_num(np.asarray(mapes, float), nan=np.inf)))

    @classmethod
    def keep_better(cls, candidates: list[PerfSAGE], val, judged: np.ndarray | None = None
                    ) -> tuple[PerfSAGE, dict[str, list[float]]]:
        """One estimator serving each metric from the candidate with the lowest MAPE on val (a validation
        part, never the test part), judged on the rows `judged` selects (default: all); a candidate that
        wins no metric is left out. The first candidate wins ties. Returns it and the judged validation
        MAPE of every candidate per metric. All candidates must predict the same metrics with one network
        each (joint grouping)."""
        metrics = candidates[0].metrics
        if any(c.metrics != metrics or len(c.members) != 1 or c.serves for c in candidates):
            raise ValueError("keep_better combines joint single-network estimators of the same metrics")
        preds = [c.predict(val.graphs) for c in candidates]
        from perfsage.model.scores import regression_report

        rows = np.ones(len(val), bool) if judged is None else np.asarray(judged, bool)
        mape = {m: [regression_report(val.y[m][rows], p[m][rows])["mape"] for p in preds] for m in metrics}
        best = {m: cls.winner(v) for m, v in mape.items()}
        used = sorted(set(best.values()))
        est = PerfSAGE(metrics, "joint", log=candidates[0].log, **candidates[0].hp)
        est.members = [candidates[k].members[0] for k in used]
        est.serves = {m: used.index(k) for m, k in best.items()} if len(used) > 1 else {}
        return est, mape

    @property
    def part_names(self) -> list[str]:
        """The parts the members predict, in their metrics' order (e.g. the arena's head and tail)."""
        return [p for k, member in enumerate(self.members)
                for p in part_names({m: ps for m, ps in member.composed.items() if self.serves.get(m, k) == k})]

    def predict(self, graphs) -> dict[str, np.ndarray]:
        return self.predict_with_layers(graphs, layers=False)[0]

    def predict_parts(self, graphs) -> dict[str, np.ndarray]:
        """The predicted parts of the metrics composed of parts (e.g. the arena's head and tail)."""
        out = self.predict_with_layers(graphs, layers=False, parts=True)[0]
        return {p: out[p] for p in self.part_names}

    def predict_layers(self, graphs) -> list[dict[str, np.ndarray]]:
        """Per operator, each summed metric's predicted value; rows sum exactly to `predict`."""
        return self.predict_with_layers(graphs)[1]

    def to(self, device: str) -> PerfSAGE:
        for member in self.members:
            member.to(device)
        return self

    def save(self, path) -> None:
        from pathlib import Path

        from perfsage.model.base import write_json

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        for k, member in enumerate(self.members):
            member.save(path / f"member{k}")
        write_json(path / "config.json", {"estimator": self.name, "metrics": self.metrics,
                                          "grouping": self.grouping, "groups": self.groups,
                                          "members": [f"member{k}" for k in range(len(self.members))],
                                          **({"serves": self.serves} if self.serves else {})})

    @classmethod
    def load(cls, path) -> PerfSAGE:
        import json
        from pathlib import Path

        path = Path(path)
        cfg = json.loads((path / "config.json").read_text())
        est = cls(cfg["metrics"], cfg["grouping"])
        est.members = [PerfSAGENetModel.load(path / d) for d in cfg["members"]]
        est.serves = {m: int(k) for m, k in cfg.get("serves", {}).items()}
        est.hp = dict(est.members[0].hp) if est.members else {}
        return est
