"""ResNet in plain JAX.

Canonical layout (``conv`` weights ``[k, k, Cin, Cout]``, HWIO)::

    {"params": {"stem": {"conv": {"w"}, "bn": {"scale", "bias"}},
                "s<i>b<j>": {"conv1": {"w"}, "bn1": BN, "conv2": {"w"}, "bn2": BN,
                             ["proj": {"w"}, "proj_bn": BN]},
                "head": {"w": [8·width, classes], "b": [classes]}},
     "batch_stats": the same tree over the BatchNorms, each {"mean": [C], "var": [C]}}
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from nnbench.layers.catalog import Functional
from nnbench.layers.transformer_lm._jax import dense, lecun

MOMENTUM, EPS = 0.9, 1e-5


def plan(config) -> list[tuple[str, int, int, int]]:
    """``(name, c_in, c_out, stride)`` for every BasicBlock in order."""
    out, c_in = [], config["width"]
    for i, n in enumerate(config["blocks"]):
        c_out = config["width"] * 2**i
        for j in range(n):
            out.append((f"s{i}b{j}", c_in, c_out, 2 if (i > 0 and j == 0) else 1))
            c_in = c_out
    return out


def conv(w: jax.Array, x: jax.Array, stride: int) -> jax.Array:
    """``x``: ``[B, H, W, Cin]`` -> ``[B, H/stride, W/stride, Cout]`` in ``x.dtype``."""
    return jax.lax.conv_general_dilated(
        x, w.astype(x.dtype), (stride, stride), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
    )


def batch_norm(p, stats, x, train: bool):
    """Returns ``(y, new_stats)``; statistics in float32, ``y`` in ``x.dtype``."""
    if train:
        h = x.astype(jnp.float32)
        mean = h.mean((0, 1, 2))
        var = jnp.square(h).mean((0, 1, 2)) - jnp.square(mean)
        new = {
            "mean": MOMENTUM * stats["mean"] + (1 - MOMENTUM) * mean,
            "var": MOMENTUM * stats["var"] + (1 - MOMENTUM) * var,
        }
    else:
        mean, var, new = stats["mean"], stats["var"], stats
    y = (x.astype(jnp.float32) - mean) * jax.lax.rsqrt(var + EPS) * p["scale"] + p["bias"]
    return y.astype(x.dtype), new


def _bn_init(c: int):
    return {"scale": jnp.ones((c,), jnp.float32), "bias": jnp.zeros((c,), jnp.float32)}, {
        "mean": jnp.zeros((c,), jnp.float32),
        "var": jnp.ones((c,), jnp.float32),
    }


def model(config, dtype) -> Functional:
    width = config["width"]

    def init(key, x):
        del x
        keys = iter(jax.random.split(key, 4 * len(plan(config)) + 3))
        params, stats = {}, {}
        bn, bs = _bn_init(width)
        params["stem"] = {
            "conv": {"w": lecun(next(keys), (3, 3, config["channels"], width), 9 * config["channels"])},
            "bn": bn,
        }
        stats["stem"] = {"bn": bs}
        for name, c_in, c_out, stride in plan(config):
            p, s = {}, {}
            p["conv1"] = {"w": lecun(next(keys), (3, 3, c_in, c_out), 9 * c_in)}
            p["bn1"], s["bn1"] = _bn_init(c_out)
            p["conv2"] = {"w": lecun(next(keys), (3, 3, c_out, c_out), 9 * c_out)}
            p["bn2"], s["bn2"] = _bn_init(c_out)
            if stride != 1 or c_in != c_out:
                p["proj"] = {"w": lecun(next(keys), (1, 1, c_in, c_out), c_in)}
                p["proj_bn"], s["proj_bn"] = _bn_init(c_out)
            params[name], stats[name] = p, s
        params["head"] = dense(next(keys), width * 2 ** (len(config["blocks"]) - 1), config["classes"])
        return {"params": params, "batch_stats": stats}

    def apply(variables, x, *, train, rng):
        del rng
        p, st = variables["params"], variables["batch_stats"]
        new: dict = {}
        h = conv(p["stem"]["conv"]["w"], x.astype(dtype), 1)
        h, s = batch_norm(p["stem"]["bn"], st["stem"]["bn"], h, train)
        h, new["stem"] = jax.nn.relu(h), {"bn": s}
        for name, _, _, stride in plan(config):
            bp, bs, ns = p[name], st[name], {}
            y, ns["bn1"] = batch_norm(bp["bn1"], bs["bn1"], conv(bp["conv1"]["w"], h, stride), train)
            y, ns["bn2"] = batch_norm(bp["bn2"], bs["bn2"], conv(bp["conv2"]["w"], jax.nn.relu(y), 1), train)
            if "proj" in bp:
                h, ns["proj_bn"] = batch_norm(bp["proj_bn"], bs["proj_bn"], conv(bp["proj"]["w"], h, stride), train)
            h, new[name] = jax.nn.relu(h + y), ns
        h = h.mean((1, 2))
        logits = h @ p["head"]["w"].astype(dtype) + p["head"]["b"].astype(dtype)
        return logits, ({"batch_stats": new} if train else {})

    return Functional(init, apply, to_canonical=lambda v: v, from_canonical=lambda c: c)
