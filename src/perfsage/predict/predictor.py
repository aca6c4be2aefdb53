"""Serving a trained predictor: models in (paths, bytes, parsed or encoded graphs), predictions out.

A prediction carries, per metric, the value and its conformal interval (perfsage.model.calibration);
an out-of-distribution flag with the reasons (perfsage.model.domain); and, for predictors that read
totals out of per-operator values (PerfSAGE), each TFLite operator's share, bottlenecks first.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from perfsage.errors import PerfsageError
from perfsage.graph.batch import ParallelEncoder, shared_encoder
from perfsage.graph.encode import OP_VOCAB, EncodedGraph
from perfsage.graph.ir import Graph
from perfsage.model.calibration import Calibration
from perfsage.model.data import is_additive
from perfsage.model.distance import EmbeddingDistance
from perfsage.model.domain import OodReason, TrainingDomain, far_reason
from perfsage.model.registry import checkpoint_dir, load_estimator
from perfsage.model.shipped import PREDICTORS, shipped_targets
from perfsage.predict.expert import COMPRESSED, Expert, load_expert
from perfsage.predict.twin import TwinRule, compose, load_rules
from perfsage.targets.host import HostCheck, HostRecord, this_host

DEFAULT_TARGET = "ethos-u55-128"
SHOWN_REASONS = 5  # out-of-distribution reasons a person is shown before "... and N more"
NO_DOMAIN = "this predictor records no training domain (retrain it with this version of perfsage)"
ModelInput = str | os.PathLike | bytes | bytearray | memoryview | Graph | EncodedGraph


@dataclass(frozen=True, slots=True)
class Interval:
    value: float
    low: float | None  # None: the predictor has no calibration
    high: float | None


@dataclass(frozen=True, slots=True)
class Layer:
    index: int  # TFLite operator index (execution order)
    op: str
    values: dict[str, float]  # additive metric -> this operator's part of the total
    share: float  # of the total of the ranking metric (latency where predicted)


@dataclass(slots=True)
class Prediction:
    model: str
    target: str
    metrics: dict[str, Interval]
    ood_details: list[OodReason]  # most telling first (perfsage.model.domain.OodReason.rank)
    layers: list[Layer] = field(default_factory=list)  # largest first
    parts: dict[str, float] = field(default_factory=dict)  # predicted parts (metrics.PARTS): the arena head, tail
    host: dict[str, Any] | None = None  # a host-bound target's check of this CPU (perfsage.targets.host)

    @property
    def ood_reasons(self) -> list[str]:
        """The out-of-distribution reasons in words, most telling first."""
        return [r.text for r in self.ood_details]

    @property
    def ood(self) -> bool:
        return bool(self.ood_details)

    def to_dict(self, layers: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model": self.model, "target": self.target,
            "metrics": {m: {"value": i.value, "low": i.low, "high": i.high} for m, i in self.metrics.items()},
            "ood": {"flag": self.ood, "reasons": self.ood_reasons,
                    "details": [r.to_dict() for r in self.ood_details]}}
        if self.parts:
            out["parts"] = dict(self.parts)
        if self.host is not None:
            out["host"] = dict(self.host)
        if layers:
            out["layers"] = [{"index": la.index, "op": la.op, **la.values, "share": la.share} for la in self.layers]
        return out


@dataclass(frozen=True, slots=True)
class PreparedModel:
    """A model parsed and encoded once, so several predictors (`--target all`) can share the work."""

    name: str
    graph: EncodedGraph
    ops: list[str] | None  # the operators' names; None when only the encoding was given
    twin: EncodedGraph | None = None  # a compressed model's dense twin, when asked for (perfsage.predict.twin)

    def dense(self) -> PreparedModel | None:
        """The dense twin, prepared like the model (its name and operators), when it was made."""
        return None if self.twin is None else PreparedModel(self.name, self.twin, self.ops)


def brief_reasons(reasons: Sequence[str], limit: int = SHOWN_REASONS) -> tuple[list[str], int]:
    """What a person is shown of a prediction's out-of-distribution reasons (most telling first): the first
    `limit` and the number left out (none left out when only one more would be: its line says as much)."""
    if len(reasons) <= limit + 1:
        return list(reasons), 0
    return list(reasons[:limit]), len(reasons) - limit


def predictor_name(source: str | os.PathLike) -> str:
    """A predictor as a person names it: "ethos-u55-128 (shipped)", or its checkpoint directory's name
    (never the machine's path to it)."""
    from perfsage.predict.calibrate import cache_root

    folder = Path(source)
    shipped = folder.resolve().parent == PREDICTORS.resolve() and folder.name in shipped_targets()
    if folder.resolve().parent.parent == (cache_root() / "calibrated").resolve():
        return f"{folder.parent.name} (calibrated for this CPU)"
    return f"{folder.name} (shipped)" if shipped else folder.resolve().name


def _name(x: ModelInput, k: int) -> str:
    if isinstance(x, str | os.PathLike):
        return str(x)
    if isinstance(x, Graph):
        return x.source or x.name or f"<graph {k}>"
    if isinstance(x, EncodedGraph):
        return f"<encoded graph {k}>"
    return f"<bytes {k}>"


def prepare(x: ModelInput | PreparedModel, k: int = 0, twins: bool = False) -> PreparedModel:
    """k numbers inputs that carry no name of their own (bytes, encodings)."""
    return prepare_many([x], first=k, twins=twins)[0]


def prepare_many(models: Sequence[ModelInput | PreparedModel], encoder: ParallelEncoder | None = None,
                 first: int = 0, twins: bool = False) -> list[PreparedModel]:
    """Files and bytes are parsed and encoded by encoder (in worker processes when it has them);
    first: the number of models[0] among the unnamed inputs. twins: a compressed-looking file, bytes or
    graph read from a file also gets its dense twin encoded (encodings have no weights to redraw)."""
    from perfsage.predict.whatif import dense_counterpart, looks_compressed

    encoder = encoder or shared_encoder(1)
    todo = [k for k, x in enumerate(models) if not isinstance(x, PreparedModel | EncodedGraph)]
    parsed = dict(zip(todo, encoder.map([models[k] for k in todo]), strict=True))
    sources = {k: _source_bytes(models[k]) for k in todo if twins and looks_compressed(parsed[k][0])}
    need = [k for k, data in sources.items() if data is not None]
    twin_of = dict(zip(need, encoder.map([dense_counterpart(sources[k]) for k in need]), strict=True))
    out: list[PreparedModel] = []
    for k, x in enumerate(models):
        if isinstance(x, PreparedModel):
            out.append(x)
        elif isinstance(x, EncodedGraph):
            out.append(PreparedModel(_name(x, first + k), x, None))
        else:
            graph, ops = parsed[k]
            out.append(PreparedModel(_name(x, first + k), graph, ops, twin_of[k][0] if k in twin_of else None))
    return out


def _source_bytes(x: ModelInput) -> bytes | None:
    """A model input's bytes; a parsed graph's from the file it was read from (None: it came as bytes)."""
    if isinstance(x, Graph):
        return Path(x.source).read_bytes() if x.source and Path(x.source).is_file() else None
    return Path(x).read_bytes() if isinstance(x, str | os.PathLike) else bytes(x)


LAYER_FIELDS = ("index", "op", "share")  # a layer record's other keys are metric values


def layer_metrics(layer: dict[str, Any]) -> list[str]:
    """The predicted metrics of a layer record (not its index, op, share, measured or dense values)."""
    return [k for k in layer if k not in LAYER_FIELDS and not k.startswith(("measured_", "dense_"))]


def ranking_metric(metrics: Iterable[str]) -> str | None:
    """What layers are ranked and their shares taken by: latency where predicted, else the first."""
    ms = list(metrics)
    return "latency_ms" if "latency_ms" in ms else (ms[0] if ms else None)


class Predictor:
    """A trained predictor for one target, ready to serve: `Predictor.load("ethos-u55-128")`."""

    def __init__(self, estimator, target: str, source: str, calibration: Calibration | None = None,
                 domain: TrainingDomain | None = None, host: HostCheck | None = None,
                 twin_rules: Sequence[TwinRule] = (), expert: Expert | None = None,
                 distance: EmbeddingDistance | None = None) -> None:
        self.estimator, self.target, self.source = estimator, target, source
        self.calibration, self.domain = calibration, domain
        self.host = host  # set for host-bound targets: the predictor's CPU against this one
        # metrics a compressed model reads through its dense twin (perfsage.predict.twin)
        self.twin_rules = [r for r in twin_rules if r.metric in self.metrics]
        self.expert = expert  # the network that serves some metrics of compressed models (predict.expert)
        # how far a model lies from the training models (bands the intervals, flags the far ones)
        self.distance = distance if calibration is not None and calibration.band_bounds else None

    @property
    def needs_twins(self) -> bool:
        """Whether compressed models should come prepared with their dense twins."""
        return bool(self.twin_rules)

    @property
    def metrics(self) -> list[str]:
        return list(self.estimator.metrics)

    @classmethod
    def load(cls, name_or_path: str | os.PathLike = DEFAULT_TARGET, device: str = "cpu",
             calibrated: bool = True) -> Predictor:
        """A shipped predictor by target name, or a checkpoint directory from `perfsage train`/`adapt`;
        device: where the network runs ("cuda" batches thousands of graphs at once). For a CPU target,
        its calibration for this host (`perfsage calibrate`) when there is one, unless calibrated=False."""
        # (on the CPU: a calibration is a CPU-side fit over the network's predictions)
        if calibrated and device == "cpu" and isinstance(name_or_path, str) and name_or_path in shipped_targets():
            from perfsage.predict.calibrate import usable_calibration
            from perfsage.targets import is_host_bound

            here = usable_calibration(name_or_path) if is_host_bound(name_or_path) else None
            name_or_path = here if here is not None else name_or_path
        folder = checkpoint_dir(name_or_path)
        if not folder.exists():
            raise PerfsageError(f"no predictor {str(name_or_path)!r}: neither a checkpoint directory nor a "
                                f"shipped target ({', '.join(shipped_targets())})")
        est, expert = load_estimator(folder), load_expert(folder)
        if device != "cpu":
            est = on_device(est, device)
            if expert is not None:
                expert.estimator = on_device(expert.estimator, device)
        target = folder.name
        info = folder / "training.json"
        if info.is_file():
            target = json.loads(info.read_text()).get("target", target)
        return cls(est, target, str(folder), Calibration.load(folder), TrainingDomain.load(folder),
                   host_check(target, folder), load_rules(folder), expert, EmbeddingDistance.load(folder))

    def predict(self, model: ModelInput, layers: bool = True) -> Prediction:
        return self.predict_many([model], layers=layers)[0]

    def predict_many(self, models: Sequence[ModelInput | PreparedModel], layers: bool = True,
                     batch_size: int = 64, progress: Callable[[int], None] | None = None,
                     workers: int = 1) -> list[Prediction]:
        """Batched: models are parsed and encoded (unless already prepared), then predicted batch_size at
        a time (on 2 CPU cores 16-64 graphs per network call ran ~10% faster than 256: the activations
        stay in cache; a GPU wants thousands). workers > 1 parses files and bytes in that many processes,
        a pool kept for the process (1.7x on 2 cores); like any spawned pool it needs the calling script's
        `if __name__ == "__main__":` guard, so it is asked for, not the default. progress(n) is called
        with the number of models finished."""
        out: list[Prediction] = []
        encoder = shared_encoder(workers)
        for start in range(0, len(models), batch_size):
            prepared = prepare_many(models[start:start + batch_size], encoder, first=start, twins=self.needs_twins)
            out.extend(self._predict_prepared(prepared, layers))
            if progress is not None:
                progress(len(out))
        return out

    def _predict_prepared(self, prepared: list[PreparedModel], layers: bool) -> list[Prediction]:
        graphs = [p.graph for p in prepared]
        values, per_layer, embedding = self._network(self.estimator, graphs, layers)
        distances = self.distance.score(embedding) if self.distance is not None and embedding is not None \
            else [None] * len(graphs)
        self._with_expert(graphs, values, per_layer, layers)
        self._through_twins(prepared, values, per_layer)
        preds = []
        # another CPU kind (or one the record cannot name): a CPU latency is no better than a guess at
        # the factor between the two, so no interval is given rather than a confident one
        withheld = self.host is not None and self.host.mismatch is not False
        host = self.host.to_dict() if self.host is not None else None
        groups = self._groups(graphs)
        for k, p in enumerate(prepared):
            metrics = {}
            for m in self.metrics:
                v = float(values[m][k])
                iv = self.calibration.interval(m, v, distances[k], groups[k]) \
                    if self.calibration is not None and not withheld else None
                metrics[m] = Interval(v, *(iv if iv is not None else (None, None)))
            details = self.domain.explain(p.graph, p.ops) if self.domain is not None else \
                [OodReason("no_domain", NO_DOMAIN)]
            if self.calibration is not None and self.calibration.is_far(distances[k]):
                details = sorted([*details, far_reason(float(distances[k]), self.calibration)], key=lambda r: r.rank)
            parts = {n: float(v[k]) for n, v in values.items() if n not in metrics}
            preds.append(Prediction(p.name, self.target, metrics, details, _layers(per_layer[k], p), parts, host))
        return preds

    def _groups(self, graphs: list[EncodedGraph]) -> list[str | None]:
        """Each graph's calibration group: "compressed" where the calibration has bounds for compressed-looking
        models (fitted on them as the expert serves them: predict.expert.calibrate_compressed)."""
        from perfsage.predict.whatif import looks_compressed

        if self.calibration is None or COMPRESSED not in self.calibration.groups:
            return [None] * len(graphs)
        return [COMPRESSED if looks_compressed(g) else None for g in graphs]

    @staticmethod
    def _network(estimator, graphs: list[EncodedGraph], layers: bool
                 ) -> tuple[dict[str, np.ndarray], list[dict[str, np.ndarray]], np.ndarray | None]:
        """Totals (and parts), for estimators that read them each graph's per-layer values, and the graphs'
        embeddings from the same forward pass (None: the estimator has none)."""
        if hasattr(estimator, "predict_full"):  # the caller's batch is the network's batch
            values, per_layer, embedding = estimator.predict_full(graphs, layers, batch_size=len(graphs), parts=True)
            return values, per_layer or [{} for _ in graphs], embedding
        return estimator.predict(graphs), [{} for _ in graphs], None

    def _with_expert(self, graphs: list[EncodedGraph], values: dict[str, np.ndarray],
                     per_layer: list[dict[str, np.ndarray]], layers: bool = False) -> None:
        """Rewrites, in place, what the compressed-model expert serves for compressed-looking graphs."""
        from perfsage.predict.whatif import looks_compressed

        if self.expert is None:
            return
        picked = [k for k, g in enumerate(graphs) if looks_compressed(g)]
        if not picked:
            return
        got, got_layers, _ = self._network(self.expert.estimator, [graphs[k] for k in picked], layers)
        for m in self.expert.metrics:
            values[m] = np.asarray(values[m], dtype=np.float64).copy()
            values[m][picked] = got[m]
            for j, k in enumerate(picked):
                if m in got_layers[j]:
                    per_layer[k][m] = got_layers[j][m]

    def network_totals(self, graphs: list[EncodedGraph]) -> dict[str, np.ndarray]:
        """The networks' totals (the expert's for what it serves), without twin rules or calibration."""
        values, per_layer, _ = self._network(self.estimator, graphs, False)
        self._with_expert(graphs, values, per_layer)
        return values

    def _through_twins(self, prepared: list[PreparedModel], values: dict[str, np.ndarray],
                       per_layer: list[dict[str, np.ndarray]]) -> None:
        """Rewrites, in place, the metrics a compressed model reads through its dense twin; its layers'
        parts of such a metric are scaled to the new total (they keep their shares)."""
        with_twin = [k for k, p in enumerate(prepared) if p.twin is not None]
        if not self.twin_rules or not with_twin:
            return
        twins = [prepared[k].twin for k in with_twin]
        own = self.network_totals(twins)
        for rule in self.twin_rules:
            saver = _saver(rule.saving_from)
            at_twin = saver.network_totals(twins)
            at_model = saver.network_totals([prepared[k].graph for k in with_twin])
            m = rule.metric
            values[m] = np.asarray(values[m], dtype=np.float64).copy()
            before = values[m][with_twin].copy()
            values[m][with_twin] = compose(own[m], at_twin[m], at_model[m], before)
            for j, k in enumerate(with_twin):
                if m in per_layer[k] and before[j] > 0:
                    per_layer[k][m] = per_layer[k][m] * (values[m][k] / before[j])


@functools.cache
def _saver(target: str) -> Predictor:
    """The shipped predictor whose response to compression a twin rule reads."""
    return Predictor.load(target, calibrated=False)


def host_check(target: str, folder: Path) -> HostCheck | None:
    """For a predictor of a host-bound target (CPU latency): the CPU its labels came from against this
    one (None for other targets)."""
    from perfsage.predict.calibrate import calibration_info
    from perfsage.targets import is_host_bound

    if not is_host_bound(target):
        return None
    here, record = this_host(), HostRecord.load(folder)
    mine = record is not None and record.complete and record.fingerprint.key == here.key
    return HostCheck(here, record, calibration_info(folder) if mine else None)


def _layers(values: dict[str, np.ndarray], p: PreparedModel) -> list[Layer]:
    additive = [m for m in values if is_additive(m)]
    rank = ranking_metric(additive)
    if rank is None:
        return []
    ops = p.ops if p.ops is not None else [OP_VOCAB[i] for i in p.graph.op]
    total = float(values[rank].sum()) or 1.0
    order = np.argsort(-values[rank], kind="stable").tolist()
    cols = {m: values[m].tolist() for m in additive}  # Python floats once per column, not per element
    shares = (values[rank] / total).tolist()
    return [Layer(i, ops[i], {m: cols[m][i] for m in additive}, shares[i]) for i in order]


def on_device(estimator, device: str):
    import torch

    try:
        dev = torch.device(device)
    except RuntimeError:
        raise PerfsageError(f"{device!r} is not a torch device (cpu, cuda, cuda:1, ...)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise PerfsageError(f"device {device!r}: this machine has no CUDA GPU that torch can use")
    if not hasattr(estimator, "to"):
        raise PerfsageError(f"{type(estimator).__name__} runs on the CPU only")
    return estimator.to(device)


def model_files(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Files given on a command line: .tflite files, and every .tflite under a directory (sorted)."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(q for q in p.rglob("*.tflite") if q.is_file())
            if not found:
                raise PerfsageError(f"{p}: no .tflite files in this directory")
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            raise PerfsageError(f"{p}: no such file or directory")
    if not files:
        raise PerfsageError("no models given")
    return files
