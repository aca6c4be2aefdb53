"""`perfsage calibrate`: the CPU predictor fitted to this host, kept in the cache, resumed after a kill."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli


@pytest.fixture
def cache(tmp_path, monkeypatch):
    import perfsage.predict.calibrate as cal

    monkeypatch.setenv("PERFSAGE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cal, "WINDOW_S", 0.02)  # the protocol's windows, shortened: this pins the plumbing
    monkeypatch.setattr(cal, "PASSES", 2)
    return tmp_path / "cache"


def test_calibration_is_kept_for_this_host_and_used_from_then_on(cache):
    from perfsage.errors import PerfsageError
    from perfsage.predict import Predictor
    from perfsage.predict.calibrate import JOURNAL, calibrate, calibrated_dir, choose_models
    from perfsage.targets.host import this_host

    shipped = Predictor.load("cpu-litert")
    picked = choose_models(shipped, 8)
    assert len(picked) == 8 and len({i.rsplit("-", 1)[0] for i, _ in picked}) == 4  # every task space
    # a killed run left the first pass over half the models in the journal: only the rest are measured
    partial = calibrated_dir("cpu-litert").with_name(this_host().key + ".partial")
    partial.mkdir(parents=True)
    journal = [json.dumps({"id": i, "latency_ms": 1.0 + k, "peak_heap_kib": 100.0 + k})
               for k, (i, _) in enumerate(picked[:4])]
    (partial / JOURNAL).write_text("\n".join(journal) + "\n{\"id\": \"cut short")
    result = calibrate("cpu-litert", 8)
    assert result.models == 8 and result.measured_now == 4 + 8 and not partial.exists()  # 2 passes
    assert result.folder == calibrated_dir("cpu-litert") and set(result.loo_rmse_log) == {"latency_ms",
                                                                                          "peak_heap_kib"}
    p = Predictor.load("cpu-litert")
    assert p.source == str(result.folder) and p.target == "cpu-litert"
    assert p.host.mismatch is False and p.host.calibrated["models"] == 8
    rec = p.predict("tests/fixtures/tf/dscnn_kws_int8.tflite", layers=False).to_dict(layers=False)
    assert rec["host"]["mismatch"] is False and "calibrated for this CPU" in rec["host"]["summary"]
    assert all(v["low"] < v["value"] < v["high"] for v in rec["metrics"].values())
    assert Predictor.load("cpu-litert", calibrated=False).source == shipped.source
    with pytest.raises(PerfsageError, match="not a CPU target"):
        calibrate("ethos-u55-128", 8)
    with pytest.raises(PerfsageError, match="at least 8"):
        calibrate("cpu-litert", 3)


def test_calibrate_cli_errors_are_one_line(cache):
    for args, words in ((["calibrate", "ethos-u55-128"], "not a CPU target"),
                        (["calibrate", "--models", "2"], "at least 8")):
        r = run_cli(*args)
        assert r.returncode == 2 and words in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_a_model_the_tool_fails_on_is_journaled_and_left_out(cache, monkeypatch):
    """A failed measurement is recorded, not retried on the next run, and the fit goes on without it; a
    calibration of another shipped predictor than today's is not served."""
    import perfsage.predict.calibrate as cal
    from perfsage.predict import Predictor
    from perfsage.targets.base import TargetError
    from perfsage.targets.cpu_litert import CpuLiteRTTarget

    real, calls = CpuLiteRTTarget.measure, []

    def flaky(self, data, per_layer=True):
        calls.append(1)
        if len(calls) == 1:
            raise TargetError("cpu-litert", "crashed", "segfault")
        return real(self, data, per_layer)

    monkeypatch.setattr(CpuLiteRTTarget, "measure", flaky)
    result = cal.calibrate("cpu-litert", 9, seed=1)
    assert result.models == 8 and len(calls) == 1 + 8 * 2  # the failure once, 8 models twice
    assert Predictor.load("cpu-litert").source == str(result.folder)
    monkeypatch.setattr(cal, "base_identity", lambda folder: "another-predictor")
    assert Predictor.load("cpu-litert").source != str(result.folder)  # the shipped one, not a stale fit
