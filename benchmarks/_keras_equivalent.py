"""Build the Keras equivalent of a perfsage classification architecture and convert it to full int8
with the TF converter; prints the conversion seconds as JSON. Run by benchmarks/synthesis.py under a
Python that has TensorFlow (TensorFlow is not a perfsage dependency)."""

import json
import sys
import time

import numpy as np
import tensorflow as tf
from tensorflow import keras
from tensorflow.keras import layers


def divisible(v, d=8):
    new = max(d, int(v + d / 2) // d * d)
    return new + d if new < 0.9 * v else new


def act(x, name):
    return {"RELU": layers.ReLU(), "RELU6": layers.ReLU(6.0),
            "HARD_SWISH": layers.Activation("hard_swish")}[name](x)


def conv_bn_act(x, c, k, s, a):
    x = layers.Conv2D(c, k, s, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return act(x, a) if a != "NONE" else x


def build(arch):
    r = arch["resolution"]
    inp = keras.Input((r, r, 3))
    y = conv_bn_act(inp, divisible(32 * arch["width"]), 3, 2, arch["stem_act"])
    for st in arch["stages"]:
        for i, b in enumerate(st["blocks"]):
            s = st["stride"] if i == 0 else 1
            x = y
            if b["e"] != 1:
                y = conv_bn_act(y, divisible(x.shape[-1] * b["e"]), 1, 1, st["act"])
            y = layers.DepthwiseConv2D(b["k"], s, padding="same", use_bias=False)(y)
            y = act(layers.BatchNormalization()(y), st["act"])
            if b["se"]:
                c = y.shape[-1]
                g = layers.GlobalAveragePooling2D(keepdims=True)(y)
                g = layers.Conv2D(divisible(c * 0.25), 1, activation="relu")(g)
                g = layers.Conv2D(c, 1, activation="sigmoid")(g)
                y = layers.Multiply()([y, g])
            y = conv_bn_act(y, st["channels"], 1, 1, "NONE")
            if s == 1 and x.shape[-1] == st["channels"]:
                y = layers.Add()([y, x])
    y = conv_bn_act(y, divisible(arch["head_channels"] * max(1.0, arch["width"])), 1, 1, arch["head_act"])
    y = layers.GlobalAveragePooling2D()(y)
    y = layers.Dense(arch["classes"], activation="softmax")(y)
    return keras.Model(inp, y)


def main():
    arch = json.loads(sys.argv[1])
    t0 = time.perf_counter()
    model = build(arch)
    r = arch["resolution"]
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([np.random.rand(1, r, r, 3).astype(np.float32)] for _ in range(8))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    data = conv.convert()
    print(json.dumps({"seconds": time.perf_counter() - t0, "bytes": len(data), "tf": tf.__version__}))


if __name__ == "__main__":
    main()
