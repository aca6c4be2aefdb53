"""`perfsage report`: one self-contained HTML page per model (inline CSS and SVG, no network fetches), so
it can be mailed, archived as a CI artefact or opened offline."""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

from perfsage import __version__
from perfsage.graph import load_graph
from perfsage.graph.report import inspect_report
from perfsage.predict.predictor import (
    DEFAULT_TARGET,
    LAYER_FIELDS,
    Predictor,
    brief_reasons,
    layer_metrics,
    predictor_name,
    prepare,
    ranking_metric,
)
from perfsage.predict.service import attach_measurement, compare_dense
from perfsage.predict.whatif import dense_twin
from perfsage.targets.metrics import parts_of, unit_of

CHART_LAYERS = 25  # bars in the chart; the table below it lists every layer

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:24px 32px;color:#1d232a;background:#fff}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 10px} .sub{color:#5b6570;font-size:13px}
.cards{display:flex;flex-wrap:wrap;gap:14px;margin-top:16px}
.card{border:1px solid #d5dbe1;border-radius:8px;padding:12px 16px;min-width:190px}
.card .name{font-size:13px;color:#5b6570} .card .value{font-size:26px;font-weight:600}
.card .unit{font-size:14px;color:#5b6570;margin-left:4px} .card .iv,.card .truth{font-size:12px;color:#5b6570}
.ood{margin-top:16px;padding:10px 14px;border-radius:6px;font-size:13px}
.ood.bad{background:#fff4e0;border:1px solid #f0b44c} .ood.good{background:#e9f7ee;border:1px solid #6cc08b}
.ood details summary{cursor:pointer;color:#5b6570}
.failed{margin-top:16px;padding:10px 14px;border-radius:6px;font-size:13px;background:#fdecea;border:1px solid #e07a6e}
table{border-collapse:collapse;font-size:12px} td,th{padding:3px 10px;text-align:right}
th{border-bottom:1px solid #aab3bc} td.l,th.l{text-align:left}
.legend span{display:inline-block;width:11px;height:11px;margin:0 4px 0 12px;vertical-align:-1px}
"""
_PRED, _TRUE = "#2f6fb5", "#e0892d"


def build_report(model: str | os.PathLike, target: str = DEFAULT_TARGET, label: bool = False) -> dict[str, Any]:
    """Everything the page shows, as data (the test checks the page against it). "predictor" is its name
    as the page shows it ("ethos-u55-128 (shipped)", a checkpoint's folder name), "predictor_dir" where
    it was loaded from (which the page leaves out: it is this machine's business, not the reader's)."""
    graph = load_graph(model)
    predictor = Predictor.load(target)
    prepared = prepare(graph, twins=True)
    record = predictor.predict(prepared).to_dict(layers=True)
    record["model"] = str(model)
    compare_dense(record, prepared.graph, predictor, lambda: prepared.dense() or dense_twin(model))  # what it saves
    if label:  # a failed measurement leaves "measured_error", shown in place of the measured values
        attach_measurement(record, Path(model), predictor.target, per_layer=True)
    return {"record": record, "summary": inspect_report(graph), "predictor": predictor_name(predictor.source),
            "predictor_dir": predictor.source, "level": predictor.calibration.level if predictor.calibration else None}


def write_report(model: str | os.PathLike, out: str | os.PathLike, target: str = DEFAULT_TARGET,
                 label: bool = False) -> dict[str, Any]:
    data = build_report(model, target, label)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(render_html(data), encoding="utf-8")
    return data


def fmt(v: float | None) -> str:
    """The one number format of the page (also what the test reads back)."""
    if v is None:
        return "n/a"
    return f"{v:,.4g}" if abs(v) < 1e5 else f"{v:,.0f}"


def _e(s: Any) -> str:
    return html.escape(str(s))


def _cards(rec: dict, level: float | None) -> str:
    out = []
    measured = rec.get("measured") or {}
    for m, iv in rec["metrics"].items():
        unit = unit_of(m)
        interval = (f"{level:.0%} interval {fmt(iv['low'])} to {fmt(iv['high'])}" if iv["low"] is not None
                    else "no calibrated interval")
        truth = ""
        if measured.get(m):
            err = 100 * (iv["value"] - measured[m]) / measured[m]
            truth = (f'<div class="truth">measured <span class="measured" data-metric="{_e(m)}">'
                     f'{fmt(measured[m])}</span> ({err:+.1f}%)</div>')
        dense = (rec.get("dense") or {}).get(m)
        if dense:  # a compressed model: the same layers with dense weights (predict.whatif)
            truth += (f'<div class="truth">dense weights <span class="dense" data-metric="{_e(m)}">{fmt(dense)}'
                      f'</span> ({100 * (1 - iv["value"] / dense):.0f}% saved)</div>')
        out.append(f'<div class="card"><div class="name">{_e(m)}</div><div><span class="value" '
                   f'data-metric="{_e(m)}">{fmt(iv["value"])}</span><span class="unit">{_e(unit)}</span></div>'
                   f'<div class="iv">{_e(interval)}</div>{truth}{_parts(rec, m)}</div>')
    return f'<div class="cards">{"".join(out)}</div>'


def _parts(rec: dict, metric: str) -> str:
    """The metric's predicted parts (metrics.PARTS), with the tool's own where it was run."""
    measured = rec.get("measured_parts") or {}
    items = [f'{_e(p.name)} <span class="part" data-part="{_e(p.name)}">{fmt(rec["parts"][p.name])}</span>'
             + (f" (measured {fmt(measured[p.name])})" if p.name in measured else "")
             for p in parts_of(metric) if p.name in rec.get("parts", {})]
    return f'<div class="iv">{" + ".join(items)}</div>' if items else ""


def _ood(rec: dict) -> str:
    """The verdict with the most telling reasons (they come ranked); the rest folded away below them."""
    if not rec["ood"]["flag"]:
        return '<div class="ood good">Inside the training distribution of this predictor.</div>'
    reasons = rec["ood"]["reasons"]
    shown, rest = brief_reasons(reasons)
    items = "".join(f'<li class="reason">{_e(r)}</li>' for r in shown)
    more = (f'<details><summary>&hellip; and {rest} more</summary><ul>'
            + "".join(f'<li class="reason">{_e(r)}</li>' for r in reasons[len(shown):]) + "</ul></details>"
            if rest else "")
    return (f'<div class="ood bad"><b>Out of distribution</b>: the prediction may be off and the interval may '
            f"not hold.<ul>{items}</ul>{more}</div>")


def _failed(rec: dict) -> str:
    failed = rec.get("measured_error")
    if not failed:
        return ""
    return (f'<div class="failed"><b>Measurement failed ({_e(failed["kind"])})</b>: {_e(failed["message"])}. '
            "The prediction stands; there is nothing measured to put beside it.</div>")


def _chart(layers: list[dict], metric: str) -> str:
    shown = layers[:CHART_LAYERS]
    has_truth = any(f"measured_{metric}" in la for la in shown)
    top = max([la[metric] for la in shown] + [la.get(f"measured_{metric}", 0) for la in shown]) or 1.0
    row_h, label_w, bar_w = 22, 230, 560
    parts = []
    for k, la in enumerate(shown):
        y = k * row_h
        w = bar_w * la[metric] / top
        parts.append(f'<text x="{label_w - 8}" y="{y + 14}" text-anchor="end" font-size="12">#{la["index"]} '
                     f'{_e(la["op"])}</text>')
        h = 8 if has_truth else 16
        parts.append(f'<rect class="bar" x="{label_w}" y="{y + 2}" width="{w:.1f}" height="{h}" fill="{_PRED}">'
                     f'<title>predicted {fmt(la[metric])}</title></rect>')
        if has_truth and f"measured_{metric}" in la:
            wt = bar_w * la[f"measured_{metric}"] / top
            parts.append(f'<rect x="{label_w}" y="{y + 10}" width="{wt:.1f}" height="8" fill="{_TRUE}">'
                         f'<title>measured {fmt(la[f"measured_{metric}"])}</title></rect>')
        parts.append(f'<text x="{label_w + w + 6:.1f}" y="{y + 14}" font-size="11" fill="#5b6570">'
                     f'{fmt(la[metric])} ({100 * la["share"]:.1f}%)</text>')
    legend = (f'<div class="legend"><span style="background:{_PRED}"></span>predicted'
              + (f'<span style="background:{_TRUE}"></span>measured' if has_truth else "") + "</div>")
    height = row_h * len(shown) + 4
    return (f'{legend}<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 140}" height="{height}" '
            f'role="img" aria-label="per-layer {_e(metric)}">{"".join(parts)}</svg>')


def _layer_table(layers: list[dict], metric: str) -> str:
    keys = [k for k in layers[0] if k not in LAYER_FIELDS]  # predicted and measured values
    head = "".join(f"<th>{_e(k)}</th>" for k in keys)
    rows = "".join(
        f'<tr><td>{la["index"]}</td><td class="l">{_e(la["op"])}</td>'
        + "".join(f"<td>{fmt(la.get(k))}</td>" for k in keys) + f'<td>{100 * la["share"]:.1f}%</td></tr>'
        for la in sorted(layers, key=lambda la: la["index"]))
    return f'<table><tr><th>#</th><th class="l">op</th>{head}<th>share of {_e(metric)}</th></tr>{rows}</table>'


def _summary(s: dict) -> str:
    shape = lambda ts: ", ".join(f"{'x'.join(map(str, t['shape']))} {t['dtype']}" for t in ts)
    rows = [("operators", f"{s['ops']:,}"), ("tensors", f"{s['tensors']:,}"), ("MACs", f"{s['macs']:,}"),
            ("parameters", f"{s['params']:,}"), ("weight bytes", f"{s['weight_bytes']:,}"),
            ("peak activation bytes", f"{s['peak_activation_bytes']:,}"), ("depth", f"{s['depth']:,}"),
            ("inputs", shape(s["inputs"])), ("outputs", shape(s["outputs"])),
            ("operator types", ", ".join(f"{k} {v}" for k, v in s["op_types"].items()))]
    return "<table>" + "".join(f'<tr><td class="l">{_e(k)}</td><td class="l">{_e(v)}</td></tr>'
                               for k, v in rows) + "</table>"


def render_html(data: dict[str, Any]) -> str:
    rec, summary = data["record"], data["summary"]
    layers = rec.get("layers") or []
    metric = ranking_metric(layer_metrics(layers[0])) if layers else None
    per_layer = (f"<h2>Per layer: predicted {_e(metric)}, largest first</h2>{_chart(layers, metric)}"
                 f"<h2>All layers</h2>{_layer_table(layers, metric)}" if metric else
                 "<h2>Per layer</h2><p>This predictor gives no per-layer breakdown (its metrics are peaks, "
                 "not sums over operators).</p>")
    title = f"{Path(rec['model']).name} on {rec['target']}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>perfsage: {_e(title)}</title><style>{_CSS}</style></head>
<body>
<h1>{_e(title)}</h1>
<div class="sub">perfsage {_e(__version__)} &middot; predictor {_e(data['predictor'])} &middot;
model {_e(Path(rec['model']).name)}</div>
{_cards(rec, data['level'])}
{_failed(rec)}
{_ood(rec)}
{per_layer}
<h2>Graph</h2>{_summary(summary)}
</body></html>
"""
