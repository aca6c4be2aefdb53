"""Bad input: every case is one line on stderr, exit code 2, within seconds; never a traceback or hang."""

from __future__ import annotations

import contextlib
import struct
import time

import flatbuffers
import pytest
from ai_edge_litert import schema_py_generated as s

from conftest import run_cli
from perfsage.errors import ModelFormatError
from perfsage.graph import load_graph
from perfsage.graph.flatbuf import Buffer
from perfsage.graph.schema import Slot


def _assert_clean_failure(path, timeout=20.0):
    t0 = time.monotonic()
    r = run_cli("inspect", str(path), timeout=timeout)
    elapsed = time.monotonic() - t0
    assert r.returncode == 2, (r.returncode, r.stdout[-500:], r.stderr[-2000:])
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("perfsage: error:"), r.stderr
    assert "Traceback" not in r.stderr
    assert elapsed < timeout
    return lines[0]


def _vector_pos(data: bytes, slot: int) -> int:
    """File position of the length word of subgraph 0's vector in `slot`."""
    sg = Buffer(data).root().tables(Slot.MODEL_SUBGRAPHS)[0]
    p = sg._indirect(slot)
    assert p > 0
    return p


def _cases(src: bytes, tmp_path):
    def w(name, data):
        p = tmp_path / name
        p.write_bytes(data)
        return p

    ops_len = _vector_pos(src, Slot.SUBGRAPH_OPERATORS)
    absurd = bytearray(src)
    struct.pack_into("<I", absurd, ops_len, 0x7FFFFFFF)
    offset = bytearray(src)
    struct.pack_into("<I", offset, 0, 0xFFFFFF00)
    ident = bytearray(src)
    ident[4:8] = b"TFL2"
    return {
        "missing": tmp_path / "nope.tflite",
        "directory": tmp_path,
        "empty": w("empty.tflite", b""),
        "random": w("random.tflite", bytes(range(256)) * 400),
        "wrong_identifier": w("ident.tflite", bytes(ident)),
        "truncated": w("trunc.tflite", src[: len(src) // 3]),
        "out_of_range_root": w("offset.tflite", bytes(offset)),
        "absurd_vector_length": w("absurd.tflite", bytes(absurd)),
        "tiny": w("tiny.tflite", b"TFL3"),
        "text": w("text.tflite", b"this is not a model\n" * 10),
    }


CASES = ["missing", "directory", "empty", "random", "wrong_identifier", "truncated",
         "out_of_range_root", "absurd_vector_length", "tiny", "text"]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_one_line_exit_2(case, tmp_path, mobilenet_path):
    path = _cases(mobilenet_path.read_bytes(), tmp_path)[case]
    _assert_clean_failure(path)


def test_one_gigabyte_file_fails_fast(tmp_path):
    p = tmp_path / "huge.tflite"
    with open(p, "wb") as f:
        f.write(b"\x10\x00\x00\x00TFL3")
        f.truncate(1 << 30)  # sparse: 1 GiB of zeros after a plausible header
    msg = _assert_clean_failure(p, timeout=15)
    assert "corrupt" in msg


def test_valid_model_padded_to_one_gigabyte_still_parses_quickly(tmp_path, mobilenet_path):
    p = tmp_path / "padded.tflite"
    with open(p, "wb") as f:
        f.write(mobilenet_path.read_bytes())
        f.truncate(1 << 30)
    t0 = time.monotonic()
    g = load_graph(p)
    assert time.monotonic() - t0 < 5 and len(g.nodes) == 65


def test_shared_vector_blowup_is_refused_quickly():
    """50k operators sharing one 50k-element input vector: 2.5e9 reads without the element budget."""
    n = 50_000
    b = flatbuffers.Builder(1 << 20)
    s.OperatorStartInputsVector(b, n)
    for _ in range(n):
        b.PrependInt32(-1)
    shared = b.EndVector()
    ops = []
    for _ in range(n):
        s.OperatorStart(b)
        s.OperatorAddInputs(b, shared)
        ops.append(s.OperatorEnd(b))
    s.SubGraphStartOperatorsVector(b, n)
    for o in reversed(ops):
        b.PrependUOffsetTRelative(o)
    ops_vec = b.EndVector()
    s.SubGraphStart(b)
    s.SubGraphAddOperators(b, ops_vec)
    sg = s.SubGraphEnd(b)
    s.ModelStartSubgraphsVector(b, 1)
    b.PrependUOffsetTRelative(sg)
    sgs = b.EndVector()
    s.OperatorCodeStart(b)
    code = s.OperatorCodeEnd(b)
    s.ModelStartOperatorCodesVector(b, 1)
    b.PrependUOffsetTRelative(code)
    codes = b.EndVector()
    s.ModelStart(b)
    s.ModelAddVersion(b, 3)
    s.ModelAddOperatorCodes(b, codes)
    s.ModelAddSubgraphs(b, sgs)
    b.Finish(s.ModelEnd(b), file_identifier=b"TFL3")
    data = bytes(b.Output())
    t0 = time.monotonic()
    with pytest.raises(ModelFormatError, match="more elements than the file"):
        load_graph(data)
    assert time.monotonic() - t0 < 5


def test_every_truncation_of_a_small_model_is_rejected_cleanly(tmp_path):
    from conftest import TF_FIXTURES

    src = (TF_FIXTURES / "multi_subgraph.tflite").read_bytes()
    for cut in range(0, len(src), 7):
        with contextlib.suppress(ModelFormatError):
            load_graph(src[:cut])


@pytest.mark.parametrize("name,body", [("calibration.json", "{bad"), ("domain.json", '{"n_graphs": 1}')])
def test_a_damaged_checkpoint_file_is_one_line(name, body, tmp_path, mobilenet_path):
    import shutil

    from perfsage.model.shipped import predictor_dir

    ckpt = tmp_path / "ckpt"
    shutil.copytree(predictor_dir("mcu-tflm"), ckpt)
    (ckpt / name).write_text(body)
    r = run_cli("predict", str(mobilenet_path), "--target", str(ckpt))
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("perfsage: error:") and name in lines[0], r.stderr
