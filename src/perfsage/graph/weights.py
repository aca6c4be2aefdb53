"""What a weight tensor's values look like to a weight encoder.

Ethos-U stores weights through Vela's lossless encoder, which shrinks zeros, few distinct values (a
palette of at most 32) and small magnitudes, and Ethos-U85 has a 2:4 sparse format; so a pruned or
clustered model takes far less flash, and fetches fewer bytes per inference, than the same graph with
dense weights. Shapes and byte counts cannot see that; these statistics of the stored values can.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

# int8 weights are symmetric in [-127, 127] (TFLite's int8 spec); other integer types by their range
_INT_MAX = {"INT8": 127, "UINT8": 255, "INT16": 32767, "INT32": 2**31 - 1}
_NUMPY = {"INT8": np.int8, "UINT8": np.uint8, "INT16": np.int16, "INT32": np.int32, "FLOAT16": np.float16,
          "FLOAT32": np.float32}


@dataclass(frozen=True, slots=True)
class WeightStats:
    zero_share: float  # share of the stored values that are exactly zero
    distinct: int  # distinct stored values
    entropy_bits: float  # Shannon entropy of the stored values, bits per weight
    mean_abs_share: float  # mean |value| over the largest magnitude the type holds (int8: 127)
    sparse_2of4_share: float  # share of 4-groups along the input depth (last axis) with <= 2 nonzeros
    values: int = 0  # how many values the tensor stores

    @property
    def entropy_bytes(self) -> float:
        """What an ideal coder of independent values would store: a floor for a lossless encoder."""
        return self.entropy_bits * self.values / 8

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


NO_WEIGHTS = WeightStats(0.0, 0, 0.0, 0.0, 0.0)


def supported(dtype: str) -> bool:
    return dtype in _NUMPY


def weight_stats(values: np.ndarray, dtype: str | None = None) -> WeightStats:
    """Statistics of one weight tensor as stored (int8 values, not their real values)."""
    dtype = dtype or {np.dtype(v): k for k, v in _NUMPY.items()}.get(values.dtype, "FLOAT32")
    flat = values.reshape(-1)
    n = flat.size
    if n == 0:
        return NO_WEIGHTS
    if values.dtype == np.int8:  # the common case: one bincount gives everything
        hist = np.bincount(flat.view(np.uint8), minlength=256)
        counts = hist[hist > 0]
        levels = np.arange(256, dtype=np.int64)
        levels[128:] -= 256
        zero = int(hist[0])
        mean_abs = float(np.abs(levels) @ hist) / n
    else:
        uniq, counts = np.unique(flat, return_counts=True)
        zero = int(counts[uniq == 0].sum())
        mean_abs = float(np.abs(flat.astype(np.float64)).mean())
    scale = _INT_MAX.get(dtype) or float(np.abs(flat.astype(np.float64)).max()) or 1.0
    p = counts / n
    return WeightStats(
        zero_share=zero / n, distinct=int(counts.size), entropy_bits=float(-(p * np.log2(p)).sum()) + 0.0,
        mean_abs_share=mean_abs / scale, sparse_2of4_share=share_2of4(values), values=n)


def share_2of4(values: np.ndarray) -> float:
    """Share of groups of 4 consecutive values along the last axis (a filter's input depth) with at most
    2 nonzeros: 1.0 is a tensor in 2:4 structured-sparse form. A depth that is no multiple of 4 leaves a
    last group padded with zeros."""
    if values.size == 0:
        return 0.0
    depth = values.shape[-1] if values.ndim else 1
    rows = values.reshape(-1, depth) != 0
    pad = -depth % 4
    if pad:
        rows = np.pad(rows, ((0, 0), (0, pad)))
    groups = rows.reshape(rows.shape[0], -1, 4).sum(-1, dtype=np.int8)
    return float((groups <= 2).mean())


def tensor_values(data, start: int, count: int, dtype: str, shape: tuple[int, ...]) -> np.ndarray | None:
    """A constant tensor's stored values read in place from the model's bytes (None: a type we skip)."""
    np_type = _NUMPY.get(dtype)
    if np_type is None:
        return None
    itemsize = np.dtype(np_type).itemsize
    n = count // itemsize
    # a copy: an array over a memory map would keep it open past the parse (and past an error)
    values = np.frombuffer(bytes(data[start:start + n * itemsize]), dtype=np_type)
    elements = int(np.prod([max(d, 1) for d in shape])) if shape else n
    return values.reshape(shape) if elements == n and shape else values
