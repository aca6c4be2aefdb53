"""Host CPU through LiteRT with XNNPACK, one thread: measured latency and heap growth.

Latency on shared VMs is noisy: a 30-invoke median drifts 13-21% between runs here, while the minimum
over >= 0.5 s windows, taken 3 times (min of mins), repeats within ~1-2%. So each window invokes until
`window_s` has passed and keeps its fastest invoke; the label is the fastest window, and the spread of
the window minima (coefficient of variation) is reported as the measurement's own repeatability. The
measuring worker is pinned to one core so it never shares one with another measurement it started.
Peak memory is the growth of glibc's heap (mallinfo2: in-use arena + mmapped bytes) across
`allocate_tensors`, i.e. what the interpreter allocates for tensors and scratch.
"""

from __future__ import annotations

import ctypes
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from perfsage.targets.base import Labels, Target, TargetError, TargetMetric, host_info, model_bytes
from perfsage.targets.host import this_host
from perfsage.targets.isolation import IsolatedWorker
from perfsage.targets.metrics import MEASURED


class _MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                               "fsmblks", "uordblks", "fordblks", "keepcost")]


def _heap_in_use() -> int | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
    except (OSError, AttributeError):
        return None
    m = libc.mallinfo2()
    return int(m.uordblks + m.hblkhd)


def measure_in_worker(model: bytes, window_s: float, windows: int, core: int | None) -> dict[str, Any]:
    """Runs inside the isolated worker."""
    if core is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=model, num_threads=1)
    before = _heap_in_use()
    it.allocate_tensors()
    after = _heap_in_use()
    fill_inputs(it)
    it.invoke()  # warm-up: XNNPACK packs weights on the first run
    minima, counts = [], []
    for _ in range(windows):
        best, n, t_end = float("inf"), 0, time.perf_counter() + window_s
        while True:
            t0 = time.perf_counter()
            it.invoke()
            t1 = time.perf_counter()
            best = min(best, t1 - t0)
            n += 1
            if t1 >= t_end:
                break
        minima.append(best)
        counts.append(n)
    from importlib.metadata import version

    return {"minima": minima, "invokes": counts,
            "heap_growth": (after - before) if before is not None and after is not None else None,
            "affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "litert": version("ai-edge-litert")}


class CpuLiteRTTarget(Target):
    name = "cpu-litert"
    host_bound = True
    description = "host CPU, LiteRT with XNNPACK, 1 thread: min over 0.5 s invoke windows, min of 3"
    metrics = (TargetMetric("latency_ms", MEASURED), TargetMetric("peak_heap_kib", MEASURED))

    def __init__(self, window_s: float = 0.5, windows: int = 3, core: int | None = -1,
                 timeout: float = 600.0) -> None:
        self.window_s, self.windows, self.timeout = window_s, windows, timeout
        # default: the last core, so a caller on core 0 does not disturb the measurement
        self.core = (max(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None) \
            if core == -1 else core
        self._worker: IsolatedWorker | None = None

    def measure(self, model: str | Path | bytes, per_layer: bool = True) -> Labels:
        data = model_bytes(model)
        if self._worker is None:
            self._worker = IsolatedWorker()
        res = self._worker.call(measure_in_worker, data, self.window_s, self.windows, self.core,
                                timeout=self.timeout)
        if not res.ok:
            raise TargetError(self.name, res.kind, res.reason)
        r = res.value
        minima = np.array(r["minima"])
        metrics = {"latency_ms": float(minima.min() * 1e3)}
        if r["heap_growth"] is not None:
            metrics["peak_heap_kib"] = r["heap_growth"] / 1024
        cv = float(minima.std() / minima.mean()) if minima.mean() > 0 else 0.0
        provenance = {**self.label_provenance(), "version": r["litert"], "window_minima_ms":
                      [float(m * 1e3) for m in minima], "invokes_per_window": r["invokes"],
                      "repeatability_cv": cv, "pinned_cores": r["affinity"]}
        return Labels(self.name, metrics, [], provenance)

    def label_provenance(self) -> dict[str, Any]:
        """What every label this tool takes here shares, without a measurement (a re-timing's rows)."""
        from importlib.metadata import version

        return {"tool": "ai-edge-litert", "version": version("ai-edge-litert"), "delegate": "XNNPACK",
                "threads": 1, "window_s": self.window_s, "windows": self.windows, **host_info(),
                "host_fingerprint": this_host().to_dict()}

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()
            self._worker = None


def fill_inputs(it, seed: int = 0) -> None:
    """Random inputs of each input's own type: the full range of an integer type, N(0, 1) for floats."""
    rng = np.random.default_rng(seed)
    for d in it.get_input_details():
        if np.issubdtype(d["dtype"], np.integer):
            info = np.iinfo(d["dtype"])
            it.set_tensor(d["index"], rng.integers(info.min, info.max, d["shape"], dtype=d["dtype"]))
        else:
            it.set_tensor(d["index"], rng.standard_normal(d["shape"]).astype(d["dtype"]))
