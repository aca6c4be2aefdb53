"""Search agents, ArchGym's five: random walk, a genetic algorithm (pymoo), Bayesian optimisation
(Optuna's TPE), ant colony optimisation and reinforcement learning (Stable-Baselines3's PPO).

Each drives a `SearchEnv` until its evaluation budget is spent and is deterministic in its seed, so a
rerun of a killed search proposes the same designs and the cost model's journal answers them. Only the
ant colony is written here: no maintained Python library implements ACO over a box of discrete choices.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from perfsage.errors import PerfsageError
from perfsage.search.env import OutOfEvaluations, SearchEnv

BATCH = 32  # designs an agent proposes at a time where its method allows (one network call)


class Agent(ABC):
    name: ClassVar[str]
    library: ClassVar[str]
    # the settings an agent is tuned by (benchmarks/agent_tuning.py), with their defaults; `batch` is the
    # population (evolution, ACO), the start-up trials (TPE) or the episodes per step (PPO)
    settings: ClassVar[dict[str, float]] = {}

    def __init__(self, seed: int = 0, batch: int = BATCH, **settings: float) -> None:
        self.seed, self.batch = seed, batch
        unknown = set(settings) - set(self.settings)
        if unknown:
            raise PerfsageError(f"agent {self.name!r} has no setting {', '.join(sorted(unknown))} "
                                f"(its settings: {', '.join(self.settings) or 'none'})")
        for k, default in self.settings.items():
            setattr(self, k, type(default)(settings.get(k, default)))

    def run(self, env: SearchEnv) -> None:
        """Searches until env's evaluation budget is spent."""
        with contextlib.suppress(OutOfEvaluations):
            self._run(env)

    @abstractmethod
    def _run(self, env: SearchEnv) -> None:
        ...


class RandomWalk(Agent):
    """Uniform random genomes: ArchGym's random walker, and the baseline every agent must beat."""

    name, library = "random", "numpy"

    def _run(self, env: SearchEnv) -> None:
        rng = np.random.default_rng(self.seed)
        while True:
            env.evaluate(rng.random((self.batch, env.genome.length)))


class Evolution(Agent):
    """pymoo's genetic algorithm (tournament selection, simulated binary crossover, polynomial mutation)
    over the genome box, a generation evaluated as one batch."""

    name, library = "evolution", "pymoo"
    settings: ClassVar[dict[str, float]] = {"mutation_eta": 20.0}  # pymoo's polynomial mutation: larger, smaller steps

    def _run(self, env: SearchEnv) -> None:
        from pymoo.algorithms.soo.nonconvex.ga import GA
        from pymoo.core.evaluator import Evaluator
        from pymoo.core.problem import Problem
        from pymoo.operators.mutation.pm import PM
        from pymoo.problems.static import StaticProblem

        n = env.genome.length
        problem = Problem(n_var=n, n_obj=1, xl=np.zeros(n), xu=np.ones(n))
        algorithm = GA(pop_size=self.batch, eliminate_duplicates=True, mutation=PM(eta=self.mutation_eta))
        algorithm.setup(problem, termination=("n_eval", 10**9), seed=self.seed, verbose=False)
        while True:
            pop = algorithm.ask()
            rewards = np.asarray(env.evaluate(pop.get("X")))
            Evaluator().eval(StaticProblem(problem, F=-rewards[:, None]), pop)
            algorithm.tell(infills=pop)


class Bayesian(Agent):
    """Optuna's tree-structured Parzen estimator, asked for a batch of trials at a time (constant liar for
    the ones still running)."""

    name, library = "bo", "optuna"
    settings: ClassVar[dict[str, float]] = {"per_ask": 8}  # trials asked for between two updates of the model

    def _run(self, env: SearchEnv) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sampler = optuna.samplers.TPESampler(seed=self.seed, n_startup_trials=self.batch, constant_liar=True)
        study = optuna.create_study(direction="maximize", sampler=sampler)
        names = [f"g{i:03d}" for i in range(env.genome.length)]
        batch = max(1, self.per_ask)  # TPE learns between batches: smaller ones than the population agents
        while True:
            trials = [study.ask() for _ in range(batch)]
            genomes = np.array([[t.suggest_float(k, 0.0, 1.0) for k in names] for t in trials])
            try:
                rewards = env.evaluate(genomes)
            except OutOfEvaluations:
                for t in trials:
                    study.tell(t, state=optuna.trial.TrialState.FAIL)
                raise
            for t, r in zip(trials, rewards, strict=True):
                study.tell(t, r)


class AntColony(Agent):
    """Ant colony optimisation over the genome cut into `levels` bins per gene: each ant picks a bin per
    gene with probability proportional to its pheromone, pheromone evaporates by `rho` per generation and
    the best `elite` ants of each generation deposit in proportion to their rank (rank-based ant system,
    Bullnheimer et al. 1999), with a floor so that no choice is ever ruled out (MAX-MIN ant system)."""

    name, library = "aco", "perfsage (no maintained library)"
    settings: ClassVar[dict[str, float]] = {"levels": 8, "rho": 0.2, "elite": 6, "floor": 0.02}

    def _run(self, env: SearchEnv) -> None:
        rng = np.random.default_rng(self.seed)
        tau = np.ones((env.genome.length, self.levels))
        while True:
            p = tau / tau.sum(1, keepdims=True)
            cum = p.cumsum(1)
            u = rng.random((self.batch, env.genome.length))
            bins = np.minimum((u[:, :, None] > cum[None]).sum(2), self.levels - 1)
            genomes = (bins + rng.random(bins.shape)) / self.levels  # a point inside the chosen bin
            rewards = np.asarray(env.evaluate(genomes))
            tau *= 1.0 - self.rho
            order = np.argsort(-rewards)[:self.elite]
            for rank, k in enumerate(order):
                tau[np.arange(env.genome.length), bins[k]] += (self.elite - rank) / self.elite
            tau = np.maximum(tau, self.floor * tau.max(1, keepdims=True))


class Reinforcement(Agent):
    """Stable-Baselines3's PPO on the gym: a Gaussian policy over genomes (actions in [-1, 1], mapped onto
    the genome's box), `batch` single-design episodes stepped together through one vectorised environment
    (one batch per step)."""

    name, library = "rl", "stable-baselines3"
    settings: ClassVar[dict[str, float]] = {"learning_rate": 3e-3, "n_steps": 4}

    def _run(self, env: SearchEnv) -> None:
        import torch
        from stable_baselines3 import PPO

        torch.manual_seed(self.seed)
        venv = BatchedEnv(env, self.batch)
        model = PPO("MlpPolicy", venv, n_steps=self.n_steps, batch_size=self.batch, n_epochs=4,
                    learning_rate=self.learning_rate,
                    gamma=0.0, gae_lambda=1.0, ent_coef=0.0, seed=self.seed, device="cpu", verbose=0,
                    policy_kwargs={"net_arch": [64, 64]})
        model.learn(total_timesteps=10**9)


def _batched_env_class():
    from stable_baselines3.common.vec_env import VecEnv

    class _BatchedEnv(VecEnv):
        """n copies of a single-design SearchEnv whose step evaluates all n actions as one batch."""

        def __init__(self, env: SearchEnv, n: int) -> None:
            import gymnasium as gym

            self.env = env  # before VecEnv's __init__, which asks for render_mode
            self._actions: np.ndarray | None = None
            # a policy's Gaussian starts at mean 0, std 1: over [-1, 1] (mapped to the genome's [0, 1)) it
            # covers the box instead of piling a third of the genes onto its lower edge
            box = gym.spaces.Box(-1.0, 1.0, env.action_space.shape, dtype=np.float32)
            super().__init__(n, env.observation_space, box)

        def reset(self):
            return np.zeros((self.num_envs, *self.observation_space.shape), dtype=np.float32)

        def step_async(self, actions: np.ndarray) -> None:
            self._actions = actions

        def step_wait(self):
            rewards = self.env.evaluate((np.clip(self._actions, -1.0, 1.0) + 1.0) / 2.0)
            visits = self.env.history[-self.num_envs:]
            obs = np.stack([self.env.observe(v.evaluation) for v in visits])
            infos = [{"terminal_observation": o, "TimeLimit.truncated": False} for o in obs]
            # every episode ends after its one design; the next observation is a fresh episode's
            return self.reset(), np.asarray(rewards, dtype=np.float32), np.ones(self.num_envs, bool), infos

        def close(self) -> None:
            pass

        def get_attr(self, attr_name, indices=None):
            return [getattr(self.env, attr_name, None)] * self.num_envs

        def set_attr(self, attr_name, value, indices=None) -> None:
            setattr(self.env, attr_name, value)

        def env_method(self, method_name, *args, indices=None, **kwargs):
            return [getattr(self.env, method_name)(*args, **kwargs)] * self.num_envs

        def env_is_wrapped(self, wrapper_class, indices=None):
            return [False] * self.num_envs

        def seed(self, seed=None):
            return [seed] * self.num_envs

    return _BatchedEnv


def BatchedEnv(env: SearchEnv, n: int):
    return _batched_env_class()(env, n)


AGENTS: dict[str, type[Agent]] = {a.name: a for a in (RandomWalk, Evolution, Bayesian, AntColony, Reinforcement)}


def get_agent(name: str, seed: int = 0, batch: int = BATCH, **settings: float) -> Agent:
    """The agent `name`; settings: any of its class's `settings` (others are an error)."""
    if name not in AGENTS:
        raise PerfsageError(f"unknown agent {name!r} (choose from {', '.join(AGENTS)})")
    return AGENTS[name](seed, batch, **settings)
