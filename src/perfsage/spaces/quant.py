"""Quantisation rules of the int8 writer, in one place.

Weights follow the TFLite int8 spec: symmetric per-channel, zero point 0, values in [-127, 127]. Real
weights are drawn He-style (std sqrt(2 / fan_in)), so real activations stay near unit variance through
any depth; every activation tensor then gets the fixed scale of its activation family below. That
keeps every requantisation multiplier in a normal range (no ~1e-8 scales, which abort TFLite Micro)
and makes tensors of the same family share quantisation, which CONCATENATION wants.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class QParams:
    scale: float
    zero_point: int


# Activation families: the real-valued range each covers, as (scale, zero point).
INPUT = QParams(1 / 128, 0)  # inputs in [-1, 1)
LINEAR = QParams(8 / 255, 0)  # unit-variance pre-activations, about +-4 sigma
RELU = QParams(6 / 255, -128)  # [0, 6]
RELU6 = QParams(6 / 255, -128)
HARD_SWISH = QParams(6.375 / 255, -113)  # [-0.375, 6]
LOGISTIC = QParams(1 / 256, -128)  # fixed by the TFLite int8 kernels
TANH = QParams(1 / 128, 0)  # fixed by the TFLite int8 kernels
SOFTMAX = QParams(1 / 256, -128)  # fixed by the TFLite int8 kernels
SUM = QParams(12 / 255, 0)  # a sum of two unit-variance branches

FUSED = {"NONE": LINEAR, "RELU": RELU, "RELU6": RELU6}

_UNIFORM_STD = 127 / np.sqrt(3)  # std of integers uniform in [-127, 127]


def weight_scales(rng: np.random.Generator, channels: int, fan_in: int) -> np.ndarray:
    """Per-channel scales so that uniform int8 weights have He std, with +-20% spread per channel."""
    he_std = np.sqrt(2.0 / max(fan_in, 1))
    return (he_std / _UNIFORM_STD * rng.uniform(0.8, 1.2, channels)).astype(np.float32)


class WeightPool:
    """Random int8 weights in [-127, 127] (never -128, per the spec) for one model.

    Drawing every weight fresh costs ~1 ms per MB (a third of a MobileNet build), so each model draws one
    1 MiB pool of uniform bytes (-128 folded onto -127) and every tensor is a slice of it starting at a
    random offset (tiled past the end). Each tensor is uniformly distributed as before; tensors are
    correlated with each other, which no target can see: Vela and the runtimes treat tensors separately.
    """

    SIZE = 1 << 20

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.pool = np.maximum(np.frombuffer(rng.bytes(self.SIZE), dtype=np.int8), np.int8(-127))

    def take(self, shape: tuple[int, ...]) -> np.ndarray:
        n = int(np.prod(shape))
        start = int(self.rng.integers(self.SIZE))
        if start + n <= self.SIZE:
            return self.pool[start:start + n].reshape(shape)
        reps = -(-(start + n) // self.SIZE)
        return np.tile(self.pool, reps)[start:start + n].reshape(shape)


def random_weights(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Fresh int8 weights in [-127, 127] (never -128) for one-off tensors."""
    n = int(np.prod(shape))
    return np.maximum(np.frombuffer(rng.bytes(n), dtype=np.int8), np.int8(-127)).reshape(shape)


def random_bias(rng: np.random.Generator, bias_scales: np.ndarray) -> np.ndarray:
    """int32 biases for real values ~ N(0, 0.1^2) at scale input_scale x weight_scale."""
    real = rng.normal(0.0, 0.1, bias_scales.shape[0])
    q = np.round(real / bias_scales.astype(np.float64))
    return np.clip(q, -(2**31) + 1, 2**31 - 1).astype(np.int32)


_UNIFORM_STATS: dict[tuple[int, int], object] = {}


def uniform_weight_stats(shape: tuple[int, ...]):
    """The statistics (perfsage.graph.weights) of a tensor of this shape holding WeightPool's uniform int8
    values, from one fixed draw of their counts per (size, depth) (graph.weights.uniform_int8_stats: no
    values drawn, so a new shape costs the same whatever its size):
    what a dry build gives its weights in place of values."""
    n = math.prod(shape)
    key = (n, shape[-1] if shape else 1)
    stats = _UNIFORM_STATS.get(key)
    if stats is None:
        from perfsage.graph.weights import uniform_int8_stats

        stats = _UNIFORM_STATS[key] = uniform_int8_stats(n, key[1], np.random.default_rng(n))
    return stats
