"""ResNet in Flax Linen: ``nn.Conv`` + ``nn.BatchNorm`` (``batch_stats``
collection, updated with ``mutable=["batch_stats"]`` in train)."""

from __future__ import annotations

import functools

import flax.linen as nn
import jax.numpy as jnp

from nnbench.layers.resnet._jax import EPS, MOMENTUM, plan
from nnbench.layers.styles import Functional

F32 = jnp.float32


class BasicBlock(nn.Module):
    c_out: int
    stride: int
    dtype: jnp.dtype = F32

    @nn.compact
    def __call__(self, x, train: bool):
        conv = functools.partial(nn.Conv, use_bias=False, padding="SAME", dtype=self.dtype, param_dtype=F32)
        norm = functools.partial(
            nn.BatchNorm,
            use_running_average=not train,
            momentum=MOMENTUM,
            epsilon=EPS,
            dtype=self.dtype,
            param_dtype=F32,
        )
        s = (self.stride, self.stride)
        y = nn.relu(norm(name="bn1")(conv(self.c_out, (3, 3), s, name="conv1")(x)))
        y = norm(name="bn2")(conv(self.c_out, (3, 3), name="conv2")(y))
        if self.stride != 1 or x.shape[-1] != self.c_out:
            x = norm(name="proj_bn")(conv(self.c_out, (1, 1), s, name="proj")(x))
        return nn.relu(x + y)


class ResNet(nn.Module):
    """``x``: ``[B, S, S, C]`` -> logits ``[B, classes]``."""

    config: dict
    dtype: jnp.dtype = F32

    @nn.compact
    def __call__(self, x, train: bool = False):
        c = self.config
        x = nn.Conv(
            c["width"], (3, 3), use_bias=False, padding="SAME", dtype=self.dtype, param_dtype=F32, name="stem_conv"
        )(x)
        x = nn.BatchNorm(
            use_running_average=not train,
            momentum=MOMENTUM,
            epsilon=EPS,
            dtype=self.dtype,
            param_dtype=F32,
            name="stem_bn",
        )(x)
        x = nn.relu(x)
        for name, _, c_out, stride in plan(c):
            x = BasicBlock(c_out, stride, self.dtype, name=name)(x, train)
        return nn.Dense(c["classes"], dtype=self.dtype, param_dtype=F32, name="head")(x.mean((1, 2)))


def _rename(tree: dict, to_canonical: bool) -> dict:
    """Linen names <-> canonical: ``stem_conv``/``stem_bn`` vs ``stem/{conv,bn}``,
    ``kernel``/``w``, ``mean``/``var`` are shared."""
    out: dict = {}
    if to_canonical:
        for k, v in tree.items():
            if k.startswith("stem_"):
                out.setdefault("stem", {})[k[5:]] = {("w" if a == "kernel" else a): b for a, b in v.items()}
            elif k == "head":
                out[k] = {"w": v["kernel"], "b": v["bias"]}
            else:
                out[k] = {m: {("w" if a == "kernel" else a): b for a, b in sub.items()} for m, sub in v.items()}
        return out
    for k, v in tree.items():
        if k == "stem":
            out.update(
                {f"stem_{m}": {("kernel" if a == "w" else a): b for a, b in sub.items()} for m, sub in v.items()}
            )
        elif k == "head":
            out[k] = {"kernel": v["w"], "bias": v["b"]}
        else:
            out[k] = {m: {("kernel" if a == "w" else a): b for a, b in sub.items()} for m, sub in v.items()}
    return out


def model(config, dtype) -> Functional:
    module = ResNet(config, dtype)

    def apply(variables, x, *, train, rng):
        del rng
        if not train:
            return module.apply(variables, x, train=False), {}
        return module.apply(variables, x, train=True, mutable=["batch_stats"])

    def to_canonical(variables):
        return {k: _rename(v, True) for k, v in variables.items()}

    def from_canonical(canonical):
        return {k: _rename(v, False) for k, v in canonical.items()}

    return Functional(module.init, apply, to_canonical, from_canonical)
