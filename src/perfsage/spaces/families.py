"""Architecture families: which published macro-structures a space's model is built from.

A family is how blocks are stacked into a network (MobileNetV2's inverted residuals, SqueezeNet's fire
modules, ...), not an operator pattern on its own. The leave-one-family-out protocol
(`benchmarks/accuracy.py --splits leave-family-out:F`) trains without every model of family F, whichever
space drew it (a task space, a stage of `mixed`, the base of `converter`, `compressed` or `precision`),
and scores the zoo's published networks of that family, so a space shaped like one test network cannot
pass the protocol by being in the training data. `randgraph` belongs to no family: its graphs wire the
patterns of every family at random, and learning from patterns rather than families is what the
protocol measures.
"""

from __future__ import annotations

from typing import Any

FAMILIES: dict[str, str] = {
    "inverted_residual": "MobileNetV2/V3-style inverted residuals (MnasNet, MCUNet, EfficientNet, FBNet)",
    "separable": "depthwise-separable stacks (MobileNetV1, DS-CNN)",
    "resnet": "residual stacks of full convolutions (ResNet, TC-ResNet)",
    "fire": "SqueezeNet fire modules",
    "shuffle": "ShuffleNetV2 units",
    "ghost": "GhostNet bottlenecks",
    "plain": "plain convolution stacks",
    "mlp": "fully connected networks (classifiers, autoencoders)",
    "encoder_decoder": "encoder-decoders with upsampling and skip joins (U-Net, segmentation heads)",
    "nas_cell": "NAS-Bench-201 cells",
}

# the zoo's published networks (perfsage.spaces.zoo) and the family each is scored under
ZOO_FAMILIES: dict[str, str] = {
    "squeezenet1.1": "fire",
    "shufflenetv2-1.0": "shuffle",
    "mnasnet-a1": "inverted_residual",
    "ghostnet-1.0": "ghost",
    "mcunet-in2": "inverted_residual",
    "mlperf-tiny-dscnn": "separable",
    "mlperf-tiny-vww": "separable",
    "mlperf-tiny-resnet8": "resnet",
    "mlperf-tiny-autoencoder": "mlp",
}

_MIXED = {"resnet_basic": "resnet", "resnet_bottleneck": "resnet"}
_BY_SUBFAMILY = {"ds_cnn": "separable", "tc_resnet": "resnet", "mobilenet_v1": "separable", "resnet": "resnet"}


def families_of(space: str, arch: dict[str, Any]) -> set[str]:
    """The families a model of `space` with architecture `arch` is built from (empty: none)."""
    if "base" in arch and isinstance(arch["base"], dict) and "space" in arch["base"]:  # derived spaces
        return families_of(arch["base"]["space"], arch["base"]["arch"])
    if space in ("classification", "detection", "fbnet"):
        return {"inverted_residual"}
    if space == "segmentation":
        return {"inverted_residual", "encoder_decoder"}
    if space in ("kws", "tinyvision"):
        return {_BY_SUBFAMILY[arch["family"]]}
    if space == "unet":
        return {"encoder_decoder"}
    if space == "nasbench201":
        return {"nas_cell"}
    if space == "mixed":
        if arch["kind"] == "mlp":
            return {"mlp"}
        return {_MIXED.get(st["family"], st["family"]) for st in arch["stages"]}
    if space == "randgraph":
        return set()
    raise KeyError(f"no family rule for space {space!r}")


def zoo_members(family: str) -> list[str]:
    """The zoo's networks of `family`."""
    if family not in FAMILIES:
        raise KeyError(f"unknown family {family!r} (choose from {', '.join(FAMILIES)})")
    return [name for name, f in ZOO_FAMILIES.items() if f == family]
