"""Which CPU measured a label: the host fingerprint.

CPU latency depends on the CPU by integer factors (XNNPACK picks its kernels by ISA: the same model runs
3x faster on an AVX-512 host than on an AVX2 one) and peak heap on the ISA too (weights are packed per
kernel). A CPU label, and a predictor trained on such labels, is only about the CPU kind that measured
it; this is the one description of that kind, recorded in every CPU label and predictor and compared at
prediction time. Under a hypervisor the model name can be generic ("AMD EPYC" names Zen 2 to Zen 5), so
the kind is the vendor, family and model numbers and the kernel-relevant ISA features, not the name.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# ISA features that change which kernels XNNPACK and LiteRT run (x86: /proc/cpuinfo "flags"; Arm:
# "Features"); every other flag leaves CPU inference as it is
KERNEL_ISA: tuple[str, ...] = (
    "sse4_1", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_vnni",
    "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16",
    "asimd", "asimdhp", "asimddp", "i8mm", "bf16", "sve", "sve2", "sme")
# the fields that decide whether one host's labels hold on another; the rest only inform
KIND_FIELDS: tuple[str, ...] = ("arch", "vendor", "family_model", "isa", "litert")


@dataclass(frozen=True)
class HostFingerprint:
    arch: str  # platform.machine(): x86_64, aarch64
    vendor: str  # x86 vendor id (AuthenticAMD, GenuineIntel); Arm: the implementer code
    model_name: str  # as the OS reports it (may be generic under a hypervisor)
    family_model: str  # x86 "family/model"; Arm "implementer/part"; "" when the OS does not say
    isa: tuple[str, ...]  # the KERNEL_ISA features present
    cores: int  # usable cores (affinity); labels are single-threaded, so this only informs
    litert: str = ""  # ai-edge-litert version ("" when not installed): its kernels change between releases

    @property
    def key(self) -> str:
        """A short stable id of the CPU kind (KIND_FIELDS): equal keys, transferable labels."""
        kind = json.dumps({f: getattr(self, f) for f in KIND_FIELDS}, sort_keys=True)
        return hashlib.sha256(kind.encode()).hexdigest()[:12]

    def describe(self) -> str:
        """One line for a human: model name, kind and the widest vector ISA."""
        widest = next((f for f in ("amx_int8", "avx512_vnni", "avx512f", "avx_vnni", "avx2", "sve2", "sve",
                                   "i8mm", "asimddp", "asimd") if f in self.isa), "no SIMD listed")
        fm = f" {self.family_model}" if self.family_model else ""
        return f"{self.model_name} ({self.vendor}{fm}, {widest}, {self.cores} cores)"

    def differences(self, other: HostFingerprint) -> list[dict[str, Any]]:
        """What differs between two kinds, field by field (ISA as the features one has and the other lacks)."""
        out: list[dict[str, Any]] = []
        for f in KIND_FIELDS:
            mine, theirs = getattr(self, f), getattr(other, f)
            if mine == theirs:
                continue
            if f == "isa":
                out.append({"field": f, "only_here": sorted(set(mine) - set(theirs)),
                            "only_there": sorted(set(theirs) - set(mine))})
            else:
                out.append({"field": f, "here": mine, "there": theirs})
        return out

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["isa"] = list(self.isa)
        d["key"] = self.key
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HostFingerprint:
        return cls(arch=str(d.get("arch", "")), vendor=str(d.get("vendor", "")),
                   model_name=str(d.get("model_name", "")), family_model=str(d.get("family_model", "")),
                   isa=tuple(sorted(d.get("isa", ()))), cores=int(d.get("cores", 0)),
                   litert=str(d.get("litert", "")))


def parse_cpuinfo(text: str) -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo (Arm lists features per processor too)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break
            continue
        key, _, value = line.partition(":")
        fields.setdefault(key.strip().lower(), value.strip())
    return fields


def fingerprint_from(cpuinfo: str, arch: str, cores: int, litert: str) -> HostFingerprint:
    f = parse_cpuinfo(cpuinfo)
    flags = set((f.get("flags") or f.get("features") or "").split())
    if f.get("vendor_id"):  # x86
        vendor, family_model = f["vendor_id"], f"{f.get('cpu family', '?')}/{f.get('model', '?')}"
        name = f.get("model name", arch)
    else:  # Arm: implementer and part number; the model name is often absent
        vendor = f.get("cpu implementer", "")
        family_model = f"{vendor}/{f.get('cpu part', '?')}" if vendor else ""
        name = f.get("model name") or arch
    return HostFingerprint(arch=arch, vendor=vendor, model_name=name, family_model=family_model,
                           isa=tuple(sorted(flags & set(KERNEL_ISA))), cores=cores, litert=litert)


def _litert_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ai-edge-litert")
    except PackageNotFoundError:
        return ""


_HERE: HostFingerprint | None = None


def this_host() -> HostFingerprint:
    """This machine's fingerprint (read once per process)."""
    global _HERE
    if _HERE is None:
        try:
            text = Path("/proc/cpuinfo").read_text()
        except OSError:  # not Linux: the model name the platform module gives, no ISA
            text = f"model name : {platform.processor() or platform.machine()}\n"
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        _HERE = fingerprint_from(text, platform.machine(), cores, _litert_version())
    return _HERE


# ------------------------------------------------------------------------------ a predictor's host
HOST_FILE = "host.json"  # beside a predictor's weights: the CPU kind its labels came from


@dataclass(frozen=True)
class HostRecord:
    """The CPU kind a predictor's labels were measured on. complete: whether the record names the kind
    (labels measured before fingerprints were recorded name only the CPU's model name and LiteRT)."""

    fingerprint: HostFingerprint
    complete: bool = True
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint.to_dict(), "complete": self.complete, "note": self.note}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HostRecord:
        return cls(HostFingerprint.from_dict(d["fingerprint"]), bool(d.get("complete", True)), str(d.get("note", "")))

    def save(self, folder: str | os.PathLike) -> None:
        (Path(folder) / HOST_FILE).write_text(json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def load(cls, folder: str | os.PathLike) -> HostRecord | None:
        path = Path(folder) / HOST_FILE
        return cls.from_dict(json.loads(path.read_text())) if path.is_file() else None


@dataclass(frozen=True)
class HostCheck:
    """This host against the one a host-bound predictor (CPU latency) was trained for."""

    here: HostFingerprint
    record: HostRecord | None  # None: the predictor records no host at all
    calibrated: dict[str, Any] | None = None  # a calibration for this host: when, from how many models

    @property
    def differs(self) -> list[dict[str, Any]]:
        if self.record is None or not self.record.complete:
            return []
        return self.here.differences(self.record.fingerprint)

    @property
    def mismatch(self) -> bool | None:
        """True: another CPU kind; False: this one (or calibrated here); None: the record cannot say."""
        if self.calibrated is not None:
            return False
        if self.record is None or not self.record.complete:
            return None
        return bool(self.differs)

    def to_dict(self) -> dict[str, Any]:
        rec = self.record
        return {"here": self.here.to_dict(), "predictor": rec.fingerprint.to_dict() if rec else None,
                "predictor_complete": rec.complete if rec else False, "mismatch": self.mismatch,
                "differs": self.differs, "calibrated": self.calibrated, "summary": self.summary()}

    def summary(self) -> str:
        """One line for a person."""
        if self.calibrated is not None:
            c = self.calibrated
            return (f"calibrated for this CPU ({self.here.describe()}) on {c.get('when', '?')} from "
                    f"{c.get('models', '?')} models measured here")
        if self.record is None:
            return (f"the predictor records no CPU; this is {self.here.describe()}: the latency may be for another "
                    "CPU (run `perfsage calibrate cpu-litert`)")
        there = self.record.fingerprint
        if self.mismatch is None:
            return (f"trained on labels from a CPU not fully recorded ({there.model_name}, LiteRT "
                    f"{there.litert or '?'}); this is {self.here.describe()}: cannot confirm it is the same kind, "
                    "intervals withheld (run `perfsage calibrate cpu-litert`)")
        if self.mismatch:
            what = "; ".join(_difference_words(d) for d in self.differs)
            return (f"trained for another CPU ({there.describe()}); this is {self.here.describe()} ({what}): "
                    "intervals withheld (run `perfsage calibrate cpu-litert`)")
        return f"trained on this CPU kind ({self.here.describe()})"


def _difference_words(d: dict[str, Any]) -> str:
    if d["field"] == "isa":
        parts = ([f"+{', +'.join(d['only_here'])} here"] if d["only_here"] else []) + \
            ([f"{', '.join(d['only_there'])} there only"] if d["only_there"] else [])
        return "ISA " + ", ".join(parts)
    return f"{d['field']} {d['here']} here, {d['there']} there"


def record_from_provenance(provenances: list[dict[str, Any]]) -> HostRecord:
    """The host record of a predictor trained on these labels: complete when every label carries the same
    fingerprint; otherwise what older labels say (the CPU's model name, the tool's version)."""
    from collections import Counter

    prints = [p.get("host_fingerprint") for p in provenances]
    if prints and all(prints):
        kinds = Counter(HostFingerprint.from_dict(f).key for f in prints)
        first = HostFingerprint.from_dict(prints[0])
        if len(kinds) == 1:
            return HostRecord(first, True, f"{len(prints):,} labels, all measured on this CPU kind")
        return HostRecord(first, False, f"labels from {len(kinds)} CPU kinds: the predictor mixes them")
    name = Counter(str(p.get("cpu", "")) for p in provenances).most_common(1)
    version = Counter(str(p.get("version", "")) for p in provenances).most_common(1)
    fp = HostFingerprint(arch="", vendor="", model_name=name[0][0] if name else "", family_model="", isa=(),
                         cores=0, litert=version[0][0] if version else "")
    return HostRecord(fp, False, "labels measured before host fingerprints were recorded: only the CPU's model "
                                 "name and the LiteRT version are known")
