"""Weight transforms on one int8 weight tensor, as compression tools leave the stored values.

Every transform keeps the tensor's shape, type and quantisation scales: it changes which int8 values are
stored, which is all Vela's lossless weight encoder responds to (zeros, few distinct values, small
magnitudes, 2:4 groups). `axis` is the per-channel quantisation axis (output channels: 0 for
convolutions and fully connected layers, 3 for depthwise); the input depth, where 2:4 sparsity groups
its values, is the last axis. All are deterministic: ties break by position.
"""

from __future__ import annotations

import numpy as np

INT8_MAX = 127


def prune(w: np.ndarray, sparsity: float) -> np.ndarray:
    """Unstructured magnitude pruning: the `sparsity` share of the tensor with the smallest |w| set to 0
    (TF-MOT's prune_low_magnitude, per layer)."""
    k = round(sparsity * w.size)
    if k <= 0:
        return w
    flat = w.reshape(-1).copy()
    order = np.argsort(np.abs(flat.astype(np.int16)), kind="stable")
    flat[order[:k]] = 0
    return flat.reshape(w.shape)


def two_of_four(w: np.ndarray) -> np.ndarray:
    """2:4 structured sparsity along the input depth: in each group of 4 consecutive values of the last
    axis, the 2 largest magnitudes stay (a depth that is no multiple of 4 ends in a shorter group, of
    which at most 2 stay)."""
    depth = w.shape[-1]
    rows = w.reshape(-1, depth).astype(np.int16)
    pad = -depth % 4
    padded = np.pad(rows, ((0, 0), (0, pad)))
    groups = padded.reshape(rows.shape[0], -1, 4)
    # rank within each group by |w| (stable: the earlier of equal magnitudes stays)
    order = np.argsort(-np.abs(groups), axis=-1, kind="stable")
    drop = np.zeros_like(groups, dtype=bool)
    np.put_along_axis(drop, order[..., 2:], True, axis=-1)
    groups = np.where(drop, 0, groups)
    return groups.reshape(rows.shape[0], -1)[:, :depth].reshape(w.shape).astype(np.int8)


def fewer_bits(w: np.ndarray, bits: int, axis: int) -> np.ndarray:
    """Weights of a `bits`-bit model as the TFLite converter stores them in int8: each output channel's
    values on 2^(bits-1) - 1 symmetric levels of its own largest magnitude, rescaled to that channel's
    int8 range (the converter quantises every channel by its max), so at most 2^bits - 1 distinct values."""
    if bits >= 8:
        return w
    levels = 2 ** (bits - 1) - 1
    x = np.moveaxis(w.astype(np.float64), axis, 0)
    peak = np.abs(x).reshape(x.shape[0], -1).max(1)
    peak = np.where(peak > 0, peak, 1.0).reshape((-1,) + (1,) * (x.ndim - 1))
    q = np.round(np.round(x / peak * levels) / levels * INT8_MAX)
    return np.moveaxis(np.clip(q, -INT8_MAX, INT8_MAX), 0, axis).astype(np.int8)


def cluster(w: np.ndarray, k: int, axis: int, per_channel: bool = False) -> np.ndarray:
    """Palettisation: the values replaced by the nearest of k levels (1-D k-means from quantile starts,
    per tensor or per output channel). Zeros a pruning left stay zero and count as one of the k levels,
    as in TF-MOT's sparsity-preserving clustering."""
    if not per_channel:
        return _cluster_values(w, k)
    x = np.moveaxis(w, axis, 0)
    return np.moveaxis(np.stack([_cluster_values(c, k) for c in x]), 0, axis)


def _cluster_values(w: np.ndarray, k: int) -> np.ndarray:
    flat = w.reshape(-1).astype(np.int16)
    keep_zero = bool((flat == 0).any()) and (flat == 0).mean() > 0.05  # pruned, not chance zeros
    vals = flat[flat != 0] if keep_zero else flat
    n_levels = k - 1 if keep_zero else k
    if vals.size == 0 or n_levels < 1:
        return np.zeros_like(w) if keep_zero else w
    hist = np.bincount(vals + INT8_MAX + 1, minlength=2 * INT8_MAX + 2).astype(np.float64)
    support = np.flatnonzero(hist) - INT8_MAX - 1
    if support.size <= n_levels:
        return w
    weights = hist[support + INT8_MAX + 1]
    cdf = np.cumsum(weights) / weights.sum()
    centres = support[np.minimum(np.searchsorted(cdf, (np.arange(n_levels) + 0.5) / n_levels), support.size - 1)]
    centres = np.unique(centres.astype(np.float64))
    for _ in range(50):
        nearest = np.abs(support[:, None] - centres[None, :]).argmin(1)
        sums = np.bincount(nearest, weights * support, centres.size)
        mass = np.bincount(nearest, weights, centres.size)
        new = np.where(mass > 0, sums / np.maximum(mass, 1e-12), centres)
        if np.allclose(new, centres):
            break
        centres = new
    centres = np.unique(np.clip(np.round(centres), -INT8_MAX, INT8_MAX))
    lut = np.zeros(2 * INT8_MAX + 2, dtype=np.int16)
    lut[support + INT8_MAX + 1] = centres[np.abs(support[:, None] - centres[None, :]).argmin(1)]
    out = np.where(flat == 0, 0, lut[flat + INT8_MAX + 1]) if keep_zero else lut[flat + INT8_MAX + 1]
    return out.reshape(w.shape).astype(np.int8)


def redraw_trained(w: np.ndarray, axis: int, rng: np.random.Generator, shape: float) -> np.ndarray:
    """Dense weights as a trained model holds them: each output channel bell-shaped (a generalised
    normal of the given shape: 2 Gaussian, 1 Laplace, below 1 heavier tails), quantised symmetrically by
    the channel's own largest magnitude to [-127, 127], as the converter does."""
    x = np.moveaxis(np.empty(w.shape, np.float64), axis, 0)
    draw = rng.gamma(1.0 / shape, 1.0, x.shape) ** (1.0 / shape) * rng.choice((-1.0, 1.0), x.shape)
    peak = np.abs(draw).reshape(x.shape[0], -1).max(1).reshape((-1,) + (1,) * (x.ndim - 1))
    q = np.round(draw / np.where(peak > 0, peak, 1.0) * INT8_MAX)
    return np.moveaxis(q, 0, axis).astype(np.int8)
