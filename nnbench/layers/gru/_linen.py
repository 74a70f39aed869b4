"""GRU in Flax Linen: ``nn.RNN(nn.GRUCell)`` — Linen's cell is the canonical one."""

import flax.linen as nn
import jax.numpy as jnp

from nnbench.layers import kit as _kit

GATES = ("r", "z", "n")


class GRU(nn.Module):
    hidden: int
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        return nn.RNN(nn.GRUCell(self.hidden, dtype=self.dtype, param_dtype=jnp.float32, name="cell"))(x)


def to_canonical(v):
    cell = v["params"]["cell"]
    return {
        "params": {
            "wx": jnp.concatenate([cell["i" + g]["kernel"] for g in GATES], -1),
            "bx": jnp.concatenate([cell["i" + g]["bias"] for g in GATES], -1),
            "wh": jnp.concatenate([cell["h" + g]["kernel"] for g in GATES], -1),
            "bhn": cell["hn"]["bias"],
        }
    }


def from_canonical(c):
    p = c["params"]
    wx, bx, wh = (jnp.split(p[k], 3, axis=-1) for k in ("wx", "bx", "wh"))
    cell = {}
    for n, g in enumerate(GATES):
        cell["i" + g] = {"kernel": wx[n], "bias": bx[n]}
        cell["h" + g] = {"kernel": wh[n]}
    cell["hn"]["bias"] = p["bhn"]
    return {"params": {"cell": cell}}


def model(config, dtype):
    return _kit.linen(GRU(config["hidden"], dtype), to_canonical, from_canonical)
