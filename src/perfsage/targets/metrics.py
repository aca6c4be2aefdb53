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


@dataclass(frozen=True, slots=True)
class Part:
    """A share of a metric that the target reports beside it, in every label's provenance."""

    name: str  # same unit as `of`
    of: str
    provenance_key: str
    scale: float  # provenance value -> the metric's unit
    summed: bool  # a sum over operators (else a peak over the run)


# TFLite Micro's arena is a head, the tensors its memory planner lays out (a peak over the run), plus a
# tail, what stays allocated for the whole run (per-operator data, per-channel quantisation, tensor
# structs: a sum over operators); RecordingMicroAllocator reports both. On the EdgeDLPerf task spaces
# the tail is 4% (segmentation) to 43% (keyword spotting) of the arena.
PARTS: tuple[Part, ...] = (
    Part("arena_head_kib", "arena_kib", "arena_head_bytes", 1 / 1024, False),
    Part("arena_tail_kib", "arena_kib", "arena_tail_bytes", 1 / 1024, True),
)


def parts_of(metric: str) -> tuple[Part, ...]:
    return tuple(p for p in PARTS if p.of == metric)


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
