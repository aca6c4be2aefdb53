#!/usr/bin/env python3
"""Build the real-TensorFlow ``.tflite`` test fixtures in ``tests/fixtures/tf/``.

This is a standalone maintenance script. It is NOT part of the ``perfsage``
package and must never be imported by it: it needs TensorFlow, which the
project itself does not depend on. Run it with a separate interpreter that
has ``tensorflow-cpu`` installed, from the repository root::

    python3 -m venv /tmp/tfvenv
    /tmp/tfvenv/bin/pip install tensorflow-cpu==2.21.0
    /tmp/tfvenv/bin/python scripts/make_tf_fixtures.py \\
        --verify-python .venv/bin/python --vela .venv/bin/vela

``--verify-python`` (optional) names a Python that has ``ai_edge_litert``
installed (the project venv); every fixture is then loaded and invoked once
with the LiteRT interpreter in a subprocess. ``--vela`` (optional) names the
``vela`` executable; every fixture is then compiled for
``--accelerator-config ethos-u55-128`` and the number of operators left on the
CPU is recorded as ``vela_cpu_ops`` in the manifest. Without these flags the
corresponding manifest fields are ``null``.

Outputs (all small, well under 1 MB each):

* ``mobilenetv2_int8.tflite``       MobileNetV2 alpha=0.35, 96x96x3, 10 classes, full int8
* ``resnet_branches_int8.tflite``   residual adds, concat of parallel branches,
                                    max/avg pool, dense, two outputs, full int8
* ``dscnn_kws_int8.tflite``         DS-CNN keyword spotting, 49x10x1, full int8
* ``small_float32.tflite``          small conv net, no quantisation
* ``small_float16.tflite``          same net, float16 weights (+ DEQUANTIZE ops)
* ``small_int16x8.tflite``          same net, 16-bit activations / 8-bit weights
* ``dynamic_range.tflite``          same net, dynamic-range (hybrid) quantisation
* ``multi_subgraph.tflite``         tf.function with tf.cond + tf.while_loop -> IF/WHILE
                                    ops and 5 subgraphs, float32
* ``transpose_conv_int8.tflite``    tiny encoder-decoder: Conv2DTranspose,
                                    UpSampling2D (bilinear), skip concatenations, full int8
* ``MANIFEST.json``                 per-file description, TF version, quantisation mode,
                                    op histograms, subgraphs, I/O, sha256, Vela results

Weights are random (fixed seeds via ``tf.keras.utils.set_random_seed``) and the
representative datasets are seeded random data, so the fixtures are meant for
structural / performance-model tests, not for accuracy.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf
from tensorflow.lite.python import schema_py_generated as tfl_schema

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT_DIR = REPO_ROOT / "tests" / "fixtures" / "tf"
SEED = 1234
NUM_CALIBRATION_SAMPLES = 32
MAX_FIXTURE_BYTES = 1_000_000
VELA_ACCELERATOR = "ethos-u55-128"

keras = tf.keras
layers = tf.keras.layers


# --------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------


def build_mobilenetv2() -> keras.Model:
    return keras.applications.MobileNetV2(
        alpha=0.35,
        input_shape=(96, 96, 3),
        weights=None,
        classes=10,
        include_top=True,
    )


def build_resnet_branches() -> keras.Model:
    inp = keras.Input((32, 32, 3), batch_size=1, name="image")
    x = layers.Conv2D(16, 3, padding="same", use_bias=False)(inp)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    # Residual block 1 (identity shortcut).
    y = layers.Conv2D(16, 3, padding="same", activation="relu")(x)
    y = layers.Conv2D(16, 3, padding="same")(y)
    x = layers.ReLU()(layers.Add()([x, y]))
    # Explicit three-way branch: max pool, avg pool, strided conv -> concat.
    a = layers.MaxPooling2D(2)(x)
    b = layers.AveragePooling2D(2)(x)
    c = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.Concatenate()([a, b, c])  # 16x16x48
    x = layers.Conv2D(32, 1, activation="relu")(x)
    # Residual block 2 (identity shortcut, depthwise in the residual path).
    y = layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    y = layers.DepthwiseConv2D(3, padding="same")(y)
    x = layers.ReLU()(layers.Add()([x, y]))
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(32, activation="relu")(x)
    cls = layers.Dense(10, activation="softmax", name="class_probs")(x)
    reg = layers.Dense(1, name="regression")(x)
    return keras.Model(inp, [cls, reg], name="resnet_branches")


def build_dscnn_kws() -> keras.Model:
    """DS-CNN (small) as in "Hello Edge" / MLPerf Tiny keyword spotting."""
    inp = keras.Input((49, 10, 1), batch_size=1, name="mfcc")
    x = layers.Conv2D(64, (10, 4), strides=(2, 2), padding="same", use_bias=False)(inp)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    for _ in range(4):
        x = layers.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
        x = layers.Conv2D(64, 1, use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
    x = layers.AveragePooling2D(pool_size=(x.shape[1], x.shape[2]))(x)
    x = layers.Flatten()(x)
    x = layers.Dense(12)(x)
    out = layers.Softmax()(x)
    return keras.Model(inp, out, name="dscnn_kws")


def build_small_convnet() -> keras.Model:
    inp = keras.Input((32, 32, 3), batch_size=1, name="image")
    x = layers.Conv2D(16, 3, padding="same", activation="relu")(inp)
    x = layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    x = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(64, activation="relu")(x)
    x = layers.Dense(10)(x)
    out = layers.Softmax()(x)
    return keras.Model(inp, out, name="small_convnet")


def build_transpose_conv() -> keras.Model:
    inp = keras.Input((32, 32, 3), batch_size=1, name="image")
    e1 = layers.Conv2D(8, 3, padding="same", activation="relu")(inp)  # 32x32x8
    e2 = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(e1)  # 16x16x16
    bott = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(e2)  # 8x8x32
    d2 = layers.Conv2DTranspose(16, 3, strides=2, padding="same", activation="relu")(bott)
    d2 = layers.Concatenate()([d2, e2])  # 16x16x32
    d2 = layers.Conv2D(16, 3, padding="same", activation="relu")(d2)
    # Keras 3 lowers nearest-neighbour UpSampling2D to RESHAPE+TILE; bilinear gives a
    # real RESIZE_BILINEAR op.
    d1 = layers.UpSampling2D(2, interpolation="bilinear")(d2)  # 32x32x16
    d1 = layers.Concatenate()([d1, e1])  # 32x32x24
    d1 = layers.Conv2D(8, 3, padding="same", activation="relu")(d1)
    out = layers.Conv2D(2, 1, activation="sigmoid", name="mask")(d1)
    return keras.Model(inp, out, name="transpose_conv_unet")


class ControlFlowModule(tf.Module):
    """Data-dependent tf.cond and tf.while_loop -> IF and WHILE ops."""

    def __init__(self) -> None:
        super().__init__()
        rng = np.random.default_rng(SEED)
        self.w_then = tf.Variable(rng.normal(0, 0.3, (16, 16)).astype(np.float32))
        self.w_else = tf.Variable(rng.normal(0, 0.3, (16, 16)).astype(np.float32))
        self.w_loop = tf.Variable(rng.normal(0, 0.3, (16, 16)).astype(np.float32))
        self.w_out = tf.Variable(rng.normal(0, 0.3, (16, 4)).astype(np.float32))

    @tf.function(
        input_signature=[
            tf.TensorSpec([1, 16], tf.float32, name="x"),
            tf.TensorSpec([1], tf.int32, name="max_iters"),
        ]
    )
    def __call__(self, x, max_iters):
        h = tf.cond(
            tf.reduce_sum(x) > 0.0,
            lambda: tf.tanh(tf.matmul(x, self.w_then)),
            lambda: tf.nn.relu(tf.matmul(x, self.w_else)),
        )
        limit = tf.minimum(max_iters[0], 8)

        def cond(i, h):
            return tf.logical_and(i < limit, tf.reduce_max(tf.abs(h)) > 1e-3)

        def body(i, h):
            return i + 1, tf.tanh(tf.matmul(h, self.w_loop)) + 0.5 * h

        _, h = tf.while_loop(cond, body, [tf.constant(0), h])
        return {"y": tf.matmul(h, self.w_out)}


# --------------------------------------------------------------------------
# Conversion
# --------------------------------------------------------------------------


def representative_dataset(input_shapes, low=-1.0, high=1.0):
    def gen():
        rng = np.random.default_rng(SEED)
        for _ in range(NUM_CALIBRATION_SAMPLES):
            yield [rng.uniform(low, high, size=s).astype(np.float32) for s in input_shapes]

    return gen


def convert_keras(model: keras.Model, mode: str) -> bytes:
    """Convert a Keras model with the given quantisation mode."""
    input_shapes = [tuple(1 if d is None else d for d in t.shape) for t in model.inputs]
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if mode == "float32":
        pass
    elif mode == "float16":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.target_spec.supported_types = [tf.float16]
    elif mode == "dynamic_range":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    elif mode == "int8":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = representative_dataset(input_shapes)
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    elif mode == "int16x8":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = representative_dataset(input_shapes)
        conv.target_spec.supported_ops = [
            tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
        ]
        conv.inference_input_type = tf.int16
        conv.inference_output_type = tf.int16
    else:
        raise ValueError(mode)
    return conv.convert()


def convert_control_flow() -> bytes:
    module = ControlFlowModule()
    cf = module.__call__.get_concrete_function()
    conv = tf.lite.TFLiteConverter.from_concrete_functions([cf], module)
    return conv.convert()


# --------------------------------------------------------------------------
# Flatbuffer inspection (uses the schema bundled with TensorFlow)
# --------------------------------------------------------------------------

_BUILTIN_NAMES = {v: k for k, v in vars(tfl_schema.BuiltinOperator).items() if not k.startswith("_")}
_TENSOR_TYPE_NAMES = {v: k for k, v in vars(tfl_schema.TensorType).items() if not k.startswith("_")}


def _op_name(model, opcode_index: int) -> str:
    oc = model.OperatorCodes(opcode_index)
    code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
    name = _BUILTIN_NAMES.get(code, f"BUILTIN_{code}")
    if name == "CUSTOM":
        custom = oc.CustomCode()
        name = "CUSTOM:" + (custom.decode() if custom else "?")
    return name


def _tensor_info(model, sg, tensor_index: int) -> dict:
    t = sg.Tensors(tensor_index)
    info = {
        "name": t.Name().decode(),
        "shape": [int(d) for d in t.ShapeAsNumpy()] if t.ShapeLength() else [],
        "dtype": _TENSOR_TYPE_NAMES.get(t.Type(), str(t.Type())).lower(),
    }
    q = t.Quantization()
    if q is not None and q.ScaleLength():
        scales = [float(s) for s in q.ScaleAsNumpy()]
        zps = [int(z) for z in q.ZeroPointAsNumpy()] if q.ZeroPointLength() else [0]
        info["quantization"] = {
            "scale": scales[0] if len(scales) == 1 else scales,
            "zero_point": zps[0] if len(zps) == 1 else zps,
        }
    return info


def inspect_tflite(data: bytes) -> dict:
    model = tfl_schema.Model.GetRootAs(data, 0)
    total = Counter()
    subgraphs = []
    for si in range(model.SubgraphsLength()):
        sg = model.Subgraphs(si)
        hist = Counter(_op_name(model, sg.Operators(oi).OpcodeIndex()) for oi in range(sg.OperatorsLength()))
        total.update(hist)
        # dtype histogram of constant tensors (tensors that carry a non-empty buffer)
        const_types = Counter()
        for ti in range(sg.TensorsLength()):
            t = sg.Tensors(ti)
            buf = model.Buffers(t.Buffer()) if t.Buffer() < model.BuffersLength() else None
            if buf is not None and (buf.DataLength() > 0 or buf.Size() > 0):
                const_types[_TENSOR_TYPE_NAMES.get(t.Type(), str(t.Type())).lower()] += 1
        subgraphs.append(
            {
                "index": si,
                "name": (sg.Name() or b"").decode(),
                "num_ops": sg.OperatorsLength(),
                "num_tensors": sg.TensorsLength(),
                "op_histogram": dict(sorted(hist.items())),
                "constant_tensor_dtypes": dict(sorted(const_types.items())),
            }
        )
    main = model.Subgraphs(0)
    signatures = []
    for i in range(model.SignatureDefsLength()):
        sd = model.SignatureDefs(i)
        signatures.append(
            {
                "key": sd.SignatureKey().decode(),
                "subgraph_index": sd.SubgraphIndex(),
                "inputs": {
                    sd.Inputs(j).Name().decode(): int(sd.Inputs(j).TensorIndex())
                    for j in range(sd.InputsLength())
                },
                "outputs": {
                    sd.Outputs(j).Name().decode(): int(sd.Outputs(j).TensorIndex())
                    for j in range(sd.OutputsLength())
                },
            }
        )
    return {
        "schema_version": model.Version(),
        "num_subgraphs": model.SubgraphsLength(),
        "num_ops": sum(total.values()),
        "op_histogram": dict(sorted(total.items())),
        "subgraphs": subgraphs,
        "inputs": [
            dict(_tensor_info(model, main, int(i)), tensor_index=int(i)) for i in main.InputsAsNumpy()
        ],
        "outputs": [
            dict(_tensor_info(model, main, int(i)), tensor_index=int(i)) for i in main.OutputsAsNumpy()
        ],
        "signature_defs": signatures,
    }


# --------------------------------------------------------------------------
# Verification with LiteRT and Vela (external executables)
# --------------------------------------------------------------------------

_LITERT_CHECK = r"""
import json, sys
import numpy as np
from ai_edge_litert.interpreter import Interpreter
res = {}
for path in sys.argv[1:]:
    try:
        it = Interpreter(model_path=path)
        it.allocate_tensors()
        rng = np.random.default_rng(0)
        for d in it.get_input_details():
            dt = np.dtype(d["dtype"])
            shape = tuple(int(s) for s in d["shape"])
            if dt in (np.int8, np.int16, np.uint8):
                arr = rng.integers(-100 if dt != np.uint8 else 0, 100, size=shape).astype(dt)
            elif np.issubdtype(dt, np.integer):
                arr = rng.integers(1, 5, size=shape).astype(dt)
            else:
                arr = rng.uniform(-1, 1, size=shape).astype(dt)
            it.set_tensor(d["index"], arr)
        it.invoke()
        outs = []
        for d in it.get_output_details():
            v = it.get_tensor(d["index"])
            outs.append({"shape": list(v.shape), "dtype": str(v.dtype),
                         "finite": bool(np.all(np.isfinite(v.astype(np.float64))))})
        res[path] = {"ok": True, "num_subgraphs": int(it.num_subgraphs()), "outputs": outs}
    except Exception as e:
        res[path] = {"ok": False, "error": f"{type(e).__name__}: {e}"}
print("LITERT_RESULT=" + json.dumps(res))
"""


def litert_check(python: str, paths: list[Path]) -> dict:
    proc = subprocess.run(
        [python, "-c", _LITERT_CHECK, *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("LITERT_RESULT="):
            return json.loads(line[len("LITERT_RESULT=") :])
    raise RuntimeError(f"LiteRT check failed:\n{proc.stdout}\n{proc.stderr}")


def vela_check(vela: str, path: Path) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            [vela, "--accelerator-config", VELA_ACCELERATOR, "--output-dir", tmp, str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        text = proc.stdout + proc.stderr
        cpu = re.search(r"CPU operators = (\d+)", text)
        npu = re.search(r"NPU operators = (\d+)", text)
        out = Path(tmp) / (path.stem + "_vela.tflite")
        if proc.returncode != 0 or cpu is None or not out.exists():
            tail = [ln for ln in text.strip().splitlines() if ln.strip()][-3:]
            return {"compiled": False, "error": " | ".join(tail)}
        result = {
            "compiled": True,
            "vela_cpu_ops": int(cpu.group(1)),
            "vela_npu_ops": int(npu.group(1)) if npu else None,
        }
        for key, pat in (
            ("sram_kib", r"Total SRAM used\s+([\d.]+) KiB"),
            ("offchip_flash_kib", r"Total Off-chip Flash used\s+([\d.]+) KiB"),
        ):
            m = re.search(pat, text)
            if m:
                result[key] = float(m.group(1))
        # Ops left in the Vela output graph other than the ethos-u custom op = CPU ops.
        hist = inspect_tflite(out.read_bytes())["op_histogram"]
        result["vela_output_op_histogram"] = hist
        return result


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------

SMALL_DESC = (
    "small conv net 1x32x32x3: conv3x3(16)+relu, depthwise3x3+relu, conv3x3/s2(32)+relu, "
    "maxpool2, conv3x3(32)+relu, global avg pool, dense 64+relu, dense 10, softmax"
)

FIXTURES = [
    # name, builder, mode, description
    (
        "mobilenetv2_int8",
        build_mobilenetv2,
        "int8",
        "keras.applications.MobileNetV2(alpha=0.35, input_shape=(96,96,3), weights=None, "
        "classes=10); full-integer int8 (TFLITE_BUILTINS_INT8, int8 input/output)",
    ),
    (
        "resnet_branches_int8",
        build_resnet_branches,
        "int8",
        "functional net 1x32x32x3 with two residual adds, a three-way branch "
        "(max pool / avg pool / strided conv) joined by a concatenation, a depthwise conv, "
        "global avg pool, dense 32 and TWO outputs: class_probs (dense 10 softmax) and "
        "regression (dense 1); full-integer int8",
    ),
    (
        "dscnn_kws_int8",
        build_dscnn_kws,
        "int8",
        "DS-CNN keyword spotting 1x49x10x1: conv 10x4/s2 (64), 4 depthwise-separable blocks "
        "of 64 channels (BN folded), avg pool 25x5, dense 12, softmax; full-integer int8",
    ),
    ("small_float32", build_small_convnet, "float32", SMALL_DESC + "; float32, no quantisation"),
    (
        "small_float16",
        build_small_convnet,
        "float16",
        SMALL_DESC + "; float16 weight quantisation (supported_types=[tf.float16]): "
        "float16 constant tensors + DEQUANTIZE ops, float32 compute",
    ),
    (
        "small_int16x8",
        build_small_convnet,
        "int16x8",
        SMALL_DESC + "; 16x8 quantisation (EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_"
        "WEIGHTS_INT8): int16 activations, int8 weights, int16 input/output",
    ),
    (
        "dynamic_range",
        build_small_convnet,
        "dynamic_range",
        SMALL_DESC + "; post-training dynamic-range (hybrid) quantisation: int8 weights for "
        "tensors with >=1024 elements, float32 activations, no representative dataset",
    ),
    (
        "multi_subgraph",
        None,
        "float32",
        "tf.Module / tf.function converted from a concrete function: data-dependent tf.cond "
        "(IF op, then/else subgraphs) followed by a data-dependent tf.while_loop (WHILE op, "
        "cond/body subgraphs) over 1x16 matmuls; inputs x[1,16] float32 and max_iters[1] "
        "int32; float32",
    ),
    (
        "transpose_conv_int8",
        build_transpose_conv,
        "int8",
        "tiny U-Net-like encoder-decoder 1x32x32x3: two strided convs, Conv2DTranspose "
        "(stride 2), skip concatenation, UpSampling2D(interpolation='bilinear') -> "
        "RESIZE_BILINEAR, second skip "
        "concatenation, conv, 1x1 conv + sigmoid to 1x32x32x2; full-integer int8",
    ),
]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR)
    ap.add_argument("--verify-python", help="Python with ai_edge_litert installed")
    ap.add_argument("--vela", help="path to the vela executable")
    ap.add_argument("--only", nargs="*", help="build only these fixture names")
    args = ap.parse_args(argv)

    out_dir: Path = args.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    tf.config.experimental.enable_op_determinism()

    manifest_path = out_dir / "MANIFEST.json"
    entries = {}
    if args.only and manifest_path.exists():
        for e in json.loads(manifest_path.read_text())["fixtures"]:
            entries[e["name"]] = e

    for name, builder, mode, desc in FIXTURES:
        if args.only and name not in args.only:
            continue
        print(f"[make_tf_fixtures] building {name} ({mode})", flush=True)
        tf.keras.backend.clear_session()
        tf.keras.utils.set_random_seed(SEED)
        try:
            data = convert_control_flow() if builder is None else convert_keras(builder(), mode)
        except Exception as exc:  # e.g. a quantisation mode the converter lacks
            print(f"[make_tf_fixtures] FAILED {name}: {exc}", flush=True)
            entries[name + ".tflite"] = {
                "name": name + ".tflite",
                "description": desc,
                "quantization": mode,
                "error": f"{type(exc).__name__}: {exc}"[:500],
            }
            continue
        if len(data) > MAX_FIXTURE_BYTES:
            raise SystemExit(f"{name}: {len(data)} bytes > {MAX_FIXTURE_BYTES}")
        path = out_dir / f"{name}.tflite"
        path.write_bytes(data)
        info = inspect_tflite(data)
        entry = {
            "name": path.name,
            "description": desc,
            "tf_version": tf.__version__,
            "keras_version": keras.__version__,
            "quantization": mode,
            "size_bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            **info,
        }
        entry["litert_invoke_ok"] = None
        entry["vela_accelerator_config"] = VELA_ACCELERATOR
        entry["vela_compiled"] = None
        entry["vela_cpu_ops"] = None
        entries[path.name] = entry

    built = [out_dir / n for n, e in entries.items() if "error" not in e]
    if args.verify_python:
        res = litert_check(args.verify_python, built)
        for p in built:
            r = res[str(p)]
            entries[p.name]["litert_invoke_ok"] = r["ok"]
            if not r["ok"]:
                entries[p.name]["litert_error"] = r["error"]
            print(f"[make_tf_fixtures] litert {p.name}: {r}", flush=True)
    if args.vela:
        vela = shutil.which(args.vela) or args.vela
        for p in built:
            r = vela_check(vela, p)
            e = entries[p.name]
            e["vela_compiled"] = r.pop("compiled")
            if e["vela_compiled"]:
                e["vela_cpu_ops"] = r.pop("vela_cpu_ops")
                e["vela_npu_ops"] = r.pop("vela_npu_ops")
                e["vela"] = r
            else:
                e["vela_error"] = r["error"]
            print(
                f"[make_tf_fixtures] vela {p.name}: compiled={e['vela_compiled']} "
                f"cpu_ops={e.get('vela_cpu_ops')}",
                flush=True,
            )

    order = [f"{n}.tflite" for n, *_ in FIXTURES]
    manifest = {
        "generator": "scripts/make_tf_fixtures.py",
        "tf_version": tf.__version__,
        "keras_version": keras.__version__,
        "seed": SEED,
        "calibration_samples": NUM_CALIBRATION_SAMPLES,
        "fixtures": [entries[n] for n in order if n in entries],
    }
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"[make_tf_fixtures] wrote {manifest_path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
