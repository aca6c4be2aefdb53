"""A compressed-model expert: a second network, fine-tuned on the `compressed` space, that serves chosen
metrics of compressed-looking models (perfsage.predict.whatif.looks_compressed).

Compressed weights are a tenth of the data (3,000 of 33,000 models), and one network trained on all of
it reads their effect on latency only half-way: Vela's weight fetch shrinks as much for a palette as for
zeros, and the network followed the zeros (ethos-u55-128, 4-level variants of published networks: 18.9%
latency MAPE, the true saving about twice the predicted one). The same network fine-tuned on the
compressed space alone reads it (docs/research-log.md, 2026-12-07). The gate is a rule on the weights,
not learned, so dense models keep the main network and their accuracy exactly.

    <predictor>/compressed/   the expert's checkpoint (any estimator; PerfSAGE in the shipped ones)
    <predictor>/expert.json   {"metrics": [...served...], "chosen_on": {...validation numbers...}}

scripts/train_expert.py trains it and keeps a metric only where the expert beats the main network on
validation models of the compressed space.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EXPERT_DIR = "compressed"
EXPERT_FILE = "expert.json"
COMPRESSED = "compressed"  # the calibration group of compressed-looking models (model.calibration.groups)


@dataclass(slots=True)
class Expert:
    estimator: Any
    metrics: list[str]  # the metrics it serves for compressed-looking models
    chosen_on: dict[str, Any] = field(default_factory=dict)


def load_expert(folder: Path) -> Expert | None:
    from perfsage.model.registry import load_estimator

    info = Path(folder) / EXPERT_FILE
    if not info.is_file() or not (Path(folder) / EXPERT_DIR).is_dir():
        return None
    raw = json.loads(info.read_text())
    if not raw.get("metrics"):
        return None
    return Expert(load_estimator(Path(folder) / EXPERT_DIR), list(raw["metrics"]), raw.get("chosen_on", {}))


def save_expert_choice(folder: Path, metrics: list[str], chosen_on: dict[str, Any]) -> None:
    (Path(folder) / EXPERT_FILE).write_text(
        json.dumps({"metrics": metrics, "chosen_on": chosen_on}, indent=1, sort_keys=True) + "\n")


CARD_SECTION = "## Compressed models"


def serving_note(folder: Path) -> str:
    """The model card's words for how compressed-looking models are served (expert and twin rules)."""
    from perfsage.predict.twin import load_rules

    folder = Path(folder)
    lines = []
    info = folder / EXPERT_FILE
    if info.is_file():
        raw = json.loads(info.read_text())
        c = raw.get("chosen_on", {})
        served = raw.get("metrics", [])
        val_main, val_exp = c.get("validation_mape_main", {}), c.get("validation_mape_expert", {})
        lines.append(
            f"- **Expert**: for models whose weights look pruned or palettised, {', '.join(served) or 'nothing'} "
            f"come from a network fine-tuned on the `{c.get('space', 'compressed')}` space "
            f"({c.get('train_models', '?')} training models, {c.get('seconds', '?')} s, `{c.get('how', '')}`). "
            f"Validation MAPE ({c.get('validation_models', '?')} models), main → expert: "
            + ", ".join(f"{m} {val_main.get(m, float('nan')):.2f} → {val_exp.get(m, float('nan')):.2f}"
                        for m in val_main) + "; test: "
            + ", ".join(f"{m} {c.get('test_mape_main', {}).get(m, float('nan')):.2f} → "
                        f"{c.get('test_mape_expert', {}).get(m, float('nan')):.2f}" for m in val_main) + ".")
    for r in load_rules(folder):
        c = r.chosen_on
        lines.append(f"- **Dense twin**: {r.metric} of a compressed model is this network's value for the model "
                     f"with dense weights less the saving `{r.saving_from}` reads (validation MAPE on "
                     f"{c.get('validation_compressed_models', '?')} compressed models "
                     f"{c.get('mape_direct', float('nan')):.2f} → {c.get('mape_twin', float('nan')):.2f}).")
    if not lines:
        return ""
    return f"{CARD_SECTION}\n\n" + "\n".join(lines) + "\n"


def update_card(folder: Path) -> None:
    """Rewrites the model card's compressed-models section from the folder's expert and twin files."""
    card = Path(folder) / "MODEL_CARD.md"
    if not card.is_file():
        return
    text = card.read_text()
    head = text.split(f"\n{CARD_SECTION}\n", 1)[0].rstrip("\n") + "\n"
    note = serving_note(folder)
    card.write_text(head + (f"\n{note}" if note else ""))


def calibrate_compressed(folder: Path, graphs: list, y: dict, level: float | None = None) -> dict[str, float]:
    """Bounds of their own for compressed-looking models, from held-out ones predicted as `predict` serves them
    (the expert where it serves); written into the predictor's calibration as the `compressed` group.
    Distance bands would mislead here: these models' errors come from their weight values, which the
    embedding barely separates (docs/research-log.md, 2026-12-07). Returns how many graphs it used."""
    from dataclasses import replace

    import numpy as np

    from perfsage.model.calibration import LEVEL, Calibration, fit_calibration
    from perfsage.predict.predictor import Predictor
    from perfsage.predict.whatif import looks_compressed

    cal = Calibration.load(folder)
    picked = [k for k, g in enumerate(graphs) if looks_compressed(g)]
    if cal is None or not picked:
        return {"models": 0}
    pred = Predictor.load(folder).network_totals([graphs[k] for k in picked])
    bounds = fit_calibration({m: pred[m] for m in y}, {m: np.asarray(y[m])[picked] for m in y},
                             level or LEVEL).log_bounds
    replace(cal, groups={**cal.groups, COMPRESSED: bounds}).save(folder)
    return {"models": len(picked)}
