"""The real-device latency tables (HELP's release as CSV, see shared/data/README.md) and HELP's splits.

Facts from HELP (Lee et al., NeurIPS 2021) as the data README records them: which devices are
meta-train / meta-validation / meta-test per space, the training pool (the first 900 NAS-Bench-201 or
4,000 FBNet indices), the test set (the next 1,000), both with the 10% fastest and 10% slowest
architectures of each device dropped, and the 10 reference architectures whose latencies embed a device.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from perfsage.errors import PerfsageError

META_TRAIN = {
    "nasbench201": ("1080ti_1", "1080ti_32", "1080ti_256", "silver_4114", "silver_4210r", "samsung_a50", "pixel3",
                    "essential_ph_1", "samsung_s7"),
    "fbnet": ("1080ti_1", "1080ti_32", "1080ti_64", "silver_4114", "silver_4210r", "samsung_a50", "pixel3",
              "essential_ph_1", "samsung_s7"),
}
META_VAL = {"nasbench201": ("titanx_1", "titanx_32", "titanx_256", "gold_6240"),
            "fbnet": ("titanx_1", "titanx_32", "titanx_64", "gold_6240")}
META_TEST = {"nasbench201": ("titan_rtx_256", "gold_6226", "fpga", "pixel2", "raspi4", "eyeriss"),
             "fbnet": ("fpga", "raspi4", "eyeriss")}
REFERENCE = {"nasbench201": (11982, 431, 55, 9, 14451, 8636, 9881, 13479, 6196, 1462),
             "fbnet": (3328, 3790, 3313, 890, 3052, 2538, 1640, 2514, 457, 2100)}
POOL = {"nasbench201": 900, "fbnet": 4000}
N_TEST = 1000
TRIM = 0.1
# HELP README, Table 3 (NAS-Bench-201) and Table 2 (FBNet): Spearman on the meta-test devices.
PUBLISHED = {
    "nasbench201": {
        "FLOPs": {"titan_rtx_256": 0.950, "gold_6226": 0.826, "pixel2": 0.765, "raspi4": 0.846, "eyeriss": 0.437,
                  "fpga": 0.900},
        "BRP-NAS (900 samples)": {"titan_rtx_256": 0.814, "gold_6226": 0.796, "pixel2": 0.666, "raspi4": 0.847,
                                  "eyeriss": 0.811, "fpga": 0.801},
        "HELP (10 samples)": {"titan_rtx_256": 0.987, "gold_6226": 0.989, "pixel2": 0.802, "raspi4": 0.890,
                              "eyeriss": 0.940, "fpga": 0.985},
    },
    "fbnet": {"MAML": {"raspi4": 0.718, "eyeriss": 0.763, "fpga": 0.727},
              "Meta-SGD": {"raspi4": 0.821, "eyeriss": 0.822, "fpga": 0.776},
              "HELP (10 samples)": {"raspi4": 0.887, "eyeriss": 0.943, "fpga": 0.892,
                                    "mean": 0.910}},  # as published (the three average 0.907)
}


def shared_data() -> Path:
    """$PERFSAGE_SHARED_DATA, else shared/data beside the checkout (where the project keeps it)."""
    env = os.environ.get("PERFSAGE_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[4] / "shared" / "data"


@dataclass
class LatencyTable:
    space: str
    index: np.ndarray  # int [n]
    arch: list[str]
    latency: dict[str, np.ndarray]  # device -> ms [n], row order = index order
    path: Path | None = None  # the CSV it came from

    @property
    def devices(self) -> list[str]:
        return list(self.latency)

    def column(self, device: str) -> np.ndarray:
        if device not in self.latency:
            raise PerfsageError(f"no device {device!r} in the {self.space} table (devices: "
                                f"{', '.join(self.latency)})")
        return self.latency[device]


def load_table(space: str, path: Path | None = None) -> LatencyTable:
    if space not in POOL:
        raise PerfsageError(f"real-device tables exist for {', '.join(POOL)}, not {space!r}")
    path = path or shared_data() / space / "latency.csv"
    if not path.is_file():
        raise PerfsageError(f"{path}: no such table (set PERFSAGE_SHARED_DATA to the folder holding "
                            f"{space}/latency.csv)")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    devices = [c for c in rows[0] if c not in ("index", "arch")]
    index = np.array([int(r["index"]) for r in rows])
    if not np.array_equal(index, np.arange(len(rows))):
        raise PerfsageError(f"{path}: rows must be in index order 0..n-1")
    return LatencyTable(space, index, [r["arch"] for r in rows],
                        {d: np.array([float(r[d]) for r in rows]) for d in devices}, path)


def trimmed(indices: np.ndarray, latency: np.ndarray, share: float = TRIM) -> np.ndarray:
    """indices without the `share` fastest and `share` slowest on this device, compared in float32 as
    HELP's loader does. Ties (whole-millisecond phones, the 38-value eyeriss column) are kept in index
    order: numpy's default sort breaks them by the CPU's SIMD level (NAS-Bench-201 pixel2's test set
    differs by 11 of 800 architectures between AVX2 and AVX-512), which no protocol may depend on."""
    order = indices[np.argsort(latency[indices].astype(np.float32), kind="stable")]
    n = len(indices)
    return np.sort(order[int(n * share):int(n * (1 - share))])


def help_split(table: LatencyTable, device: str) -> tuple[np.ndarray, np.ndarray]:
    """(training pool, test set) of HELP's protocol for one device."""
    lat = table.column(device)
    pool = POOL[table.space]
    return (trimmed(np.arange(pool), lat), trimmed(np.arange(pool, pool + N_TEST), lat))
