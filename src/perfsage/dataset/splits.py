"""Deterministic train/validation/test splits of a dataset's model ids.

- `random`: the paper's protocol, 80/20 by a seeded hash of the id (stable as the dataset grows: a model
  never moves between sides when more models are added).
- `leave-out:SPACE`: train on every other space, test on SPACE (generalisation to an unseen task).
- `size`: size-stratified 80/20: within each MACs decile, 80/20 by hash, so both sides cover every size.
A validation set for early stopping is carved from the training side the same way (`val_fraction`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from perfsage.errors import PerfsageError


@dataclass(frozen=True)
class Split:
    name: str
    train: list[str]
    val: list[str]
    test: list[str]


def _u(key: str, seed: int) -> float:
    """A uniform number in [0, 1) from (seed, key), stable across runs and machines."""
    h = hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "little") / 2**64


def _carve_val(train: list[str], val_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    val = [i for i in train if _u(i, seed + 1) < val_fraction]
    vs = set(val)
    return [i for i in train if i not in vs], val


def make_split(name: str, ids: list[str], spaces: list[str], macs: list[float] | None = None,
               test_fraction: float = 0.2, val_fraction: float = 0.1, seed: int = 0) -> Split:
    if name == "random":
        test = [i for i in ids if _u(i, seed) < test_fraction]
    elif name.startswith("leave-out:"):
        held = name.split(":", 1)[1]
        if held not in set(spaces):
            raise PerfsageError(f"split {name!r}: no models of space {held!r} in the dataset")
        test = [i for i, s in zip(ids, spaces, strict=True) if s == held]
    elif name == "size":
        if macs is None:
            raise PerfsageError("the size split needs MACs")
        edges = np.quantile(np.asarray(macs, float), np.linspace(0, 1, 11)[1:-1])
        decile = np.searchsorted(edges, macs, side="right")
        # within each decile, the lowest-hash 20% go to test
        test = []
        for d in np.unique(decile):
            members = [ids[k] for k in np.flatnonzero(decile == d)]
            members.sort(key=lambda i: _u(i, seed))
            test += members[: max(1, round(test_fraction * len(members)))]
    else:
        raise PerfsageError(f"unknown split {name!r} (random, size, or leave-out:SPACE)")
    ts = set(test)
    train, val = _carve_val([i for i in ids if i not in ts], val_fraction, seed)
    return Split(name, train, val, test)
