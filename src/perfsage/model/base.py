"""The one interface every predictor answers (scikit-learn style), so evaluation treats them alike.

`fit(train, val)` learns from GraphSets; `predict(graphs)` returns {metric: array} in the metric's own
unit; `save(dir)` / `load(dir)` write weights without pickled code (safetensors / JSON / LightGBM text).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from perfsage.graph.encode import EncodedGraph
from perfsage.model.data import GraphSet


class Estimator(ABC):
    name: str
    metrics: list[str]

    @abstractmethod
    def fit(self, train: GraphSet, val: GraphSet | None = None) -> Estimator: ...

    @abstractmethod
    def predict(self, graphs: list[EncodedGraph]) -> dict[str, np.ndarray]: ...

    @abstractmethod
    def save(self, path: Path) -> None: ...

    @classmethod
    @abstractmethod
    def load(cls, path: Path) -> Estimator: ...


def write_json(path: Path, obj: dict[str, Any]) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_jsonable))


R = TypeVar("R")


def read_record(path: Path, build: Callable[[dict], R]) -> R | None:
    """An optional JSON file beside a checkpoint (calibration, domain), built into its record: None if
    the file is absent, a one-line error if it is not what perfsage wrote."""
    if not path.is_file():
        return None
    try:
        return build(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError, AttributeError, IndexError):  # JSONDecodeError is a ValueError
        from perfsage.errors import PerfsageError

        raise PerfsageError(f"{path}: malformed (not as perfsage writes it)") from None


def _jsonable(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(type(o))
