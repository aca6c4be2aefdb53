"""Command definitions. Each command parses options, calls one API function, and renders the result."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    name="perfsage", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    help="Predict latency, energy and memory of .tflite models on edge hardware.")


@app.callback()
def _root() -> None:
    """Predict latency, energy and memory of .tflite models on edge hardware."""


def _print_json(obj) -> None:
    typer.echo(json.dumps(obj, indent=2))


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
