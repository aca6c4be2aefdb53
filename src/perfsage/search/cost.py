"""Cost models: what a design costs on the target, from the proxy (perfsage) or the simulator (the real
tool). Both take architectures and give `Evaluation`s, so an agent never knows which it talks to.

The proxy reads a candidate as the graph IR straight from the space's builder (`dry_build`: no weights
drawn, no flatbuffer written or parsed) and predicts a batch at once. The simulator writes each design as
.tflite and measures it with the target's tool in isolated workers (Vela, TFLite Micro), in threads over
`workers` warm workers or as Ray actors. Evaluations are journaled per space and cost-model identity
(target, generator version, and the predictor's training record or the tools' versions), so a rerun of
a killed search replays them instead of paying for them again, and a rerun after an upgrade does not.
"""

from __future__ import annotations

import hashlib
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from perfsage.errors import PerfsageError
from perfsage.graph.encode import EncodedGraph, encode
from perfsage.graph.features import GraphFeatures, featurise
from perfsage.graph.ir import Graph
from perfsage.journal import append_records, read_records
from perfsage.spaces import get_space
from perfsage.spaces.base import GENERATOR_VERSION, ArchSpec

COSTS = ("proxy", "simulator")
WEIGHT_SEED = 0  # the weights every written design gets (the simulator measures those bytes)


@dataclass
class Evaluation:
    arch: dict[str, Any]  # ArchSpec.arch
    objective: dict[str, float]  # macs and params
    values: dict[str, float]  # metric -> predicted or measured value
    upper: dict[str, float]  # metric -> upper end of the 90% interval (the value itself when measured)
    ood: bool = False  # the proxy's out-of-distribution flag
    error: str = ""  # the tool failed on the design (then values are empty and it never fits)
    # when the cost was known (time.perf_counter; 0: with its batch): a simulator's designs finish one by
    # one, which a comparison at equal wall-clock counts; not journaled
    at: float = field(default=0.0, compare=False)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("at")
        return d


@dataclass
class Candidate:
    """A design ready for a cost model: its graph IR, its encoding and its capacity."""

    arch: ArchSpec
    graph: Graph
    encoded: EncodedGraph
    objective: dict[str, float]


def arch_key(arch: ArchSpec) -> str:
    return arch.to_json()


def design_graph(arch: ArchSpec, data: bytes | None = None) -> Graph:
    """The design's graph IR without writing it (dry build) where its space allows, else parsed from its
    bytes (data: already written by the caller, so they are not built twice)."""
    from perfsage.graph.reader import load_graph
    from perfsage.spaces.builder import dry_build

    space = get_space(arch.space)
    if space.dry_buildable:
        with dry_build():
            return space.build(arch, WEIGHT_SEED)
    return load_graph(data if data is not None else write_design(arch))


def capacity(gf: GraphFeatures) -> dict[str, float]:
    """The objectives a search maximises, read from the graph's features."""
    return {"macs": float(gf.macs), "params": float(gf.params)}


def candidate(arch: ArchSpec, data: bytes | None = None) -> Candidate:
    """The design's graph IR (design_graph), featurised and encoded once."""
    graph = design_graph(arch, data)
    nodes, gf = featurise(graph)
    return Candidate(arch, graph, encode(graph, (nodes, gf)), capacity(gf))


def write_design(arch: ArchSpec) -> bytes:
    """The .tflite bytes of a design, as the simulator measures it and the search reports it."""
    return get_space(arch.space).build(arch, WEIGHT_SEED)


@dataclass
class Timings:
    """Where a cost model's time went, in seconds."""

    seconds: dict[str, float] = field(default_factory=dict)
    evaluations: int = 0

    def add(self, stage: str, seconds: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds

    def per_evaluation_ms(self) -> dict[str, float]:
        n = max(self.evaluations, 1)
        return {k: 1000 * v / n for k, v in self.seconds.items()}


class Journal:
    """Evaluations already paid for, by design key, kept in a journal file (`perfsage.journal`) as they
    come, so a killed run keeps them."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.done: dict[str, Evaluation] = {}
        for rec in read_records(path) if path is not None else []:
            try:
                key = rec.pop("key")
                self.done[key] = Evaluation(**rec)
            except (KeyError, TypeError):  # not an evaluation record
                continue

    def add(self, items: Sequence[tuple[str, Evaluation]]) -> None:
        """Keeps each evaluation; journals those without an error (a tool's failure may be transient: a
        resumed search asks again)."""
        for key, ev in items:
            self.done[key] = ev
        if self.path is not None:
            append_records(self.path, ({"key": k, **ev.to_dict()} for k, ev in items if not ev.error))


class CostModel(ABC):
    """Costs designs on one target. `evaluate` keeps the order of its input."""

    name: str

    def __init__(self, target: str, journal: Path | None = None) -> None:
        self.target = target
        self.journal = Journal(journal)
        self.timings = Timings()

    @property
    @abstractmethod
    def metrics(self) -> list[str]:
        """The metrics the target reports."""

    def evaluate(self, archs: Sequence[ArchSpec]) -> list[Evaluation]:
        """Costs of archs, in order; a design costed before (this run or the journal's) is not costed again
        and comes back with no time of its own (`at` 0: it is known at once)."""
        keys = [arch_key(a) for a in archs]
        todo: dict[str, ArchSpec] = {}
        for k, a in zip(keys, archs, strict=True):
            if k not in self.journal.done and k not in todo:
                todo[k] = a
        fresh: dict[str, Evaluation] = {}
        if todo:
            t0 = time.perf_counter()
            fresh = dict(zip(todo, self._evaluate(list(todo.values())), strict=True))
            self.timings.evaluations += len(todo)
            self.timings.add("total", time.perf_counter() - t0)
            self.journal.add(list(fresh.items()))
        return [fresh[k] if k in fresh else replace(self.journal.done[k], at=0.0) for k in keys]

    def identity(self) -> str:
        """What the costs depend on besides the design: a journal of another identity is not replayed."""
        return f"{self.name}-{self.target}-g{GENERATOR_VERSION}"

    def use_journal(self, folder: Path, space: str) -> Path:
        """Journal into folder, in the file of this cost model's identity and the space."""
        path = Path(folder) / f"evaluations-{self.identity()}-{space}.jsonl"
        self.journal = Journal(path)
        return path

    @abstractmethod
    def _evaluate(self, archs: list[ArchSpec]) -> list[Evaluation]:
        ...

    def close(self) -> None:  # noqa: B027 - the simulator's workers; the proxy holds nothing
        """Release workers."""


def _warm(_: int) -> None:
    """A pool worker's first job: nothing, after the imports of this module."""


def _encoded(archs: list[ArchSpec], twins: bool = False) -> list[tuple[EncodedGraph | bytes, dict[str, float]]]:
    """A worker's share of a batch: each design's encoding and capacity (the IR stays in the worker).
    twins: a design its space cannot dry-build comes as its bytes, so that the predictor prepares its
    dense twin as `perfsage predict` would (the twin rules of compressed models)."""
    out: list[tuple[EncodedGraph | bytes, dict[str, float]]] = []
    for a in archs:
        if twins and not get_space(a.space).dry_buildable:
            data = write_design(a)
            out.append((data, candidate(a, data).objective))
        else:
            c = candidate(a)
            out.append((c.encoded, c.objective))
    return out


class ProxyCost(CostModel):
    """perfsage's shipped predictor for the target (or a checkpoint directory). workers > 1: candidates are
    built in that many processes and the network runs on as many threads."""

    name = "proxy"

    def __init__(self, target: str, journal: Path | None = None, predictor=None, workers: int = 1) -> None:
        from perfsage.predict.predictor import Predictor

        super().__init__(target, journal)
        self.predictor = predictor or Predictor.load(target)
        self.workers = max(1, workers)
        self._pool = None
        if self.workers > 1:
            import torch

            from perfsage.process_pool import process_pool

            self._pool = process_pool(self.workers, spawn=True)
            list(self._pool.map(_warm, range(self.workers)))  # the workers start (and import) now, not mid-search
            torch.set_num_threads(max(torch.get_num_threads(), self.workers))

    @property
    def metrics(self) -> list[str]:
        return self.predictor.metrics

    def identity(self) -> str:
        """The predictor's training record (a calibration's too) decides its costs."""
        from perfsage.predict.calibrate import base_identity

        return f"{super().identity()}-{base_identity(Path(self.predictor.source))}"

    def _evaluate(self, archs: list[ArchSpec]) -> list[Evaluation]:
        t0 = time.perf_counter()
        if self._pool is not None and len(archs) > 1:
            chunks = [archs[k::self.workers] for k in range(self.workers)]
            parts = list(self._pool.map(_encoded, chunks, [self.predictor.needs_twins] * self.workers))
            built = [parts[k % self.workers][k // self.workers] for k in range(len(archs))]
        else:
            built = _encoded(archs, self.predictor.needs_twins)
        t1 = time.perf_counter()
        preds = self.predictor.predict_many([e for e, _ in built], layers=False, batch_size=len(built))
        self.timings.add("graph", t1 - t0)
        self.timings.add("network", time.perf_counter() - t1)
        out = []
        for a, (_, objective), p in zip(archs, built, preds, strict=True):
            values = {m: iv.value for m, iv in p.metrics.items()}
            upper = {m: iv.high if iv.high is not None else iv.value for m, iv in p.metrics.items()}
            out.append(Evaluation(a.arch, objective, values, upper, p.ood))
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


def measure_design(tool, data: bytes) -> dict[str, float] | str:
    """The tool's finite values for a design's bytes, or why it failed on them."""
    from perfsage.targets import TargetError

    try:
        labels = tool.measure(data, per_layer=False).metrics
    except TargetError as e:
        return f"{e.kind}: {e.reason[:200]}"
    return {k: float(v) for k, v in labels.items() if v is not None and math.isfinite(float(v))}


class SimulatorCost(CostModel):
    """The target's real tool, `workers` models at a time (threads over warm isolated workers, or Ray
    actors when ray_address is given: "local" starts a local cluster)."""

    name = "simulator"

    def __init__(self, target: str, journal: Path | None = None, workers: int = 2,
                 ray_address: str | None = None) -> None:
        from perfsage.targets import get_target

        super().__init__(target, journal)
        self.workers = max(1, workers)
        probe = get_target(target)
        self._metrics = probe.metric_names()
        self._tools = [probe] + [get_target(target) for _ in range(self.workers - 1)]
        self._actors = _ray_actors(target, self.workers, ray_address) if ray_address else None

    @property
    def metrics(self) -> list[str]:
        return self._metrics

    def identity(self) -> str:
        from importlib.metadata import PackageNotFoundError, version

        tools = []
        for dist in ("ethos-u-vela", "tflite-micro", "ai-edge-litert"):
            try:
                tools.append(f"{dist}={version(dist)}")
            except PackageNotFoundError:
                continue
        return f"{super().identity()}-{hashlib.sha256(','.join(tools).encode()).hexdigest()[:8]}"

    def _evaluate(self, archs: list[ArchSpec]) -> list[Evaluation]:
        t0 = time.perf_counter()
        data = [write_design(a) for a in archs]
        objectives = [capacity(featurise(design_graph(a, d))[1]) for a, d in zip(archs, data, strict=True)]
        t1 = time.perf_counter()
        if self._actors is not None:
            import ray

            refs = [self._actors[k % len(self._actors)].measure.remote(d) for k, d in enumerate(data)]
            measured = ray.get(refs)
            finished = [time.perf_counter()] * len(data)
        else:
            measured, finished = self._threads(data)
        self.timings.add("write", t1 - t0)
        self.timings.add("tool", time.perf_counter() - t1)
        out = []
        for a, objective, m, at in zip(archs, objectives, measured, finished, strict=True):
            if isinstance(m, str):
                out.append(Evaluation(a.arch, objective, {}, {}, error=m, at=at))
            else:
                vals = {k: v for k, v in m.items() if k in self._metrics}
                out.append(Evaluation(a.arch, objective, vals, dict(vals), at=at))
        return out

    def _threads(self, data: list[bytes]) -> tuple[list, list[float]]:
        """Each worker takes the next design as it frees up; the results in order, with when each ended."""
        from queue import Empty, SimpleQueue

        jobs: SimpleQueue = SimpleQueue()
        for k, d in enumerate(data):
            jobs.put((k, d))
        measured: list = [None] * len(data)
        finished = [0.0] * len(data)

        def work(tool) -> None:
            while True:
                try:
                    k, d = jobs.get_nowait()
                except Empty:
                    return
                measured[k] = measure_design(tool, d)
                finished[k] = time.perf_counter()

        with ThreadPoolExecutor(self.workers) as pool:
            list(pool.map(work, self._tools))
        return measured, finished

    def close(self) -> None:
        for t in self._tools:
            t.close()


def _ray_actors(target: str, workers: int, address: str) -> list:
    from perfsage.process_pool import connect_ray

    ray = connect_ray(address, workers)

    @ray.remote(num_cpus=1)
    class Measurer:
        def __init__(self, name: str) -> None:
            from perfsage.targets import get_target

            self.tool = get_target(name)

        def measure(self, data: bytes):
            return measure_design(self.tool, data)

    return [Measurer.remote(target) for _ in range(workers)]


def cost_model(kind: str, target: str, journal: Path | None = None, workers: int = 2,
               ray_address: str | None = None) -> CostModel:
    if kind == "proxy":
        return ProxyCost(target, journal, workers=workers)
    if kind == "simulator":
        return SimulatorCost(target, journal, workers, ray_address)
    raise PerfsageError(f"unknown cost model {kind!r} (choose from {', '.join(COSTS)})")
