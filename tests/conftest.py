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


@pytest.fixture(scope="session")
def mobilenet_path() -> Path:
    return TF_FIXTURES / "mobilenetv2_int8.tflite"
