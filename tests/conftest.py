"""Shared fixtures: small real models made by the TensorFlow converter (scripts/make_tf_fixtures.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TF_FIXTURES = ROOT / "tests" / "fixtures" / "tf"
MANIFEST = json.loads((TF_FIXTURES / "MANIFEST.json").read_text())["fixtures"]
TF_MODELS = sorted(TF_FIXTURES.glob("*.tflite"))
INT8_MODELS = [p for p in TF_MODELS if p.stem.endswith("_int8")]


@pytest.fixture(autouse=True, scope="session")
def _own_cache(tmp_path_factory):
    """Tests never read or write the user's cache (a calibration there would change what they predict)."""
    os.environ["PERFSAGE_CACHE"] = str(tmp_path_factory.mktemp("perfsage-cache"))


def benchmark_module(name: str):
    """A script of benchmarks/ loaded as a module (they are scripts, not a package; their own imports of
    benchmarks/ helpers such as _results resolve through the path added here)."""
    import importlib.util

    if str(ROOT / "benchmarks") not in sys.path:
        sys.path.insert(0, str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", ROOT / "benchmarks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def shared_table(relative: str) -> Path:
    """A file of the real-device tables, which live outside the repo: `$PERFSAGE_SHARED_DATA`, else the
    `shared/data` folder beside the checkout (where CI has it). Skips the test when neither has it."""
    from perfsage.realdev.tables import shared_data

    root = shared_data()
    path = root / relative
    if not path.is_file():
        pytest.skip(f"real-device table {relative} not found under {root} (set PERFSAGE_SHARED_DATA)")
    return path


def manifest_entry(path: Path) -> dict:
    return next(e for e in MANIFEST if e["name"] == path.name)


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run `perfsage` as a user would: a fresh interpreter, captured output."""
    env = dict(os.environ)
    env.pop("PERFSAGE_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "perfsage", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def assert_extra_space_registered_and_deterministic(space, min_size_log10: float) -> None:
    """A space beyond the task spaces: listed, not a task space, big enough, and the same bytes again
    from its architecture's JSON; 50 seeds give 50 architectures."""
    from perfsage.spaces import TASK_SPACES, ArchSpec, space_names

    assert space.name in space_names() and space.name not in TASK_SPACES
    assert space.size_log10() > min_size_log10
    for seed in (0, 7):
        a, d = space.synth(seed)
        assert space.build(ArchSpec.from_json(a.to_json()), seed) == d
    assert len({space.sample(s).to_json() for s in range(50)}) == 50


def assert_seeds_pass_spec_and_litert(space, seeds) -> None:
    from perfsage.spaces.validate import spec_errors
    from perfsage.targets.gates import litert_invoke

    for seed in seeds:
        _, data = space.synth(seed)
        assert spec_errors(data) == [], seed
        assert litert_invoke(data) == "ok", seed


def assert_runs_on_npu_and_mcu(space, seeds, tmp_path: Path) -> None:
    """Every seed's model compiles with Vela with no CPU fallback, gets a TFLite Micro arena and runs
    on TFLite Micro (in its isolated gate)."""
    from perfsage.targets import get_target
    from perfsage.targets.gates import tflm_invoke

    vela, tflm = get_target("ethos-u55-128"), get_target("mcu-tflm")
    try:
        for seed in seeds:
            arch, data = space.synth(seed)
            assert vela.measure(data).metrics["cpu_ops"] == 0, (seed, arch.to_json())
            assert tflm.measure(data).metrics["arena_kib"] > 0, (seed, arch.to_json())
            path = tmp_path / f"{seed}.tflite"
            path.write_bytes(data)
            assert tflm_invoke(path) == "ok", (seed, arch.to_json())
    finally:
        vela.close()
        tflm.close()


@pytest.fixture(scope="session")
def mobilenet_path() -> Path:
    return TF_FIXTURES / "mobilenetv2_int8.tflite"
