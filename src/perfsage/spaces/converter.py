"""Converter-style variants: architectures of the other spaces, written the way real exporters write them.

Our builders write every model in one canonical form: activations fused wherever TFLite can fuse them,
a bias tensor on every convolution and fully connected layer, a bare transposed convolution. Models
from the wild differ in exactly those places, and a predictor that never saw them mis-reads them
(docs/results/arbitrary_models.md: the TF converter's U-Net, TRANSPOSE_CONV -> standalone RELU, was
off by 39% on Ethos-U65 latency; its classifiers' FULLY_CONNECTED layers carry no bias). Each model here
samples an architecture from another space (mixed 40%, each task space 15%) and a style:

- `unfuse_p` (0, 0.25, 0.5 or 1): the share of layers whose activation is a standalone RELU / RELU6
  operator after a linear convolution, depthwise or fully connected layer (ONNX/PyTorch exports,
  older converters, Keras `Activation` layers);
- `drop_fc_bias_p` (0, 0.5 or 1): the share of fully connected layers written without a bias tensor
  (Keras `use_bias=False`, or the converter dropping an all-zero bias; int8 convolutions always keep
  theirs: LiteRT's kernels require it);
- `tconv_act` (none, RELU or RELU6): an activation after every transposed convolution, as Keras'
  `Conv2DTranspose(activation=...)` converts.

Per-layer draws come from `style_seed`, so (arch, seed) still determines the bytes. The base
architecture's seed is drawn too, never equal to the seeds the base space's own dataset rows use.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np

from perfsage.spaces.base import ArchSpec, Space, choice, union_size_log10
from perfsage.spaces.builder import Act, ModelBuilder

BASE_SPACES = ("mixed", "classification", "detection", "kws", "segmentation")
BASE_P = (0.4, 0.15, 0.15, 0.15, 0.15)
UNFUSE_P = (0.0, 0.25, 0.5, 1.0)
DROP_FC_BIAS_P = (0.0, 0.5, 1.0)
TCONV_ACTS = ("NONE", "RELU", "RELU6")
STANDALONE = ("RELU", "RELU6")  # activations a fused layer may write separately
BASE_SEED_OFFSET = 1 << 20  # base seeds start here, clear of the seeds the base spaces' datasets use


class ConverterStyleBuilder(ModelBuilder):
    """A ModelBuilder that unfuses activations, drops biases and activates transposed convolutions
    per layer, with the shares of `style` and its own random stream (weights draw as usual)."""

    def __init__(self, rng: np.random.Generator, style: dict[str, Any], description: str) -> None:
        super().__init__(rng, description=description)
        self.style = style
        self.layer_rng = np.random.default_rng(int(style["style_seed"]))

    def _draw(self, p: float) -> bool:
        return p >= 1.0 or (p > 0.0 and bool(self.layer_rng.random() < p))

    def fuses(self, op: str, act: str) -> bool:
        return act not in STANDALONE or not self._draw(self.style["unfuse_p"])

    def fc_has_bias(self) -> bool:
        return not self._draw(self.style["drop_fc_bias_p"])

    def transpose_conv(self, x: Act, filters: int, kernel: int = 3, stride: int = 2, padding: str = "SAME",
                       bias: bool = True) -> Act:
        y = super().transpose_conv(x, filters, kernel, stride, padding, bias)
        return self.activation(y, self.style["tconv_act"])


class ConverterStyleSpace(Space):
    name = "converter"
    task = "converter-style variants"
    description = ("architectures of the mixed and task spaces written as exporters write them: standalone "
                   "RELU/RELU6 after a share of layers (0-100%), fully connected layers without a bias "
                   "tensor (0-100%), an activation after transposed convolutions")

    def sample(self, seed: int) -> ArchSpec:
        from perfsage.spaces import get_space

        rng = self.sample_rng(seed)
        base = BASE_SPACES[int(rng.choice(len(BASE_SPACES), p=BASE_P))]
        base_seed = BASE_SEED_OFFSET + int(rng.integers(1 << 30))
        style = {"unfuse_p": choice(rng, UNFUSE_P), "drop_fc_bias_p": choice(rng, DROP_FC_BIAS_P),
                 "tconv_act": choice(rng, TCONV_ACTS),
                 "style_seed": int(rng.integers(1 << 31))}
        return ArchSpec(self.name, {"base": json.loads(get_space(base).sample(base_seed).to_json()),
                                    "base_seed": base_seed, **style})

    def build(self, arch: ArchSpec, seed: int = 0) -> bytes:
        from perfsage.spaces import get_space

        a = arch.arch
        base = get_space(a["base"]["space"])
        style = {k: a[k] for k in ("unfuse_p", "drop_fc_bias_p", "tconv_act", "style_seed")}
        restyled = copy.copy(base)  # the base space's build, through a ConverterStyleBuilder
        restyled.builder = lambda s, note="": ConverterStyleBuilder(  # type: ignore[method-assign]
            base.weight_rng(s), style, f"perfsage converter {base.name} {note}".strip())
        return restyled.build(ArchSpec(base.name, a["base"]["arch"]), seed)

    def choices(self) -> dict[str, Any]:
        return {"base space": dict(zip(BASE_SPACES, BASE_P, strict=True)), "unfuse_p": list(UNFUSE_P),
                "drop_fc_bias_p": list(DROP_FC_BIAS_P),
                "tconv_act": list(TCONV_ACTS), "standalone activations": list(STANDALONE)}

    def size_log10(self) -> float:
        """The base spaces' sizes (weighted by nothing: the union), times the style choices; per-layer
        draws are not counted."""
        union = union_size_log10(BASE_SPACES)
        styles = len(UNFUSE_P) * len(DROP_FC_BIAS_P) * len(TCONV_ACTS)
        return float(union + np.log10(styles))
