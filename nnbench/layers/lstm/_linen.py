"""LSTM in Flax Linen: ``nn.RNN(nn.LSTMCell)``."""

import flax.linen as nn
import jax.numpy as jnp

from nnbench.layers import kit as _kit

GATES = ("i", "f", "g", "o")


class LSTM(nn.Module):
    hidden: int
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        return nn.RNN(nn.LSTMCell(self.hidden, dtype=self.dtype, param_dtype=jnp.float32, name="cell"))(x)


def to_canonical(v):
    cell = v["params"]["cell"]
    return {
        "params": {
            "wx": jnp.concatenate([cell["i" + g]["kernel"] for g in GATES], -1),
            "wh": jnp.concatenate([cell["h" + g]["kernel"] for g in GATES], -1),
            "b": jnp.concatenate([cell["h" + g]["bias"] for g in GATES], -1),
        }
    }


def from_canonical(c):
    p = c["params"]
    wx, wh, b = (jnp.split(p[k], 4, axis=-1) for k in ("wx", "wh", "b"))
    cell = {}
    for n, g in enumerate(GATES):
        cell["i" + g] = {"kernel": wx[n]}
        cell["h" + g] = {"kernel": wh[n], "bias": b[n]}
    return {"params": {"cell": cell}}


def model(config, dtype):
    return _kit.linen(LSTM(config["hidden"], dtype), to_canonical, from_canonical)
