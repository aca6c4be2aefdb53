"""A whole search: agent x cost model over a space, then the chosen designs written and re-measured.

The designs reported are the largest that fit by the upper ends of the cost model's 90% intervals; each
is written as .tflite and measured with the target's real tool, so the result says, design by design,
what was predicted, what was measured and whether it truly fits. The evaluation journal in the output
folder makes a rerun of a killed search replay what it already paid for (agents are deterministic in
their seed), then go on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from perfsage.errors import PerfsageError
from perfsage.search.agents import get_agent
from perfsage.search.budget import Budget
from perfsage.search.cost import COSTS, CostModel, cost_model, measure_design, write_design
from perfsage.search.env import SearchEnv, Visit, best_visits, pareto_visits, require_feasible
from perfsage.spaces import space_names
from perfsage.spaces.base import ArchSpec

RESULT = "search.json"
REPORT = "report.html"


@dataclass
class SearchConfig:
    space: str
    target: str
    budget: Budget
    agent: str = "evolution"
    evaluations: int = 1000
    cost: str = "proxy"
    seed: int = 0
    out: Path = Path("search-out")
    top: int = 3
    workers: int = 2  # simulator workers
    ray_address: str | None = None
    verify: bool = True  # re-measure the reported designs with the real tool
    max_seconds: float | None = None  # wall-clock budget of the search itself (then evaluations is a cap)

    def check(self) -> None:
        if self.space not in space_names():
            raise PerfsageError(f"unknown space {self.space!r} (choose from {', '.join(space_names())})")
        if self.cost not in COSTS:
            raise PerfsageError(f"unknown cost model {self.cost!r} (choose from {', '.join(COSTS)})")
        if self.evaluations < 1:
            raise PerfsageError(f"--evaluations must be at least 1, not {self.evaluations}")
        if self.max_seconds is not None and not self.max_seconds > 0:
            raise PerfsageError(f"--max-seconds must be positive, not {self.max_seconds}")
        if self.top < 1:
            raise PerfsageError(f"--top must be at least 1, not {self.top}")
        get_agent(self.agent)  # an unknown agent fails here, before any work
        try:
            self.out.mkdir(parents=True, exist_ok=True)
            probe = self.out / ".writable"
            probe.write_text("")
            probe.unlink()
        except OSError as e:
            raise PerfsageError(f"{self.out}: cannot write there ({e.strerror or e})") from None


@dataclass
class Design:
    model: str  # the .tflite written
    arch: dict[str, Any]
    objective: dict[str, float]
    predicted: dict[str, dict[str, float]]  # metric -> {"value", "high"}: what the search's cost model said
    measured: dict[str, float] | None  # the real tool's values (None: not verified)
    fits: bool | None  # measured values within every budget (None: not verified)
    ood: bool = False
    error: str = ""


@dataclass
class SearchResult:
    config: dict[str, Any]
    evaluations: int
    seconds: float
    search_seconds: float
    best: list[Design]
    pareto: list[dict[str, Any]]
    timings_ms: dict[str, float] = field(default_factory=dict)  # per evaluation, by stage

    def to_dict(self) -> dict[str, Any]:
        return {"evaluations": self.evaluations, "seconds": round(self.seconds, 2),
                "search_seconds": round(self.search_seconds, 2), "config": self.config,
                "best": [asdict(d) for d in self.best], "pareto": self.pareto,
                "timings_ms_per_evaluation": {k: round(v, 3) for k, v in self.timings_ms.items()}}


def _visit_record(v: Visit) -> dict[str, Any]:
    return {"step": v.step, "arch": v.arch, "objective": v.evaluation.objective, "values": v.evaluation.values,
            "upper": v.evaluation.upper, "fits": v.fits}


def verify(visits: list[Visit], space: str, target: str, budget: Budget, out: Path, measure: bool
           ) -> list[Design]:
    """Writes each chosen design as .tflite and, if measure, measures it with the target's real tool."""
    from perfsage.targets import get_target

    tool = get_target(target) if measure else None
    designs = []
    try:
        for k, v in enumerate(visits, start=1):
            data = write_design(ArchSpec(space, v.arch))
            path = out / f"design-{k}.tflite"
            path.write_bytes(data)
            measured, fits, error = None, None, ""
            if tool is not None:
                got = measure_design(tool, data)
                if isinstance(got, str):
                    error, fits = got, False
                else:
                    measured = {m: got[m] for m in v.evaluation.values if m in got}
                    missing = [m for m in budget.limits if m not in measured]
                    if missing:  # the tool gave no value for a budgeted metric: fit unknown
                        error = f"the tool reported no {', '.join(missing)}"
                    else:
                        fits = budget.fits(measured)
            predicted = {m: {"value": v.evaluation.values[m], "high": v.evaluation.upper[m]}
                         for m in v.evaluation.values}
            designs.append(Design(str(path), v.arch, v.evaluation.objective, predicted, measured, fits,
                                  v.evaluation.ood, error))
    finally:
        if tool is not None:
            tool.close()
    return designs


def search(cfg: SearchConfig, progress: Callable[[int, int], None] | None = None,
           cost: CostModel | None = None) -> SearchResult:
    """Runs the search of cfg and writes its designs, search.json and report.html into cfg.out."""
    cfg.check()
    t0 = time.perf_counter()
    cost = cost or cost_model(cfg.cost, cfg.target, None, cfg.workers, cfg.ray_address)
    if cost.journal.path is None:
        cost.use_journal(cfg.out, cfg.space)
    try:
        env = SearchEnv(cfg.space, cost, cfg.budget, cfg.evaluations, progress, cfg.max_seconds)
        get_agent(cfg.agent, cfg.seed).run(env)
    finally:
        cost.close()
    search_seconds = time.perf_counter() - t0
    require_feasible(env)
    chosen = best_visits(env.history, cfg.budget.objective, cfg.top)
    designs = verify(chosen, cfg.space, cfg.target, cfg.budget, cfg.out, cfg.verify)
    front = pareto_visits(env.history, cfg.budget.objective, env.metrics)
    config = {"space": cfg.space, "target": cfg.target, "agent": cfg.agent, "cost": cfg.cost, "seed": cfg.seed,
              "evaluations": cfg.evaluations, "max_seconds": cfg.max_seconds, "budget": cfg.budget.to_dict()}
    result = SearchResult(config, len(env.history), time.perf_counter() - t0, search_seconds, designs,
                          [_visit_record(v) for v in front], cost.timings.per_evaluation_ms())
    (cfg.out / RESULT).write_text(json.dumps(result.to_dict(), indent=1) + "\n")
    from perfsage.search.report import write_search_report

    write_search_report(result, [_visit_record(v) for v in env.history], cfg.out / REPORT)
    return result
