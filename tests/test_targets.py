"""Targets: real tools give totals whose per-layer parts add up exactly; crashes, hangs and tool errors
become recorded failures and the caller keeps going."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import TF_FIXTURES, run_cli
from perfsage.errors import PerfsageError
from perfsage.graph import load_graph
from perfsage.spaces import get_space
from perfsage.targets import BUILTIN, TargetError, get_target
from perfsage.targets.isolation import IsolatedWorker, crash_for_test
from perfsage.targets.metrics import METRICS
from perfsage.targets.tflm import run_tflm
from perfsage.targets.vela import CONFIGS, VelaTarget, layer_flash_kib

FAKE_BOARD = Path(__file__).parent / "fixtures" / "device" / "fake_board.py"
DSCNN = TF_FIXTURES / "dscnn_kws_int8.tflite"


@pytest.fixture(scope="module")
def synth_models():
    return {name: get_space(name).synth(3)[1] for name in ("classification", "kws", "segmentation")}


def test_registry_metrics_are_the_one_table():
    for name in BUILTIN:
        t = get_target(name)
        assert t.metrics and all(m.name in METRICS and m.how for m in t.metrics), name


@pytest.mark.parametrize("accelerator", sorted(CONFIGS))
def test_vela_layers_sum_exactly_to_totals(accelerator, synth_models):
    t = VelaTarget(CONFIGS[accelerator])
    try:
        for name, data in synth_models.items():
            lab = t.measure(data)
            g = load_graph(data)
            assert lab.metrics["cpu_ops"] == 0
            assert sum(r["npu_cycles"] for r in lab.layers) == lab.metrics["npu_cycles"], name
            assert sum(r["energy_mj"] for r in lab.layers) == pytest.approx(lab.metrics["energy_mj"], rel=1e-9)
            assert sum(r["macs"] for r in lab.layers) == lab.provenance["nn_macs"]
            clock = lab.provenance["core_clock_hz"]
            assert lab.metrics["latency_ms"] == pytest.approx(lab.metrics["npu_cycles"] / clock * 1e3)
            assert {r["index"] for r in lab.layers} <= set(range(len(g.nodes)))
            assert lab.metrics["sram_kib"] > 0 and lab.metrics["flash_kib"] > 0
            # the SRAM in use while each layer runs peaks at exactly Vela's total
            assert max(r["sram_kib"] for r in lab.layers) == lab.metrics["sram_kib"], name
            assert min(r["sram_kib"] for r in lab.layers) > 0, name
            # flash per layer where weights have a memory of their own (Ethos-U55): the operators' own
            # weights and scales, the rest (lookup tables) left unknown on the operators that have them
            flash = [r.get("flash_kib") for r in lab.layers]
            if accelerator.startswith("ethos-u55"):
                known = [f for f in flash if not math.isnan(f)]
                assert 0.95 * lab.metrics["flash_kib"] <= sum(known) <= lab.metrics["flash_kib"] * (1 + 1e-9)
                if len(known) == len(flash):
                    assert sum(known) == pytest.approx(lab.metrics["flash_kib"], rel=1e-9), name
                weighted = {i for i, n in enumerate(g.nodes) if n.op in ("CONV_2D", "DEPTHWISE_CONV_2D")}
                assert all(r["flash_kib"] > 0 for r in lab.layers if r["index"] in weighted), name
            else:
                assert flash == [None] * len(flash), name  # weights share DRAM with feature maps
            assert lab.provenance["system_config"] == CONFIGS[accelerator].system_config
    finally:
        t.close()


def test_layer_flash_adds_up_to_the_total_or_leaves_the_rest_unknown():
    def flash(rows, total_kib):  # rows: (owned bytes, has a lookup table) per operator
        owned = {i: b for i, (b, _) in enumerate(rows) if b}
        return layer_flash_kib(range(-1, len(rows)), owned, {i for i, (_, lut) in enumerate(rows) if lut}, total_kib)

    # no lookup tables: the owned bytes are scaled to the total (alignment Vela adds elsewhere)
    assert flash([(1024, False), (3072, False), (0, False)], 4.04) == pytest.approx({0: 1.01, 1: 3.03, 2: 0.0})
    # a lookup-table operator holds the unattributed rest: unknown, not zero
    got = flash([(1024, False), (0, True)], 1.5)
    assert got[0] == 1.0 and math.isnan(got[1])
    # more owned than the total (streams Vela shares): scaled down
    got = flash([(2048, False), (0, True)], 1.0)
    assert got[0] == pytest.approx(1.0) and math.isnan(got[1])
    assert flash([(0, False)], 1.0) == {}


def test_vela_accelerators_rank_as_expected(synth_models):
    data = synth_models["classification"]
    lat = {}
    for name in ("ethos-u55-64", "ethos-u55-128", "ethos-u65-256"):
        t = get_target(name)
        lat[name] = t.measure(data).metrics["latency_ms"]
        t.close()
    assert lat["ethos-u55-64"] > lat["ethos-u55-128"] > lat["ethos-u65-256"]


@pytest.mark.parametrize("kind,expected", [("segfault", "crashed"), ("abort", "crashed"), ("hang", "timeout"),
                                           ("error", "error")])
def test_isolated_worker_survives(kind, expected):
    with IsolatedWorker() as w:
        r = w.call(crash_for_test, kind, timeout=3)
        assert not r.ok and r.kind == expected, r
        ok = w.call(crash_for_test, "ok", timeout=30)  # a fresh worker takes over; tool chatter is harmless
        assert ok.ok and ok.value == "fine"


def test_isolated_worker_starts_whatever_a_caller_did_to_sys_path(monkeypatch):
    """A caller that inserted one path 20,000 times (a test once did) must not make the worker's
    PYTHONPATH too long to exec (E2BIG: one variable may hold 128 KiB)."""
    import sys

    monkeypatch.setattr(sys, "path", ["/nonexistent/perfsage-test-path"] * 20_000 + sys.path)
    with IsolatedWorker() as w:
        ok = w.call(crash_for_test, "ok", timeout=60)
    assert ok.ok and ok.value == "fine", ok


@pytest.mark.parametrize("kind,expected", [("segfault", "crashed"), ("hang", "timeout")])
def test_vela_target_records_crash_and_hang_and_keeps_going(kind, expected, monkeypatch):
    t = VelaTarget(CONFIGS["ethos-u55-128"], timeout=3)
    real = t._compile
    t._compile = _crashing_compile_segfault if kind == "segfault" else _crashing_compile_hang
    with pytest.raises(TargetError) as e:
        t.measure(DSCNN)
    assert e.value.kind == expected
    t._compile = real
    t.timeout = 300
    assert t.measure(DSCNN).metrics["npu_cycles"] > 0
    t.close()


def _crashing_compile_segfault(model, cfg):
    return crash_for_test("segfault")


def _crashing_compile_hang(model, cfg):
    return crash_for_test("hang")


def test_tflm_arena_is_exact(synth_models):
    t = get_target("mcu-tflm")
    data = synth_models["kws"]
    arena = t.measure(data).metrics["arena_kib"] * 1024
    t.close()
    assert arena == int(arena)
    with IsolatedWorker() as w:
        assert w.call(run_tflm, data, int(arena)).ok
        too_small = w.call(run_tflm, data, int(arena) - 16)
        assert not too_small.ok and "allocate" in too_small.reason


def test_tflm_plans_activations_as_planned_arena_bytes():
    """The arena's head (activations and kernel scratch) is the greedy plan of graph.features, byte for
    byte: segmentation models with transposed convolutions (scratch) and ones whose plan exceeds the peak
    of live bytes."""
    from perfsage.graph.features import peak_activation_bytes, planned_arena_bytes

    t = get_target("mcu-tflm")
    try:
        for space, seed in (("segmentation", 4), ("segmentation", 11), ("classification", 3), ("kws", 5)):
            data = get_space(space).synth(seed)[1]
            g = load_graph(data)
            head = t.measure(data).provenance["arena_head_bytes"]
            assert head == planned_arena_bytes(g), (space, seed)
            if space == "segmentation":
                assert head > peak_activation_bytes(g)
    finally:
        t.close()


def test_tflm_abort_on_degenerate_quantisation_is_a_recorded_failure():
    """The TF-converted MobileNetV2 has a softmax input scale of ~8e-9: TFLite Micro aborts on it."""
    t = get_target("mcu-tflm")
    with pytest.raises(TargetError) as e:
        t.measure(TF_FIXTURES / "mobilenetv2_int8.tflite")
    assert e.value.kind == "crashed" and "SIGABRT" in e.value.reason
    assert t.measure(DSCNN).metrics["arena_kib"] > 0  # and the next model is measured
    t.close()


def test_cpu_litert_reports_latency_memory_and_repeatability():
    from perfsage.targets.cpu_litert import CpuLiteRTTarget

    t = CpuLiteRTTarget(window_s=0.1, windows=3)
    lab = t.measure(DSCNN)
    t.close()
    p = lab.provenance
    assert lab.metrics["latency_ms"] == pytest.approx(min(p["window_minima_ms"]))
    assert 0 < lab.metrics["latency_ms"] < 100
    assert lab.metrics["peak_heap_kib"] > 0
    assert 0 <= p["repeatability_cv"] < 0.5 and p["threads"] == 1 and len(p["pinned_cores"]) == 1
    assert all(n >= 1 for n in p["invokes_per_window"])
    from perfsage.targets.host import HostFingerprint, this_host

    assert t.host_bound and HostFingerprint.from_dict(p["host_fingerprint"]).key == this_host().key


def _device_toml(tmp_path: Path, mode: str, body: str) -> Path:
    p = tmp_path / f"{mode}.toml"
    p.write_text(textwrap.dedent(f"""
        name = "fake-{mode}"
        description = "a script standing in for a board"
        command = "{sys.executable} {FAKE_BOARD} {mode} {{model}}"
        timeout_s = 3
    """) + textwrap.dedent(body))
    return p


def test_command_target_json_and_regex(tmp_path):
    size = DSCNN.stat().st_size
    t = get_target(str(_device_toml(tmp_path, "json", """
        [metrics.latency_ms]
        json = "latency_us"
        scale = 0.001
        [metrics.peak_heap_kib]
        json = "memory.peak_kib"
    """)))
    lab = t.measure(DSCNN)
    assert lab.metrics == {"latency_ms": pytest.approx(size / 10 / 1000), "peak_heap_kib": pytest.approx(size / 1024)}
    t = get_target(str(_device_toml(tmp_path, "text", """
        [metrics.latency_ms]
        regex = 'Inference \\(avg\\): ([0-9.e+]+)'
        scale = 0.001
    """)))
    assert t.measure(DSCNN).metrics["latency_ms"] == pytest.approx(size / 10 / 1000)


@pytest.mark.parametrize("mode,kind", [("fail", "error"), ("hang", "timeout"), ("garbage", "error")])
def test_command_target_failures(tmp_path, mode, kind):
    t = get_target(str(_device_toml(tmp_path, mode, """
        [metrics.latency_ms]
        regex = 'avg: ([0-9.]+)'
    """)))
    with pytest.raises(TargetError) as e:
        t.measure(DSCNN)
    assert e.value.kind == kind
    if mode == "hang":  # nothing the command started may outlive the timeout
        time.sleep(0.5)
        leftover = subprocess.run(["pgrep", "-f", f"{FAKE_BOARD} hang"], capture_output=True, text=True)
        assert leftover.stdout.strip() == ""


@pytest.mark.parametrize("body,msg", [("", "needs 'metrics'"), ("[metrics.speed]\nregex='(1)'", "unknown metric"),
                                      ("[metrics.latency_ms]\nregex='x'", "capture group")])
def test_command_target_bad_definitions(tmp_path, body, msg):
    p = tmp_path / "bad.toml"
    p.write_text(f'name = "x"\ncommand = "echo {{model}}"\n{body}\n')
    with pytest.raises(PerfsageError, match=msg):
        get_target(str(p))


def test_label_cli_json(tmp_path):
    r = run_cli("label", str(DSCNN), "--target", "ethos-u55-128", "--per-layer", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
    assert set(out) >= {"model", "target", "metrics", "layers", "provenance"}
    flash = {row["op"]: row["flash_kib"] for row in out["layers"]}
    assert flash["SOFTMAX"] is None and flash["CONV_2D"] > 0  # its share (lookup tables) unknown: null
    assert out["target"] == "ethos-u55-128" and out["units"]["latency_ms"] == "ms"
    assert [row["op"] for row in out["layers"]][:2] == ["CONV_2D", "DEPTHWISE_CONV_2D"]
    assert sum(row["npu_cycles"] for row in out["layers"]) == out["metrics"]["npu_cycles"]
    assert out["provenance"]["tool"] == "ethos-u-vela"


def test_label_cli_errors_are_one_line(tmp_path):
    for args in (["--target", "nope"], ["--target", str(tmp_path / "missing.toml")]):
        r = run_cli("label", str(DSCNN), *args)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    r = run_cli("label", str(TF_FIXTURES / "mobilenetv2_int8.tflite"), "--target", "mcu-tflm")
    assert r.returncode == 2 and "SIGABRT" in r.stderr and "Traceback" not in r.stderr
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"junk" * 10)
    r = run_cli("label", str(junk))
    assert r.returncode == 2 and "not a TFLite model" in r.stderr


def test_targets_cli_lists_every_target():
    r = run_cli("targets", "--json")
    assert r.returncode == 0
    names = [t["name"] for t in json.loads(r.stdout)]
    assert names == list(BUILTIN)


def test_isolation_works_from_stdin_scripts(tmp_path):
    """The worker does not depend on the caller's __main__ (stdin scripts broke multiprocessing spawn)."""
    code = ("from perfsage.targets.isolation import IsolatedWorker, crash_for_test\n"
            "w = IsolatedWorker(); print(w.call(crash_for_test, 'ok').value); w.close()\n")
    r = subprocess.run([sys.executable, "-"], input=code, capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "fine", r.stderr
