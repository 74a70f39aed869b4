"""ResNet in Haiku: ``hk.Conv2D`` + ``hk.BatchNorm`` under
``hk.transform_with_state`` (running statistics are Haiku state).

``hk.BatchNorm`` keeps its statistics in zero-debiased moving averages
(``mean_ema``/``var_ema``: ``counter``, ``hidden``, ``average``; shaped
``[1, 1, 1, C]``). Loaded canonical statistics get a large ``counter``: the
debiasing factor ``1 - 0.9**counter`` is then exactly 1, which is where a
long-trained Haiku model sits, and the update matches Flax's plain EMA.

Mixed precision the way Haiku's guide does it: BatchNorm runs in float32
(``float32_params(dtype, full_precision=(hk.BatchNorm,))`` and float32 input,
output cast back) — in bfloat16 its ``E[x²] − E[x]²`` variance cancels
catastrophically. Flax's BatchNorm and the raw-JAX reference compute their
statistics in float32 too.
"""

from __future__ import annotations

import haiku as hk
import jax
import jax.numpy as jnp

from nnbench.layers.haiku_precision import float32_params
from nnbench.layers.resnet._jax import EPS, MOMENTUM, plan
from nnbench.layers.styles import Functional

_TRAINED_COUNTER = 2**30


def _norm(name: str) -> hk.BatchNorm:
    return hk.BatchNorm(create_scale=True, create_offset=True, decay_rate=MOMENTUM, eps=EPS, name=name)


def _bn(name: str, x: jax.Array, is_training: bool) -> jax.Array:
    """BatchNorm in float32, output in ``x.dtype``."""
    return _norm(name)(x.astype(jnp.float32), is_training).astype(x.dtype)


def _conv(c: int, k: int, stride: int, name: str) -> hk.Conv2D:
    return hk.Conv2D(c, k, stride=stride, with_bias=False, padding="SAME", name=name)


class BasicBlock(hk.Module):
    def __init__(self, c_out: int, stride: int, name: str):
        super().__init__(name=name)
        self.c_out, self.stride = c_out, stride

    def __call__(self, x, is_training: bool):
        y = jax.nn.relu(_bn("bn1", _conv(self.c_out, 3, self.stride, "conv1")(x), is_training))
        y = _bn("bn2", _conv(self.c_out, 3, 1, "conv2")(y), is_training)
        if self.stride != 1 or x.shape[-1] != self.c_out:
            x = _bn("proj_bn", _conv(self.c_out, 1, self.stride, "proj")(x), is_training)
        return jax.nn.relu(x + y)


def _path(key: str) -> tuple[str, ...]:
    """``"s0b0/bn1"`` -> ``("s0b0", "bn1")``; ``"stem_conv"`` -> ``("stem", "conv")``;
    ``"s0b0/bn1/~/mean_ema"`` -> ``("s0b0", "bn1")``."""
    parts = key.split("/~/")[0].split("/")
    return ("stem", parts[0][5:]) if parts[0].startswith("stem_") else tuple(parts)


def _key(path: tuple[str, ...]) -> str:
    return f"stem_{path[1]}" if path[0] == "stem" else "/".join(path)


def _set(tree: dict, path: tuple[str, ...], value) -> None:
    for p in path[:-1]:
        tree = tree.setdefault(p, {})
    tree[path[-1]] = value


def _walk(tree: dict, prefix: tuple[str, ...] = ()):
    """Yield ``(path, leaf-dict)`` for every innermost dict of arrays."""
    if all(not isinstance(v, dict) for v in tree.values()):
        yield prefix, tree
        return
    for k, v in tree.items():
        yield from _walk(v, (*prefix, k))


def model(config, dtype) -> Functional:
    def forward(x, is_training: bool):
        with float32_params(dtype, full_precision=(hk.BatchNorm,)):
            x = _conv(config["width"], 3, 1, "stem_conv")(x.astype(dtype))
            x = jax.nn.relu(_bn("stem_bn", x, is_training))
            for name, _, c_out, stride in plan(config):
                x = BasicBlock(c_out, stride, name)(x, is_training)
            return hk.Linear(config["classes"], name="head")(x.mean((1, 2)))

    transformed = hk.transform_with_state(forward)

    def init(key, x):
        params, state = transformed.init(key, x, True)
        return {"params": params, "state": state}

    def apply(variables, x, *, train, rng):
        y, state = transformed.apply(variables["params"], variables["state"], rng, x, train)
        return y, ({"state": state} if train else {})

    def to_canonical(variables):
        params: dict = {}
        for key, leaf in variables["params"].items():
            path = _path(key)
            if key == "head":
                params["head"] = dict(leaf)
            elif "offset" in leaf or "scale" in leaf:
                _set(params, path, {"scale": leaf["scale"].reshape(-1), "bias": leaf["offset"].reshape(-1)})
            else:
                _set(params, path, {"w": leaf["w"]})
        out = {"params": params}
        if "state" in variables:
            stats: dict = {}
            for key, leaf in variables["state"].items():
                which = "mean" if key.endswith("mean_ema") else "var"
                _set(stats, (*_path(key), which), leaf["average"].reshape(-1))
            out["batch_stats"] = stats
        return out

    def from_canonical(canonical):
        params: dict = {}
        for path, leaf in _walk(canonical["params"]):
            if path == ("head",):
                params["head"] = dict(leaf)
            elif "scale" in leaf:
                params[_key(path)] = {
                    "scale": leaf["scale"].reshape(1, 1, 1, -1),
                    "offset": leaf["bias"].reshape(1, 1, 1, -1),
                }
            else:
                params[_key(path)] = {"w": leaf["w"]}
        state: dict = {}
        for path, leaf in _walk(canonical["batch_stats"]):
            for which in ("mean", "var"):
                avg = leaf[which].reshape(1, 1, 1, -1)
                counter = jnp.asarray(_TRAINED_COUNTER, jnp.int32)
                state[f"{_key(path)}/~/{which}_ema"] = {"counter": counter, "hidden": avg, "average": avg}
        return {"params": params, "state": state}

    return Functional(init, apply, to_canonical, from_canonical)
