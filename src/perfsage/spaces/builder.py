"""Write fully-int8 .tflite models directly (no TensorFlow).

`ModelBuilder` is a small layer API (conv2d, depthwise, add, concat, ...) that computes output shapes,
assigns quantisation by the rules in `perfsage.spaces.quant`, draws random weights from its seeded
generator, and serialises a schema-version-3 model with file identifier TFL3 (`tflite_writer`). The
same seed always gives the same bytes. It writes what the TFLite converter writes: operator versions
as the converter sets them for int8, per-channel symmetric weights (conv, transposed conv and FC on
dimension 0, depthwise on dimension 3), int32 biases at input scale x weight scale, buffer 0 empty,
16-byte aligned buffers. Here every activation tensor points at buffer 0 (the converter gives each
its own empty buffer; both are valid, ours is smaller).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import numpy as np
from ai_edge_litert import schema_py_generated as s

from perfsage.graph import schema
from perfsage.graph.ir import Graph, Node, Quantization, Tensor
from perfsage.graph.ops import spec
from perfsage.spaces import quant as Q
from perfsage.spaces.quant import QParams
from perfsage.spaces.tflite_writer import ModelRecord, OperatorRecord, TensorRecord, pack_model

# Operator versions the TFLite converter writes for int8 models (measured with TF 2.21; see
# docs/notes/converter_facts.md). Keyed by builtin name; `_version()` handles the variants.
OP_VERSIONS: dict[str, int] = {
    "CONV_2D": 3, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 4, "ADD": 2, "MUL": 2, "SUB": 2,
    "AVERAGE_POOL_2D": 2, "MAX_POOL_2D": 2, "MEAN": 2, "SOFTMAX": 2, "LOGISTIC": 2, "TANH": 2,
    "HARD_SWISH": 1, "RELU": 2, "RELU6": 2, "LEAKY_RELU": 2, "CONCATENATION": 2, "RESHAPE": 1,
    "PAD": 2, "RESIZE_BILINEAR": 2, "RESIZE_NEAREST_NEIGHBOR": 2, "TRANSPOSE_CONV": 3, "SPLIT": 2,
    "QUANTIZE": 2, "TRANSPOSE": 4,
}


@dataclass(frozen=True, slots=True)
class Act:
    """An activation tensor handle: index in the subgraph, NHWC (or N,C) shape, quantisation."""

    index: int
    shape: tuple[int, ...]
    q: QParams

    @property
    def channels(self) -> int:
        return self.shape[-1]


def _pair(v: int | Sequence[int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def conv_out(size: int, kernel: int, stride: int, padding: str, dilation: int = 1) -> int:
    if padding == "SAME":
        return -(-size // stride)
    return (size - (kernel - 1) * dilation - 1) // stride + 1


_INT8 = s.TensorType.INT8
_INT32 = s.TensorType.INT32
_QARRAYS: dict[QParams, tuple[np.ndarray, np.ndarray]] = {}
_DRY_QUANT: dict[int, tuple[np.ndarray, np.ndarray]] = {}
_DRY: ContextVar[bool] = ContextVar("perfsage_dry_build", default=False)


@contextmanager
def dry_build() -> Iterator[None]:
    """Inside it, a space's `build` returns the graph IR of the model instead of its bytes, without
    drawing or storing weight values: the shapes, operators and options are the same, and each weight
    tensor carries the statistics of the uniform int8 values the real build would store
    (`quant.uniform_weight_stats`). A search reads thousands of candidates this way; only the designs
    it reports are written as .tflite."""
    token = _DRY.set(True)
    try:
        yield
    finally:
        _DRY.reset(token)


class ModelBuilder:
    """Builds one int8 model. Methods take and return `Act`s; `finish()` returns the .tflite bytes."""

    def __init__(self, seed: int | np.random.Generator, name: str = "main",
                 description: str = "perfsage") -> None:
        self.rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self.name = name
        self.description = description
        self.tensors: list[TensorRecord] = []
        self.buffers: list[bytes] = [b""]  # buffer 0: empty, shared by every activation tensor
        self.operators: list[OperatorRecord] = []
        self.opcodes: dict[tuple[int, int], int] = {}
        self.inputs: list[int] = []
        self._counter = 0
        self._weight_pool: Q.WeightPool | None = None
        self.dry = _DRY.get()  # see dry_build
        self._sizes: list[int] = [0]  # bytes of each buffer's data
        self._stats: dict[int, object] = {}  # dry build: tensor index -> WeightStats of its values

    # ---------------------------------------------------------------- tensors
    def _name(self, kind: str) -> str:
        self._counter += 1
        return f"{kind}_{self._counter}"

    def _tensor(self, shape: Sequence[int], dtype: int, name: str, buffer: int = 0,
                scale: np.ndarray | float | None = None, zero_point: np.ndarray | int | None = None,
                axis: int = 0) -> int:
        sc = zp = None
        if isinstance(scale, np.ndarray) and isinstance(zero_point, np.ndarray) and scale.ndim == 1:
            sc, zp = scale, zero_point  # already the record's arrays (a dry build's shared ones)
        elif scale is not None:
            sc = np.atleast_1d(np.asarray(scale, dtype=np.float32))
            zp = (np.zeros(sc.shape, np.int64) if zero_point is None
                  else np.atleast_1d(np.asarray(zero_point, dtype=np.int64)))
        self.tensors.append(TensorRecord(tuple(int(d) for d in shape), dtype, buffer, name, sc, zp, axis))
        return len(self.tensors) - 1

    def _act(self, shape: Sequence[int], q: QParams, kind: str) -> Act:
        shape = tuple(int(d) for d in shape)
        arrays = _QARRAYS.get(q)
        if arrays is None:  # activation quantisation is shared by many tensors: build its arrays once
            arrays = _QARRAYS[q] = (np.array([q.scale], np.float32), np.array([q.zero_point], np.int64))
        self.tensors.append(TensorRecord(shape, _INT8, 0, self._name(kind), *arrays))
        return Act(len(self.tensors) - 1, shape, q)

    def _const(self, data: np.ndarray, dtype: int, name: str, scale=None, zero_point=None,
               axis: int = 0) -> int:
        self.buffers.append(np.ascontiguousarray(data).tobytes())  # small but for weights, which a dry build skips
        self._sizes.append(data.nbytes)
        return self._tensor(data.shape, dtype, name, len(self.buffers) - 1, scale, zero_point, axis)

    def _dry_const(self, shape: tuple[int, ...], itemsize: int, dtype: int, name: str, channels: int,
                   axis: int) -> int:
        """A constant of a dry build: its size and per-channel quantisation, no values."""
        self.buffers.append(b"")
        self._sizes.append(math.prod(shape) * itemsize)
        arrays = _DRY_QUANT.get(channels)
        if arrays is None:  # placeholders no reader of the IR looks into: one pair per channel count
            arrays = _DRY_QUANT[channels] = (np.ones(channels, np.float32), np.zeros(channels, np.int64))
        return self._tensor(shape, dtype, name, len(self.buffers) - 1, *arrays, axis)

    def _int32(self, values: Sequence[int] | np.ndarray, name: str) -> int:
        return self._const(np.asarray(values, dtype=np.int32), _INT32, name)

    def _op(self, name: str, inputs: Sequence[int], outputs: Sequence[int],
            options_table: str | None = None, options: dict | None = None,
            version: int | None = None) -> None:
        key = (getattr(s.BuiltinOperator, name), version or OP_VERSIONS[name])
        if key not in self.opcodes:
            self.opcodes[key] = len(self.opcodes)
        self.operators.append(OperatorRecord(self.opcodes[key], tuple(inputs), tuple(outputs),
                                             options_table, options or {}))

    def _weights(self, shape: tuple[int, ...], channels: int, fan_in: int, axis: int, kind: str,
                 x: Act, bias: bool = True) -> tuple[int, int]:
        """(weight tensor, bias tensor or -1): per-channel symmetric int8, int32 bias."""
        if self.dry:
            w = self._dry_const(shape, 1, _INT8, f"{kind}/weights", channels, axis)
            self._stats[w] = Q.uniform_weight_stats(shape)
            return w, (self._dry_const((channels,), 4, _INT32, f"{kind}/bias", channels, 0) if bias else -1)
        w_scale = Q.weight_scales(self.rng, channels, fan_in)
        if self._weight_pool is None:
            self._weight_pool = Q.WeightPool(self.rng)
        w = self._const(self._weight_pool.take(shape), _INT8, f"{kind}/weights",
                        w_scale, np.zeros(channels, np.int64), axis)
        if not bias:
            return w, -1
        b_scale = (x.q.scale * w_scale.astype(np.float64)).astype(np.float32)
        b = self._const(Q.random_bias(self.rng, b_scale), _INT32, f"{kind}/bias",
                        b_scale, np.zeros(channels, np.int64), 0)
        return w, b

    # ---------------------------------------------------------------- style
    def fuses(self, op: str, act: str) -> bool:
        """Whether `op` carries activation `act` fused (always, here) or is followed by a standalone
        activation operator; `perfsage.spaces.converter` varies this per layer."""
        return True

    def fc_has_bias(self) -> bool:
        """Whether the next fully connected layer gets a bias tensor (always, here); the TF converter
        drops all-zero ones. Convolutions always keep theirs: LiteRT's int8 kernels require it."""
        return True

    # ---------------------------------------------------------------- layers
    def input(self, shape: Sequence[int], q: QParams = Q.INPUT, name: str = "input") -> Act:
        shape = tuple(int(d) for d in shape)
        i = self._tensor(shape, _INT8, name, 0, q.scale, q.zero_point)
        self.inputs.append(i)
        return Act(i, shape, q)

    def conv2d(self, x: Act, filters: int, kernel: int | Sequence[int] = 3, stride: int | Sequence[int] = 1,
               padding: str = "SAME", act: str = "NONE", dilation: int = 1, groups: int = 1) -> Act:
        """CONV_2D; `groups` > 1 is written as SPLIT + one CONV_2D per group + CONCATENATION, the form
        Ethos-U and TFLite Micro run (TFLite's native grouped CONV_2D is CPU-only on both)."""
        if groups > 1:
            parts = self.split(x, groups)
            outs = [self.conv2d(p, filters // groups, kernel, stride, padding, act, dilation) for p in parts]
            return self.concat(outs, axis=3)
        if act != "NONE" and not self.fuses("CONV_2D", act):
            return self.activation(self.conv2d(x, filters, kernel, stride, padding, "NONE", dilation), act)
        kh, kw = _pair(kernel)
        sh, sw = _pair(stride)
        n, h, w, c = x.shape
        oh, ow = conv_out(h, kh, sh, padding, dilation), conv_out(w, kw, sw, padding, dilation)
        name = self._name("conv")
        wt, b = self._weights((filters, kh, kw, c), filters, kh * kw * c, 0, name, x)
        y = self._act((n, oh, ow, filters), Q.FUSED[act], name)
        self._op("CONV_2D", [x.index, wt, b], [y.index], "Conv2DOptions", {
            "padding": padding, "stride_h": sh, "stride_w": sw, "dilation_h": dilation,
            "dilation_w": dilation, "fused_activation": act})
        return y

    def depthwise(self, x: Act, kernel: int | Sequence[int] = 3, stride: int | Sequence[int] = 1,
                  padding: str = "SAME", act: str = "NONE", multiplier: int = 1, dilation: int = 1) -> Act:
        if act != "NONE" and not self.fuses("DEPTHWISE_CONV_2D", act):
            return self.activation(self.depthwise(x, kernel, stride, padding, "NONE", multiplier, dilation), act)
        kh, kw = _pair(kernel)
        sh, sw = _pair(stride)
        n, h, w, c = x.shape
        oc = c * multiplier
        oh, ow = conv_out(h, kh, sh, padding, dilation), conv_out(w, kw, sw, padding, dilation)
        name = self._name("depthwise")
        wt, b = self._weights((1, kh, kw, oc), oc, kh * kw, 3, name, x)
        y = self._act((n, oh, ow, oc), Q.FUSED[act], name)
        self._op("DEPTHWISE_CONV_2D", [x.index, wt, b], [y.index], "DepthwiseConv2DOptions", {
            "padding": padding, "stride_h": sh, "stride_w": sw, "depth_multiplier": multiplier,
            "dilation_h": dilation, "dilation_w": dilation, "fused_activation": act})
        return y

    def transpose_conv(self, x: Act, filters: int, kernel: int = 3, stride: int = 2,
                       padding: str = "SAME", bias: bool = True) -> Act:
        n, h, w, c = x.shape
        oh, ow = h * stride, w * stride
        if padding == "VALID":
            oh, ow = (h - 1) * stride + kernel, (w - 1) * stride + kernel
        name = self._name("transpose_conv")
        wt, b = self._weights((filters, kernel, kernel, c), filters, kernel * kernel * c, 0, name, x, bias)
        shape = self._int32([n, oh, ow, filters], f"{name}/output_shape")
        y = self._act((n, oh, ow, filters), Q.LINEAR, name)
        inputs = [shape, wt, x.index] + ([b] if bias else [])
        self._op("TRANSPOSE_CONV", inputs, [y.index], "TransposeConvOptions",
                 {"padding": padding, "stride_h": stride, "stride_w": stride}, version=3 if bias else 2)
        return y

    def fully_connected(self, x: Act, units: int, act: str = "NONE") -> Act:
        if act != "NONE" and not self.fuses("FULLY_CONNECTED", act):
            return self.activation(self.fully_connected(x, units), act)
        fan_in = x.shape[-1]
        batch = int(np.prod(x.shape)) // fan_in
        name = self._name("fc")
        wt, b = self._weights((units, fan_in), units, fan_in, 0, name, x, self.fc_has_bias())
        y = self._act((batch, units), Q.FUSED[act], name)
        self._op("FULLY_CONNECTED", [x.index, wt, b], [y.index], "FullyConnectedOptions",
                 {"fused_activation": act})
        return y

    def _binary(self, op: str, a: Act, b: Act, act: str, q: QParams) -> Act:
        shape = tuple(max(x, y) for x, y in zip(a.shape, b.shape, strict=True))
        y = self._act(shape, q, op.lower())
        table = {"ADD": "AddOptions", "MUL": "MulOptions", "SUB": "SubOptions"}[op]
        self._op(op, [a.index, b.index], [y.index], table, {"fused_activation": act})
        return y

    def add(self, a: Act, b: Act, act: str = "NONE") -> Act:
        return self._binary("ADD", a, b, act, Q.SUM if act == "NONE" else Q.FUSED[act])

    def mul(self, a: Act, b: Act, act: str = "NONE", q: QParams | None = None) -> Act:
        """Elementwise product; with a [0, 1] gate (squeeze-excite) the result keeps `a`'s range."""
        return self._binary("MUL", a, b, act, q or (a.q if act == "NONE" else Q.FUSED[act]))

    def scale_by_constant(self, x: Act, value: float) -> Act:
        """MUL by a broadcast int8 constant (e.g. 0 for NAS-Bench-201's `none` edges)."""
        c = self._const(np.array([[[[0 if value == 0 else 127]]]], np.int8), _INT8,
                        self._name("const"), np.float32(max(abs(value), 1e-3) / 127), np.int64(0))
        y = self._act(x.shape, x.q, "mul")
        self._op("MUL", [x.index, c], [y.index], "MulOptions", {"fused_activation": "NONE"})
        return y

    def batch_norm(self, x: Act, act: str = "NONE") -> Act:
        """A batch norm with no convolution to fold into: MUL by a per-channel scale, then ADD a
        per-channel shift with the activation fused, as the converter lowers it."""
        c = x.channels
        gamma = self._const(Q.random_weights(self.rng, (c,)), _INT8, self._name("bn/gamma"),
                            np.float32(1.5 / 127), np.int64(0))
        beta = self._const(Q.random_weights(self.rng, (c,)), _INT8, self._name("bn/beta"),
                           np.float32(0.5 / 127), np.int64(0))
        y = self._act(x.shape, Q.LINEAR, "bn_mul")
        self._op("MUL", [x.index, gamma], [y.index], "MulOptions", {"fused_activation": "NONE"})
        z = self._act(x.shape, Q.FUSED[act], "bn_add")
        self._op("ADD", [y.index, beta], [z.index], "AddOptions", {"fused_activation": act})
        return z

    def transpose(self, x: Act, perm: Sequence[int]) -> Act:
        p = self._int32(perm, self._name("transpose/perm"))
        y = self._act([x.shape[i] for i in perm], x.q, "transpose")
        self._op("TRANSPOSE", [x.index, p], [y.index])
        return y

    def channel_shuffle(self, x: Act, groups: int) -> Act:
        """ShuffleNet channel shuffle as the converter lowers it: RESHAPE -> TRANSPOSE -> RESHAPE
        (written 4-D, [1, H*W, g, C/g], which Ethos-U can transpose)."""
        n, h, w, c = x.shape
        y = self.reshape(x, (n, h * w, groups, c // groups))
        y = self.transpose(y, (0, 1, 3, 2))
        return self.reshape(y, (n, h, w, c))

    def _pool(self, op: str, x: Act, kernel: int | Sequence[int], stride: int | Sequence[int],
              padding: str) -> Act:
        kh, kw = _pair(kernel)
        sh, sw = _pair(stride)
        n, h, w, c = x.shape
        y = self._act((n, conv_out(h, kh, sh, padding), conv_out(w, kw, sw, padding), c), x.q,
                      op.lower())
        self._op(op, [x.index], [y.index], "Pool2DOptions", {
            "padding": padding, "stride_h": sh, "stride_w": sw, "filter_h": kh, "filter_w": kw,
            "fused_activation": "NONE"})
        return y

    def avg_pool(self, x: Act, kernel=2, stride=2, padding: str = "VALID") -> Act:
        return self._pool("AVERAGE_POOL_2D", x, kernel, stride, padding)

    def max_pool(self, x: Act, kernel=2, stride=2, padding: str = "VALID") -> Act:
        return self._pool("MAX_POOL_2D", x, kernel, stride, padding)

    def mean(self, x: Act, keep_dims: bool = True) -> Act:
        """Global average pooling over H and W, as Keras' GlobalAveragePooling2D converts."""
        n, _, _, c = x.shape
        axes = self._int32([1, 2], self._name("mean/axes"))
        y = self._act((n, 1, 1, c) if keep_dims else (n, c), x.q, "mean")
        self._op("MEAN", [x.index, axes], [y.index], "ReducerOptions", {"keep_dims": keep_dims})
        return y

    def _unary(self, op: str, x: Act, q: QParams, options_table: str | None = None,
               options: dict | None = None) -> Act:
        y = self._act(x.shape, q, op.lower())
        self._op(op, [x.index], [y.index], options_table, options)
        return y

    def softmax(self, x: Act) -> Act:
        return self._unary("SOFTMAX", x, Q.SOFTMAX, "SoftmaxOptions", {"beta": 1.0})

    def logistic(self, x: Act) -> Act:
        return self._unary("LOGISTIC", x, Q.LOGISTIC)

    def tanh(self, x: Act) -> Act:
        return self._unary("TANH", x, Q.TANH)

    def hard_swish(self, x: Act) -> Act:
        return self._unary("HARD_SWISH", x, Q.HARD_SWISH)

    def relu(self, x: Act) -> Act:
        return self._unary("RELU", x, Q.RELU)

    def relu6(self, x: Act) -> Act:
        return self._unary("RELU6", x, Q.RELU6)

    def activation(self, x: Act, act: str) -> Act:
        """A standalone activation by name (NONE returns `x`)."""
        return {"NONE": lambda t: t, "RELU": self.relu, "RELU6": self.relu6,
                "HARD_SWISH": self.hard_swish, "LOGISTIC": self.logistic, "TANH": self.tanh}[act](x)

    def requantize(self, x: Act, q: QParams) -> Act:
        return x if x.q == q else self._unary("QUANTIZE", x, q)

    def concat(self, xs: Sequence[Act], axis: int = -1) -> Act:
        """CONCATENATION with one quantisation for inputs and output (as the converter writes it);
        inputs in another quantisation are requantised first."""
        q = xs[0].q
        xs = [self.requantize(x, q) for x in xs]
        rank = len(xs[0].shape)
        ax = axis % rank
        shape = list(xs[0].shape)
        shape[ax] = sum(x.shape[ax] for x in xs)
        y = self._act(shape, q, "concat")
        self._op("CONCATENATION", [x.index for x in xs], [y.index], "ConcatenationOptions",
                 {"axis": axis, "fused_activation": "NONE"})
        return y

    def reshape(self, x: Act, shape: Sequence[int]) -> Act:
        new = self._int32(shape, self._name("reshape/shape"))
        y = self._act(shape, x.q, "reshape")
        self._op("RESHAPE", [x.index, new], [y.index])
        return y

    def resize(self, x: Act, size: tuple[int, int], method: str = "bilinear",
               half_pixel_centers: bool = True) -> Act:
        n, _, _, c = x.shape
        sz = self._int32(list(size), self._name("resize/size"))
        y = self._act((n, size[0], size[1], c), x.q, "resize")
        opts = {"align_corners": False, "half_pixel_centers": half_pixel_centers}
        if method == "bilinear":
            self._op("RESIZE_BILINEAR", [x.index, sz], [y.index], "ResizeBilinearOptions", opts,
                     version=3 if half_pixel_centers else 2)
        else:
            self._op("RESIZE_NEAREST_NEIGHBOR", [x.index, sz], [y.index], "ResizeNearestNeighborOptions",
                     opts, version=3 if half_pixel_centers else 2)
        return y

    def pad(self, x: Act, pads: Sequence[tuple[int, int]]) -> Act:
        p = self._int32(np.asarray(pads, np.int32).reshape(-1, 2), self._name("pad/paddings"))
        shape = tuple(d + a + b for d, (a, b) in zip(x.shape, pads, strict=True))
        y = self._act(shape, x.q, "pad")
        self._op("PAD", [x.index, p], [y.index], "PadOptions", {})
        return y

    def split(self, x: Act, n: int, axis: int = 3) -> list[Act]:
        ax = self._const(np.asarray(axis, dtype=np.int32).reshape(()), _INT32, self._name("split/axis"))
        shape = list(x.shape)
        shape[axis] //= n
        ys = [self._act(shape, x.q, "split") for _ in range(n)]
        self._op("SPLIT", [ax, x.index], [y.index for y in ys], "SplitOptions", {"num_splits": n})
        return ys

    # ---------------------------------------------------------------- output
    def finish(self, outputs: Sequence[Act]) -> bytes:
        """The model's .tflite bytes (inside dry_build: its graph IR)."""
        if self.dry:
            return self.graph(outputs)  # type: ignore[return-value]
        return pack_model(ModelRecord(
            opcodes=[k for k, _ in sorted(self.opcodes.items(), key=lambda kv: kv[1])],
            tensors=self.tensors, operators=self.operators, inputs=self.inputs,
            outputs=[o.index for o in outputs], buffers=self.buffers, name=self.name,
            description=self.description))

    def graph(self, outputs: Sequence[Act]) -> Graph:
        """The graph IR `load_graph` reads from `finish`'s bytes, without writing them. Weight statistics are
        those of the stored values, as the reader computes them; a dry build's weights, never drawn, carry
        those of uniform int8 values."""
        from perfsage.graph.weights import supported, tensor_values, weight_stats

        tensors = []
        for i, t in enumerate(self.tensors):
            quant = (Quantization(float(t.scale[0]), int(t.zero_point[0]), len(t.scale), t.axis)
                     if t.scale is not None and len(t.scale) else None)
            tensors.append(Tensor(i, t.name, t.shape, schema.TENSOR_TYPES[t.dtype], t.buffer, self._sizes[t.buffer],
                                  quant))
        codes = {v: k for k, v in self.opcodes.items()}
        nodes = []
        for i, op in enumerate(self.operators):
            code, version = codes[op.opcode]
            nodes.append(Node(i, schema.BUILTIN_OPS[code], version, op.inputs, op.outputs, dict(op.options)))
            pos = spec(nodes[-1].op).weight_input
            if pos is not None and pos < len(op.inputs) and op.inputs[pos] >= 0:
                w = tensors[op.inputs[pos]]
                if w.stats is None and w.is_constant and supported(w.dtype):
                    w.stats = self._stats.get(w.index) or weight_stats(
                        tensor_values(self.buffers[w.buffer], 0, w.data_bytes, w.dtype, w.shape), w.dtype)
        return Graph(tensors=tensors, nodes=nodes, inputs=tuple(self.inputs), outputs=tuple(o.index for o in outputs),
                     name=self.name, description=self.description, source="<arch>")
