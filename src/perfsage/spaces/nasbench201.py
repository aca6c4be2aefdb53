"""NAS-Bench-201: a cell string -> the CIFAR-10 network that HW-NAS-Bench measured on real devices.

Network (Dong & Yang, ICLR 2020; HW-NAS-Bench, Li et al., ICLR 2021): 3x3 stem conv to C=16; three
stages of N=5 cells at C = 16, 32, 64 on a 32x32 input; between stages a ResNet basic block with
stride 2 (ReLU-conv3x3/s2, ReLU-conv3x3, plus a 2x2 average pool + 1x1 conv shortcut); then ReLU,
global average pool and a linear layer to 10 classes. A cell has 4 nodes; node j is the sum over
i < j of op(i -> j) applied to node i, with op one of none, skip_connect, nor_conv_1x1,
nor_conv_3x3 (ReLU-conv-BN, BN folded into the conv) and avg_pool_3x3 (stride 1). The architecture
string is `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`.

TFLite form: `none` edges are dropped (as a converter prunes multiplications by zero), but a node that
no edge reaches is still computed on: it becomes the cell input multiplied by a constant 0 (one small
MUL), and the convolutions reading it stay, as in the PyTorch network the devices ran. Conv + linear
MACs therefore equal NAS-Bench-201's FLOPs for every cell (tested against the shared table). A ReLU
shared by several edges leaving one node is emitted once (as the converter's CSE does). The batch
norm + ReLU after the last cell, which has no convolution to fold into, becomes MUL + ADD(ReLU).
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from perfsage.errors import PerfsageError
from perfsage.spaces.base import ArchSpec, Space
from perfsage.spaces.builder import Act, ModelBuilder

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))  # (to, from) in arch-string order
STAGE_CHANNELS = (16, 32, 64)
CELLS_PER_STAGE = 5
_STRING = re.compile(r"^\|(\w+)~0\|\+\|(\w+)~0\|(\w+)~1\|\+\|(\w+)~0\|(\w+)~1\|(\w+)~2\|$")


def arch_string(ops: tuple[str, ...]) -> str:
    a, b, c, d, e, f = ops
    return f"|{a}~0|+|{b}~0|{c}~1|+|{d}~0|{e}~1|{f}~2|"


def parse_arch_string(text: str) -> tuple[str, ...]:
    m = _STRING.match(text.strip())
    if not m or any(op not in OPS for op in m.groups()):
        raise PerfsageError(f"not a NAS-Bench-201 cell string: {text!r} (expected e.g. "
                            "'|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|"
                            f"skip_connect~2|', ops from {', '.join(OPS)})")
    return m.groups()


def has_path(ops: tuple[str, ...]) -> bool:
    """Whether any chain of non-`none` edges joins the cell's input to its output. Without one the cell
    outputs zeros; the data README notes that raspi4 and pixel3 then report near-zero latency for most
    of these 341 networks (the runtime drops what cannot change the output) while other devices do not."""
    reached = {0}
    for (to, frm), op in zip(EDGES, ops, strict=True):  # edges come in order of their target node
        if op != "none" and frm in reached:
            reached.add(to)
    return 3 in reached


def all_archs() -> list[str]:
    """All 15,625 cell strings (in itertools order, not NAS-Bench-201's index order)."""
    return [arch_string(ops) for ops in itertools.product(OPS, repeat=6)]


def _cell(b: ModelBuilder, x: Act, ops: tuple[str, ...]) -> Act:
    nodes: list[Act | None] = [x, None, None, None]
    relu_of: dict[int, Act] = {}
    zero: list[Act] = []

    def node(i: int) -> Act:
        """Node i's tensor; a node no edge reaches is zeros (PyTorch's `x.mul(0.)`), made once."""
        if nodes[i] is not None:
            return nodes[i]
        if not zero:
            zero.append(b.scale_by_constant(x, 0.0))
        return zero[0]

    def relu(i: int) -> Act:
        if i not in relu_of:
            relu_of[i] = b.relu(node(i))
        return relu_of[i]

    for j in (1, 2, 3):
        terms = []
        for (to, frm), op in zip(EDGES, ops, strict=True):
            if to != j or op == "none":
                continue
            if op == "skip_connect":
                terms.append(node(frm))
            elif op == "avg_pool_3x3":
                terms.append(b.avg_pool(node(frm), 3, 1, "SAME"))
            else:
                k = 1 if op == "nor_conv_1x1" else 3
                terms.append(b.conv2d(relu(frm), x.channels, k, 1))
        total = terms[0] if terms else None
        for t in terms[1:]:
            total = b.add(total, t)
        nodes[j] = total
    return node(3)


def _reduction(b: ModelBuilder, x: Act, channels: int) -> Act:
    y = b.conv2d(b.relu(x), channels, 3, 2)
    y = b.conv2d(b.relu(y), channels, 3, 1)
    shortcut = b.conv2d(b.avg_pool(x, 2, 2, "VALID"), channels, 1)
    return b.add(y, shortcut)


class NASBench201Space(Space):
    name = "nasbench201"
    task = "image classification (NAS-Bench-201, CIFAR-10)"
    description = ("NAS-Bench-201 cell space on the CIFAR-10 network of HW-NAS-Bench: 6 edges x 5 ops "
                   "(none, skip, conv1x1, conv3x3, avgpool3x3), 3 stages x 5 cells, C=16, 32x32 input")

    def sample(self, seed: int) -> ArchSpec:
        rng = self.sample_rng(seed)
        ops = tuple(OPS[int(i)] for i in rng.integers(0, len(OPS), 6))
        return ArchSpec(self.name, {"arch": arch_string(ops)})

    def parse_arch(self, text: str) -> ArchSpec:
        return ArchSpec(self.name, {"arch": arch_string(parse_arch_string(text))})

    def build(self, arch: ArchSpec, seed: int = 0) -> bytes:
        ops = parse_arch_string(arch.arch["arch"])
        b = self.builder(seed, arch.arch["arch"])
        x = b.input((1, 32, 32, 3))
        y = b.conv2d(x, STAGE_CHANNELS[0], 3, 1)
        for s, c in enumerate(STAGE_CHANNELS):
            if s:
                y = _reduction(b, y, c)
            for _ in range(CELLS_PER_STAGE):
                y = _cell(b, y, ops)
        y = b.mean(b.batch_norm(y, "RELU"), keep_dims=False)
        return b.finish([b.fully_connected(y, 10)])

    def choices(self) -> dict[str, Any]:
        return {"edges": [f"{frm}->{to}" for to, frm in EDGES], "ops": list(OPS),
                "stages (channels)": list(STAGE_CHANNELS), "cells per stage": CELLS_PER_STAGE,
                "input": [1, 32, 32, 3], "classes": 10}

    def size_log10(self) -> float:
        return 6 * 0.6989700043360189  # 5^6 = 15,625
