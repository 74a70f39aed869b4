"""ResNet in Flax NNX: ``nnx.Conv`` + ``nnx.BatchNorm`` (running statistics
are ``nnx.BatchStat`` variables, updated in place in train mode)."""

from __future__ import annotations

import jax.numpy as jnp
from flax import nnx

from nnbench.layers.resnet._jax import EPS, MOMENTUM, plan
from nnbench.layers.resnet._linen import _rename

F32 = jnp.float32


def _conv(c_in, c_out, k, stride, dtype, rngs):
    return nnx.Conv(
        c_in,
        c_out,
        (k, k),
        strides=(stride, stride),
        padding="SAME",
        use_bias=False,
        dtype=dtype,
        param_dtype=F32,
        rngs=rngs,
    )


def _norm(c, dtype, rngs):
    return nnx.BatchNorm(c, momentum=MOMENTUM, epsilon=EPS, dtype=dtype, param_dtype=F32, rngs=rngs)


class BasicBlock(nnx.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, dtype, rngs: nnx.Rngs):
        self.conv1, self.bn1 = _conv(c_in, c_out, 3, stride, dtype, rngs), _norm(c_out, dtype, rngs)
        self.conv2, self.bn2 = _conv(c_out, c_out, 3, 1, dtype, rngs), _norm(c_out, dtype, rngs)
        if stride != 1 or c_in != c_out:
            self.proj, self.proj_bn = _conv(c_in, c_out, 1, stride, dtype, rngs), _norm(c_out, dtype, rngs)
        else:
            self.proj = self.proj_bn = None

    def __call__(self, x):
        y = self.bn2(self.conv2(nnx.relu(self.bn1(self.conv1(x)))))
        if self.proj is not None:
            x = self.proj_bn(self.proj(x))
        return nnx.relu(x + y)


class ResNet(nnx.Module):
    """``x``: ``[B, S, S, C]`` -> logits ``[B, classes]``. ``model.train()`` /
    ``model.eval()`` switch BatchNorm between batch and running statistics."""

    def __init__(self, config, dtype, rngs: nnx.Rngs):
        w = config["width"]
        self.stem_conv, self.stem_bn = _conv(config["channels"], w, 3, 1, dtype, rngs), _norm(w, dtype, rngs)
        self.blocks = nnx.Dict({name: BasicBlock(c_in, c_out, s, dtype, rngs) for name, c_in, c_out, s in plan(config)})
        self.head = nnx.Linear(
            w * 2 ** (len(config["blocks"]) - 1), config["classes"], dtype=dtype, param_dtype=F32, rngs=rngs
        )

    def __call__(self, x):
        x = nnx.relu(self.stem_bn(self.stem_conv(x)))
        for block in self.blocks.values():
            x = block(x)
        return self.head(x.mean((1, 2)))


def model(config, dtype, rngs):
    return ResNet(config, dtype, rngs)


_STATS = ("mean", "var")
_TOP = ("stem_conv", "stem_bn", "head")


def _split(tree: dict) -> tuple[dict, dict]:
    """Nested dict -> (params, batch stats), by leaf name."""
    params: dict = {}
    stats: dict = {}
    for k, v in tree.items():
        if isinstance(v, dict):
            p, s = _split(v)
            if p:
                params[k] = p
            if s:
                stats[k] = s
        else:
            (stats if k in _STATS else params)[k] = v
    return params, stats


def _merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if k in out and isinstance(v, dict) else v
    return out


def to_canonical(pure):
    """NNX pure dict (params, and batch stats unless it is a gradient) -> canonical."""
    flat = {**{k: v for k, v in pure.items() if k != "blocks"}, **pure["blocks"]}
    params, stats = _split(flat)
    out = {"params": _rename(params, True)}
    if stats:
        out["batch_stats"] = _rename(stats, True)
    return out


def from_canonical(canonical):
    flat = _merge(_rename(canonical["params"], False), _rename(canonical.get("batch_stats", {}), False))
    return {**{k: flat[k] for k in _TOP}, "blocks": {k: v for k, v in flat.items() if k not in _TOP}}
