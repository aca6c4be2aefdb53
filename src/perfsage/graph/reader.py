"""Read a .tflite file (path or bytes) into the `Graph` IR; anything malformed gets one clear error."""

from __future__ import annotations

import mmap
import os
import struct
from pathlib import Path

from perfsage.errors import ModelFormatError
from perfsage.graph import schema
from perfsage.graph.flatbuf import _F32, _I8, _I32, _I64, _U32, Buffer, Table
from perfsage.graph.ir import Graph, Node, Quantization, SubgraphSummary, Tensor
from perfsage.graph.ops import spec
from perfsage.graph.schema import Slot
from perfsage.graph.weights import supported, tensor_values, weight_stats

MAX_RANK = 16  # TFLite kernels support far fewer; anything above is corruption, not a model
_ACT = schema.ACTIVATIONS
_PAD = schema.PADDINGS


def load_graph(source: str | os.PathLike | bytes | bytearray | memoryview) -> Graph:
    """Parse the main subgraph of a TFLite model; other subgraphs are summarised in `other_subgraphs`."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _parse(source, "<bytes>")
    path = Path(source)
    if not path.exists():
        raise ModelFormatError(f"{path}: no such file")
    if path.is_dir():
        raise ModelFormatError(f"{path}: is a directory, not a .tflite file")
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                raise ModelFormatError(f"{path}: empty file")
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
                return _parse(data, str(path))
    except OSError as e:
        raise ModelFormatError(f"{path}: cannot read ({e.strerror or e})") from None


def _parse(data, source: str) -> Graph:
    size = len(data)
    if size < 8:
        raise ModelFormatError(f"{source}: too small to be a TFLite model ({size} bytes)")
    ident = bytes(data[4:8])
    if ident != schema.FILE_IDENTIFIER:
        raise ModelFormatError(
            f"{source}: not a TFLite model (file identifier {ident!r}, expected {schema.FILE_IDENTIFIER!r})")
    try:
        return _read_model(Buffer(data), source)
    except ModelFormatError as e:
        raise ModelFormatError(f"{source}: {e}") from None
    except (struct.error, IndexError, ValueError, OverflowError, KeyError, TypeError,
            RecursionError, MemoryError) as e:
        raise ModelFormatError(f"{source}: corrupt flatbuffer ({type(e).__name__}: {e})") from None


def _read_model(buf: Buffer, source: str) -> Graph:
    model = buf.root()
    version = int(model.scalar(Slot.MODEL_VERSION, "u32"))
    opcodes = [_opcode(t) for t in model.tables(Slot.MODEL_OPCODES)]
    subgraphs = model.tables(Slot.MODEL_SUBGRAPHS)
    if not subgraphs:
        raise ModelFormatError("the model has no subgraphs")
    n_buffers = model.vector_len(Slot.MODEL_BUFFERS, 4)
    spans: dict[int, tuple[int, int]] = {}

    def data_bytes(index: int) -> int:
        return buffer_span(index)[1]

    def buffer_span(index: int) -> tuple[int, int]:
        if index not in spans:
            spans[index] = _buffer_span(model, index, n_buffers, buf.size)
        return spans[index]

    main = subgraphs[0]
    tensors = _read_tensors(main, data_bytes)
    n_tensors = len(tensors)

    def indices(table: Table, slot: int, what: str, allow_optional: bool) -> tuple[int, ...]:
        idx = table.scalars(slot, "i32")
        lo = -1 if allow_optional else 0
        for i in idx:
            if not lo <= i < n_tensors:
                raise ModelFormatError(f"{what} refers to tensor {i} but the subgraph has {n_tensors}")
        return idx

    nodes = []
    for i, op in enumerate(main.tables(Slot.SUBGRAPH_OPERATORS)):
        code = int(op.scalar(Slot.OP_OPCODE, "u32"))
        if code >= len(opcodes):
            raise ModelFormatError(f"operator {i} uses opcode {code} but the model has {len(opcodes)}")
        name, op_version = opcodes[code]
        nodes.append(Node(
            index=i, op=name, version=op_version,
            inputs=indices(op, Slot.OP_INPUTS, f"operator {i} input", True),
            outputs=indices(op, Slot.OP_OUTPUTS, f"operator {i} output", True),
            options=_options(op)))
    _read_weight_stats(buf.data, tensors, nodes, buffer_span)
    others = [SubgraphSummary(index=k, name=sg.string(Slot.SUBGRAPH_NAME) or "",
                              operators=sg.vector_len(Slot.SUBGRAPH_OPERATORS, 4),
                              tensors=sg.vector_len(Slot.SUBGRAPH_TENSORS, 4))
              for k, sg in enumerate(subgraphs[1:], start=1)]
    return Graph(
        tensors=tensors, nodes=nodes,
        inputs=indices(main, Slot.SUBGRAPH_INPUTS, "subgraph input", False),
        outputs=indices(main, Slot.SUBGRAPH_OUTPUTS, "subgraph output", False),
        name=main.string(Slot.SUBGRAPH_NAME) or "", schema_version=version,
        description=model.string(Slot.MODEL_DESCRIPTION) or "", source=source, other_subgraphs=others)


def _buffer_span(model: Table, index: int, n_buffers: int, size: int) -> tuple[int, int]:
    """(start in the file, bytes) of a buffer's data: inline, or at an offset past the flatbuffer."""
    if index == 0:
        return 0, 0
    if index >= n_buffers:
        raise ModelFormatError(f"tensor refers to buffer {index} but the model has {n_buffers}")
    b = model.table_at(Slot.MODEL_BUFFERS, index)
    start, n = b.vector_span(Slot.BUFFER_DATA, 1) if b is not None else (0, 0)
    if not n and b is not None:
        start = int(b.scalar(Slot.BUFFER_OFFSET, "u64"))
        n = int(b.scalar(Slot.BUFFER_SIZE, "u64"))
        if n and (start <= 1 or start + n > size):
            raise ModelFormatError(f"buffer {index} points outside the file ({start}+{n})")
    return start, n


def buffer_spans(data: bytes | bytearray) -> dict[int, tuple[int, int]]:
    """Every non-empty buffer's (start, bytes) in the model's bytes: where a tool that rewrites weight
    values in place (perfsage.compress) writes. Bounds-checked as load_graph is."""
    buf = Buffer(data)
    try:
        model = buf.root()
        n = model.vector_len(Slot.MODEL_BUFFERS, 4)
        return {i: span for i in range(1, n) if (span := _buffer_span(model, i, n, buf.size))[1]}
    except (struct.error, IndexError, ValueError, OverflowError) as e:
        raise ModelFormatError(f"corrupt flatbuffer ({type(e).__name__}: {e})") from None


def _read_weight_stats(data, tensors: list[Tensor], nodes: list[Node], buffer_span) -> None:
    """Statistics of every operator's main weight tensor, read in place (a weight encoder's view of it)."""
    for node in nodes:
        pos = spec(node.op).weight_input
        if pos is None or pos >= len(node.inputs) or node.inputs[pos] < 0:
            continue
        t = tensors[node.inputs[pos]]
        if t.stats is not None or not t.is_constant or not supported(t.dtype):
            continue
        start, n = buffer_span(t.buffer)
        values = tensor_values(data, start, n, t.dtype, t.shape)
        if values is not None:
            t.stats = weight_stats(values, t.dtype)


def _opcode(t: Table) -> tuple[str, int]:
    code = max(int(t.scalar(Slot.OPCODE_BUILTIN, "i32")), int(t.scalar(Slot.OPCODE_DEPRECATED, "i8")))
    version = int(t.scalar(Slot.OPCODE_VERSION, "i32", 1))
    if code == schema.CUSTOM_CODE:
        return f"CUSTOM:{t.string(Slot.OPCODE_CUSTOM) or '?'}", version
    name = schema.BUILTIN_OPS.get(code)
    return (name if name is not None else f"CUSTOM:builtin_{code}"), version


def _read_tensors(sg: Table, data_bytes) -> list[Tensor]:
    """All tensors of a subgraph. The hot loop of parsing: tables are read through `Buffer`'s
    position-based accessors (one vtable read per table) rather than `Table` objects; every offset and
    vector is still bounds-checked and charged to the buffer's element budget, and a scalar read past
    the end raises struct.error, which `_parse` turns into the same one-line error."""
    buf = sg.buf
    data = buf.data
    u32 = _U32.unpack_from
    i32 = _I32.unpack_from
    fields, vector = buf.field_offsets, buf.vector
    types = schema.TENSOR_TYPES
    out: list[Tensor] = []

    for index, tpos in enumerate(sg.table_positions(Slot.SUBGRAPH_TENSORS)):
        f_shape, f_type, f_buffer, f_name, f_quant, f_var, _, f_sig = fields(tpos, 8)
        shape: tuple[int, ...] = ()
        if f_shape:
            start, n = vector(tpos + f_shape, 4)
            if n > MAX_RANK:
                raise ModelFormatError(f"tensor {index} has rank {n} (more than {MAX_RANK})")
            shape = struct.unpack_from(f"<{n}i", data, start)
        dynamic = min(shape, default=0) < 0
        if f_sig and not dynamic:
            start, n = vector(tpos + f_sig, 4)
            dynamic = n > 0 and min(struct.unpack_from(f"<{min(n, MAX_RANK)}i", data, start)) < 0
        dtype_code = _I8.unpack_from(data, tpos + f_type)[0] if f_type else 0
        buffer = u32(data, tpos + f_buffer)[0] if f_buffer else 0
        name = ""
        if f_name:
            start, n = vector(tpos + f_name, 1)
            name = bytes(data[start:start + n]).decode("utf-8", errors="replace")
        quant = None
        if f_quant:
            qpos = tpos + f_quant + buf.u32(tpos + f_quant)
            _, _, f_scale, f_zp, _, _, f_dim = fields(qpos, 7)
            if f_scale:
                start, n_scale = vector(qpos + f_scale, 4)
                if n_scale:
                    scale = _F32.unpack_from(data, start)[0]
                    zp = 0
                    if f_zp:
                        zstart, n_zp = vector(qpos + f_zp, 8)
                        zp = _I64.unpack_from(data, zstart)[0] if n_zp else 0
                    axis = i32(data, qpos + f_dim)[0] if f_dim else 0
                    quant = Quantization(scale=scale, zero_point=zp, channels=n_scale, axis=axis)
        is_var = bool(data[tpos + f_var]) if f_var else False
        out.append(Tensor(
            index=index, name=name, shape=shape, dtype=types.get(dtype_code) or f"TYPE_{dtype_code}",
            buffer=buffer, data_bytes=data_bytes(buffer), quant=quant, is_variable=is_var, dynamic=dynamic))
    return out


def _options(op: Table) -> dict:
    kind = schema.OPTION_TYPES.get(int(op.scalar(Slot.OP_OPTIONS_TYPE, "u8")))
    fields = schema.OPTION_FIELDS.get(kind or "")
    if not fields:
        return {}
    table = op.table(Slot.OP_OPTIONS)
    if table is None:
        return {}
    out: dict = {}
    for name, slot, kind_, default, enum in fields:
        v = table.scalar(slot, kind_, default)
        if enum == "act":
            v = _ACT.get(v, f"ACT_{v}")
        elif enum == "pad":
            v = _PAD.get(v, f"PAD_{v}")
        out[name] = v
    return out
