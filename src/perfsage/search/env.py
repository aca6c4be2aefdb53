"""The search gym: a Gymnasium environment over a space's genomes, a cost model and a budget (ArchGym's
shape: agent -> environment -> cost model, the agent never knowing whether a proxy or a simulator
answers).

An action is a genome (a point of [0, 1)^L, `perfsage.search.genome`); the episode is one design, as in
ArchGym's single-step environments; the observation is the design's cost, each budgeted metric as log
(value / budget) and the objective as log10, and the reward is the budget's (`Budget.reward`). Agents
that propose a population at once call `evaluate` with the whole batch (one network call for the
proxy, every worker busy for the simulator); both paths count towards `max_evaluations` and land in
`history`.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from perfsage.errors import PerfsageError
from perfsage.search.budget import Budget
from perfsage.search.cost import CostModel, Evaluation
from perfsage.search.genome import Genome


@dataclass
class Visit:
    """One evaluation of the search, in order: what the agent proposed and what it cost."""

    step: int
    seconds: float  # since the search started
    genome: np.ndarray
    arch: dict[str, Any]
    evaluation: Evaluation
    reward: float
    fits: bool  # by the upper ends of the intervals


class OutOfEvaluations(Exception):
    """The environment's evaluation or time budget is spent: the agent's loop ends here."""


class SearchEnv(gym.Env):
    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(self, space: str, cost: CostModel, budget: Budget, max_evaluations: int | None = None,
                 progress: Callable[[int, int], None] | None = None, max_seconds: float | None = None) -> None:
        budget.check_target(cost.target, cost.metrics)
        self.genome = Genome.of(space)
        self.space, self.cost, self.budget = space, cost, budget
        self.max_evaluations, self.max_seconds = max_evaluations, max_seconds
        self.progress = progress
        self.history: list[Visit] = []
        self.metrics = sorted(budget.limits)
        self.action_space = gym.spaces.Box(0.0, 1.0, (self.genome.length,), dtype=np.float32)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (len(self.metrics) + 1,), dtype=np.float32)
        self._t0 = time.perf_counter()

    @property
    def remaining(self) -> int | None:
        return None if self.max_evaluations is None else self.max_evaluations - len(self.history)

    def _costed(self, ev: Evaluation) -> bool:
        """Whether the cost model gave every budgeted metric (not: the tool failed, or left one out)."""
        return not ev.error and all(m in ev.upper for m in self.metrics)

    def observe(self, ev: Evaluation) -> np.ndarray:
        if not self._costed(ev):
            return np.array([10.0] * len(self.metrics) + [0.0], dtype=np.float32)
        obs = [math.log(max(ev.upper[m], 1e-12) / self.budget.limits[m]) for m in self.metrics]
        return np.array([*obs, math.log10(max(ev.objective[self.budget.objective], 1.0))], dtype=np.float32)

    def score(self, ev: Evaluation) -> tuple[float, bool]:
        """(reward, fits) of an evaluation; a design the tool failed on never fits."""
        if not self._costed(ev):
            return -10.0, False
        return self.budget.reward(ev.objective[self.budget.objective], ev.upper), self.budget.fits(ev.upper)

    def evaluate(self, genomes: np.ndarray) -> list[float]:
        """Rewards of a batch of genomes (rows); raises OutOfEvaluations once the budget is spent (the
        rows that still fit in it are evaluated first)."""
        genomes = np.clip(np.asarray(genomes, dtype=np.float64).reshape(-1, self.genome.length), 0.0, 1.0)
        if not len(genomes):
            return []
        left = self.remaining
        if (left is not None and left <= 0) or (
                self.max_seconds is not None and time.perf_counter() - self._t0 >= self.max_seconds):
            raise OutOfEvaluations
        take = genomes if left is None else genomes[:left]
        archs = [self.genome.decode(g) for g in take]
        evals = self.cost.evaluate(archs)
        rewards = []
        now = time.perf_counter()
        for g, a, ev in zip(take, archs, evals, strict=True):
            r, fits = self.score(ev)
            at = ev.at if self._t0 < ev.at <= now else now  # journaled or batch-timed: the batch's end
            self.history.append(Visit(len(self.history), at - self._t0, g, a.arch, ev, r, fits))
            rewards.append(r)
        if self.progress is not None:
            self.progress(len(self.history), self.max_evaluations or len(self.history))
        if len(take) < len(genomes):
            raise OutOfEvaluations
        return rewards

    # ---- the Gymnasium interface (one design per episode)
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        return np.zeros(self.observation_space.shape, dtype=np.float32), {}

    def step(self, action):
        reward = self.evaluate(np.asarray(action)[None, :])[0]
        visit = self.history[-1]
        return self.observe(visit.evaluation), reward, True, False, {"fits": visit.fits, "arch": visit.arch}

    def close(self) -> None:
        self.cost.close()


def fitting_designs(history: list[Visit], objective: str) -> list[Visit]:
    """One visit per distinct architecture that fits, the largest objective first (stable: the first
    visit of equals first)."""
    uniq: dict[str, Visit] = {}
    for v in history:
        if v.fits:
            uniq.setdefault(json.dumps(v.arch, sort_keys=True), v)
    return sorted(uniq.values(), key=lambda v: -v.evaluation.objective[objective])


def best_visits(history: list[Visit], objective: str, k: int) -> list[Visit]:
    """The k largest designs that fit, one visit per distinct architecture."""
    return fitting_designs(history, objective)[:k]


def _dominates(a: list[float], b: list[float]) -> bool:
    """Costs a at least as low as b everywhere and lower somewhere."""
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(x < y for x, y in zip(a, b, strict=True))


def pareto_visits(history: list[Visit], objective: str, metrics: list[str]) -> list[Visit]:
    """The fitting designs no other fitting design beats on the objective and every budgeted metric at
    once (larger objective, smaller metrics, by the upper ends of the intervals as fitting is judged), by
    objective. Visited largest first, a design can only be dominated by one already on the front, or
    dominate one there of equal objective."""
    front: list[tuple[Visit, list[float]]] = []
    for v in fitting_designs(history, objective):
        cost = [-v.evaluation.objective[objective], *(v.evaluation.upper[m] for m in metrics)]
        if not any(_dominates(c, cost) for _, c in front):
            front = [(w, c) for w, c in front if not _dominates(cost, c)]
            front.append((v, cost))
    return [v for v, _ in front]


def require_feasible(env: SearchEnv) -> None:
    """A clear error where no design the search saw fits: budgets tighter than the space allows."""
    if not any(v.fits for v in env.history):
        smallest = {m: min((v.evaluation.upper.get(m, math.inf) for v in env.history), default=math.inf)
                    for m in env.metrics}
        shown = ", ".join(f"{m} <= {env.budget.limits[m]:g} (smallest seen {smallest[m]:.4g})" for m in env.metrics)
        raise PerfsageError(f"no design of the {env.space} space fits the budgets after {len(env.history)} "
                            f"evaluations: {shown}; loosen them or search longer")
