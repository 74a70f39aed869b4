"""BatchNorm in Haiku: ``hk.BatchNorm`` under ``transform_with_state``."""

import haiku as hk
import jax.numpy as jnp

from nnbench.layers import kit as _kit

EMA = {"mean": "bn/~/mean_ema", "var": "bn/~/var_ema"}


def to_canonical(v):
    out = {"params": {"scale": v["params"]["bn"]["scale"].reshape(-1), "bias": v["params"]["bn"]["offset"].reshape(-1)}}
    if v.get("state"):
        out["batch_stats"] = {k: v["state"][name]["hidden"].reshape(-1) for k, name in EMA.items()}
    return out


def from_canonical(c):
    p = c["params"]
    state = {}
    for k, name in EMA.items():
        value = c["batch_stats"][k].reshape(1, 1, 1, -1)
        state[name] = {"hidden": value, "average": value, "counter": jnp.zeros((), jnp.int32)}
    return {
        "params": {"bn": {"scale": p["scale"].reshape(1, 1, 1, -1), "offset": p["bias"].reshape(1, 1, 1, -1)}},
        "state": state,
    }


def model(config, dtype):
    def forward(x, train):
        bn = hk.BatchNorm(create_scale=True, create_offset=True, decay_rate=0.9, eps=1e-5, name="bn")
        return bn(x, is_training=train)

    return _kit.haiku(forward, dtype, to_canonical, from_canonical)
