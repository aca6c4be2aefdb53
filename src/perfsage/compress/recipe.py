"""A compression recipe: what to do to each layer's weights, checked before anything is touched.

A recipe has defaults for every weighted layer and overrides per layer, keyed by the operator's index
(as `perfsage inspect` and `predict --per-layer` number them), its weight tensor's name, or an operator
type (`DEPTHWISE_CONV_2D`); an index or name wins over a type, a type over the defaults. As a file
(JSON or TOML):

    sparsity = 0.5            # the defaults
    clusters = 16
    [layers.0]                # operator 0 stays dense
    sparsity = 0.0
    clusters = "none"
    [layers.DEPTHWISE_CONV_2D]
    bits = 4
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from perfsage.errors import PerfsageError

MAX_SPARSITY = 0.95
STRUCTURED = ("2:4",)
WEIGHT_DRAWS = ("keep", "trained")


@dataclass(frozen=True, slots=True)
class LayerRecipe:
    """One layer's compression. Applied in this order: draw, bits, sparsity, structured, clusters."""

    sparsity: float = 0.0  # unstructured magnitude pruning: this share of the weights set to 0 (0-0.95)
    structured: str | None = None  # "2:4": 2 of every 4 weights along the input depth kept
    clusters: int = 0  # palettisation to this many levels (2-256; 0: none, "none" in a file)
    cluster_per_channel: bool = False  # levels per output channel instead of per tensor
    bits: int = 8  # effective bits (2-8): levels per channel as a bits-bit model converted to int8 has
    draw: str = "keep"  # "trained": first replace the values by a trained-like dense draw (synthesis)
    draw_shape: float = 1.0  # the trained draw's generalised-normal shape (2 Gaussian, 1 Laplace)

    def check(self, where: str) -> None:
        if not 0.0 <= self.sparsity <= MAX_SPARSITY:
            raise PerfsageError(f"{where}: sparsity {self.sparsity} is outside 0 to {MAX_SPARSITY}")
        if self.structured not in (None, *STRUCTURED):
            raise PerfsageError(f"{where}: structured sparsity {self.structured!r} is not one of "
                                f"{', '.join(STRUCTURED)}")
        if self.clusters != 0 and not 2 <= self.clusters <= 256:
            shown = 0 if self.clusters == -1 else self.clusters
            raise PerfsageError(f"{where}: clusters {shown} is outside 2 to 256 (a layer table's "
                                "clusters = \"none\" turns a default's clustering off)")
        if not 2 <= self.bits <= 8:
            raise PerfsageError(f"{where}: bits {self.bits} is outside 2 to 8")
        if self.draw not in WEIGHT_DRAWS:
            raise PerfsageError(f"{where}: weight draw {self.draw!r} is not one of {', '.join(WEIGHT_DRAWS)}")
        if not 0.2 <= self.draw_shape <= 4.0:
            raise PerfsageError(f"{where}: draw shape {self.draw_shape} is outside 0.2 to 4")

    @property
    def identity(self) -> bool:
        return self == LayerRecipe()

    @property
    def prunes(self) -> bool:
        return self.sparsity > 0 or self.structured is not None


@dataclass(frozen=True)
class Recipe:
    default: LayerRecipe = LayerRecipe()
    layers: dict[str, LayerRecipe] = field(default_factory=dict)  # operator index, tensor name or op type

    def __post_init__(self) -> None:
        self.default.check("recipe")
        for key, layer in self.layers.items():
            layer.check(f"recipe layer {key}")

    def for_layer(self, index: int, tensor_name: str, op: str) -> LayerRecipe:
        for key in (str(index), tensor_name):
            if key in self.layers:
                return self.layers[key]
        return self.layers.get(op, self.default)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, defaults left out (the form a dataset row's provenance keeps)."""
        out = changed_settings(self.default, LayerRecipe())
        if self.layers:
            out["layers"] = {k: changed_settings(v, self.default) for k, v in self.layers.items()}
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "recipe") -> Recipe:
        if not isinstance(d, dict):
            raise PerfsageError(f"{where}: expected a table of settings, got {type(d).__name__}")
        d = dict(d)
        layers = d.pop("layers", {}) or {}
        if not isinstance(layers, dict):
            raise PerfsageError(f"{where}: 'layers' must be a table keyed by operator index, tensor name or type")
        default = _layer(d, LayerRecipe(), where)
        return cls(default, {str(k): _layer(v, default, f"{where} layer {k}") for k, v in layers.items()})


def changed_settings(layer: LayerRecipe, base: LayerRecipe) -> dict[str, Any]:
    """The settings of layer that differ from base (what a recipe file or a provenance needs to say)."""
    return {k: v for k, v in asdict(layer).items() if getattr(base, k) != v}


_FIELDS = {f.name for f in fields(LayerRecipe)}


def _layer(d: Any, base: LayerRecipe, where: str) -> LayerRecipe:
    """A layer's settings over `base`: a layer table names only what differs from the defaults."""
    if not isinstance(d, dict):
        raise PerfsageError(f"{where}: expected a table of settings, got {type(d).__name__}")
    unknown = sorted(set(d) - _FIELDS)
    if unknown:
        raise PerfsageError(f"{where}: unknown setting {', '.join(unknown)} (known: {', '.join(sorted(_FIELDS))})")
    try:
        typed = {k: _typed(k, v) for k, v in d.items()}
    except (TypeError, ValueError):
        raise PerfsageError(f"{where}: a setting has the wrong type ({d})") from None
    return replace(base, **typed)


def _typed(name: str, v: Any) -> Any:
    if name == "clusters" and v == "none":
        return 0
    if name in ("clusters", "bits"):
        if isinstance(v, bool) or float(v) != int(v):
            raise ValueError(name)
        if name == "clusters" and int(v) == 0:  # 0 is the field's "none", but no level count a user means
            return -1
        return int(v)
    if name in ("sparsity", "draw_shape"):
        if isinstance(v, bool):
            raise ValueError(name)
        return float(v)
    if name == "cluster_per_channel":
        if not isinstance(v, bool):
            raise ValueError(name)
        return v
    if name == "structured":
        return None if v in (None, "", "none") else str(v)
    return str(v)


def load_recipe(path: str | Path) -> Recipe:
    """A recipe file: JSON (.json) or TOML (anything else)."""
    path = Path(path)
    if not path.is_file():
        raise PerfsageError(f"{path}: no such recipe file")
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        d = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as e:
        kind = "JSON" if path.suffix == ".json" else "TOML"
        raise PerfsageError(f"{path}: not a valid {kind} recipe ({e})") from None
    return Recipe.from_dict(d, str(path))
