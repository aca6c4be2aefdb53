"""Validity gates for synthesised models: the int8 spec rules, then LiteRT, TFLite Micro and Vela.

LiteRT is the real checker (Vela accepts broken quantisation silently); TFLite Micro and Vela run in
subprocesses because both can take the process down on bad input. Used by the tests and by
`scripts/check_spaces.py`, which runs the gates over many seeds per space.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from perfsage.spaces.validate import spec_errors
from perfsage.targets.vela import CONFIGS, vela_argv


@dataclass
class GateReport:
    spec_errors: list[str] = field(default_factory=list)
    litert: str = "not run"
    tflm: str = "not run"
    vela_cpu_ops: int | None = None
    vela: str = "not run"

    @property
    def ok(self) -> bool:
        return (not self.spec_errors and self.litert == "ok" and self.tflm == "ok"
                and self.vela == "ok" and self.vela_cpu_ops == 0)


def litert_invoke(data: bytes) -> str:
    from ai_edge_litert.interpreter import Interpreter

    from perfsage.targets.cpu_litert import fill_inputs

    try:
        it = Interpreter(model_content=data)
        it.allocate_tensors()
        fill_inputs(it)
        it.invoke()
        return "ok"
    except Exception as e:
        return f"{type(e).__name__}: {e}"


_TFLM_SCRIPT = """
import sys, numpy as np
from tflite_micro.python.tflite_micro import runtime
data = open(sys.argv[1], 'rb').read()
it = runtime.Interpreter.from_bytes(data, arena_size=256 << 20)
d = it.get_input_details(0)
it.set_input(np.random.default_rng(0).integers(-128, 128, d['shape'], dtype=np.int8), 0)
it.invoke()
print('TFLM-OK')
"""


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout)


def tflm_invoke(path: Path, timeout: float = 120) -> str:
    try:
        r = _run([sys.executable, "-c", _TFLM_SCRIPT, str(path)], timeout)
    except subprocess.TimeoutExpired:
        return "timeout"
    if "TFLM-OK" in r.stdout:
        return "ok"
    return f"exit {r.returncode}: {(r.stderr or r.stdout).strip().splitlines()[-1:] }"


def vela_cpu_ops(path: Path, out_dir: Path, target: str = "ethos-u55-128",
                 timeout: float = 300) -> tuple[str, int | None]:
    """Vela in a subprocess (it can segfault on bad input): 'ok' and how many operators fell back to the CPU."""
    args = [sys.executable, "-c", "import sys; from ethosu.vela.vela import main; sys.exit(main())",
            *vela_argv(path, out_dir, CONFIGS[target], reports=False)]
    try:
        r = _run(args, timeout)
    except subprocess.TimeoutExpired:
        return "timeout", None
    m = re.search(r"CPU operators = (\d+)", r.stdout)
    if r.returncode != 0 or not m:
        return f"exit {r.returncode}: {(r.stderr or r.stdout).strip()[-300:]}", None
    return "ok", int(m.group(1))


def run_gates(data: bytes, workdir: Path | None = None) -> GateReport:
    rep = GateReport(spec_errors=spec_errors(data), litert=litert_invoke(data))
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        path = Path(tmp) / "model.tflite"
        path.write_bytes(data)
        rep.tflm = tflm_invoke(path)
        rep.vela, rep.vela_cpu_ops = vela_cpu_ops(path, Path(tmp) / "vela")
    return rep
