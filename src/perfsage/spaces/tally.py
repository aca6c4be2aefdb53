"""A builder that counts instead of writing: MACs, parameters, the largest tensor and the operators.

Spaces with size caps draw an architecture, run its build through this builder (no weights drawn, no
flatbuffer written) and redraw, or stop growing it, when a cap is passed. MACs follow Vela's convention,
as `perfsage.graph.ops.count_macs` counts them.
"""

from __future__ import annotations

from math import prod

from perfsage.spaces.builder import _INT8, _INT32, ModelBuilder

_POOLS = ("AVERAGE_POOL_2D", "MAX_POOL_2D")
_UNARY = ("RELU", "RELU6", "LOGISTIC", "TANH", "HARD_SWISH")


class TallyBuilder(ModelBuilder):
    def __init__(self) -> None:
        super().__init__(0)
        self.macs = self.params = self.max_tensor = 0

    def _weights(self, shape, channels, fan_in, axis, kind, x, bias=True):
        self.params += prod(shape) + (channels if bias else 0)
        w = self._tensor(shape, _INT8, f"{kind}/weights")
        return w, (self._tensor((channels,), _INT32, f"{kind}/bias") if bias else -1)

    def _op(self, name, inputs, outputs, options_table=None, options=None, version=None) -> None:
        super()._op(name, inputs, outputs, options_table, options, version)
        out = prod(self.tensors[outputs[0]].shape)
        self.max_tensor = max(self.max_tensor, *(prod(self.tensors[o].shape) for o in outputs))
        if name in ("CONV_2D", "TRANSPOSE_CONV"):
            self.macs += prod(self.tensors[inputs[1]].shape[1:]) * out
        elif name == "DEPTHWISE_CONV_2D":
            self.macs += prod(self.tensors[inputs[1]].shape[1:3]) * out
        elif name == "FULLY_CONNECTED":
            self.macs += self.tensors[inputs[1]].shape[-1] * out
        elif name in _POOLS:
            self.macs += options["filter_h"] * options["filter_w"] * out
        elif name == "MEAN":
            self.macs += prod(self.tensors[inputs[0]].shape)
        elif name in _UNARY:
            self.macs += out
        elif name == "SOFTMAX":
            self.macs += 2 * out

    @property
    def ops(self) -> int:
        return len(self.operators)

    def mark(self) -> tuple[int, ...]:
        """The state to `rewind` to: a space that grows a model piece by piece takes back a piece that
        passed a cap."""
        return (self.macs, self.params, self.max_tensor, len(self.operators), len(self.tensors),
                len(self.buffers))

    def rewind(self, mark: tuple[int, ...]) -> None:
        self.macs, self.params, self.max_tensor = mark[:3]
        del self.operators[mark[3]:], self.tensors[mark[4]:], self.buffers[mark[5]:], self._sizes[mark[5]:]
