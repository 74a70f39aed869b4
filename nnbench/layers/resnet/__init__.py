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

from nnbench.layers import flops as _flops
from nnbench.layers.catalog import Entry, Impls
from nnbench.layers.resnet._jax import plan
from nnbench.layers.vit import loss, make_batch


def batch_norm(n: int, c: int) -> _flops.Work:
    """FLOPs (the rule: ``layers.flops``) of ``_jax.batch_norm`` on ``n``
    elements of ``c`` channels. Training forward: the batch statistics
    ``E[x²] - E[x]²`` (``3n + 2c``), the running updates (``6c``),
    ``(x - mean)·rsqrt(var + eps)·scale + bias`` (``4n + c``): ``7n + 9c``.
    Eval, with the running statistics: ``4n + c``. Parameter gradients
    ``Σ g·x̂`` and ``Σ g``: ``3n - 2c``. Input gradient through the
    normalisation and the batch statistics (chain rule): ``g·scale``,
    ``·rsqrt`` (2), ``Σ ĝ·(x - mean)`` (2), the ``x²`` path (2), the mean's
    ``-Σ`` (2), the three paths into ``x`` summed (2): ``10n``."""
    return _flops.Work(7 * n + 9 * c, params=3 * n - 2 * c, inputs=10 * n, eval=4 * n + c)


def basic_block(batch: int, size: int, c_in: int, c_out: int, stride: int) -> _flops.Work:
    """One BasicBlock at ``size × size`` input: two 3×3 convs (the first
    strided) with BatchNorm, ReLUs (``max``: 1; gradient compare and
    select: 2), a 1×1 projection + BatchNorm where the shape changes, the
    residual add (``n``), whose input fork sums two gradients (``n``)."""
    out = -(-size // stride)
    n = batch * out * out * c_out
    relu = _flops.activation("relu", n)
    parts = [
        _flops.conv(batch, (size, size), c_in, c_out, (3, 3), (stride, stride), "SAME", bias=False),
        batch_norm(n, c_out),
        relu,
        _flops.conv(batch, (out, out), c_out, c_out, (3, 3), (1, 1), "SAME", bias=False),
        batch_norm(n, c_out),
        _flops.Work(n, inputs=batch * size * size * c_in, has_params=False),
        relu,
    ]
    if stride != 1 or c_in != c_out:
        parts += [
            _flops.conv(batch, (size, size), c_in, c_out, (1, 1), (stride, stride), "SAME", bias=False),
            batch_norm(n, c_out),
        ]
    return _flops.total(parts)


def flops(config, mode):
    """Model FLOPs (the rule: ``layers.flops``): the stem (3×3 conv,
    BatchNorm, ReLU; no input gradient, the image is the data), every
    ``basic_block``, global average pooling (a sum and a divide; gradient a
    divide), the head ``2·B·C·classes`` + bias and the cross-entropy loss.
    Convolutions count only taps on real input (``_flops.conv``); train
    uses batch statistics, eval the running ones."""
    b, s, w = config["batch"], config["image"], config["width"]
    n = b * s * s * w
    chain = [
        _flops.conv(b, (s, s), config["channels"], w, (3, 3), (1, 1), "SAME", bias=False),
        batch_norm(n, w),
        _flops.activation("relu", n),
    ]
    c = w
    for _, c_in, c_out, stride in plan(config):
        chain.append(basic_block(b, s, c_in, c_out, stride))
        s, c = -(-s // stride), c_out
    chain += [_flops.Work(b * s * s * c, inputs=b * c, has_params=False), _flops.dense(b, c, config["classes"])]
    return _flops.step(mode, chain, _flops.cross_entropy(b, config["classes"]))


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
    impls=Impls("nnbench.layers.resnet"),
)
