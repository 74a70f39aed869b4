"""CIFAR-sized ResNet-18: 3×3 stem conv, four stages of two BasicBlocks
(3×3 conv, BatchNorm, ReLU, 3×3 conv, BatchNorm, shortcut; a 1×1 conv +
BatchNorm shortcut where the shape changes; strides 1, 2, 2, 2), global
average pooling, linear classifier. Convs have no bias; "SAME" padding.

BatchNorm uses batch statistics in train mode and updates the running ones
(momentum 0.9, epsilon 1e-5): the ``batch_stats`` collection, returned by
``apply`` in the functional families and updated in place in NNX.

Config keys: ``batch``, ``image`` (side), ``channels``, ``classes``,
``width`` (first stage's channels; stages use 1, 2, 4, 8 ×), ``blocks``
(BasicBlocks per stage).
"""

from __future__ import annotations

from layers._catalog import Entry
from layers.resnet import _haiku, _jax, _linen, _nnx
from layers.resnet._jax import plan
from layers.vit import loss, make_batch


def flops(config, mode):
    """Conv FLOPs ``2·B·Ho·Wo·k²·Cin·Cout`` summed over every conv (stem,
    blocks, projection shortcuts) + head ``2·B·C·classes``; BatchNorm, ReLU,
    pooling and adds are not counted. Train = 3 × forward."""
    b, s = config["batch"], config["image"]
    forward = 2 * b * s * s * 9 * config["channels"] * config["width"]
    for _, c_in, c_out, stride in plan(config):
        s_out = -(-s // stride)
        forward += 2 * b * s_out * s_out * 9 * (c_in * c_out + c_out * c_out)
        if stride != 1 or c_in != c_out:
            forward += 2 * b * s_out * s_out * c_in * c_out
        s = s_out
    forward += 2 * b * 8 * config["width"] * config["classes"]
    return {"init": 0.0, "forward": float(forward), "train": 3.0 * forward}[mode]


def _config(batch, image, width, blocks=(2, 2, 2, 2), classes=10):
    return {"batch": batch, "image": image, "channels": 3, "classes": classes, "width": width, "blocks": blocks}


ENTRY = Entry(
    name="resnet",
    description="CIFAR ResNet-18 with BatchNorm (running stats updated in train)",
    sizes={
        "tiny": _config(4, 8, 4, blocks=(1, 1, 1, 1)),
        "small": _config(32, 32, 16),
        "base": _config(128, 32, 64),  # the CIFAR ResNet-18
        "large": _config(512, 32, 64),
    },
    make_batch=make_batch,
    loss=loss,
    flops=flops,
    items=lambda config: config["batch"],
    tolerance={"float32": (1e-4, 1e-4), "bfloat16": (5e-2, 5e-2)},
    impls={"jax": _jax, "linen": _linen, "nnx": _nnx, "haiku": _haiku},
)
