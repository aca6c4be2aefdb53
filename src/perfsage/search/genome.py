"""A search space's architectures as fixed-length vectors in [0, 1): random keys.

Every space already samples its architectures from a random generator, one draw per choice. A genome
stands in for that generator: its k-th number answers the sampler's k-th draw (an integer below n is
floor(g * n), a weighted choice inverts the weights' cumulative sum), so one decoder serves every space,
its constraints and rejection loops included, and an agent searches a box [0, 1)^L whatever the space.
A genome shorter than a sampler's appetite goes on with a generator seeded from the genome itself, so
decoding never fails and stays deterministic. This is the random-key encoding of genetic algorithms
(Bean 1994); neighbouring genomes are neighbouring architectures where the sampler draws choice by choice
in a fixed order (a stage's width before its depth, and so on).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from perfsage.spaces import get_space
from perfsage.spaces.base import ArchSpec, Space, sampling_from

PROBES = 64  # random genomes decoded to size a space's genome
MIN_LENGTH, MAX_LENGTH = 8, 512


class GeneRng:
    """The part of numpy's Generator interface the samplers use, answered from a genome."""

    def __init__(self, genes: np.ndarray) -> None:
        self.genes = np.asarray(genes, dtype=np.float64)
        self.used = 0
        self._fallback: np.random.Generator | None = None

    def _next(self) -> float:
        if self.used < len(self.genes):
            g = float(self.genes[self.used])
        else:
            if self._fallback is None:
                digest = hashlib.sha256(np.round(self.genes, 12).tobytes()).digest()
                self._fallback = np.random.default_rng(int.from_bytes(digest[:8], "little"))
            g = float(self._fallback.random())
        self.used += 1
        return min(max(g, 0.0), np.nextafter(1.0, 0.0))

    def random(self, size=None):
        if size is None:
            return self._next()
        return np.array([self._next() for _ in range(int(np.prod(size)))]).reshape(size)

    def integers(self, low, high=None, size=None, dtype=np.int64, endpoint: bool = False):
        lo, hi = (0, low) if high is None else (low, high)
        hi = hi + 1 if endpoint else hi
        if size is None:
            return dtype(lo + int(self._next() * (hi - lo)))
        return np.array([lo + int(self._next() * (hi - lo)) for _ in range(int(np.prod(size)))],
                        dtype=dtype).reshape(size)

    def choice(self, a, size=None, replace: bool = True, p=None):
        options = np.arange(a) if isinstance(a, int | np.integer) else np.asarray(a)
        cum = np.cumsum(p if p is not None else np.full(len(options), 1.0 / len(options)))
        cum /= cum[-1]

        def one():
            return options[min(int(np.searchsorted(cum, self._next(), side="right")), len(options) - 1)]

        if size is None:
            return one()
        return np.array([one() for _ in range(int(np.prod(size)))]).reshape(size)

    def uniform(self, low=0.0, high=1.0, size=None):
        if size is None:
            return low + (high - low) * self._next()
        return low + (high - low) * self.random(size)


def decode_with(space: Space, genes: np.ndarray) -> tuple[ArchSpec, int]:
    """The architecture a genome stands for, and how many draws the sampler made. The space's own sampler
    reads the genome for its draws, and so does a derived space's (compressed, precision, converter)
    sampling of its base architecture."""
    rng = GeneRng(genes)
    with sampling_from(rng):
        return space.sample(0), rng.used


@dataclass(frozen=True)
class Genome:
    """A space's genome: its length (enough for every draw of PROBES random genomes but the rarest)."""

    space: str
    length: int

    @classmethod
    def of(cls, space: str) -> Genome:
        sp = get_space(space)
        rng = np.random.default_rng(0)
        used = [decode_with(sp, rng.random(MAX_LENGTH))[1] for _ in range(PROBES)]
        return cls(space, int(np.clip(np.ceil(np.percentile(used, 95)), MIN_LENGTH, MAX_LENGTH)))

    def decode(self, genes: np.ndarray) -> ArchSpec:
        genes = np.asarray(genes, dtype=np.float64).reshape(-1)
        if genes.size != self.length:
            raise ValueError(f"a {self.space} genome has {self.length} genes, not {genes.size}")
        return decode_with(get_space(self.space), genes)[0]

    def random(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.random((n, self.length))
