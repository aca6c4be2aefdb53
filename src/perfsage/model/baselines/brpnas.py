"""BRP-NAS-style GCN (Dudziak et al., NeurIPS 2020): graph convolutions over the operator graph made
undirected, with a global node joined to every operator whose embedding is the readout.

Same node features as PerfSAGE (op/kind embeddings + numeric), same log-L1 loss and early stopping; what
differs is the architecture: symmetric-normalised GCN propagation (no edge features, no direction) and
a learned global-node readout, as BRP-NAS uses. With `parts=True` it is given the parts a target reports
(metrics.PARTS, e.g. TFLite Micro's arena head and tail) where the training data labels them, as PerfSAGE
is: one output per part, the metric their sum, trained on the parts and the whole. It is off by default
because it did not help this architecture: mcu-tflm random split, 1,750 s on 2 CPU threads, seed 0,
0.84% arena MAPE with the parts against 0.78% without (gbdt, by contrast, went 0.99% -> 0.70%).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from perfsage.graph.encode import GRAPH_FEATURES, NODE_FEATURES, OP_VOCAB, current_features
from perfsage.graph.ops import KINDS
from perfsage.model.base import Estimator, write_json
from perfsage.model.data import fit_key
from perfsage.model.loop import train_loop, val_mape
from perfsage.model.perfsage import collate, composed_log, default_device, log_labels, normalisation, to_device
from perfsage.targets.metrics import composition, outputs_of, part_names, with_sums


class GCNNet(nn.Module):
    def __init__(self, n_out: int, hidden: int = 256, layers: int = 4) -> None:
        super().__init__()
        self.op_emb = nn.Embedding(len(OP_VOCAB), 32)
        self.kind_emb = nn.Embedding(len(KINDS), 8)
        self.inp = nn.Linear(40 + len(NODE_FEATURES), hidden)
        self.global_init = nn.Parameter(torch.zeros(hidden))
        self.lins = nn.ModuleList([nn.Linear(hidden, hidden) for _ in range(layers)])
        self.out = nn.Sequential(nn.Linear(hidden + len(GRAPH_FEATURES), hidden), nn.ReLU(), nn.Linear(hidden, n_out))

    def forward(self, batch):
        n, b, ng = batch["x"].shape[0], batch["batch"], batch["n_graphs"]
        dev = b.device
        h = self.inp(torch.cat([self.op_emb(batch["op"]), self.kind_emb(batch["kind"]), batch["x"]], 1))
        h = torch.cat([h, self.global_init.expand(ng, -1)], 0)  # global nodes are n .. n+ng-1
        src, dst = batch["edge_index"]
        glob = n + b
        nodes = torch.arange(n, device=dev)
        # undirected edges, node <-> global node edges, self loops
        s = torch.cat([src, dst, nodes, glob, torch.arange(n + ng, device=dev)])
        d = torch.cat([dst, src, glob, nodes, torch.arange(n + ng, device=dev)])
        deg = torch.zeros(n + ng, device=dev).index_add_(0, d, torch.ones_like(d, dtype=torch.float32))
        w = (deg[s] * deg[d]).rsqrt().unsqueeze(1)
        for lin in self.lins:
            m = lin(h)
            h = torch.relu(torch.zeros_like(m).index_add_(0, d, m[s] * w))
        return self.out(torch.cat([h[n:], batch["g"]], 1))


class BRPNASGCN(Estimator):
    name = "brp-nas-gcn"

    def __init__(self, metrics: list[str], hidden: int = 256, layers: int = 4, epochs: int = 120,
                 batch_size: int = 64, lr: float = 1e-3, patience: int = 25, seed: int = 0,
                 max_seconds: float = 0.0, device: str | None = None, log=None, resume=None,
                 parts: bool = False) -> None:
        self.metrics = list(metrics)
        self.parts_wanted = parts
        self.composed: dict[str, list[str]] = {}  # metric -> the parts whose outputs' sum predicts it
        self.resume = Path(resume) / "gcn.pt" if resume is not None else None  # per-epoch state
        self.hp = {"hidden": hidden, "layers": layers, "epochs": epochs, "batch_size": batch_size, "lr": lr,
                   "patience": patience, "seed": seed, "max_seconds": max_seconds}
        self.device = device or default_device()
        self.log = log or (lambda r: None)
        self.net: GCNNet | None = None
        self.norm: dict[str, np.ndarray] = {}
        self.y_offset: list[float] = []
        self.history: list[dict] = []  # per epoch: seconds, validation MAPE (accuracy.py records the epochs)

    @property
    def outputs(self) -> list[str]:
        return outputs_of(self.metrics, self.composed)

    @property
    def part_names(self) -> list[str]:
        return part_names(self.composed)

    def _with_sums(self, pred: torch.Tensor) -> torch.Tensor:
        """The outputs' log predictions, then each composed metric's: the log of its parts' sum."""
        return torch.cat([pred, composed_log(pred, self.outputs, self.composed)], 1) if self.composed else pred

    def fit(self, train, val=None) -> BRPNASGCN:
        torch.manual_seed(self.hp["seed"])
        self.norm = normalisation(train.graphs)
        self.composed = composition(self.metrics, train.parts) if self.parts_wanted else {}
        self.y_offset = [float(np.nanmedian(np.log(train.label(o)[train.label(o) > 0]))) for o in self.outputs]
        off = torch.tensor(self.y_offset, device=self.device)
        self.net = GCNNet(len(self.outputs), self.hp["hidden"], self.hp["layers"]).to(self.device)

        def batch_loss(idx):
            y = log_labels(train, self.outputs + list(self.composed), idx).to(self.device)
            pred = self._with_sums(self.net(to_device(collate(train.graphs, self.norm, idx), self.device)) + off)
            mask = torch.isfinite(y)
            return torch.abs(pred - torch.nan_to_num(y))[mask].mean()

        score = (lambda: val_mape(self.predict(val.graphs), val, self.metrics)) if val is not None and len(val) \
            else None
        parts = f"|{self.composed}" if self.composed else ""
        key = f"{self.metrics}{parts}|{fit_key(train, val)}" if self.resume else ""
        self.history = train_loop(self.net, len(train), self.hp, batch_loss, score, self.log, 1e-4, self.resume,
                                  key)
        return self

    @torch.no_grad()
    def predict(self, graphs) -> dict[str, np.ndarray]:
        self.net.eval()
        out = np.zeros((len(graphs), len(self.outputs)))
        for s in range(0, len(graphs), 256):
            idx = list(range(s, min(s + 256, len(graphs))))
            pred = self.net(to_device(collate(graphs, self.norm, idx), self.device)).cpu()
            out[idx] = (pred + torch.tensor(self.y_offset)).numpy()
        values = with_sums({o: np.exp(out[:, k]) for k, o in enumerate(self.outputs)}, self.composed)
        return {m: values[m] for m in self.metrics}

    def save(self, path: Path) -> None:
        from safetensors.torch import save_file

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in self.net.state_dict().items()}, path / "weights.safetensors")
        write_json(path / "config.json", {"estimator": self.name, "metrics": self.metrics, "hp": self.hp,
                                          "norm": self.norm, "y_offset": self.y_offset, "composed": self.composed,
                                          "features": current_features()})

    @classmethod
    def load(cls, path: Path) -> BRPNASGCN:
        from safetensors.torch import load_file

        path = Path(path)
        cfg = json.loads((path / "config.json").read_text())
        est = cls(cfg["metrics"], **cfg["hp"], device="cpu")
        est.norm = {k: np.asarray(v, np.float32) for k, v in cfg["norm"].items()}
        est.y_offset = cfg["y_offset"]
        est.composed = cfg.get("composed", {})
        est.net = GCNNet(len(est.outputs), est.hp["hidden"], est.hp["layers"])
        est.net.load_state_dict(load_file(path / "weights.safetensors"))
        return est
