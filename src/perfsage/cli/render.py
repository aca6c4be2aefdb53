"""Human-readable (rich) renderings of API results."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def _n(x: int) -> str:
    return f"{x:,}"


def _bytes(b: int) -> str:
    if b >= 1 << 20:
        return f"{b / (1 << 20):.2f} MiB"
    if b >= 1 << 10:
        return f"{b / (1 << 10):.1f} KiB"
    return f"{b} B"


def render_inspect(report: dict, console: Console | None = None) -> None:
    console = console or Console()
    table = Table(title=f"{report['model']}", title_justify="left", box=None, header_style="bold")
    for col, just in (("#", "right"), ("op", "left"), ("output shape", "left"), ("MACs", "right"),
                      ("weights", "right"), ("act in", "right"), ("act out", "right")):
        table.add_column(col, justify=just, no_wrap=col in ("op", "output shape"))
    for layer in report["layers"]:
        table.add_row(str(layer["index"]), layer["op"], "x".join(map(str, layer["output_shape"])),
                      _n(layer["macs"]), _bytes(layer["weight_bytes"] + layer["bias_bytes"]),
                      _bytes(layer["input_bytes"]), _bytes(layer["output_bytes"]))
    console.print(table)
    ins = ", ".join(f"{'x'.join(map(str, t['shape']))} {t['dtype']}" for t in report["inputs"])
    outs = ", ".join(f"{'x'.join(map(str, t['shape']))} {t['dtype']}" for t in report["outputs"])
    console.print(
        f"[bold]total[/bold]  ops {report['ops']}  tensors {report['tensors']}  MACs {_n(report['macs'])}  "
        f"params {_n(report['params'])}  weights {_bytes(report['weight_bytes'])}  "
        f"peak activations {_bytes(report['peak_activation_bytes'])}  "
        f"planned arena {_bytes(report['planned_activation_bytes'])}  depth {report['depth']}")
    console.print(f"inputs: {ins}   outputs: {outs}")
    hist = "  ".join(f"{k} {v}" for k, v in report["op_types"].items())
    console.print(f"op types: {hist}")
    skipped = [s for s in report["subgraphs"] if not s["analysed"]]
    if skipped:
        console.print(f"[yellow]{len(skipped)} further subgraph(s) not analysed:[/yellow] "
                      + ", ".join(f"#{s['index']} {s['name'] or '(unnamed)'} ({s['operators']} ops)"
                                  for s in skipped))


def render_compress(out: str, changes, console: Console | None = None) -> None:
    """What `perfsage compress` did to each layer's weights: the statistics Vela's encoder responds to."""
    console = console or Console()
    table = Table(title=f"wrote {out}", title_justify="left", box=None, header_style="bold")
    for col in ("#", "op", "weights", "zeros", "distinct values", "entropy bits", "note"):
        table.add_column(col, justify="left" if col in ("op", "note") else "right", no_wrap=col != "note")
    for c in changes:
        b, a = c.before, c.after
        table.add_row(str(c.index), c.op, _n(a.values), f"{b.zero_share:.0%} -> {a.zero_share:.0%}",
                      f"{b.distinct} -> {a.distinct}", f"{b.entropy_bits:.2f} -> {a.entropy_bits:.2f}", c.skipped)
    console.print(table)
    before = sum(c.before.entropy_bytes for c in changes)
    after = sum(c.after.entropy_bytes for c in changes)
    console.print(f"[bold]entropy-coded weights[/bold] {_bytes(before)} -> {_bytes(after)} "
                  f"({after / before:.0%}; a floor for a lossless encoder, not Vela's flash: "
                  "`perfsage predict` both models for that)" if before else "no weights changed")


def render_spaces(rows: list[dict], console: Console | None = None) -> None:
    console = console or Console()
    for r in rows:
        console.print(f"[bold]{r['name']}[/bold]  {r['task']}  (10^{r['size_log10']:.1f} architectures)")
        console.print(f"    {r['description']}", highlight=False)


def render_targets(rows: list[dict], console: Console | None = None) -> None:
    console = console or Console()
    for r in rows:
        console.print(f"[bold]{r['name']}[/bold]  {r['description']}", highlight=False)
        for m in r["metrics"]:
            console.print(f"    {m['name']:<14} {m['unit']:<10} {m['how']}", highlight=False)


def render_label(result: dict, console: Console | None = None) -> None:
    console = console or Console()
    console.print(f"[bold]{result['model']}[/bold] on [bold]{result['target']}[/bold]", highlight=False)
    for name, value in result["metrics"].items():
        shown = f"{value:>14,.0f}" if float(value).is_integer() else f"{value:>14,.4f}"
        console.print(f"  {name:<14} {shown} {result['units'][name]:<10} ({result['how'].get(name, '')})",
                      highlight=False)
    if result["layers"]:
        keys = [k for k in ("latency_ms", "npu_cycles", "energy_mj", "macs") if k in result["layers"][0]]
        table = Table(box=None, header_style="bold")
        table.add_column("#", justify="right")
        table.add_column("op", no_wrap=True)
        for k in keys:
            table.add_column(k, justify="right")
        total = result["metrics"].get("latency_ms") or 0
        if "latency_ms" in keys:
            table.add_column("share", justify="right")
        for row in result["layers"]:
            cells = [str(row["index"]), row["op"]] + [f"{row[k]:,.4g}" for k in keys]
            if "latency_ms" in keys:
                cells.append(f"{100 * row['latency_ms'] / total:.1f}%" if total else "")
            table.add_row(*cells)
        console.print(table)
    p = result["provenance"]
    console.print(f"  {p.get('tool', '')} {p.get('version', '')}  {p.get('cpu', '')}", highlight=False)


def render_dataset_info(info: dict, console: Console | None = None) -> None:
    console = console or Console()
    console.print(f"[bold]{info['path']}[/bold]: {info['models']:,} models (generator v{info['generator_version']})",
                  highlight=False)
    console.print("  " + "  ".join(f"{s} {n:,}" for s, n in info["spaces"].items()), highlight=False)
    table = Table(box=None, header_style="bold")
    for col in ("target", "labelled", "metric", "min", "median", "max", "unit"):
        table.add_column(col, justify="left" if col in ("target", "metric", "unit") else "right")
    for t, d in info["targets"].items():
        first = True
        for m, r in d["ranges"].items():
            table.add_row(t if first else "", f"{d['labelled']:,}" if first else "", m, f"{r['min']:.4g}",
                          f"{r['median']:.4g}", f"{r['max']:.4g}", r["unit"])
            first = False
    console.print(table)
    for t, f in info["failures"].items():
        kinds = ", ".join(f"{k} {n}" for k, n in f["kinds"].items())
        console.print(f"  [yellow]failures[/yellow] {t}: {f['count']} ({kinds})", highlight=False)


def render_evaluation(result: dict, console: Console | None = None) -> None:
    console = console or Console()
    console.print(f"[bold]{result['target']}[/bold], split {result['split']}, {result['n_test']} test models",
                  highlight=False)
    table = Table(box=None, header_style="bold")
    for col in ("metric", "space", "n", "MAPE %", "RMSPE %", "±5%", "±10%", "Spearman", "Kendall"):
        table.add_column(col, justify="left" if col in ("metric", "space") else "right")

    def row(m, s, r):
        table.add_row(m, s, str(r["n"]), f"{r['mape']:.2f}", f"{r['rmspe']:.2f}", f"{r['acc5']:.3f}",
                      f"{r['acc10']:.3f}", f"{r['spearman']:.4f}", f"{r['kendall']:.4f}")

    for m, r in result["metrics"].items():
        row(m, "all", r)
        for s, per in result["per_space"].items():
            row("", s, per[m])
    console.print(table)
    if "interval" in result:
        cov = "  ".join(f"{m} {c:.3f}" for m, c in result["interval"]["coverage"].items())
        console.print(f"{result['interval']['level']:.0%} interval coverage: {cov}", highlight=False)


def _num(v: float | None) -> str:
    from perfsage.predict.report import fmt

    return "" if v is None else fmt(v)


def render_ood(ood: dict, console: Console) -> None:
    """The out-of-distribution verdict: the few most telling reasons (they come ranked), then a count."""
    from perfsage.predict.predictor import brief_reasons

    if not ood["flag"]:
        console.print("  [green]inside the training distribution[/green]")
        return
    console.print("  [yellow]out of distribution[/yellow] (intervals may not hold):")
    shown, rest = brief_reasons(ood["reasons"])
    reasons = Table.grid(padding=(0, 1))
    reasons.add_column(justify="right", width=5)  # wrapped reasons stay indented under their own bullet
    reasons.add_column()
    for r in shown:
        reasons.add_row("-", escape(r))
    console.print(reasons, highlight=False)
    if rest:
        console.print(f"      … and {rest} more (--json lists them all)", highlight=False)


def render_predictions(records: list[dict], top: int = 10, console: Console | None = None) -> None:
    from perfsage.predict.predictor import layer_metrics, ranking_metric
    from perfsage.targets.metrics import parts_of, unit_of

    console = console or Console()
    for rec in records:
        console.print(f"[bold]{rec['model']}[/bold] on [bold]{rec['target']}[/bold]", highlight=False)
        measured = rec.get("measured")
        table = Table(box=None, header_style="bold", padding=(0, 2))
        for col in ("metric", "unit", "predicted", "interval") + (("measured", "error") if measured else ()):
            table.add_column(col, justify="left" if col in ("metric", "unit", "interval") else "right")
        for m, iv in rec["metrics"].items():
            unit = unit_of(m)
            interval = f"{_num(iv['low'])} - {_num(iv['high'])}" if iv["low"] is not None else \
                "withheld (CPU)" if rec.get("host", {}).get("mismatch", False) is not False else "n/a"
            cells = [m, unit, _num(iv["value"]), interval]
            if measured:
                truth = measured.get(m)
                err = f"{100 * (iv['value'] - truth) / truth:+.1f}%" if truth else ""
                cells += [_num(truth), err]
            table.add_row(*cells)
            for part in parts_of(m):  # e.g. the arena as TFLite Micro's planned head plus its persistent tail
                if part.name in rec.get("parts", {}):
                    value = rec["parts"][part.name]
                    cells = [f"  {part.name}", unit, _num(value), ""]
                    if measured:
                        truth = rec.get("measured_parts", {}).get(part.name)
                        cells += [_num(truth), f"{100 * (value - truth) / truth:+.1f}%" if truth else ""]
                    table.add_row(*cells)
        console.print(table)
        host = rec.get("host")
        if host is not None:  # a CPU latency: for which CPU
            colour = "green" if host["mismatch"] is False else "yellow"
            console.print(f"  [{colour}]host:[/{colour}] {escape(host['summary'])}", highlight=False)
        failed = rec.get("measured_error")
        if failed:
            console.print(f"  [red]measurement failed ({escape(failed['kind'])})[/red]: {escape(failed['message'])}",
                          highlight=False)
        render_ood(rec["ood"], console)
        layers = rec.get("layers") or []
        if layers:
            metric = ranking_metric(layer_metrics(layers[0]))
            lt = Table(box=None, header_style="bold", padding=(0, 2),
                       title=f"top {min(top, len(layers))} of {len(layers)} layers by predicted {metric}",
                       title_justify="left")
            measured_col = f"measured_{metric}" in layers[0]
            dense = "dense_flash_kib" in layers[0]  # a compressed model: each layer's flash against dense
            cols = ["#", "op", metric, "share"] + ([] if dense else [""]) + (
                [f"measured {metric}"] if measured_col else []) + (["flash_kib", "dense", "saved"] if dense else [])
            for col in cols:
                lt.add_column(col, justify="left" if col in ("op", "") else "right", no_wrap=col == "op")
            for la in layers[:top]:
                cells = [str(la["index"]), la["op"], _num(la[metric]), f"{100 * la['share']:.1f}%"] + (
                    [] if dense else ["█" * max(1, round(30 * la["share"]))])
                if measured_col:
                    cells.append(_num(la.get(f"measured_{metric}")))
                if dense:
                    flash, twin = la.get("flash_kib"), la.get("dense_flash_kib")
                    saved = f"{100 * (1 - flash / twin):.0f}%" if flash is not None and twin else ""
                    cells += [_num(flash), _num(twin), saved]
                lt.add_row(*cells)
            console.print(lt)
            if dense and rec.get("dense", {}).get("flash_kib"):
                twin = rec["dense"]["flash_kib"]
                flash = rec["metrics"]["flash_kib"]["value"]
                console.print(f"  compressed weights: flash {_num(flash)} KiB against {_num(twin)} KiB with the same "
                              f"layers dense ({100 * (1 - flash / twin):.0f}% saved)", highlight=False)
        console.print()
