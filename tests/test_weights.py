"""The weight codec estimate against Ethos-U's weight codec itself (Vela's mlw_codec)."""

from __future__ import annotations

import numpy as np
import pytest

from perfsage.graph.weights import expected_share_2of4, uniform_int8_stats, weight_stats

mlw_codec = pytest.importorskip("ethosu.mlw_codec")


def _trained(rng, shape, shape_param):
    from scipy.stats import gennorm

    x = gennorm.rvs(shape_param, size=shape, random_state=rng)
    peak = np.abs(x).max(axis=tuple(range(1, len(shape))), keepdims=True)
    return np.round(x / peak * 127).astype(np.int8)


def _variants(rng, shape, shape_param):
    dense = _trained(rng, shape, shape_param)
    out = {"dense": dense, "uniform": rng.integers(-127, 128, shape).astype(np.int8)}
    for share in (0.5, 0.9):
        w = dense.copy()
        w[np.abs(w.astype(int)) <= np.quantile(np.abs(w.astype(int)), share)] = 0
        out[f"prune {share}"] = w
    for k in (4, 16):
        levels = np.linspace(-127, 127, k)
        out[f"{k} levels"] = levels[np.abs(dense[..., None] - levels).argmin(-1)].round().astype(np.int8)
    w = dense.reshape(-1, 4).copy()
    np.put_along_axis(w, np.argsort(np.abs(w.astype(int)), 1)[:, :2], 0, 1)
    out["2:4"] = w.reshape(shape)
    out["4 bits"] = (np.round(dense / 127 * 7) * 18).astype(np.int8)
    return out


def test_codec_estimate_follows_the_codec():
    rng = np.random.default_rng(3)
    errors, bits = [], {}
    for shape in ((64, 3, 3, 32), (96, 1, 1, 160)):
        for shape_param in (0.9, 1.6):
            for name, w in _variants(rng, shape, shape_param).items():
                actual = len(mlw_codec.encode(w.astype(np.int64).ravel().tolist())) * 8 / w.size
                est = weight_stats(w).codec_bits
                errors.append(abs(est / actual - 1))
                assert abs(est / actual - 1) < 0.15, (shape, shape_param, name, est, actual)
                bits.setdefault(name, []).append(est)
    assert np.median(errors) < 0.03
    mean = {k: np.mean(v) for k, v in bits.items()}
    assert mean["prune 0.9"] < mean["4 levels"] < mean["prune 0.5"] < mean["dense"] < mean["uniform"] <= 8.1


def test_codec_estimate_of_degenerate_tensors():
    for w in (np.zeros((8, 1, 1, 8), np.int8), np.full((8, 1, 1, 8), 5, np.int8), np.array([1], np.int8)):
        s = weight_stats(w)
        assert 0 < s.codec_bytes <= 32 and s.codec_bits > 0  # a header and one padded block at most
    assert weight_stats(np.zeros((4,), np.float32), "FLOAT32").codec_bits == 32  # not coded: as stored


@pytest.mark.parametrize("shape", [(8, 3, 3, 1), (16, 1, 1, 6), (64, 3, 3, 32), (1, 3, 3, 96),
                                   (1000, 1280), (512, 1, 1, 1022)])
def test_uniform_stats_without_values_match_drawn_values(shape):
    """A dry build's weight statistics (counts drawn, no values) read like those of real uniform weights."""
    n, depth = int(np.prod(shape)), shape[-1]
    rng = np.random.default_rng(3)
    drawn = [weight_stats(np.maximum(rng.integers(-128, 128, n, dtype=np.int8), np.int8(-127)).reshape(shape))
             for _ in range(20)]
    counted = uniform_int8_stats(n, depth, np.random.default_rng(n))
    assert counted.values == n
    for field, tol in (("zero_share", 0.05), ("mean_abs_share", 0.05), ("sparse_2of4_share", 0.05),
                       ("entropy_bits", 0.15), ("codec_bits", 0.35)):
        lo = min(getattr(d, field) for d in drawn)
        hi = max(getattr(d, field) for d in drawn)
        assert lo - tol <= getattr(counted, field) <= hi + tol, (field, getattr(counted, field), lo, hi)
    assert min(d.distinct for d in drawn) - 5 <= counted.distinct <= max(d.distinct for d in drawn) + 5


def test_expected_2of4_share():
    assert expected_share_2of4(1.0, 4) == 0.0 and expected_share_2of4(1.0, 2) == 1.0
    assert expected_share_2of4(1.0, 6) == 0.5  # one full group of 4 nonzeros, one padded group of 2
    assert expected_share_2of4(0.5, 4) == pytest.approx(11 / 16)
