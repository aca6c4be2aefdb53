"""Hardware targets: one registry, used by `label`, `dataset build`, `train` and `predict`.

A target name is a built-in name or the path of a TOML file defining a command target.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from perfsage.errors import PerfsageError
from perfsage.targets.base import Labels, Target, TargetError, TargetMetric


def _vela(name: str) -> Callable[[], Target]:
    def make() -> Target:
        from perfsage.targets.vela import CONFIGS, VelaTarget

        return VelaTarget(CONFIGS[name])
    return make


def _cpu() -> Target:
    from perfsage.targets.cpu_litert import CpuLiteRTTarget

    return CpuLiteRTTarget()


def _tflm() -> Target:
    from perfsage.targets.tflm import TFLiteMicroTarget

    return TFLiteMicroTarget()


BUILTIN: dict[str, Callable[[], Target]] = {
    "ethos-u55-128": _vela("ethos-u55-128"),
    "ethos-u55-64": _vela("ethos-u55-64"),
    "ethos-u65-256": _vela("ethos-u65-256"),
    "ethos-u85-256": _vela("ethos-u85-256"),
    "cpu-litert": _cpu,
    "mcu-tflm": _tflm,
}
DEFAULT_TARGET = "ethos-u55-128"


def target_names() -> list[str]:
    return list(BUILTIN)


def is_host_bound(name: str) -> bool:
    """Whether a built-in target's labels are about the machine that measures them (host CPU latency)."""
    return name in BUILTIN and BUILTIN[name]().host_bound


def get_target(name: str) -> Target:
    """A built-in target by name, or a command target from a TOML file path."""
    if name in BUILTIN:
        return BUILTIN[name]()
    if name.endswith(".toml"):
        if not Path(name).is_file():
            raise PerfsageError(f"{name}: no such target definition file")
        from perfsage.targets.command import CommandTarget

        return CommandTarget.from_toml(name)
    raise PerfsageError(f"unknown target {name!r} (choose from {', '.join(BUILTIN)}, or a .toml device file)")


__all__ = ["BUILTIN", "DEFAULT_TARGET", "Labels", "Target", "TargetError", "TargetMetric", "get_target",
           "is_host_bound", "target_names"]
