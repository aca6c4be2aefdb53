"""What a search space is: sample an architecture from a seed, build it into int8 .tflite bytes.

Everything is deterministic from (space, seed, GENERATOR_VERSION): `sample(seed)` draws the
architecture, `build(arch, seed)` draws the weights. Bump GENERATOR_VERSION whenever a change alters
the bytes any (space, seed) produces, so stored datasets can tell which generator made their rows.
"""

from __future__ import annotations

import json
import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import numpy as np

GENERATOR_VERSION = 1
# inside sampling_from(rng): every space's `sample` draws from rng, whatever its seed (a derived space's
# base architecture too), so an architecture is a function of rng's draws alone
_SAMPLE_DRAWS: ContextVar[Any] = ContextVar("perfsage_sample_draws", default=None)


@contextmanager
def sampling_from(rng) -> Iterator[None]:
    """Spaces sample from rng (an object answering numpy Generator's integers/random/choice) instead of
    their seeded generators: what a search's genome decodes through (perfsage.search.genome)."""
    token = _SAMPLE_DRAWS.set(rng)
    try:
        yield
    finally:
        _SAMPLE_DRAWS.reset(token)


@dataclass(frozen=True)
class ArchSpec:
    """One architecture of a space: a JSON-able dict of its choices."""

    space: str
    arch: dict[str, Any] = field(hash=False)

    def to_json(self) -> str:
        return json.dumps({"space": self.space, "arch": self.arch}, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> ArchSpec:
        d = json.loads(text)
        return cls(space=d["space"], arch=d["arch"])


class Space(ABC):
    name: str
    task: str
    description: str
    fully_int8: bool = True  # its models are fully int8, so every target runs them (Vela, TFLite Micro)
    # whether `build` inside builder.dry_build gives the graph IR (its bytes are ModelBuilder's own, not
    # rewritten after: a compression or precision rewrite needs the weight values)
    dry_buildable: bool = True

    def _rng(self, seed: int, stream: int) -> np.random.Generator:
        return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(self.name.encode()), stream,
                                      GENERATOR_VERSION])

    def sample_rng(self, seed: int) -> np.random.Generator:
        override = _SAMPLE_DRAWS.get()
        return override if override is not None else self._rng(seed, 0)

    def weight_rng(self, seed: int) -> np.random.Generator:
        return self._rng(seed, 1)

    def builder(self, seed: int, note: str = ""):
        """A ModelBuilder drawing this model's weights, its description naming the space."""
        from perfsage.spaces.builder import ModelBuilder

        return ModelBuilder(self.weight_rng(seed), description=f"perfsage {self.name} {note}".strip())

    @abstractmethod
    def sample(self, seed: int) -> ArchSpec:
        """A random architecture, deterministic in `seed`."""

    @abstractmethod
    def build(self, arch: ArchSpec, seed: int = 0) -> bytes:
        """The int8 .tflite for `arch`, with random weights deterministic in `seed`."""

    @abstractmethod
    def choices(self) -> dict[str, Any]:
        """The documented choices and ranges of the space."""

    @abstractmethod
    def size_log10(self) -> float:
        """log10 of the number of distinct architectures."""

    def parse_arch(self, text: str) -> ArchSpec:
        """An architecture from a user string (`--arch`): JSON of the arch dict by default."""
        return ArchSpec(self.name, json.loads(text))

    def synth(self, seed: int) -> tuple[ArchSpec, bytes]:
        arch = self.sample(seed)
        return arch, self.build(arch, seed)


def union_size_log10(names) -> float:
    """log10 of the number of architectures of several spaces together (a space built on other spaces'
    architectures counts at least their union)."""
    from perfsage.spaces import get_space

    return float(np.log10(sum(10 ** min(get_space(s).size_log10(), 300.0) for s in names)))


# the spaces a derived space (compressed, precision) redraws architectures from: every dataset space that
# writes int8 models of its own
DERIVED_FROM = ("classification", "detection", "kws", "segmentation", "mixed", "converter", "unet", "tinyvision")


def draw_base(rng: np.random.Generator, seed_offset: int) -> dict[str, Any]:
    """A derived space's `base` and `base_seed`: one of DERIVED_FROM's architectures, sampled at a seed of
    seed_offset and beyond (clear of that space's own dataset seeds)."""
    from perfsage.spaces import get_space

    base = choice(rng, DERIVED_FROM)
    base_seed = seed_offset + int(rng.integers(1 << 30))
    return {"base": json.loads(get_space(base).sample(base_seed).to_json()), "base_seed": base_seed}


def build_base(arch: dict[str, Any], seed: int) -> bytes:
    """The base architecture of a derived space's arch, written as its own space writes it."""
    from perfsage.spaces import get_space

    base = arch["base"]
    return get_space(base["space"]).build(ArchSpec(base["space"], base["arch"]), seed)


def choice(rng: np.random.Generator, options):
    """One element of `options`, as a plain Python value."""
    v = options[int(rng.integers(len(options)))]
    return v.item() if hasattr(v, "item") else v


def make_divisible(v: float, divisor: int = 8) -> int:
    """Channel rounding of MobileNet (never below 90% of v)."""
    new = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * v else new
