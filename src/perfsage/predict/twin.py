"""Compressed models predicted through their dense twin: the twin's total less what compression saves.

A predictor is most precise on dense models: that is where nearly all its labels are. For a compressed
model (pruned, palettised, low-bit: perfsage.predict.whatif.looks_compressed), an additive metric can be
read as the dense twin's value (the same graph with trained-like dense weights) less what compression
saves, and the saving can come from a predictor that learned it better. Ethos-U flash is the case:
every Ethos-U55/U65 target stores weights through the same lossless codec, so compression saves the same
bytes on each, but only a Shared_Sram target (ethos-u55-128) has per-operator flash labels, its flash
being the weight streams; a Dedicated_Sram target's flash (ethos-u65-256) mixes weights with feature
maps spilled to DRAM and is labelled by its total only. Its network under-reads the codec's saving
(compressed test models 8.4% flash MAPE), where its dense twin less the ethos-u55-128 network's saving
reads 4.5% (docs/research-log.md, 2026-12-06).

Which metric of which predictor is read this way is decided per predictor on validation models and kept
in its folder's twin.json (scripts/choose_twin.py), so dense models are never affected.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

TWIN_FILE = "twin.json"


@dataclass(frozen=True, slots=True)
class TwinRule:
    """metric of a compressed model = own(dense twin) - (saver(dense twin) - saver(model))."""

    metric: str
    saving_from: str  # the predictor (shipped target name) whose response to compression is used
    chosen_on: dict[str, Any]  # the validation numbers that decided it

    def to_dict(self) -> dict[str, Any]:
        return {"saving_from": self.saving_from, "chosen_on": self.chosen_on}


def load_rules(folder: Path) -> list[TwinRule]:
    path = Path(folder) / TWIN_FILE
    if not path.is_file():
        return []
    raw = json.loads(path.read_text())
    return [TwinRule(m, r["saving_from"], r.get("chosen_on", {})) for m, r in sorted(raw.items())]


def save_rules(folder: Path, rules: list[TwinRule]) -> None:
    path = Path(folder) / TWIN_FILE
    if not rules:
        path.unlink(missing_ok=True)
        return
    path.write_text(json.dumps({r.metric: r.to_dict() for r in rules}, indent=1, sort_keys=True) + "\n")


def compose(own_twin: np.ndarray, saver_twin: np.ndarray, saver_model: np.ndarray,
            own_model: np.ndarray) -> np.ndarray:
    """The twin's value less the saving; where a saving as large as the twin's value leaves nothing
    (the two networks disagree beyond the metric's size), the model's own prediction stands."""
    out = np.asarray(own_twin, dtype=np.float64) - (np.asarray(saver_twin) - np.asarray(saver_model))
    return np.where(out > 0, out, np.asarray(own_model, dtype=np.float64))
