"""Metric names and units: the one table every target, the dataset, the models and the CLI use."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Metric:
    name: str  # carries its unit, e.g. latency_ms, so a number never travels without one
    unit: str
    description: str


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("latency_ms", "ms", "time of one inference"),
    Metric("npu_cycles", "cycles", "NPU clock cycles of one inference (Vela's cycles_total)"),
    Metric("energy_mj", "mJ", "energy of one inference"),
    Metric("sram_kib", "KiB", "on-chip SRAM the compiled network uses (tensor arena + staging)"),
    Metric("flash_kib", "KiB", "off-chip flash the compiled network uses (weights + command stream)"),
    Metric("cpu_ops", "operators", "operators left to run on the host CPU"),
    Metric("arena_kib", "KiB", "minimum TensorFlow Lite Micro tensor arena"),
    Metric("peak_heap_kib", "KiB", "heap growth across LiteRT's allocate_tensors"),
)}

# How a target obtains a metric; shown by `perfsage targets` and stored with every label.
ESTIMATED_BY_VELA = "estimated by Vela"
MEASURED = "measured"
MODELLED = "modelled"
COUNTED = "counted"
REPORTED = "reported by the device command"


def unit_of(name: str) -> str:
    """The unit of a metric name, also of a real device's column such as `latency_ms@pixel2`; "" if unknown."""
    m = METRICS.get(name.split("@", 1)[0])
    return m.unit if m else ""


def metric(name: str) -> Metric:
    from perfsage.errors import PerfsageError

    try:
        return METRICS[name]
    except KeyError:
        raise PerfsageError(f"unknown metric {name!r} (known: {', '.join(METRICS)})") from None
