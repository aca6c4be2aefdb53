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

    def read(self, provenance: dict) -> float | None:
        """This part in its metric's unit, from a label's provenance (None: not reported)."""
        value = provenance.get(self.provenance_key)
        return None if value is None else float(value) * self.scale


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


def composition(metrics: list[str], labelled) -> dict[str, list[str]]:
    """The metrics a model can predict as the sum of their parts: those whose every part is `labelled`."""
    return {m: [p.name for p in parts_of(m)] for m in metrics
            if parts_of(m) and all(p.name in labelled for p in parts_of(m))}


def outputs_of(metrics: list[str], composed: dict[str, list[str]]) -> list[str]:
    """What a model predicts: each metric, or for a metric in `composed` its parts instead."""
    return [o for m in metrics for o in composed.get(m, [m])]


def part_names(composed: dict[str, list[str]]) -> list[str]:
    return [p for names in composed.values() for p in names]


def with_sums(values: dict, composed: dict[str, list[str]]) -> dict:
    """The outputs' values, plus each composed metric's: the sum of its parts'."""
    return {**values, **{m: sum(values[p] for p in names) for m, names in composed.items()}}


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
