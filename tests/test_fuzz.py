"""Property: any mutation of a real model parses and featurises, or raises ModelFormatError."""

from __future__ import annotations

import contextlib
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import TF_FIXTURES
from perfsage.errors import ModelFormatError
from perfsage.graph import load_graph
from perfsage.graph.report import inspect_report

SEEDS = [(TF_FIXTURES / n).read_bytes() for n in
         ("multi_subgraph.tflite", "dscnn_kws_int8.tflite", "transpose_conv_int8.tflite",
          "small_float16.tflite")]


def _mutate(data: bytes, seed: int) -> bytes:
    import sys
    from pathlib import Path

    scripts = str(Path(__file__).resolve().parent.parent / "scripts")
    if scripts not in sys.path:  # once: 20,000 inserts made PYTHONPATH too long for a subprocess (E2BIG)
        sys.path.insert(0, scripts)
    from fuzz_frontend import mutate

    return mutate(data, random.Random(seed))


def _check(data: bytes) -> None:
    with contextlib.suppress(ModelFormatError):
        inspect_report(load_graph(data))


@settings(max_examples=400, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.integers(0, len(SEEDS) - 1), seed=st.integers(0, 2**32 - 1))
def test_mutated_models_parse_or_fail_cleanly(which, seed):
    _check(_mutate(SEEDS[which], seed))


@settings(max_examples=300, deadline=2000)
@given(data=st.binary(min_size=0, max_size=512))
def test_arbitrary_bytes_with_identifier(data):
    _check(data[:4] + b"TFL3" + data[4:])


@pytest.mark.slow
@settings(max_examples=20_000, deadline=5000, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.integers(0, len(SEEDS) - 1), seed=st.integers(0, 2**32 - 1))
def test_mutated_models_exhaustive(which, seed):
    _check(_mutate(SEEDS[which], seed))
