"""Command definitions. Each command parses options, calls one API function, and renders the result."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    name="perfsage", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    help="Predict latency, energy and memory of .tflite models on edge hardware.")


@app.callback()
def _root() -> None:
    """Predict latency, energy and memory of .tflite models on edge hardware."""


def _emit(result: dict, as_json: bool, text: str) -> None:
    """A command's result: JSON with --json, else one line for a person."""
    if as_json:
        _print_json(result)
    else:
        typer.echo(text)


def _print_json(obj) -> None:
    typer.echo(json.dumps(_json_safe(obj), indent=2, allow_nan=False))


def _json_safe(obj):
    """NaN (an unknown value, e.g. a lookup-table operator's share of flash) as JSON null: NaN is no JSON."""
    if isinstance(obj, float):
        return None if math.isnan(obj) or math.isinf(obj) else obj
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    return obj


@app.command()
def inspect(
    model: Annotated[Path, typer.Argument(help="A .tflite model.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Per-layer table of a model's operators: shapes, MACs, weight and activation bytes."""
    from perfsage.graph import load_graph
    from perfsage.graph.report import inspect_report

    report = inspect_report(load_graph(model))
    if as_json:
        _print_json(report)
        return
    from perfsage.cli.render import render_inspect

    render_inspect(report)


@app.command()
def spaces(as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False) -> None:
    """List the search spaces with their task, description, choices and size."""
    from perfsage.spaces import get_space, space_names

    rows = []
    for name in space_names():
        sp = get_space(name)
        rows.append({"name": name, "task": sp.task, "description": sp.description,
                     "size_log10": round(sp.size_log10(), 2), "choices": sp.choices()})
    if as_json:
        _print_json(rows)
        return
    from perfsage.cli.render import render_spaces

    render_spaces(rows)


@app.command()
def synth(
    space: Annotated[str, typer.Option("--space", help="Search space (see `perfsage spaces`).")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Where to write the .tflite.")],
    seed: Annotated[int, typer.Option("--seed", help="Seed for the architecture and the weights.")] = 0,
    arch: Annotated[str | None, typer.Option(
        "--arch", help="A given architecture instead of a sampled one: a NAS-Bench-201 cell string, an "
                       "FBNet block string, or the JSON arch of any space (as `--json` prints it).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the architecture as JSON.")] = False,
) -> None:
    """Write one fully-int8 .tflite model of a search space, deterministic in (space, seed)."""
    from perfsage.spaces import GENERATOR_VERSION, get_space
    from perfsage.spaces.synth import synthesise

    spec, data = synthesise(get_space(space), seed, arch)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    info = {"space": space, "seed": seed, "generator_version": GENERATOR_VERSION, "path": str(out),
            "bytes": len(data), "arch": spec.arch}
    if as_json:
        _print_json(info)
    else:
        typer.echo(f"wrote {out} ({len(data):,} bytes): {space} seed {seed}")


@app.command()
def compress(
    model: Annotated[Path, typer.Argument(help="An int8 .tflite model.")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Where to write the compressed .tflite.")],
    sparsity: Annotated[float | None, typer.Option(
        help="Unstructured magnitude pruning: this share of each layer's weights set to 0 (0-0.95).")] = None,
    clusters: Annotated[int | None, typer.Option(
        help="Palettisation: each layer's weights on this many levels (2-256).")] = None,
    cluster_per_channel: Annotated[bool | None, typer.Option(
        "--cluster-per-channel", help="Levels per output channel instead of per layer.")] = None,
    bits: Annotated[int | None, typer.Option(
        help="Effective weight bits (2-8), as a low-bit model converted to int8 stores them.")] = None,
    structured: Annotated[str | None, typer.Option(
        help="Structured sparsity: '2:4' keeps 2 of every 4 weights along the input depth.")] = None,
    recipe: Annotated[Path | None, typer.Option(
        help="A recipe file (TOML or JSON): defaults and per-layer settings (see the user guide); the "
             "options above override its defaults.")] = None,
    seed: Annotated[int, typer.Option(help="Seed (only a recipe's trained-like redraw uses it).")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print what changed per layer as JSON.")] = False,
) -> None:
    """Compress a model's weights for a what-if: pruning, 2:4 sparsity, clustering, fewer bits.

    Only the int8 weight values change (graph, shapes, types and scales stay), so the result runs wherever
    the input ran; predict both to see what the compression saves on each target.
    """
    from dataclasses import replace

    from perfsage.compress import Recipe, compress_model, load_recipe
    from perfsage.errors import PerfsageError
    from perfsage.graph import load_graph

    load_graph(model)  # a missing, foreign or corrupt file: its one-line error, naming the path
    base = load_recipe(recipe) if recipe is not None else Recipe()
    given = {k: v for k, v in (("sparsity", sparsity), ("clusters", -1 if clusters == 0 else clusters),
                               ("bits", bits), ("structured", structured),
                               ("cluster_per_channel", cluster_per_channel)) if v is not None}
    if not given and recipe is None:
        raise PerfsageError("nothing to do: give --sparsity, --clusters, --bits, --structured or --recipe")
    recipe_ = Recipe(replace(base.default, **given), base.layers) if given else base
    compressed, changes = compress_model(model.read_bytes(), recipe_, seed=seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(compressed)
    if as_json:
        _print_json({"model": str(model), "out": str(out), "recipe": recipe_.to_dict(),
                     "layers": [c.to_dict() for c in changes]})
        return
    from perfsage.cli.render import render_compress

    render_compress(str(out), changes)


@app.command()
def zoo(
    name: Annotated[str | None, typer.Argument(help="A zoo model; without it, list the zoo.")] = None,
    out: Annotated[Path | None, typer.Option("-o", "--out", help="Where to write the .tflite.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed for the random int8 weights.")] = 0,
) -> None:
    """Published architectures (SqueezeNet, ShuffleNetV2, MnasNet, GhostNet, MCUNet, MLPerf Tiny) as int8."""
    from perfsage.errors import PerfsageError
    from perfsage.spaces.zoo import ZOO, build_zoo_model

    if name is None:
        for m in ZOO.values():
            typer.echo(f"{m.name:<26} {m.description}")
        return
    if out is None:
        raise PerfsageError("give -o/--out for the .tflite to write")
    data = build_zoo_model(name, seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    typer.echo(f"wrote {out} ({len(data):,} bytes): {name} seed {seed}")


@app.command()
def targets(as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False) -> None:
    """List the hardware targets and their metrics (units, and how each is obtained)."""
    from perfsage.targets import get_target, target_names
    from perfsage.targets.metrics import METRICS

    rows = []
    for name in target_names():
        t = get_target(name)
        rows.append({"name": name, "description": t.description,
                     "metrics": [{"name": m.name, "unit": METRICS[m.name].unit, "how": m.how} for m in t.metrics]})
    if as_json:
        _print_json(rows)
        return
    from perfsage.cli.render import render_targets

    render_targets(rows)


@app.command()
def label(
    model: Annotated[Path, typer.Argument(help="A .tflite model.")],
    target: Annotated[str, typer.Option("--target", "-t", help="Target name or a device .toml file.")]
    = "ethos-u55-128",
    per_layer: Annotated[bool, typer.Option("--per-layer", help="Per-operator breakdown.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Measure ground truth for a model on a target with the real tool (Vela, LiteRT, TFLite Micro, ...)."""
    from perfsage.targets.label import label_model

    result = label_model(model, target, per_layer)
    if as_json:
        _print_json(result)
        return
    from perfsage.cli.render import render_label

    render_label(result)


@app.command("predict")
def predict_cmd(
    models: Annotated[list[Path], typer.Argument(help=".tflite files, or directories searched for them.")],
    target: Annotated[str, typer.Option("--target", "-t", help="Shipped target, 'all', or a checkpoint "
                                        "directory.")] = "ethos-u55-128",
    per_layer: Annotated[bool, typer.Option("--per-layer", help="Each operator's predicted share, "
                                            "bottlenecks first.")] = False,
    top: Annotated[int, typer.Option("--top", help="Layers shown per model (text output).")] = 10,
    label: Annotated[bool, typer.Option("--label", help="Also measure with the real tool and show it "
                                        "beside the prediction. Where the tool fails on a model (TFLite Micro "
                                        "aborts on many converter networks), that model keeps its prediction "
                                        "and shows why it has no measurement, the other models go on, and "
                                        "stderr counts the failures; the exit code stays 0, as every "
                                        "prediction was made.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list, one record per model and target "
                                          "(with every out-of-distribution reason).")] = False,
    device: Annotated[str, typer.Option("--device", help="Where the network runs: cpu, or cuda for large "
                                        "batches.")] = "cpu",
) -> None:
    """Predict latency, energy and memory, with intervals and an out-of-distribution check.

    Exit code 0 when every model was predicted, even if the real tool of --label failed on some (their
    records carry "measured_error" instead of "measured"); 2 on bad input (a file that is no model, an
    unknown target)."""
    from perfsage.predict.service import measurement_failures, predict_paths

    with _progress("predicting") as progress:
        records = predict_paths(models, target, per_layer, label, progress, device=device)
    if as_json:
        _print_json(records)
    else:
        from perfsage.cli.render import render_predictions

        render_predictions(records, top)
    failed = measurement_failures(records)
    if failed:
        where = "measured_error" if as_json else "'measurement failed' above"
        typer.echo(f"perfsage: {failed} of {len(records)} measurements failed (the predictions stand; see {where})",
                   err=True)


@app.command("report")
def report_cmd(
    model: Annotated[Path, typer.Argument(help="A .tflite model.")],
    out: Annotated[Path, typer.Option("-o", "--out", help="The HTML file to write.")],
    target: Annotated[str, typer.Option("--target", "-t", help="Shipped target or a checkpoint directory.")]
    = "ethos-u55-128",
    label: Annotated[bool, typer.Option("--label", help="Measure with the real tool and show it beside.")]
    = False,
) -> None:
    """One self-contained HTML page: metric cards, per-layer chart, graph summary (and ground truth).

    Where the real tool of --label fails on the model, the page shows the prediction and why nothing was
    measured; the exit code stays 0."""
    from perfsage.predict.report import write_report

    data = write_report(model, out, target, label)
    typer.echo(f"wrote {out}")
    failed = data["record"].get("measured_error")
    if failed:
        typer.echo(f"perfsage: measurement failed ({failed['kind']}): {failed['message']} (the prediction "
                   "stands)", err=True)


def _progress(what: str):
    """A progress bar on stderr for batches (silent for one model and when stderr is not a terminal)."""
    import contextlib
    import sys

    if not sys.stderr.isatty():
        return contextlib.nullcontext(None)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    bar = Progress(f"[bold]{what}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   console=Console(stderr=True), transient=True)

    class _Bar(contextlib.AbstractContextManager):
        def __enter__(self):
            bar.start()
            self.task = None
            return self

        def __call__(self, done: int, total: int) -> None:
            if total < 2:
                return
            if self.task is None:
                self.task = bar.add_task(what, total=total)
            bar.update(self.task, completed=done)

        def __exit__(self, *exc):
            bar.stop()
            return False

    return _Bar()


dataset_app = typer.Typer(no_args_is_help=True, help="Build and describe EdgeDLPerf-style datasets.")
app.add_typer(dataset_app, name="dataset")


@dataset_app.command("build")
def dataset_build(
    out: Annotated[Path, typer.Option("--out", help="Dataset directory (created, or resumed).")],
    spaces: Annotated[str, typer.Option(help="Comma-separated spaces.")] = "classification,detection,kws,segmentation",
    per_space: Annotated[int, typer.Option("--per-space", help="Models per space (seeds first-seed...).")] = 100,
    targets: Annotated[str, typer.Option(help="Comma-separated targets.")] = "ethos-u55-128,ethos-u65-256,mcu-tflm",
    workers: Annotated[int, typer.Option(help="Worker processes (local) or CPUs (Ray).")] = 2,
    ray: Annotated[str | None, typer.Option("--ray", help="Ray address, or 'local' for a local cluster.")] = None,
    keep_models: Annotated[bool, typer.Option("--keep-models", help="Also store the .tflite files.")] = False,
    first_seed: Annotated[int, typer.Option("--first-seed", help="First seed of each space.")] = 0,
    flush_every: Annotated[int, typer.Option("--flush-every", help="Write a shard every N models.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Synthesise and label models; rerun the same command to resume after an interruption."""
    from perfsage.dataset.build import BuildConfig, build

    cfg = BuildConfig(out=out, spaces=[s for s in spaces.split(",") if s], per_space=per_space,
                      targets=[t for t in targets.split(",") if t], workers=workers, ray_address=ray,
                      keep_models=keep_models, first_seed=first_seed, flush_every=max(flush_every, 1))
    try:
        summary = build(cfg, progress=not as_json)
    except KeyboardInterrupt:
        typer.echo("interrupted: everything finished so far is saved; rerun the same command to resume",
                   err=True)
        raise typer.Exit(130) from None
    result = {"out": str(out), "planned": summary.planned, "done": summary.done, "labels": summary.labels,
              "failures": summary.failures, "seconds": round(summary.seconds, 1)}
    _emit(result, as_json, f"{summary.done} models in {summary.seconds:.0f} s: {summary.labels} labels, "
          f"{summary.failures} failures -> {out}")


@dataset_app.command("info")
def dataset_info_cmd(
    path: Annotated[Path, typer.Argument(help="Dataset directory.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Counts per space and target, label ranges and failures."""
    from perfsage.dataset.info import dataset_info

    info = dataset_info(path)
    if as_json:
        _print_json(info)
        return
    from perfsage.cli.render import render_dataset_info

    render_dataset_info(info)


@dataset_app.command("compact")
def dataset_compact_cmd(path: Annotated[Path, typer.Argument(help="Dataset directory.")]) -> None:
    """Merge each folder's shards into one (a completed build does this itself)."""
    from perfsage.dataset.build import compact_dataset
    from perfsage.dataset.store import read_manifest

    read_manifest(path)
    merged = compact_dataset(path)
    typer.echo(", ".join(f"{k}: {n} shards" for k, n in merged.items() if n) or "nothing to compact")


@dataset_app.command("relabel")
def dataset_relabel_cmd(
    path: Annotated[Path, typer.Argument(help="Dataset directory.")],
    target: Annotated[str, typer.Option("--target", help="The target whose rows to re-measure.")],
    field: Annotated[str, typer.Option("--field", help="The per-layer field the rows must gain.")] = "sram_kib",
    spaces: Annotated[str, typer.Option(help="Comma-separated spaces (default: all).")] = "",
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 2,
    tolerance: Annotated[float, typer.Option(
        help="Largest relative change of a total for which the new measurement replaces the stored row "
             "(Vela's totals moved by up to 0.84% between runs on some models); 0: they must repeat.")] = 0.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Re-measure a target's rows that lack a per-layer field; rerun the same command to resume."""
    from perfsage.dataset.relabel import relabel

    try:
        s = relabel(path, target, field, [x for x in spaces.split(",") if x] or None, max(workers, 1),
                    tolerance=tolerance)
    except KeyboardInterrupt:
        typer.echo("interrupted: every re-measured row so far is saved; rerun the same command to resume", err=True)
        raise typer.Exit(130) from None
    result = {"planned": s.planned, "done": s.done, "failures": s.failures, "changed": s.changed,
              "replaced": s.replaced, "largest_change": s.largest_change, "seconds": round(s.seconds, 1)}
    _emit(result, as_json, f"{s.done} of {s.planned} rows re-measured in {s.seconds:.0f} s: "
          f"{s.failures} failures, {s.changed} with totals moved beyond the tolerance (kept as they were), "
          f"{s.replaced} within it (replaced; largest change {s.largest_change:.2%})")
    if s.failures or s.changed:
        raise typer.Exit(1)


@dataset_app.command("retime")
def dataset_retime_cmd(
    path: Annotated[Path, typer.Argument(help="Dataset directory.")],
    target: Annotated[str, typer.Option("--target", help="A host-bound target (timed on this CPU).")] = "cpu-litert",
    space: Annotated[str, typer.Option("--space", help="The space whose rows to re-time.")] = "precision",
    precision: Annotated[str, typer.Option(
        help="Only models of this precision (precision space: int8, float32, dynamic); empty: all.")] = "",
    passes: Annotated[int, typer.Option(help="Round-robin passes, one 0.5 s window each; the fastest is kept.")] = 3,
    limit: Annotated[int, typer.Option(help="At most this many rows (0: all).")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Re-time a CPU target's rows in passes spread over minutes; rerun the same command to resume."""
    from perfsage.dataset.retime import retime

    try:
        with _progress("re-timing") as bar:
            s = retime(path, target, space, precision or None, passes, limit or None,
                       progress=None if bar is None else lambda stage, d, t: bar(d, t) if stage == "readings" else None)
    except KeyboardInterrupt:
        typer.echo("interrupted: every reading so far is journaled; rerun the same command to resume", err=True)
        raise typer.Exit(130) from None
    result = {"planned": s.planned, "measured": s.measured, "failures": s.failures,
              "median_ratio": s.median_ratio, "seconds": round(s.seconds, 1)}
    _emit(result, as_json, f"{s.measured} of {s.planned} rows re-timed in {passes} passes in {s.seconds:.0f} s "
          f"({s.failures} failures); new / old latency: median {s.median_ratio:.3f}")
    if s.failures:
        raise typer.Exit(1)


@dataset_app.command("graphs")
def dataset_graphs(
    space: Annotated[str, typer.Option("--space", help="nasbench201 or fbnet.")],
    table: Annotated[Path, typer.Option("--table", help="The real-device table (CSV with index, arch).")],
    out: Annotated[Path, typer.Option("--out", help="Output directory (resumable).")],
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 2,
) -> None:
    """Build the graphs of every architecture in a NAS-Bench-201 / FBNet real-device table."""
    from perfsage.dataset.table_graphs import build_table_graphs

    n = build_table_graphs(space, table, out, workers)
    typer.echo(f"{n} graphs built -> {out}")


@app.command("train")
def train_cmd(
    data: Annotated[Path, typer.Option("--data", help="Dataset directory.")],
    target: Annotated[str, typer.Option("--target", "-t", help="Target whose labels to learn.")],
    out: Annotated[Path, typer.Option("--out", help="Checkpoint directory to write.")],
    metrics: Annotated[str | None, typer.Option(help="Comma-separated metrics (default: all).")] = None,
    estimator: Annotated[str, typer.Option(help="perfsage, flops, gbdt, brp-nas-gcn, nn-meter-kernels")]
    = "perfsage",
    split: Annotated[str, typer.Option(help="random, size, or leave-out:SPACE")] = "random",
    seed: Annotated[int, typer.Option(help="Seed for the split and the training.")] = 0,
    epochs: Annotated[int | None, typer.Option(help="Epochs (neural estimators).")] = None,
    max_seconds: Annotated[float | None, typer.Option(
        "--max-seconds", help="Wall-clock budget the learning rate anneals to (neural estimators).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the training summary as JSON.")] = False,
) -> None:
    """Train a predictor on a dataset split (early stopping on the validation part) and save it."""
    from perfsage.model.train import train

    neural = estimator in ("perfsage", "brp-nas-gcn")
    params = {k: v for k, v in (("epochs", epochs), ("max_seconds", max_seconds)) if v is not None and neural}
    log = None
    if not as_json:
        def log(rec):
            typer.echo("  " + "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                        for k, v in rec.items()))
    _, info = train(data, target, out, [m for m in metrics.split(",")] if metrics else None, estimator, split,
                    seed, log, **params)
    if as_json:
        _print_json(info)
    else:
        typer.echo(f"trained {estimator} on {info['n_train']} models in {info['train_seconds']} s -> {out}")


@app.command("evaluate")
def evaluate_cmd(
    target: Annotated[str, typer.Option("--target", "-t", help="Target to evaluate on.")],
    data: Annotated[Path | None, typer.Option("--data", help="Dataset directory.")] = None,
    model: Annotated[str | None, typer.Option("--model", help="Checkpoint directory or shipped predictor name "
                                                "(default: the predictor shipped for --target).")] = None,
    split: Annotated[str, typer.Option(help="random, size, or leave-out:SPACE")] = "random",
    seed: Annotated[int, typer.Option(help="Seed of the split.")] = 0,
    plots: Annotated[Path | None, typer.Option("--plots", help="Write scatter and error-CDF PNGs here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Score a predictor on the test part of a split: MAPE, RMSPE, +-5/10% accuracy, Spearman, Kendall."""
    from perfsage.errors import PerfsageError
    from perfsage.model.calibration import Calibration
    from perfsage.model.data import load_graphset
    from perfsage.model.distance import EmbeddingDistance
    from perfsage.model.evaluate import evaluate
    from perfsage.model.registry import checkpoint_dir, load_estimator
    from perfsage.model.shipped import predictor_dir, shipped_test_set
    from perfsage.model.train import split_graphset

    folder = checkpoint_dir(model) if model is not None else predictor_dir(target)
    est = load_estimator(folder)
    if data is not None:
        _, _, test = split_graphset(load_graphset(data, target, est.metrics), split, seed)
    elif model is not None and Path(model).exists():
        raise PerfsageError("give --data to score your own checkpoint (the shipped test labels belong to the "
                            "shipped predictors)")
    elif split != "random" or seed != 0:
        raise PerfsageError("the shipped test labels are the random split with seed 0; give --data for others")
    else:  # the shipped predictor on the test split it was scored on, shipped beside it
        test = shipped_test_set(target, est.metrics)
    result = {"target": target, "split": split, **evaluate(est, test, plots, f"{est.name} on {target}",
                                                             Calibration.load(folder), EmbeddingDistance.load(folder))}
    if as_json:
        _print_json(result)
        return
    from perfsage.cli.render import render_evaluation

    render_evaluation(result)


@app.command("adapt")
def adapt_cmd(
    base: Annotated[str, typer.Option("--base", help="Base predictor: a checkpoint directory or shipped target.")],
    samples: Annotated[Path, typer.Option("--samples", help="CSV: latency_ms and model (or space and arch).")],
    out: Annotated[Path, typer.Option("--out", help="Checkpoint directory to write.")],
    device: Annotated[str, typer.Option(help="A name for your device.")] = "my-device",
    method: Annotated[str, typer.Option(help="ensemble (default), ridge or closest.")] = "ensemble",
    target: Annotated[str | None, typer.Option(
        help="The target that measures this device (a built-in name or a device .toml), recorded so that "
             "`predict --label` and `report --label` can measure with it.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the fit as JSON.")] = False,
) -> None:
    """A latency predictor for your own device from 10-20 measured models."""
    import json
    import math

    from perfsage.model.registry import load_estimator
    from perfsage.realdev.adapt import adapt, check_method, read_measurements
    from perfsage.targets import get_target

    check_method(method)
    if target is not None:
        get_target(target)  # an unknown target is a one-line error before any work
    est = load_estimator(base)
    graphs, lat, rows = read_measurements(samples)
    adapted = adapt(est, graphs, lat, method, device)
    adapted.samples = rows
    adapted.save(out)
    if target is not None:
        (Path(out) / "training.json").write_text(json.dumps({"target": target, "adapted": {
            "device": device, "samples": len(rows), "base": base}}, indent=1) + "\n")
    result = {"out": str(out), "device": device, "samples": len(rows), "method": method,
              "lambda": adapted.fit.lam, "loo_rmse_log": adapted.fit.loo_rmse}
    _emit(result, as_json, f"{device}: fitted on {len(rows)} models, leave-one-out error about "
          f"{100 * (math.exp(adapted.fit.loo_rmse) - 1):.1f}% -> {out}")


@app.command("calibrate")
def calibrate_cmd(
    target: Annotated[str, typer.Argument(help="The CPU target to calibrate here: cpu-litert.")] = "cpu-litert",
    models: Annotated[int, typer.Option("--models", help="Models to measure here: more is more accurate and slower "
                                                         "(about 2 s each).")] = 40,
    seed: Annotated[int, typer.Option(help="Which draw of calibration models.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Fit the CPU predictor to this host's CPU: measures a few models here and keeps the result in the cache
    (PERFSAGE_CACHE or ~/.cache/perfsage), keyed by this CPU's fingerprint; `predict --target cpu-litert`
    uses it from then on. Killed, it goes on where it stopped when run again."""
    import math

    from perfsage.predict.calibrate import calibrate

    with _progress("measuring") as bar:
        result = calibrate(target, models, seed, progress=bar)
    lat = result.loo_rmse_log["latency_ms"]
    _emit(result.to_dict(), as_json,
          f"{target}: calibrated for {result.host.describe()} on {result.models} models "
          f"({result.measured_now} readings taken now) in {result.seconds:.0f} s; leave-one-out latency error about "
          f"{100 * (math.exp(lat) - 1):.1f}% -> {result.folder}")


@app.command("search")
def search_cmd(
    space: Annotated[str, typer.Option("--space", help="The search space (perfsage spaces).")],
    target: Annotated[str, typer.Option("--target", "-t", help="The target whose budgets apply.")] = "ethos-u55-128",
    max_latency_ms: Annotated[float | None, typer.Option("--max-latency-ms", help="Latency budget.")] = None,
    max_sram_kib: Annotated[float | None, typer.Option("--max-sram-kib", help="SRAM budget (Ethos-U).")] = None,
    max_flash_kib: Annotated[float | None, typer.Option("--max-flash-kib", help="Flash budget (Ethos-U).")] = None,
    max_arena_kib: Annotated[float | None, typer.Option("--max-arena-kib", help="Tensor arena budget "
                                                        "(mcu-tflm).")] = None,
    objective: Annotated[str, typer.Option("--objective", help="What to maximise under the budgets: macs or "
                                           "params.")] = "macs",
    agent: Annotated[str, typer.Option("--agent", help="random, evolution (pymoo), bo (Optuna TPE), aco or "
                                       "rl (Stable-Baselines3 PPO).")] = "evolution",
    evaluations: Annotated[int, typer.Option("--evaluations", help="Designs the agent may have costed.")] = 1000,
    max_seconds: Annotated[float | None, typer.Option("--max-seconds", help="Wall-clock budget of the search "
                                                      "(--evaluations still caps it).")] = None,
    cost: Annotated[str, typer.Option("--cost", help="proxy (perfsage's predictor) or simulator (the real "
                                      "tool).")] = "proxy",
    seed: Annotated[int, typer.Option("--seed", help="The agent's seed.")] = 0,
    out: Annotated[Path, typer.Option("--out", help="Folder for the designs (.tflite), search.json, "
                                      "report.html and the evaluation journal.")] = Path("search-out"),
    top: Annotated[int, typer.Option("--top", help="Designs to report (each written and re-measured).")] = 3,
    workers: Annotated[int, typer.Option("--workers", help="Processes: the simulator's tool workers, or the "
                                         "proxy's candidate builders (and network threads).")] = 2,
    ray: Annotated[str | None, typer.Option("--ray", help="Ray address for the simulator's workers, or "
                                            "'local'.")] = None,
    no_verify: Annotated[bool, typer.Option("--no-verify", help="Do not re-measure the reported "
                                            "designs.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Search a space for the largest design that fits the budgets: an agent over a cost model, then the best
    designs written as .tflite and re-measured with the real tool. A rerun into the same --out replays the
    evaluations a killed run already paid for."""
    from perfsage.search.budget import Budget
    from perfsage.search.run import SearchConfig, search

    limits = {m: v for m, v in (("latency_ms", max_latency_ms), ("sram_kib", max_sram_kib),
                                ("flash_kib", max_flash_kib), ("arena_kib", max_arena_kib)) if v is not None}
    cfg = SearchConfig(space, target, Budget(limits, objective), agent, evaluations, cost, seed, out, top,
                       workers, ray, not no_verify, max_seconds)
    with _progress("searching") as bar:
        result = search(cfg, progress=bar)
    d = result.to_dict()
    if as_json:
        _print_json(d)
        return
    typer.echo(f"{result.evaluations} evaluations ({cost}, {agent}) in {result.search_seconds:.1f} s; "
               f"{len(result.pareto)} designs on the Pareto front; report {out / 'report.html'}")
    for k, dsg in enumerate(result.best, start=1):
        cols = ", ".join(
            f"{m} {dsg.predicted[m]['value']:.4g} (<= {dsg.predicted[m]['high']:.4g})"
            + (f" measured {dsg.measured[m]:.4g}" if dsg.measured and m in dsg.measured else "")
            for m in sorted(limits))
        fits = {True: "fits", False: "DOES NOT FIT", None: "not measured"}[dsg.fits]
        typer.echo(f"  {k}. {dsg.model}: {objective} {dsg.objective[objective]:,.0f}; {cols}; {fits}")


@app.command("realdev")
def realdev_cmd(
    space: Annotated[str, typer.Option("--space", help="nasbench201 or fbnet.")],
    device: Annotated[str, typer.Option("--device", help="A device column of the table.")],
    samples: Annotated[int, typer.Option("--samples", help="Measured architectures the predictor gets.")] = 10,
    seed: Annotated[int, typer.Option(help="Seed of the sample draw (10 samples, seed 0: HELP's references).")] = 0,
    pretrain: Annotated[str | None, typer.Option(help="Comma-separated pretraining devices "
                                                 "(default: HELP's meta-train devices).")] = None,
    method: Annotated[str, typer.Option(help="Adaptation: ensemble (default), ridge or closest.")] = "ensemble",
    base_seed: Annotated[int, typer.Option("--base-seed", help="Seed of the pretrained base (few samples).")] = 0,
    max_seconds: Annotated[float | None, typer.Option("--max-seconds", help=(
        "Wall-clock cap on training (default: none; a base trains the space's epochs, a many-samples "
        "run 150)."))] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Score PerfSAGE on a real device of the NAS-Bench-201/FBNet tables (HELP or BRP-NAS protocol)."""
    from perfsage.realdev.protocol import run

    result = run(space, device, samples, seed, pretrain.split(",") if pretrain else None, method=method,
                 max_seconds=max_seconds, base_seed=base_seed)
    _emit(result, as_json, f"{space} {device}, {samples} samples ({result['protocol']}): Spearman "
          f"{result['spearman']:.3f}, MAPE {result['mape']:.1f}%, within 10% {result['acc10']:.1%} on "
          f"{result['n_test']} models")
