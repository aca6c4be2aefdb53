"""The graph IR every later stage uses: operators are nodes, activation tensors are edges.

Constant tensors (weights, biases, shape arguments) are not edges: they are folded into the features
of the node that consumes them. The IR is deliberately plain data (no flatbuffer objects) so it pickles
cheaply into worker processes and caches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import prod

from perfsage.graph.weights import WeightStats

DTYPE_BYTES: dict[str, float] = {
    "FLOAT32": 4, "FLOAT16": 2, "INT32": 4, "UINT8": 1, "INT64": 8, "STRING": 1, "BOOL": 1,
    "INT16": 2, "COMPLEX64": 8, "INT8": 1, "FLOAT64": 8, "COMPLEX128": 16, "UINT64": 8,
    "RESOURCE": 0, "VARIANT": 0, "UINT32": 4, "UINT16": 2, "INT4": 0.5, "BFLOAT16": 2, "INT2": 0.25,
    "UINT4": 0.5,
}


@dataclass(slots=True)
class Quantization:
    """Affine quantisation, summarised: the first scale and zero point and how many channels there are.

    Per-channel scale vectors are not kept: no feature depends on them, and reading them all would
    halve parsing speed. `channels` > 1 means per-channel along `axis`.
    """

    scale: float
    zero_point: int
    channels: int = 1
    axis: int = 0

    @property
    def per_channel(self) -> bool:
        return self.channels > 1


@dataclass(slots=True)
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    buffer: int
    data_bytes: int  # bytes stored in the model for this tensor (0 for activations)
    quant: Quantization | None = None
    is_variable: bool = False
    dynamic: bool = False  # shape_signature has -1 somewhere
    stats: WeightStats | None = None  # the stored values' statistics, for operators' main weight tensors
    elements: int = field(init=False)  # unknown (-1) dimensions count as 1
    nbytes: int = field(init=False)  # bytes at run time, rounded up for sub-byte types

    def __post_init__(self) -> None:
        self.elements = prod(d if d > 0 else 1 for d in self.shape)
        self.nbytes = int(-(-self.elements * DTYPE_BYTES.get(self.dtype, 1) // 1))

    @property
    def is_constant(self) -> bool:
        return self.data_bytes > 0 and not self.is_variable


@dataclass(slots=True)
class Node:
    index: int  # the TFLite operator index in the main subgraph (execution order)
    op: str  # builtin name ("CONV_2D") or "CUSTOM:<custom_code>"
    version: int
    inputs: tuple[int, ...]  # tensor indices, -1 for an omitted optional input
    outputs: tuple[int, ...]
    options: dict[str, int | float | str | bool] = field(default_factory=dict)


@dataclass(slots=True)
class SubgraphSummary:
    """A subgraph other than the main one (e.g. the body of a WHILE): reported, not analysed."""

    index: int
    name: str
    operators: int
    tensors: int


@dataclass(slots=True)
class Graph:
    tensors: list[Tensor]
    nodes: list[Node]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    name: str = ""
    schema_version: int = 3
    description: str = ""
    source: str = ""  # path or "<bytes>"
    other_subgraphs: list[SubgraphSummary] = field(default_factory=list)

    def producers(self) -> dict[int, int]:
        """Tensor index -> index of the node that writes it."""
        return {t: n.index for n in self.nodes for t in n.outputs if t >= 0}

    def consumers(self) -> dict[int, list[int]]:
        """Tensor index -> indices of the nodes that read it, in execution order."""
        out: dict[int, list[int]] = {}
        for n in self.nodes:
            for t in n.inputs:
                if t >= 0:
                    out.setdefault(t, []).append(n.index)
        return out

    def edges(self) -> list[tuple[int, int, int]]:
        """(producer node, consumer node, tensor) for every activation tensor flowing between nodes."""
        prod_of = self.producers()
        return [(prod_of[t], n.index, t) for n in self.nodes for t in n.inputs
                if t >= 0 and t in prod_of]

    def op_types(self) -> dict[str, int]:
        hist: dict[str, int] = {}
        for n in self.nodes:
            hist[n.op] = hist.get(n.op, 0) + 1
        return hist
