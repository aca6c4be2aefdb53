"""Microcontroller RAM through TensorFlow Lite Micro: the exact minimum tensor arena.

TFLite Micro's RecordingMicroAllocator reports what the interpreter took from the arena
(`print_allocations()`, printed from C, so captured at the file-descriptor level): "Arena allocation
total" is the smallest arena this model runs in on this TFLM build (tested: it runs in that many bytes
and fails in fewer). The arena is planned when tensors are allocated, so the target does not invoke
the model (identical totals with and without invoking, 20x faster on large models; the validity gates
invoke it). TFLM aborts the process on some inputs (e.g. degenerate softmax quantisation), so
it runs in an isolated worker.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from perfsage.targets.base import Labels, Target, TargetError, TargetMetric, host_info, model_bytes
from perfsage.targets.isolation import IsolatedWorker, fd_captured
from perfsage.targets.metrics import MEASURED, parts_of

_TOTAL = re.compile(r"Arena allocation total (\d+) bytes")
_HEAD = re.compile(r"Arena allocation head (\d+) bytes")
_TAIL = re.compile(r"Arena allocation tail (\d+) bytes")
HEAD_PART, TAIL_PART = parts_of("arena_kib")  # where every label's provenance keeps the two


def run_tflm(model: bytes, arena_bytes: int | None = None, invoke: bool = True) -> dict[str, Any]:
    """Runs inside the isolated worker: allocate (and invoke) and read the recorded allocations."""
    from tflite_micro.python.tflite_micro import runtime

    arena = arena_bytes or max(64 << 20, 16 * len(model))
    with fd_captured() as log:
        it = runtime.Interpreter.from_bytes(model, arena_size=arena)
        if invoke:
            rng = np.random.default_rng(0)
            d = it.get_input_details(0)
            dtype = np.dtype(d["dtype"])
            data = (rng.integers(np.iinfo(dtype).min, np.iinfo(dtype).max, d["shape"], dtype=dtype)
                    if np.issubdtype(dtype, np.integer) else rng.standard_normal(d["shape"]).astype(dtype))
            it.set_input(data, 0)
            it.invoke()
        it.print_allocations()
        log.seek(0)
        text = log.read().decode(errors="replace")
    m = _TOTAL.search(text)
    if not m:
        raise RuntimeError(f"TFLite Micro printed no allocation record: {text.strip()[-300:]}")
    from importlib.metadata import version

    return {"total": int(m.group(1)), "head": int(_HEAD.search(text).group(1)),
            "tail": int(_TAIL.search(text).group(1)), "version": version("tflite-micro")}


class TFLiteMicroTarget(Target):
    name = "mcu-tflm"
    description = "microcontroller RAM: TensorFlow Lite Micro's minimum tensor arena (reference kernels)"
    metrics = (TargetMetric("arena_kib", MEASURED),)

    def __init__(self, timeout: float = 300.0) -> None:
        self.timeout = timeout
        self._worker: IsolatedWorker | None = None

    def measure(self, model: str | Path | bytes, per_layer: bool = True) -> Labels:
        data = model_bytes(model)
        if self._worker is None:
            self._worker = IsolatedWorker()
        res = self._worker.call(run_tflm, data, None, False, timeout=self.timeout)
        if not res.ok:
            raise TargetError(self.name, res.kind, res.reason)
        r = res.value
        return Labels(self.name, {"arena_kib": r["total"] / 1024}, [],
                      {"tool": "tflite-micro", "version": r["version"], HEAD_PART.provenance_key: r["head"],
                       TAIL_PART.provenance_key: r["tail"], "allocator": "RecordingMicroAllocator", **host_info()})

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()
            self._worker = None
