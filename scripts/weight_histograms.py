"""Weight statistics of .tflite models after per-channel int8 quantisation, against parametric draws.

    .venv/bin/python scripts/weight_histograms.py /tmp/mp/models tests/fixtures/tf \\
        [--page docs/results/weight_distributions.md] [--no-mlw] [--seed 0]

Each argument (a .tflite file or a folder of them) is one group. For every CONV_2D, DEPTHWISE_CONV_2D,
FULLY_CONNECTED and TRANSPOSE_CONV operator the weight tensor is read with the flatbuffers object API
(following DEQUANTIZE / DENSIFY back to the constant; sparse constants are densified; int8/int16 constants
are dequantised with their per-channel scales), then quantised per OUTPUT channel, symmetric, by the
channel's max |w| to int8 in [-127, 127] as the TFLite converter does. Per tensor: elements, zero share,
distinct values, Shannon entropy (bits/weight) of the int8 values, mean |q|/127, per-channel excess
kurtosis and max|w|/std of the real weights (median over channels), the share of 4-groups along the last
axis with <= 2 nonzeros, and (unless --no-mlw) the size of Vela's lossless weight codec
(ethosu.mlw_codec.encode on the flat tensor, bits/weight).

The same numbers are computed for uniform int8 (what the synthetic spaces draw today) and for parametric
draws (uniform, generalised normal of shape beta, Student-t) quantised per channel by the max of n samples.
Every dense tensor (< 20% zeros) is then fitted: the beta (or t df) that gives its mean |q|/127 at its own
fan-in, and the entropy / codec size / max/std the fitted draw predicts against the measured ones. The
recommended draw (--draw, by default gennorm with beta uniform over the fit's p10..p90) is replayed on every
dense tensor's own shape, and every pruned tensor is redrawn with the same zero share (magnitude or random
mask). With --page, the text above the marker line of an existing page is kept and the tables below it are
rewritten. The page docs/results/weight_distributions.md was made with the first command above (about 30 s).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ai_edge_litert import schema_py_generated as S

ROOT = Path(__file__).resolve().parent.parent

OP_NAMES = {v: k for k, v in vars(S.BuiltinOperator).items() if not k.startswith("_")}
WEIGHT_OPS = {"CONV_2D": 0, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 0, "TRANSPOSE_CONV": 0}  # op -> out axis
NP_TYPES = {
    S.TensorType.FLOAT32: np.float32, S.TensorType.FLOAT16: np.float16, S.TensorType.INT8: np.int8,
    S.TensorType.UINT8: np.uint8, S.TensorType.INT16: np.int16, S.TensorType.INT32: np.int32,
}
TYPE_NAMES = {v: k.lower() for k, v in vars(S.TensorType).items() if not k.startswith("_")}

try:
    from ethosu import mlw_codec
except ImportError:  # vela not installed: the codec column is left out
    mlw_codec = None


# --------------------------------------------------------------------------------------------------
# Reading weight tensors
# --------------------------------------------------------------------------------------------------


@dataclass
class Weight:
    model: str
    op: str
    dtype: str  # storage type of the constant
    shape: tuple[int, ...]
    real: np.ndarray  # float64, original layout


def _op_name(model: S.ModelT, op: S.OperatorT) -> str:
    oc = model.operatorCodes[op.opcodeIndex]
    return OP_NAMES.get(max(oc.builtinCode, oc.deprecatedBuiltinCode), "?")


def _vec(v) -> np.ndarray:
    return np.asarray(v.values, dtype=np.int64)


def densify(values: np.ndarray, shape: tuple[int, ...], sp: S.SparsityParametersT) -> np.ndarray:
    """TFLite sparse format (dense / CSR dims in traversal order, optional block map) to a dense array."""
    order = list(sp.traversalOrder)
    blocks = list(sp.blockMap) if sp.blockMap is not None else []
    n = len(shape)
    pos = np.zeros(1, dtype=np.int64)
    coords: list[np.ndarray] = []  # one per traversed dim, aligned with pos
    for dm in sp.dimMetadata:
        if dm.format == S.DimensionType.DENSE:
            d = int(dm.denseSize)
            coords = [np.repeat(c, d) for c in coords] + [np.tile(np.arange(d), len(pos))]
            pos = (pos[:, None] * d + np.arange(d)).ravel()
        else:
            seg, idx = _vec(dm.arraySegments), _vec(dm.arrayIndices)
            counts = seg[pos + 1] - seg[pos]
            k = np.repeat(seg[pos] - np.cumsum(np.r_[0, counts[:-1]]), counts) + np.arange(counts.sum())
            coords = [np.repeat(c, counts) for c in coords] + [idx[k]]
            pos = k
    full = [np.zeros_like(pos) for _ in range(n)]
    bsize = {b: int(sp.dimMetadata[order.index(n + j)].denseSize) for j, b in enumerate(blocks)}  # block dims are dense
    for t, dim in enumerate(order):
        if dim < n:
            full[dim] += coords[t] * bsize.get(dim, 1)
        else:
            full[blocks[dim - n]] += coords[t]
    out = np.zeros(shape, dtype=values.dtype)
    out[tuple(full)] = values[: len(pos)]
    return out


def read_constant(model: S.ModelT, raw: bytes, t: S.TensorT) -> np.ndarray | None:
    buf = model.buffers[t.buffer]
    if buf.data is not None and len(buf.data):
        data = bytes(buf.data)
    elif getattr(buf, "offset", 0) and buf.offset > 1:
        data = raw[buf.offset: buf.offset + buf.size]
    else:
        return None
    if t.type not in NP_TYPES:
        return None
    shape = tuple(int(s) for s in t.shape)
    vals = np.frombuffer(data, dtype=NP_TYPES[t.type])
    arr = densify(vals, shape, t.sparsity) if t.sparsity is not None else vals.reshape(shape)
    arr = arr.astype(np.float64)
    q = t.quantization
    if t.type in (S.TensorType.INT8, S.TensorType.UINT8, S.TensorType.INT16) and q is not None and q.scale is not None:
        scale = np.asarray(q.scale, dtype=np.float64)
        zp = np.asarray(q.zeroPoint if q.zeroPoint is not None else [0], dtype=np.float64)
        if scale.size > 1:
            bshape = [1] * arr.ndim
            bshape[q.quantizedDimension] = scale.size
            scale, zp = scale.reshape(bshape), np.broadcast_to(zp, scale.shape).reshape(bshape)
        arr = (arr - zp) * scale
    return arr


def model_weights(path: Path) -> list[Weight]:
    raw = path.read_bytes()
    model = S.ModelT.InitFromPackedBuf(raw, 0)
    out, seen = [], set()
    for sg in model.subgraphs:
        producer = {o: op for op in sg.operators or [] for o in op.outputs}
        for op in sg.operators or []:
            name = _op_name(model, op)
            if name not in WEIGHT_OPS:
                continue
            idx = int(op.inputs[1])
            for _ in range(4):  # const -> [DENSIFY] -> [DEQUANTIZE] -> op
                t = sg.tensors[idx]
                b = model.buffers[t.buffer]
                if (b.data is not None and len(b.data)) or idx not in producer:
                    break
                p = producer[idx]
                if _op_name(model, p) not in ("DEQUANTIZE", "DENSIFY"):
                    break
                idx = int(p.inputs[0])
            t = sg.tensors[idx]
            if (id(sg), idx) in seen or t.buffer in seen:
                continue
            arr = read_constant(model, raw, t)
            if arr is None or arr.ndim < 2:
                continue
            seen.update({(id(sg), idx), t.buffer})
            out.append(Weight(path.stem, name, TYPE_NAMES.get(t.type, "?"), arr.shape, arr))
    return out


# --------------------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------------------

COLS = ["elements", "fan_in", "zero", "distinct", "entropy", "mean_absq", "kurtosis", "max_std", "grp4_le2", "mlw_bits"]


def quantise_rows(w2: np.ndarray) -> np.ndarray:
    """Symmetric per-row (output channel) int8 by the row's max |w|: values in [-127, 127]."""
    m = np.abs(w2).max(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        q = np.where(m > 0, np.round(w2 / np.where(m > 0, m, 1) * 127), 0)
    return q.astype(np.int16)


def channel_shape_stats(w2: np.ndarray) -> tuple[float, float]:
    """Median over channels of excess kurtosis and of max|w|/std (channels with std 0 left out)."""
    c = w2 - w2.mean(axis=1, keepdims=True)
    m2 = (c * c).mean(axis=1)
    ok = m2 > 0
    if not ok.any() or w2.shape[1] < 2:
        return np.nan, np.nan
    m4 = (c[ok] ** 4).mean(axis=1)
    kurt = m4 / m2[ok] ** 2 - 3
    mx = np.abs(w2[ok]).max(axis=1) / np.sqrt(m2[ok])
    return float(np.median(kurt)), float(np.median(mx))


def mlw_bits(q: np.ndarray) -> float:
    if mlw_codec is None or q.size == 0:
        return np.nan
    return len(mlw_codec.encode(q.ravel().tolist())) * 8 / q.size


def int_stats(q: np.ndarray, last: int, use_mlw: bool) -> dict[str, float]:
    """Statistics of int8 values q (any shape; `last` is the length of the innermost axis)."""
    flat = q.ravel()
    hist = np.bincount(flat.astype(np.int64) + 127, minlength=255)
    p = hist[hist > 0] / flat.size
    if last >= 4:
        g = (q.reshape(-1, last)[:, : last // 4 * 4].reshape(-1, 4) != 0).sum(axis=1)
        grp = float((g <= 2).mean())
    else:
        grp = np.nan
    return {
        "elements": float(flat.size),
        "zero": float(hist[127] / flat.size),
        "distinct": float((hist > 0).sum()),
        "entropy": float(-(p * np.log2(p)).sum()),
        "mean_absq": float(np.abs(flat).mean() / 127),
        "grp4_le2": grp,
        "mlw_bits": mlw_bits(q) if use_mlw else np.nan,
    }


def tensor_stats(w: Weight, use_mlw: bool) -> dict[str, float]:
    axis = WEIGHT_OPS[w.op]
    w2 = np.moveaxis(w.real, axis, 0).reshape(w.real.shape[axis], -1)
    q2 = quantise_rows(w2)
    q = np.moveaxis(q2.reshape(np.moveaxis(w.real, axis, 0).shape), 0, axis)
    st = int_stats(q, w.real.shape[-1], use_mlw)
    st["kurtosis"], st["max_std"] = channel_shape_stats(w2)
    st["fan_in"] = float(w2.shape[1])
    return st


def wmean(rows: list[dict], key: str) -> float:
    v = np.array([r[key] for r in rows], dtype=np.float64)
    e = np.array([r["elements"] for r in rows], dtype=np.float64)
    ok = np.isfinite(v)
    return float((v[ok] * e[ok]).sum() / e[ok].sum()) if ok.any() else np.nan


def wquant(rows: list[dict], key: str, qs=(0.5,)) -> list[float]:
    """Element-weighted quantiles over tensors."""
    v = np.array([r[key] for r in rows], dtype=np.float64)
    e = np.array([r["elements"] for r in rows], dtype=np.float64)
    ok = np.isfinite(v)
    if not ok.any():
        return [np.nan] * len(qs)
    o = np.argsort(v[ok])
    cw = np.cumsum(e[ok][o]) / e[ok].sum()
    return [float(v[ok][o][min(np.searchsorted(cw, q), len(o) - 1)]) for q in qs]


MEAN_KEYS = ("zero", "entropy", "mean_absq", "grp4_le2", "mlw_bits")
MEDIAN_KEYS = ("distinct", "kurtosis", "max_std", "fan_in")


def aggregate(rows: list[dict]) -> dict[str, float]:
    agg = {"tensors": float(len(rows)), "elements": float(sum(r["elements"] for r in rows))}
    agg.update({k: wmean(rows, k) for k in MEAN_KEYS})
    agg.update({k: wquant(rows, k)[0] for k in MEDIAN_KEYS})
    return agg


# --------------------------------------------------------------------------------------------------
# Parametric draws
# --------------------------------------------------------------------------------------------------


def draw(rng: np.random.Generator, family: str, param: float, size: tuple[int, int]) -> np.ndarray:
    if family == "uniform":
        return rng.uniform(-1, 1, size)
    if family == "gennorm":  # density ~ exp(-|x|^beta): |x| = Gamma(1/beta)^(1/beta)
        mag = rng.standard_gamma(1 / param, size) ** (1 / param)
        return np.where(rng.random(size) < 0.5, -mag, mag)
    if family == "t":
        return rng.standard_t(param, size)
    raise ValueError(family)


def parametric_stats(rng, family: str, param: float, n: int, total: int, use_mlw: bool, prune: float = 0.0,
                     prune_mode: str = "magnitude", min_channels: int = 64) -> dict[str, float]:
    """Draw C channels x n fan-in, optionally prune a share of each channel to exact zeros (the smallest |w|,
    or a random mask), quantise per channel by the channel max, and measure it as a tensor."""
    c = max(min_channels, total // n)
    if family == "uniform_int8":  # today's synthetic spaces: integers uniform in [-127, 127]
        w2 = rng.integers(-127, 128, (c, n)).astype(np.float64)
    else:
        w2 = draw(rng, family, param, (c, n))
    k = round(prune * n)
    if k:
        key = np.abs(w2) if prune_mode == "magnitude" else rng.random(w2.shape)
        np.put_along_axis(w2, np.argpartition(key, k - 1, axis=1)[:, :k], 0.0, axis=1)
    q2 = quantise_rows(w2)
    st = int_stats(q2, n, use_mlw)
    st["kurtosis"], st["max_std"] = channel_shape_stats(w2)
    st["fan_in"] = float(n)
    return st


FAMILIES = [
    ("uniform_int8", 0.0, "uniform int8 [-127,127] (today)"),
    ("uniform", 0.0, "uniform real, by channel max"),
    ("gennorm", 2.0, "Gaussian (gennorm 2)"),
    ("gennorm", 1.5, "gennorm 1.5"),
    ("gennorm", 1.0, "Laplace (gennorm 1)"),
    ("gennorm", 0.75, "gennorm 0.75"),
    ("gennorm", 0.5, "gennorm 0.5"),
    ("t", 10.0, "Student-t df 10"),
    ("t", 5.0, "Student-t df 5"),
    ("t", 3.0, "Student-t df 3"),
]
FAN_INS = (9, 27, 144, 576, 1152)

# Fit grids: parameter values in order of growing mean |q|/127 (heavier tails give a smaller mean).
FIT_GRIDS = {
    "gennorm": np.round(np.geomspace(0.25, 4.0, 21), 4),
    "t": np.round(np.geomspace(1.5, 200.0, 21), 3),
}


def fit_tables(rng, ns: np.ndarray, total: int, use_mlw: bool) -> dict[str, dict[str, np.ndarray]]:
    """For each family: mean_absq / entropy / mlw_bits on a (param x log n) grid."""
    out = {}
    for fam, grid in FIT_GRIDS.items():
        tab = {k: np.zeros((len(grid), len(ns))) for k in ("mean_absq", "entropy", "mlw_bits", "max_std")}
        for i, prm in enumerate(grid):
            for j, n in enumerate(ns):
                st = parametric_stats(rng, fam, float(prm), int(n), total, use_mlw)
                for k in tab:
                    tab[k][i, j] = st[k]
        out[fam] = tab
    return out


def _interp_n(tab: np.ndarray, ns: np.ndarray, n: float) -> np.ndarray:
    """Column of tab (over params) linearly interpolated at log n."""
    x = np.log(np.clip(n, ns[0], ns[-1]))
    lx = np.log(ns)
    j = min(max(np.searchsorted(lx, x) - 1, 0), len(ns) - 2)
    f = (x - lx[j]) / (lx[j + 1] - lx[j])
    return tab[:, j] * (1 - f) + tab[:, j + 1] * f


def fit_tensor(tables, fam: str, ns: np.ndarray, st: dict) -> dict[str, float]:
    """Parameter giving the tensor's mean |q|/127 at its fan-in (log-interpolated), and what it predicts."""
    grid = FIT_GRIDS[fam]
    ma = _interp_n(tables[fam]["mean_absq"], ns, st["fan_in"])
    o = np.argsort(ma)
    lp = np.interp(st["mean_absq"], ma[o], np.log(grid)[o])  # clipped at the grid ends
    clipped = st["mean_absq"] < ma.min() or st["mean_absq"] > ma.max()
    pred = {k: float(np.interp(lp, np.log(grid), _interp_n(tables[fam][k], ns, st["fan_in"])))
            for k in ("entropy", "mlw_bits", "max_std")}
    return {"param": float(np.exp(lp)), "clipped": float(clipped), "entropy_err": pred["entropy"] - st["entropy"],
            "mlw_err": pred["mlw_bits"] - st["mlw_bits"], "max_std_err": pred["max_std"] - st["max_std"]}


# --------------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------------


def fmt(v: float, nd: int = 3) -> str:
    if v is None or not np.isfinite(v):
        return "n/a"
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.{nd}f}"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


PRUNED_ZERO_SHARE = 0.2
MARKER = "<!-- generated by scripts/weight_histograms.py: everything below this line is rewritten by --page -->"

STAT_HDR = ["tensors", "elements", "zero", "distinct", "entropy b/w", "mean abs q/127", "kurtosis", "max/std",
            "4-grp <=2nz", "mlw b/w"]


def stat_cells(a: dict) -> list[str]:
    return [fmt(a.get("tensors", 1), 0), fmt(a["elements"], 0), fmt(a["zero"]), fmt(a["distinct"], 0),
            fmt(a["entropy"], 2), fmt(a["mean_absq"]), fmt(a["kurtosis"], 2), fmt(a["max_std"], 2),
            fmt(a["grp4_le2"]), fmt(a["mlw_bits"], 2)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("paths", nargs="+", type=Path, help=".tflite files or folders; each argument is one group")
    ap.add_argument("--page", type=Path, help="write the tables as markdown to this file (text above the "
                    "generated-tables marker of an existing page is kept)")
    ap.add_argument("--no-mlw", action="store_true", help="skip Vela's weight codec (mlw_codec) sizes")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--draw", help="replayed draw FAMILY:LO:HI[:linear|log] (gennorm or t, shape uniform in "
                    "[LO, HI], log by default); default gennorm, beta linear-uniform over the p10..p90 of the first "
                    "group's dense-tensor fit")
    ap.add_argument("--samples", type=int, default=1 << 16, help="elements per parametric draw (default 65536)")
    args = ap.parse_args(argv)
    use_mlw = not args.no_mlw and mlw_codec is not None
    rng = np.random.default_rng(args.seed)

    groups: dict[str, list[dict]] = {}
    per_model: list[tuple[str, str, str, dict]] = []
    for p in args.paths:
        files = sorted(p.glob("*.tflite")) if p.is_dir() else [p]
        label = p.name if p.is_dir() else p.stem
        grp = groups.setdefault(label, [])
        for f in files:
            ws = model_weights(f)
            rows = [tensor_stats(w, use_mlw) for w in ws]
            for w, r in zip(ws, rows, strict=True):
                r.update(model=w.model, op=w.op)
            grp.extend(rows)
            dtypes = ",".join(sorted({w.dtype for w in ws})) or "-"
            per_model.append((label, f.stem, dtypes, aggregate(rows) if rows else None))

    for rs in groups.values():
        for r in rs:
            r["kind"] = "pruned" if r["zero"] >= PRUNED_ZERO_SHARE else "dense"
    out: list[str] = [MARKER, ""]
    out.append("### Per model (per-channel int8 by channel max)\n")
    out.append(table(["group", "model", "stored as", *STAT_HDR],
                     [[g, m, d] + (stat_cells(a) if a else ["no weights"] + [""] * 9) for g, m, d, a in per_model]
                     + [[f"**{g}**", "**all**", "", *stat_cells(aggregate(rs))] for g, rs in groups.items() if rs]
                     + [[f"**{g}**", f"**{kind} tensors**", "", *stat_cells(aggregate(sel))]
                        for g, rs in groups.items() for kind in ("dense", "pruned")
                        if (sel := [r for r in rs if r["kind"] == kind]) and len(sel) < len(rs)]))
    out.append("\nzero, entropy, mean abs q/127, 4-group and mlw: element-weighted means over tensors; distinct, "
               "excess kurtosis and max/std (per channel, median over channels): element-weighted medians over "
               f"tensors. A tensor is *pruned* when at least {PRUNED_ZERO_SHARE:.0%} of its int8 values are 0.\n")

    all_rows = [r for rs in groups.values() for r in rs]
    ns = np.unique(np.geomspace(4, max(4096, max((r["fan_in"] for r in all_rows), default=4)), 12).round())
    tables = fit_tables(rng, ns, args.samples // 2, use_mlw)
    # A group none of whose dense tensors fits a bell shape inside the grids (untrained, uniform-like weights)
    # gets one row per table instead of per-fan-in and per-op rows.
    detailed = {g: wmean([dict(fit_tensor(tables, "gennorm", ns, r), elements=r["elements"])
                          for r in rs if r["kind"] == "dense"] or [{"clipped": 1.0, "elements": 1.0}], "clipped") < 0.5
                for g, rs in groups.items()}

    bins = [(1, 16), (17, 64), (65, 256), (257, 1024), (1025, 10**9)]
    out.append("### Dense tensors by fan-in (element-weighted p10 / p50 / p90 over tensors)\n")
    rows_out = []
    for g, rs in groups.items():
        for lo, hi in bins if detailed[g] else [(1, 10**9)]:
            sel = [r for r in rs if lo <= r["fan_in"] <= hi and r["kind"] == "dense"]
            if not sel:
                continue
            cell = [g, f"{lo}-{hi}" if hi < 10**9 else f">{lo - 1}" if lo > 1 else "all", str(len(sel)),
                    fmt(sum(r["elements"] for r in sel), 0)]
            for k, nd in (("mean_absq", 3), ("entropy", 2), ("max_std", 2), ("kurtosis", 1), ("mlw_bits", 2)):
                cell.append(" / ".join(fmt(v, nd) for v in wquant(sel, k, (0.1, 0.5, 0.9))))
            rows_out.append(cell)
    out.append(table(["group", "fan-in", "tensors", "elements", "mean abs q/127", "entropy b/w", "max/std",
                      "kurtosis", "mlw b/w"], rows_out))

    out.append(f"\n### Parametric draws quantised per channel by the channel max ({args.samples:,} elements "
               "each): mean abs q/127 / entropy b/w / max/std / mlw b/w\n")
    prow = []
    for fam, prm, label in FAMILIES:
        cells = []
        for n in FAN_INS:
            st = parametric_stats(rng, fam, prm, n, args.samples, use_mlw)
            cells.append(f"{fmt(st['mean_absq'])} / {fmt(st['entropy'], 2)} / {fmt(st['max_std'], 2)} / "
                         f"{fmt(st['mlw_bits'], 2)}")
        prow.append([label, *cells])
    out.append(table(["draw"] + [f"fan-in {n}" for n in FAN_INS], prow))

    out.append("\n### Per-tensor fit of dense tensors: the shape giving the tensor's mean abs q/127 at its fan-in\n")
    frow, fitq = [], {}
    for g, rs in groups.items():
        subsets = [("all", [r for r in rs if r["kind"] == "dense"])]
        subsets += [(op, [r for r in subsets[0][1] if r["op"] in ops]) for op, ops in
                    (("CONV_2D", ("CONV_2D",)), ("DEPTHWISE", ("DEPTHWISE_CONV_2D",)),
                     ("FC + TCONV", ("FULLY_CONNECTED", "TRANSPOSE_CONV")))]
        for sub, sel in subsets:
            if not sel or (sub != "all" and (len(sel) == len(subsets[0][1]) or not detailed[g])):
                continue
            both = sub == "all" and detailed[g]  # t rows only where a bell shape fits at all
            for fam, pname in (("gennorm", "beta"), ("t", "df")) if both else (("gennorm", "beta"),):
                fr = [dict(fit_tensor(tables, fam, ns, r), elements=r["elements"]) for r in sel]
                qs = wquant(fr, "param", (0.1, 0.25, 0.5, 0.75, 0.9))
                fitq.setdefault((g, fam), qs)
                frow.append([g, sub, str(len(sel)), f"{fam} {pname}", " / ".join(fmt(v, 2) for v in qs),
                             fmt(wmean(fr, "clipped"), 2)]
                            + [" / ".join(fmt(v, 2) for v in wquant(fr, k, (0.1, 0.5, 0.9)))
                               for k in ("entropy_err", "mlw_err", "max_std_err")])
    out.append(table(["group", "ops", "tensors", "family", "param p10 / p25 / p50 / p75 / p90", "at grid end",
                      "entropy pred-meas p10/50/90", "mlw pred-meas p10/50/90", "max/std pred-meas p10/50/90"],
                     frow))
    out.append(f"\nGrids: gennorm beta {FIT_GRIDS['gennorm'][0]}..{FIT_GRIDS['gennorm'][-1]}, "
               f"t df {FIT_GRIDS['t'][0]}..{FIT_GRIDS['t'][-1]} (21 log-spaced values each) x fan-in "
               f"{int(ns[0])}..{int(ns[-1])} ({len(ns)} log-spaced), {args.samples // 2:,} elements per cell; "
               "values interpolated in log fan-in. *at grid end*: element share whose mean abs q/127 lies outside "
               "the grid (lighter than gennorm 4 or heavier than the heaviest draw).\n")

    # Replay: every dense tensor redrawn with its own shape from the recommended draw.
    ref = next((g for g in groups if detailed[g]), None)
    if args.draw:
        fam, lo, hi, *how = args.draw.split(":")
        lo, hi, spacing = float(lo), float(hi), (how or ["log"])[0]
    elif ref is not None:
        fam, spacing = "gennorm", "linear"
        lo, hi = round(fitq[(ref, "gennorm")][0], 2), round(fitq[(ref, "gennorm")][4], 2)
    if ref is not None:
        dense = [r for r in groups[ref] if r["kind"] == "dense"]
        sims = []
        for r in dense:
            prm = float(np.exp(rng.uniform(np.log(lo), np.log(hi))) if spacing == "log" else rng.uniform(lo, hi))
            sims.append(dict(parametric_stats(rng, fam, prm, int(r["fan_in"]), int(r["elements"]), use_mlw,
                                              min_channels=int(r["elements"] // r["fan_in"])),
                             elements=r["elements"], model=r["model"], op=r["op"]))
        out.append(f"### Replay: each dense `{ref}` tensor redrawn at its own shape, {fam} shape drawn "
                   f"{spacing}-uniformly in [{lo}, {hi}] per tensor: measured -> drawn, p10 / p50 / p90 (per model: "
                   "min / median / max of element-weighted means; max/std: weighted medians)\n")
        rrow = []
        for lo_n, hi_n in bins:
            idx = [i for i, r in enumerate(dense) if lo_n <= r["fan_in"] <= hi_n]
            if not idx:
                continue
            cell = [f"{lo_n}-{hi_n}" if hi_n < 10**9 else f">{lo_n - 1}", str(len(idx))]
            for k, nd in (("mean_absq", 3), ("entropy", 2), ("max_std", 2), ("mlw_bits", 2)):
                qs = [wquant([src[i] for i in idx], k, (0.1, 0.5, 0.9)) for src in (dense, sims)]
                cell.append(" -> ".join(" / ".join(fmt(v, nd) for v in q) for q in qs))
            rrow.append(cell)
        models = list(dict.fromkeys(r["model"] for r in dense))
        cell = ["per model", str(len(models))]
        for k, nd in (("mean_absq", 3), ("entropy", 2), ("max_std", 2), ("mlw_bits", 2)):
            vals = [[aggregate([r for r in src if r["model"] == m])[k] for m in models] for src in (dense, sims)]
            cell.append(" -> ".join(" / ".join(fmt(f(vs), nd) for f in (np.min, np.median, np.max)) for vs in vals))
        rrow.append(cell)
        out.append(table(["fan-in", "tensors", "mean abs q/127", "entropy b/w", "max/std", "mlw b/w"], rrow) + "\n")

    prow = []
    for g, rs in groups.items():
        for m in dict.fromkeys(r["model"] for r in rs if r["kind"] == "pruned"):
            sel = [r for r in rs if r["model"] == m and r["kind"] == "pruned"]
            sims = {"t-mag": [], "gn-mag": [], "t-rand": []}
            for r in sel:
                n = int(r["fan_in"])
                for key, fam, mode in (("t-mag", "t", "magnitude"), ("gn-mag", "gennorm", "magnitude"),
                                       ("t-rand", "t", "random")):
                    st = parametric_stats(rng, fam, fitq[(g, fam)][2], n, 1 << 14, use_mlw, r["zero"], mode, 16)
                    sims[key].append(dict(st, elements=r["elements"]))
            cell = [g, m, str(len(sel)), fmt(sum(r["elements"] for r in sel), 0), fmt(wmean(sel, "zero"))]
            for k, nd in (("entropy", 2), ("mlw_bits", 2), ("grp4_le2", 3)):
                cell.append(" / ".join([fmt(wmean(sel, k), nd)] + [fmt(wmean(v, k), nd) for v in sims.values()]))
            prow.append(cell)
    if prow:
        out.append("### Pruned tensors against pruned draws: measured / t-mag / gn-mag / t-rand\n")
        out.append(table(["group", "model", "tensors", "elements", "zero", "entropy b/w", "mlw b/w", "4-grp <=2nz"],
                         prow))
        out.append("\nEach pruned tensor is redrawn at its fan-in with the group's median dense fit (t-: Student-t, "
                   "gn-: gennorm) and the same zero share, zeroed per channel by smallest |w| (-mag) or a random "
                   "mask (-rand), then quantised by channel max.\n")

    text = "\n".join(out)
    print(text)
    if args.page:
        args.page.parent.mkdir(parents=True, exist_ok=True)
        old = args.page.read_text(encoding="utf-8") if args.page.exists() else ""
        head = old.split(MARKER)[0] if MARKER in old else ""
        args.page.write_text(head + text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
