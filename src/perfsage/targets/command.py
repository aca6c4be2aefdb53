"""Bring your own device: a target defined by a TOML file with a command template and metric parsers.

    name = "pixel7-cpu"
    description = "Pixel 7, TFLite benchmark_model, 1 thread"
    command = "adb push {model} /data/local/tmp/m.tflite && adb shell benchmark_model --graph=/data/local/tmp/m.tflite"
    timeout_s = 300

    [metrics.latency_ms]
    regex = "Inference \\(avg\\): ([0-9.e+]+)"   # first group, a number
    scale = 0.001                                 # the tool prints microseconds

    [metrics.peak_heap_kib]
    json = "memory.peak_kib"                      # or a dotted path into JSON the command prints

`{model}` is replaced by the (shell-quoted) path of the model written to a temporary file. The command
runs through the shell with a timeout; a non-zero exit, a timeout, or a metric that cannot be parsed is
a recorded failure with the command's last output lines.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

from perfsage.errors import PerfsageError
from perfsage.targets.base import Labels, Target, TargetError, TargetMetric, host_info, model_bytes
from perfsage.targets.metrics import METRICS, REPORTED


@dataclass(frozen=True, slots=True)
class MetricParser:
    metric: str
    regex: str | None = None
    json_path: str | None = None
    scale: float = 1.0

    def parse(self, out: str) -> float:
        if self.regex is not None:
            m = re.search(self.regex, out, re.M)
            if not m:
                raise ValueError(f"{self.metric}: pattern {self.regex!r} not found in the output")
            return float(m.group(1)) * self.scale
        doc = _last_json(out)
        v = doc
        for key in self.json_path.split("."):
            if not isinstance(v, dict) or key not in v:
                raise ValueError(f"{self.metric}: key {self.json_path!r} not in the JSON output")
            v = v[key]
        return float(v) * self.scale


def _last_json(out: str):
    for line in reversed(out.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    try:
        return json.loads(out)
    except json.JSONDecodeError:
        raise ValueError("the command printed no JSON object") from None


class CommandTarget(Target):
    def __init__(self, name: str, command: str, parsers: list[MetricParser], description: str = "",
                 timeout: float = 300.0, source: str = "") -> None:
        self.name, self.command, self.parsers, self.timeout = name, command, parsers, timeout
        self.description = description or f"user device: {command}"
        self.metrics = tuple(TargetMetric(p.metric, REPORTED) for p in parsers)
        self.source = source

    @classmethod
    def from_toml(cls, path: str | Path) -> CommandTarget:
        path = Path(path)
        try:
            cfg = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise PerfsageError(f"{path}: cannot read target definition: {e}") from None
        for key in ("name", "command", "metrics"):
            if key not in cfg:
                raise PerfsageError(f"{path}: target definition needs '{key}'")
        if "{model}" not in cfg["command"]:
            raise PerfsageError(f"{path}: 'command' must contain {{model}}")
        parsers = []
        for metric, spec in cfg["metrics"].items():
            if metric not in METRICS:
                raise PerfsageError(f"{path}: unknown metric {metric!r} (known: {', '.join(METRICS)})")
            if not isinstance(spec, dict) or ("regex" in spec) == ("json" in spec):
                raise PerfsageError(f"{path}: metric {metric!r} needs exactly one of 'regex' or 'json'")
            if "regex" in spec:
                try:
                    if re.compile(spec["regex"]).groups < 1:
                        raise PerfsageError(f"{path}: regex of {metric!r} needs a capture group")
                except re.error as e:
                    raise PerfsageError(f"{path}: bad regex for {metric!r}: {e}") from None
            parsers.append(MetricParser(metric, spec.get("regex"), spec.get("json"), float(spec.get("scale", 1.0))))
        return cls(str(cfg["name"]), str(cfg["command"]), parsers, str(cfg.get("description", "")),
                   float(cfg.get("timeout_s", 300)), str(path))

    def measure(self, model: str | Path | bytes, per_layer: bool = True) -> Labels:
        data = model_bytes(model)
        with tempfile.TemporaryDirectory(prefix="perfsage-cmd-") as tmp:
            path = Path(tmp) / "model.tflite"
            path.write_bytes(data)
            cmd = self.command.replace("{model}", shlex.quote(str(path)))
            proc = subprocess.Popen(cmd, shell=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                    start_new_session=True)
            try:
                stdout, stderr = proc.communicate(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                # the whole process group: the shell and everything it started (adb, ssh, ...)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
                raise TargetError(self.name, "timeout", f"no result within {self.timeout:g} s") from None
        out = stdout + "\n" + stderr
        if proc.returncode != 0:
            tail = " | ".join(out.strip().splitlines()[-3:])
            raise TargetError(self.name, "error", f"command exited {proc.returncode}: {tail}")
        metrics = {}
        for p in self.parsers:
            try:
                metrics[p.metric] = p.parse(out)
            except ValueError as e:
                raise TargetError(self.name, "error", str(e)) from None
        return Labels(self.name, metrics, [], {"tool": "command", "command": self.command,
                                               "definition": self.source, **host_info()})
