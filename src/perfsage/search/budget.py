"""What a search asks for: budgets on the target's metrics and a capacity to maximise.

The reward is ArchGym's target-specification reward turned into "the largest model that fits", the rule
TinyNAS and MCUNet search by: a design within every budget scores log10 of its objective (MACs or
parameters, always above 1, so any fitting design beats any that does not); one over budget scores minus
its summed log overshoot, so an agent is pulled towards the budgets from outside. Fitting is judged on
the upper end of the cost model's 90% interval where it has one: a design the proxy calls fitting then
still fits when the real tool measures it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from perfsage.errors import PerfsageError

OBJECTIVES = ("macs", "params")
BUDGET_METRICS = ("latency_ms", "sram_kib", "flash_kib", "arena_kib", "energy_mj", "peak_heap_kib")


@dataclass(frozen=True)
class Budget:
    limits: dict[str, float] = field(default_factory=dict)  # metric -> largest allowed value
    objective: str = "macs"

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise PerfsageError(f"unknown objective {self.objective!r} (choose from {', '.join(OBJECTIVES)})")
        for m, v in self.limits.items():
            if m not in BUDGET_METRICS:
                raise PerfsageError(f"no budget on {m!r} (budgets: {', '.join(BUDGET_METRICS)})")
            if not (v > 0 and math.isfinite(v)):
                raise PerfsageError(f"the {m} budget must be a positive number, not {v}")

    def check_target(self, target: str, metrics: list[str]) -> None:
        """Every budget must be a metric the target reports."""
        if not self.limits:
            raise PerfsageError("give at least one budget (--max-latency-ms, --max-sram-kib, --max-flash-kib, "
                                "--max-arena-kib; in Python also " + ", ".join(BUDGET_METRICS) + ")")
        missing = [m for m in self.limits if m not in metrics]
        if missing:
            raise PerfsageError(f"{target} does not report {', '.join(missing)} (it reports {', '.join(metrics)})")

    def overshoot(self, values: dict[str, float]) -> float:
        """Summed log overshoot of the budgets (0: every budget met)."""
        return sum(max(0.0, math.log(max(values[m], 1e-12) / limit)) for m, limit in self.limits.items())

    def fits(self, values: dict[str, float]) -> bool:
        return all(values[m] <= limit for m, limit in self.limits.items())

    def reward(self, objective: float, values: dict[str, float]) -> float:
        if self.fits(values):
            return math.log10(max(objective, 10.0))
        return -self.overshoot(values)

    def to_dict(self) -> dict[str, object]:
        return {"objective": self.objective, "limits": dict(self.limits)}
