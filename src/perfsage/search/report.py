"""The search's HTML page: per budgeted metric, every visited design (objective against cost, both log),
the budget, the Pareto front and the reported designs as predicted and as measured; then their table."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from perfsage import __version__
from perfsage.predict.report import _CSS, _e, fmt

W, H, PAD = 560, 340, 56


def _scale(values: list[float], lo_px: float, hi_px: float):
    lo, hi = math.log10(max(min(values), 1e-12)), math.log10(max(max(values), 1e-12))
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    return lambda v: lo_px + (math.log10(max(v, 1e-12)) - lo) / (hi - lo) * (hi_px - lo_px)


def pareto_svg(visits: list[dict], front: list[dict], best: list[dict], metric: str, objective: str,
               limit: float) -> str:
    xs = [v["upper"][metric] for v in visits if metric in v.get("upper", {})] + [limit]
    xs += [d["measured"][metric] for d in best if d.get("measured") and metric in d["measured"]]
    ys = [v["objective"][objective] for v in visits if v["objective"][objective] > 0]
    if not xs or not ys:
        return ""
    sx, sy = _scale(xs, PAD, W - 12), _scale(ys, H - PAD, 12)
    parts = [f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - 12}" y2="{H - PAD}" stroke="#888"/>',
             f'<line x1="{PAD}" y1="12" x2="{PAD}" y2="{H - PAD}" stroke="#888"/>',
             f'<text x="{W / 2}" y="{H - 18}" text-anchor="middle" font-size="12">{_e(metric)} '
             f'(upper end of the interval, log)</text>',
             f'<text x="14" y="{H / 2}" font-size="12" transform="rotate(-90 14 {H / 2})" '
             f'text-anchor="middle">{_e(objective)} (log)</text>']
    for v in visits:
        if metric in v.get("upper", {}) and v["objective"][objective] > 0:
            color = "#4a90d9" if v["fits"] else "#ccc"
            parts.append(f'<circle cx="{sx(v["upper"][metric]):.1f}" cy="{sy(v["objective"][objective]):.1f}" '
                         f'r="2" fill="{color}"/>')
    pts = sorted((sx(v["upper"][metric]), sy(v["objective"][objective])) for v in front
                 if metric in v["upper"])
    if pts:
        parts.append('<polyline fill="none" stroke="#d94a4a" stroke-width="1.5" points="'
                     + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts) + '"/>')
    bx = sx(limit)
    parts.append(f'<line x1="{bx:.1f}" y1="12" x2="{bx:.1f}" y2="{H - PAD}" stroke="#333" stroke-dasharray="4 3"/>'
                 f'<text x="{bx + 3:.1f}" y="24" font-size="11">budget {fmt(limit)}</text>')
    for k, d in enumerate(best, start=1):
        y = sy(d["objective"][objective])
        if metric in d["predicted"]:
            x = sx(d["predicted"][metric]["high"])
            parts.append(f'<rect x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8" fill="#2a7"/>'
                         f'<text x="{x + 6:.1f}" y="{y - 6:.1f}" font-size="11">{k}</text>')
        if d.get("measured") and metric in d["measured"]:
            x = sx(d["measured"][metric])
            parts.append(f'<path d="M{x - 4:.1f},{y - 4:.1f}L{x + 4:.1f},{y + 4:.1f}M{x - 4:.1f},{y + 4:.1f}'
                         f'L{x + 4:.1f},{y - 4:.1f}" stroke="#000" stroke-width="2"/>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" role="img" '
            f'aria-label="Pareto front, {_e(metric)}">{"".join(parts)}</svg>')


def render_search_html(result: dict[str, Any], visits: list[dict]) -> str:
    cfg = result["config"]
    objective, limits = cfg["budget"]["objective"], cfg["budget"]["limits"]
    charts = "".join(f"<h2>{_e(objective)} against {_e(m)}</h2>"
                     + pareto_svg(visits, result["pareto"], result["best"], m, objective, lim)
                     for m, lim in sorted(limits.items()))
    rows = []
    for k, d in enumerate(result["best"], start=1):
        cells = "".join(f"<td>{fmt(d['predicted'][m]['value'])} (&le; {fmt(d['predicted'][m]['high'])})</td>"
                        f"<td>{fmt((d.get('measured') or {}).get(m))}</td>" for m in sorted(limits))
        fits = {True: "yes", False: "NO", None: "not measured"}[d["fits"]]
        rows.append(f"<tr><td>{k}</td><td>{_e(Path(d['model']).name)}</td><td>{fmt(d['objective'][objective])}</td>"
                    f"{cells}<td>{fits}</td></tr>")
    head = "".join(f"<th>{_e(m)} predicted</th><th>{_e(m)} measured</th>" for m in sorted(limits))
    title = f"search: {cfg['space']} on {cfg['target']}"
    budget = ", ".join(f"{m} &le; {fmt(v)}" for m, v in sorted(limits.items()))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>perfsage: {_e(title)}</title><style>{_CSS}</style></head>
<body>
<h1>{_e(title)}</h1>
<div class="sub">perfsage {_e(__version__)} &middot; agent {_e(cfg['agent'])} &middot; cost model {_e(cfg['cost'])}
&middot; {result['evaluations']} evaluations in {result['search_seconds']:.1f} s &middot; maximise {_e(objective)}
under {budget}</div>
<p>Blue: designs that fit by the upper end of the cost model's interval; grey: the rest; red: the Pareto
front; green squares: the reported designs as predicted; black crosses: as measured by the real tool.</p>
{charts}
<h2>Reported designs</h2>
<table><tr><th>#</th><th>model</th><th>{_e(objective)}</th>{head}<th>fits when measured</th></tr>
{"".join(rows)}</table>
</body></html>
"""


def write_search_report(result, visits: list[dict], out: Path) -> None:
    out.write_text(render_search_html(result.to_dict(), visits))
