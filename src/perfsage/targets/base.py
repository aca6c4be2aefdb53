"""What a hardware target is: named metrics and `measure(model) -> Labels`, with provenance."""

from __future__ import annotations

import platform
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from perfsage.errors import PerfsageError


class TargetError(PerfsageError):
    """The tool crashed, hung, or rejected the model: a recorded failure, not a bug."""

    def __init__(self, target: str, kind: str, reason: str) -> None:
        super().__init__(f"{target}: {kind}: {reason}")
        self.target, self.kind, self.reason = target, kind, reason


@dataclass(frozen=True, slots=True)
class TargetMetric:
    name: str  # a key of perfsage.targets.metrics.METRICS
    how: str  # "estimated by Vela", "measured", "modelled", ...


@dataclass
class Labels:
    """Ground truth for one model on one target."""

    target: str
    metrics: dict[str, float]
    layers: list[dict[str, Any]] = field(default_factory=list)  # {"index": TFLite op index, "op", metric...}
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def host_info() -> dict[str, str]:
    from perfsage.targets.host import this_host

    return {"host": platform.node(), "cpu": this_host().model_name, "python": platform.python_version(),
            "os": platform.platform()}


def model_bytes(model: str | Path | bytes) -> bytes:
    if isinstance(model, bytes | bytearray):
        return bytes(model)
    p = Path(model)
    if not p.is_file():
        raise PerfsageError(f"{p}: no such file")
    return p.read_bytes()


class Target(ABC):
    name: str
    description: str
    metrics: tuple[TargetMetric, ...]
    # whether labels are about the machine that measures them (host CPU latency): such labels and the
    # predictors trained on them record the host's fingerprint (perfsage.targets.host)
    host_bound: bool = False

    @abstractmethod
    def measure(self, model: str | Path | bytes, per_layer: bool = True) -> Labels:
        """Labels for the model; raises TargetError when the tool fails on it."""

    def close(self) -> None:  # noqa: B027 - optional hook, most targets hold nothing
        """Release worker processes."""

    def metric_names(self) -> list[str]:
        return [m.name for m in self.metrics]
