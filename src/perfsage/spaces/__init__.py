"""Search spaces and the direct int8 .tflite writer.

The registry maps a space name to its class; spaces are imported lazily so that listing them stays cheap.
"""

from __future__ import annotations

from functools import cache
from importlib import import_module

from perfsage.errors import PerfsageError
from perfsage.spaces.base import GENERATOR_VERSION, ArchSpec, Space

_REGISTRY: dict[str, str] = {
    "classification": "perfsage.spaces.classification:ClassificationSpace",
    "detection": "perfsage.spaces.detection:DetectionSpace",
    "kws": "perfsage.spaces.kws:KeywordSpottingSpace",
    "segmentation": "perfsage.spaces.segmentation:SegmentationSpace",
    "nasbench201": "perfsage.spaces.nasbench201:NASBench201Space",
    "fbnet": "perfsage.spaces.fbnet:FBNetSpace",
    "mixed": "perfsage.spaces.mixed:MixedBlocksSpace",
    "converter": "perfsage.spaces.converter:ConverterStyleSpace",
    "unet": "perfsage.spaces.unet:UNetSpace",
    "tinyvision": "perfsage.spaces.tinyvision:TinyVisionSpace",
    "randgraph": "perfsage.spaces.randgraph:RandomGraphSpace",
    "compressed": "perfsage.spaces.compressed:CompressedSpace",
    "precision": "perfsage.spaces.precision:PrecisionSpace",
}
TASK_SPACES = ("classification", "detection", "kws", "segmentation")


def space_names() -> list[str]:
    return list(_REGISTRY)


@cache
def get_space(name: str) -> Space:
    path = _REGISTRY.get(name)
    if path is None:
        raise PerfsageError(f"unknown space {name!r} (choose from {', '.join(_REGISTRY)})")
    module, cls = path.split(":")
    return getattr(import_module(module), cls)()


__all__ = ["GENERATOR_VERSION", "TASK_SPACES", "ArchSpec", "Space", "get_space", "space_names"]
