"""Compressed variants: architectures of the other spaces with the weights compressed models have.

Ethos-U stores weights through Vela's lossless encoder, so a model's flash, and the weight traffic that
sets much of its latency, depend on the weight values: pruned, clustered and low-bit models (UDC, Fedorov
et al., NeurIPS 2022; Arm's own tooling advises pruning and clustering) take a fraction of what the same
graph with dense weights takes. Every other space draws dense uniform int8 weights. Each model here
samples an architecture from another space (a base seed clear of that space's own dataset rows), redraws
its weights as trained models hold them (bell-shaped per channel, quantised by the channel's max; a
share keeps the uniform draw) and applies one compression recipe (perfsage.compress):

- `dense`: the trained-like weights alone;
- `prune`: unstructured magnitude pruning, 20-95% of each layer;
- `cluster`: palettisation to 2-256 levels (log-uniform), per tensor or per output channel;
- `prune_cluster`: both, zeros kept as one of the levels;
- `2:4`: 2:4 structured sparsity along the input depth (depthwise layers stay dense), sometimes clustered;
- `bits`: 2-7 effective bits, as a low-bit model converted to int8 stores them;
- `mixed`: each weighted layer draws its own family and settings (UDC's per-layer search).

The first weighted layer is often left dense, as practice has it. Per-layer draws come from
`layer_seed`, so (arch, seed) still determines the bytes, and the recipe is in the row's arch.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from perfsage.compress.model import compress_model, weighted_layers
from perfsage.compress.recipe import LayerRecipe, Recipe
from perfsage.spaces.base import DERIVED_FROM, ArchSpec, Space, build_base, choice, draw_base, union_size_log10

BASE_SEED_OFFSET = 1 << 21  # clear of the base spaces' own dataset seeds and of the converter space's
FAMILIES = ("dense", "prune", "cluster", "prune_cluster", "2:4", "bits", "mixed")
FAMILY_P = (0.13, 0.2, 0.15, 0.15, 0.1, 0.12, 0.15)
LAYER_FAMILIES = ("dense", "prune", "cluster", "prune_cluster", "2:4", "bits")
DEPTHWISE_FAMILIES = tuple(f for f in LAYER_FAMILIES if f != "2:4")  # no input depth to group
TRAINED_P = 0.85  # the share of models whose dense weights are redrawn trained-like
# the trained draw's generalised-normal shape per tensor, uniform in this range: fitted to each of the 816
# dense weight tensors of 14 trained models, p10 0.86, p50 1.47, p90 1.90 (docs/results/weight_distributions.md)
DRAW_SHAPE = (0.85, 1.9)


def _clusters(rng: np.random.Generator) -> int:
    return round(float(np.exp(rng.uniform(np.log(2), np.log(256)))))


def layer_recipe(rng: np.random.Generator, family: str, draw: str, shape: float) -> LayerRecipe:
    """One layer's settings for a family, drawn from rng."""
    base = LayerRecipe(draw=draw, draw_shape=shape)
    if family == "prune":
        return LayerRecipe(draw=draw, draw_shape=shape, sparsity=round(float(rng.uniform(0.2, 0.95)), 3))
    if family == "cluster":
        return LayerRecipe(draw=draw, draw_shape=shape, clusters=_clusters(rng),
                           cluster_per_channel=bool(rng.random() < 0.2))
    if family == "prune_cluster":
        return LayerRecipe(draw=draw, draw_shape=shape, sparsity=round(float(rng.uniform(0.2, 0.9)), 3),
                           clusters=max(_clusters(rng), 3))
    if family == "2:4":
        return LayerRecipe(draw=draw, draw_shape=shape, structured="2:4",
                           clusters=_clusters(rng) if rng.random() < 0.3 else 0)
    if family == "bits":
        return LayerRecipe(draw=draw, draw_shape=shape, bits=int(rng.integers(2, 8)))
    return base


class CompressedSpace(Space):
    name = "compressed"
    task = "compressed variants"
    dry_buildable = False  # the compression recipe rewrites weight values
    description = ("architectures of the other dataset spaces with trained-like weights and a compression "
                   "recipe: magnitude pruning, palettisation, both, 2:4 sparsity, fewer bits, or per-layer mixes")

    def sample(self, seed: int) -> ArchSpec:
        rng = self.sample_rng(seed)
        base = draw_base(rng, BASE_SEED_OFFSET)
        family = FAMILIES[int(rng.choice(len(FAMILIES), p=FAMILY_P))]
        trained = bool(rng.random() < TRAINED_P)
        return ArchSpec(self.name, {
            **base,
            "family": family, "draw": "trained" if trained else "keep",
            "dense_first": bool(rng.random() < 0.5), "layer_seed": int(rng.integers(1 << 31))})

    def recipe(self, arch: ArchSpec, weighted: list[tuple[int, str]]) -> Recipe:
        """The per-layer recipe of `arch` over the model's weighted operators ((index, kind) each): each
        layer its own trained-like draw shape, and in the mixed family its own compression."""
        a = arch.arch
        rng = np.random.default_rng(int(a["layer_seed"]))
        draw, trained = a["draw"], a["draw"] == "trained"
        default = layer_recipe(rng, "dense" if a["family"] == "mixed" else a["family"], draw, 1.0)
        layers: dict[str, LayerRecipe] = {}
        for k, (index, kind) in enumerate(weighted):
            shape = round(float(rng.uniform(*DRAW_SHAPE)), 3)
            if a["family"] == "mixed":
                family = choice(rng, DEPTHWISE_FAMILIES if kind == "depthwise" else LAYER_FAMILIES)
                layer = layer_recipe(rng, family, draw, shape)
            else:
                layer = replace(default, draw_shape=shape)
                if kind == "depthwise" and layer.structured:  # no input depth to group: dense there
                    layer = replace(layer, structured=None)
            if k == 0 and a["dense_first"]:
                layer = LayerRecipe(draw=draw, draw_shape=shape)
            if trained or layer != default:
                layers[str(index)] = layer
        return Recipe(default, layers)

    def build(self, arch: ArchSpec, seed: int = 0) -> bytes:
        from perfsage.graph import load_graph
        from perfsage.graph.ops import spec

        data = build_base(arch.arch, seed)
        graph = load_graph(data)
        weighted = [(node.index, spec(node.op).kind) for node, _ in weighted_layers(graph)]
        out, _ = compress_model(data, self.recipe(arch, weighted), seed=seed, graph=graph)
        return out

    def choices(self) -> dict[str, Any]:
        return {"base space": list(DERIVED_FROM), "family": dict(zip(FAMILIES, FAMILY_P, strict=True)),
                "trained-like weights": TRAINED_P, "draw shape per tensor (uniform)": list(DRAW_SHAPE),
                "sparsity": "0.2-0.95 (prune), 0.2-0.9 (with clusters)", "clusters": "2-256, log-uniform",
                "bits": "2-7", "first weighted layer dense": 0.5}

    def size_log10(self) -> float:
        """The base spaces' union times the recipe families; continuous settings are not counted."""
        union = union_size_log10(DERIVED_FROM)
        return float(union + np.log10(len(FAMILIES)))
