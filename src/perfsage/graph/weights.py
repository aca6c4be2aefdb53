"""What a weight tensor's values look like to a weight encoder.

Ethos-U stores weights through Vela's lossless encoder, which shrinks zeros, few distinct values (a
palette of at most 32) and small magnitudes, and Ethos-U85 has a 2:4 sparse format; so a pruned or
clustered model takes far less flash, and fetches fewer bytes per inference, than the same graph with
dense weights. Shapes and byte counts cannot see that; these statistics of the stored values can.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from math import comb

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
    codec_bits: float = 0.0  # bits per value Ethos-U's weight codec would spend (estimate_codec_bits)

    @property
    def entropy_bytes(self) -> float:
        """What an ideal coder of independent values would store: a floor for a lossless encoder."""
        return self.entropy_bits * self.values / 8

    @property
    def codec_bytes(self) -> float:
        """What Ethos-U's weight codec would store for the tensor as one stream (estimate_codec_bits)."""
        return self.codec_bits * self.values / 8

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
    scale = _INT_MAX.get(dtype) or float(np.abs(flat.astype(np.float64)).max()) or 1.0
    if values.dtype == np.int8:  # the common case: one bincount gives everything
        hist = np.roll(np.bincount(flat.view(np.uint8), minlength=256), 128)  # values -128..127
        return _int8_count_stats(hist, scale, share_2of4(values), flat)
    codec = 8.0 * np.dtype(_NUMPY.get(dtype, np.float32)).itemsize  # Ethos-U codes int8 only; others as stored
    uniq, counts = np.unique(flat, return_counts=True)
    p = counts / n
    return WeightStats(
        zero_share=int(counts[uniq == 0].sum()) / n, distinct=int(counts.size),
        entropy_bits=float(-(p * np.log2(p)).sum()) + 0.0,
        mean_abs_share=float(np.abs(flat.astype(np.float64)).mean()) / scale, sparse_2of4_share=share_2of4(values),
        values=n, codec_bits=codec)


_INT8_LEVELS = np.arange(-128, 128)


def _int8_count_stats(hist: np.ndarray, scale: float, sparse_2of4: float, flat: np.ndarray | None) -> WeightStats:
    """WeightStats of int8 values from their counts (hist: values -128..127); flat: the values in stored
    order where known (estimate_codec_bits reads zero runs from it)."""
    n = int(hist.sum())
    p = np.roll(hist, 128)  # summed in stored-byte order (0..127, -128..-1), as a bincount of the bytes gives
    p = p[p > 0] / n
    return WeightStats(
        zero_share=int(hist[128]) / n, distinct=int(p.size), entropy_bits=float(-(p * np.log2(p)).sum()) + 0.0,
        mean_abs_share=float(np.abs(_INT8_LEVELS) @ hist) / n / scale, sparse_2of4_share=sparse_2of4, values=n,
        codec_bits=estimate_codec_bits(flat, hist))


def uniform_int8_stats(n: int, depth: int, rng: np.random.Generator) -> WeightStats:
    """The statistics of n int8 values drawn uniformly from [-127, 127] along rows of `depth`, without
    drawing them: the value counts are one multinomial draw (256 numbers, whatever n), and the 2:4 share is
    its expectation for zeros that fall independently. What a dry build gives weights it never draws
    (perfsage.spaces.quant.uniform_weight_stats), at a cost that does not grow with the tensor."""
    if n <= 0:
        return NO_WEIGHTS
    hist = np.concatenate(([0], rng.multinomial(n, np.full(255, 1 / 255))))  # -128..127: -128 never stored
    return _int8_count_stats(hist, _INT_MAX["INT8"], expected_share_2of4(1.0 - hist[128] / n, depth), None)


def expected_share_2of4(nonzero: float, depth: int) -> float:
    """share_2of4 of rows of `depth` values each nonzero independently with probability `nonzero`."""
    def at_most_2(k: int) -> float:  # of a group's k values (the rest of it is padding zeros)
        return sum(comb(k, j) * nonzero**j * (1 - nonzero) ** (k - j) for j in range(min(k, 2) + 1))

    full, rest = divmod(max(depth, 1), 4)
    return (full * at_most_2(4) + (at_most_2(rest) if rest else 0.0)) / (full + (1 if rest else 0))


# Ethos-U's weight codec (Vela's mlw codec, as its source describes it): zeros go out as run lengths
# when they mostly come in runs and far outnumber any other value; the other values map to a palette of
# up to 32 entries ranked by frequency (used when it covers half of them; values outside it follow as
# offsets) or, without one, to 2|v| + sign; each index and each run length is Golomb-Rice coded, the
# divisor chosen per slice, and the stream is padded to 16 bytes.
_RUN_MIN = 2  # shorter zero runs do not count towards choosing run mode
_ZERO_DOMINANCE = 5  # run mode needs zeros this many times as common as any other value
_PALETTE = 32
_W_DIVS, _Z_DIVS = range(6), range(4)
_SLICE_BITS = 23 + 23  # a slice header and the end-of-stream slice
_PALETTE_HEADER_BITS = 13
_PALVAL = np.concatenate([2 * np.arange(128, 0, -1) + 1, 2 * np.arange(128)])  # int8 -128..127 -> 2|v|+sign


def _grc_bits(hist: np.ndarray, divs, truncatable: bool) -> float:
    """Fewest bits a Golomb-Rice code with one divisor spends on symbols of these counts (index: symbol);
    the truncated form (unary part capped at 2 bits) when no quotient exceeds 2."""
    sym = np.arange(hist.size)
    best = np.inf
    for d in divs:
        q = sym >> d
        best = min(best, float(hist @ (q + 1 + d)))
        if truncatable and not hist[q > 2].any():
            best = min(best, float(hist @ (np.minimum(q + 1, 2) + d)))
    return best


def estimate_codec_bits(flat: np.ndarray | None, hist: np.ndarray) -> float:
    """Bits per weight Ethos-U's weight codec spends on an int8 tensor coded as one stream, from the value
    counts (hist: int8 -128..127) and the zero runs in stored order. It picks one Golomb-Rice divisor
    for the whole stream where the codec adapts per slice, and ignores Vela's reordering into bricks
    and its per-block streams: within ~2% (median) of the codec itself on pruned, clustered, 2:4,
    low-bit, trained-like and uniform tensors, up to 12% low at 4 levels (tests/test_weights.py).
    flat None: the order is unknown (counts only); zeros are then taken as scattered, not in runs."""
    n = int(hist.sum())
    zeros = int(hist[128])
    common = int(np.delete(hist, 128).max(initial=0))
    runs = None
    if flat is not None and zeros > _ZERO_DOMINANCE * common:
        is_zero = np.concatenate(([0], (flat == 0).view(np.int8), [0]))
        edges = np.flatnonzero(np.diff(is_zero))
        lengths = edges[1::2] - edges[::2]
        if lengths[lengths >= _RUN_MIN].sum() >= zeros // 2:
            nonzero = np.flatnonzero(flat)
            runs = np.diff(np.concatenate(([-1], nonzero, [n]))) - 1
    counts = hist.copy()
    if runs is not None:
        counts[128] = 0
    freq = np.bincount(_PALVAL, weights=counts, minlength=257).astype(np.int64)
    total = int(freq.sum())
    bits = _SLICE_BITS + _PALETTE_HEADER_BITS
    if total:
        used = np.flatnonzero(freq)
        offset = int(used[0]) if used[0] < 31 else 31  # the first value in use around zero
        ranked = np.argsort(-freq, kind="stable")
        size = _PALETTE if used.size <= _PALETTE else min(_PALETTE, 511 - int(used[-1]))
        palette = ranked[:size if size > 1 else 0]
        palette = palette[freq[palette] > 0]
        index = used - offset
        if palette.size and freq[palette].sum() >= total / 2:
            slots = max(palette.size, 2)
            index = slots + used - offset
            rank = np.full(freq.size, -1)
            rank[palette] = np.arange(palette.size)
            index = np.where(rank[used] >= 0, rank[used], index)
            bits += slots * max(2, int(palette.max()).bit_length())
        symbols = np.bincount(index, weights=freq[used]).astype(np.int64)
        raw_bits = max(1, int(symbols.size - 1).bit_length())
        bits += min(_grc_bits(symbols, _W_DIVS, True), raw_bits * total)
    if runs is not None:
        bits += _grc_bits(np.bincount(runs), _Z_DIVS, False)
    return float(np.ceil(bits / 128) * 128 / n)


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
