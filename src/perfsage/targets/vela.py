"""Arm Ethos-U NPUs through Vela, the Ethos-U compiler's performance estimator.

Vela runs in-process inside an isolated worker (it can segfault on malformed input; one warm worker
saves its ~0.8 s start-up per model). System config and memory mode are always passed explicitly, as
are `--verbose-performance` and `--enable-debug-db`: the debug database's `source` table maps Vela's
internal operators back to TFLite operator indices (`ext_key`), and its `perf`/`perf_debug` tables
give cycles, MACs and bytes per memory for each internal operator. Per TFLite operator they are summed,
so the per-layer labels add up exactly to Vela's totals (tested). Its `tensors` table is Vela's SRAM
allocation (address range and live time steps of every tensor): the highest address in use while an
operator runs is that operator's SRAM label, and the largest of those is exactly Vela's `sram_memory_used`
(tested), so PerfSAGE can supervise its peak readout per operator as it does the additive metrics.
Where the weights have a memory of their own (Ethos-U55, Shared_Sram: off-chip flash), each operator is
also given the flash its weights take (see `flash_owned`); elsewhere the weight area also holds feature
maps and flash gets no per-operator label.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfsage.targets.base import Labels, Target, TargetError, TargetMetric, host_info, model_bytes
from perfsage.targets.energy import energy_model_for
from perfsage.targets.isolation import IsolatedWorker, fd_captured
from perfsage.targets.metrics import COUNTED, ESTIMATED_BY_VELA, MODELLED

_MEMORIES = {"Sram": "sram", "Dram": "dram", "OffChipFlash": "off_chip_flash", "OnChipFlash": "on_chip_flash"}
MEMORY_LEVELS = tuple(_MEMORIES.values())  # as Vela's summary names them: <level>_total_bytes
_BYTES_COL = re.compile(r"^(Sram|Dram|OffChipFlash|OnChipFlash)\w*_(read|write)$")


@dataclass(frozen=True, slots=True)
class VelaConfig:
    accelerator: str
    system_config: str
    memory_mode: str
    macs_per_cycle: int


CONFIGS: dict[str, VelaConfig] = {
    "ethos-u55-128": VelaConfig("ethos-u55-128", "Ethos_U55_High_End_Embedded", "Shared_Sram", 128),
    "ethos-u55-64": VelaConfig("ethos-u55-64", "Ethos_U55_High_End_Embedded", "Shared_Sram", 64),
    "ethos-u65-256": VelaConfig("ethos-u65-256", "Ethos_U65_High_End", "Dedicated_Sram", 256),
    "ethos-u85-256": VelaConfig("ethos-u85-256", "Ethos_U85_SYS_DRAM_Mid", "Dedicated_Sram_384KB", 256),
}


def _debug_table(xml: str, name: str) -> list[dict[str, str]]:
    m = re.search(rf'<table name="{re.escape(name)}">\s*<!\[CDATA\[(.*?)\]\]>', xml, re.S)
    return list(csv.DictReader(io.StringIO(m.group(1).strip()))) if m else []


def vela_argv(model: Path, out_dir: Path, cfg: VelaConfig, reports: bool = True) -> list[str]:
    """Vela's arguments for a target: system config and memory mode always explicit (their defaults differ
    per accelerator); reports: the per-layer performance CSV and the debug database."""
    import ethosu.vela

    config_file = Path(ethosu.vela.__file__).parent.parent / "config_files" / "Arm" / "vela.ini"
    argv = [str(model), "--accelerator-config", cfg.accelerator, "--system-config", cfg.system_config,
            "--memory-mode", cfg.memory_mode, "--config", str(config_file), "--output-dir", str(out_dir)]
    return argv + (["--verbose-performance", "--enable-debug-db"] if reports else [])


def compile_in_worker(model: bytes, cfg: VelaConfig) -> dict[str, Any]:
    """Runs inside the isolated worker: compile, then parse Vela's summary and debug database."""
    import ethosu.vela
    from ethosu.vela.vela import main

    from perfsage.graph import load_graph
    from perfsage.graph.features import featurise

    with tempfile.TemporaryDirectory(prefix="perfsage-vela-") as tmp:
        src = Path(tmp) / "model.tflite"
        src.write_bytes(model)
        out = Path(tmp) / "out"
        argv = vela_argv(src, out, cfg)
        with fd_captured() as log:
            rc = main(argv)
            log.seek(0)
            text = log.read().decode(errors="replace")
        if rc:
            raise RuntimeError(f"vela exited {rc}: {text.strip()[-400:]}")
        summary = next(out.glob("*_summary_*.csv"), None)
        if summary is None:
            raise RuntimeError(f"vela wrote no summary: {text.strip()[-400:]}")
        with open(summary) as f:
            s = next(csv.DictReader(f))
        xml = next(out.glob("*_debug.xml")).read_text()
        compiled = load_graph(next(out.glob("*_vela.tflite")).read_bytes())
    weighted = {i for i, f in enumerate(featurise(load_graph(model))[0]) if f.weight_bytes > 0}
    cpu_ops = sum(1 for n in compiled.nodes if n.op != "CUSTOM:ethos-u")
    ext_key = {r["id"]: int(r["ext_key"]) for r in _debug_table(xml, "source")}
    debug = {r["id"]: r for r in _debug_table(xml, "perf_debug")}
    sram_in_use = sram_high_water(_debug_table(xml, "tensors"), debug)
    perf = _debug_table(xml, "perf")
    flash, lut_ops = flash_owned(perf, debug, ext_key, weighted)
    layers: dict[int, dict[str, float]] = {}
    for r in perf:
        idx = ext_key.get(r["source_id"], -1)
        row = layers.setdefault(idx, {"npu_cycles": 0, "macs": 0, "vela_ops": 0, "sram_bytes": 0,
                                      "bytes": dict.fromkeys(MEMORY_LEVELS, 0.0)})
        row["sram_bytes"] = max(row["sram_bytes"], sram_in_use.get(r["id"], 0))
        row["npu_cycles"] += int(r["op_cycles"])
        row["macs"] += int(r["mac_count"])
        row["vela_ops"] += 1
        for col, v in debug.get(r["id"], {}).items():
            m = _BYTES_COL.match(col)
            if m and v:
                row["bytes"][_MEMORIES[m.group(1)]] += float(v)
    return {"summary": s, "layers": layers, "flash_owned": flash, "lut_ops": lut_ops, "cpu_ops": cpu_ops,
            "version": getattr(ethosu.vela, "__version__", None) or _vela_version()}


def sram_high_water(tensors: list[dict[str, str]], perf_debug: dict[str, dict[str, str]]) -> dict[str, int]:
    """Per internal operator (perf id), the highest SRAM address in use at its time step: the end of the
    highest SRAM tensor live then (Vela's allocation, so fragmentation and alignment count, as they do in
    its total)."""
    spans = [(int(t["start_time"]), int(t["end_time"]), int(t["end_address"], 16))
             for t in tensors if t.get("memory") == "Sram"]
    out = {}
    for pid, r in perf_debug.items():
        step = r.get("time_index")
        if step not in (None, ""):
            step = int(step)
            out[pid] = max((end for a, b, end in spans if a <= step <= b), default=0)
    return out


SCALE_BYTES = 10  # per output channel: Vela's bias + scale + shift record for the NPU, in 16-byte blocks


def flash_owned(perf: list[dict[str, str]], perf_debug: dict[str, dict[str, str]], ext_key: dict[str, int],
                weighted: set[int]) -> tuple[dict[int, int], set[int]]:
    """Per TFLite operator, the flash bytes it owns: its internal operators' encoded weights
    (`weight_total_bytes`) and per-channel scales. Vela stores an identical stream once; the streams it
    generates itself for weightless operators (MEAN, RESIZE and pooling decompositions) repeat, so those
    count once, for the first operator that has them. The rest of the flash (lookup tables, constants;
    shared, under 1% of the total on most models) belongs to no single operator; operators with lookup
    tables are returned so that their share can stay unknown."""
    owned: dict[int, int] = {}
    luts: set[int] = set()
    seen: set[tuple[str, ...]] = set()
    for r in perf:
        idx = ext_key.get(r["source_id"], -1)
        if r["operator"] == "LUT":
            luts.add(idx)
        d = perf_debug.get(r["id"], {})
        if not d.get("weight_total_bytes"):
            continue
        key = (r["operator"], d["weight_total_bytes"], d["ofm_shape_c"], d["ifm_shape_c"], d["kernel_size_x"],
               d["kernel_size_y"])
        if idx not in weighted:
            if key in seen:
                continue
            seen.add(key)
        scales = -(-SCALE_BYTES * int(d["ofm_shape_c"]) // 16) * 16
        owned[idx] = owned.get(idx, 0) + int(d["weight_total_bytes"]) + scales
    return owned, luts


def layer_flash_kib(ops: Iterable[int], owned_bytes: dict[int, int], lut_ops: set[int],
                    total_kib: float) -> dict[int, float]:
    """Each of `ops`' flash in KiB, adding up to the total: the bytes it owns (`flash_owned`), with the
    unattributed rest left to the operators with lookup tables (unknown: NaN); where there are none, or
    the owned bytes exceed the total (weights Vela shares in ways the debug database does not show), the
    owned bytes are scaled to the total."""
    ops = [i for i in ops if i >= 0]
    owned = {i: owned_bytes.get(i, 0) / 1024 for i in ops}
    unknown = {i for i in ops if i in lut_ops and not owned_bytes.get(i)}
    s = sum(owned.values())
    if s <= 0:
        return {}
    scale = total_kib / s if (not unknown or s > total_kib) else 1.0
    return {i: float("nan") if i in unknown else v * scale for i, v in owned.items()}


def _vela_version() -> str:
    from importlib.metadata import version

    return version("ethos-u-vela")


class VelaTarget(Target):
    def __init__(self, cfg: VelaConfig, timeout: float = 600.0) -> None:
        self.cfg = cfg
        self.name = cfg.accelerator
        self.description = (f"Arm {cfg.accelerator} NPU ({cfg.macs_per_cycle} MACs/cycle), Vela "
                            f"{cfg.system_config} / {cfg.memory_mode}")
        self.metrics = (
            TargetMetric("latency_ms", ESTIMATED_BY_VELA), TargetMetric("npu_cycles", ESTIMATED_BY_VELA),
            TargetMetric("energy_mj", MODELLED), TargetMetric("sram_kib", ESTIMATED_BY_VELA),
            TargetMetric("flash_kib", ESTIMATED_BY_VELA), TargetMetric("cpu_ops", COUNTED))
        self.timeout = timeout
        self.energy = energy_model_for(cfg.macs_per_cycle)
        self._worker: IsolatedWorker | None = None
        self._compile = compile_in_worker  # swapped by the tests for a crashing / hanging stand-in

    def measure(self, model: str | Path | bytes, per_layer: bool = True) -> Labels:
        data = model_bytes(model)
        if self._worker is None:
            self._worker = IsolatedWorker()
        res = self._worker.call(self._compile, data, self.cfg, timeout=self.timeout)
        if not res.ok:
            raise TargetError(self.name, res.kind, res.reason)
        return self._labels(res.value, per_layer)

    def _labels(self, r: dict[str, Any], per_layer: bool) -> Labels:
        s = r["summary"]
        clock = float(s["core_clock"])
        cycles = int(float(s["cycles_total"]))
        seconds = cycles / clock
        mem_bytes = {m: float(s[f"{m}_total_bytes"]) for m in MEMORY_LEVELS}
        macs = float(s["nn_macs"])
        metrics = {
            "latency_ms": seconds * 1e3,
            "npu_cycles": cycles,
            "energy_mj": self.energy.energy_mj(macs, mem_bytes, seconds),
            "sram_kib": float(s["sram_memory_used"]),
            "flash_kib": float(s["off_chip_flash_memory_used"]) + float(s["on_chip_flash_memory_used"])
            + float(s["dram_memory_used"]),
            "cpu_ops": r["cpu_ops"],
        }
        layers = []
        if per_layer:
            own_flash = s.get("weights_storage_area") != s.get("feature_map_storage_area")
            flash = layer_flash_kib(r["layers"], r["flash_owned"], r["lut_ops"], metrics["flash_kib"]) \
                if own_flash else {}
            for idx in sorted(r["layers"]):
                row = r["layers"][idx]
                sec = row["npu_cycles"] / clock
                layers.append({
                    "index": idx, "latency_ms": sec * 1e3, "npu_cycles": row["npu_cycles"], "macs": row["macs"],
                    "energy_mj": self.energy.energy_mj(row["macs"], row["bytes"], sec),
                    "sram_kib": row["sram_bytes"] / 1024,
                    **({"flash_kib": flash.get(idx, 0.0)} if flash else {}),
                    "bytes": {m: b for m, b in row["bytes"].items() if b},
                    "vela_ops": row["vela_ops"]})
        provenance = {"tool": "ethos-u-vela", "version": r["version"], "accelerator": self.cfg.accelerator,
                      "system_config": self.cfg.system_config, "memory_mode": self.cfg.memory_mode,
                      "core_clock_hz": clock, "nn_macs": int(macs),
                      "bytes": {k: v for k, v in mem_bytes.items() if v},
                      "energy_model": {"e_mac_pj": self.energy.e_mac_pj, "e_byte_pj": dict(self.energy.e_byte_pj),
                                       "static_mw": self.energy.static_mw}, **host_info()}
        return Labels(self.name, metrics, layers, provenance)

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()
            self._worker = None
