"""BatchNorm in Flax Linen: ``nn.BatchNorm`` with the mutable ``batch_stats``."""

import flax.linen as nn
import jax.numpy as jnp

from nnbench.layers import kit as _kit


class Norm(nn.Module):
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        return nn.BatchNorm(
            use_running_average=not train,
            momentum=0.9,
            epsilon=1e-5,
            dtype=self.dtype,
            param_dtype=jnp.float32,
            name="bn",
        )(x)


def to_canonical(v):
    out = {"params": dict(v["params"]["bn"])}
    if "batch_stats" in v:
        out["batch_stats"] = dict(v["batch_stats"]["bn"])
    return out


def from_canonical(c):
    return {"params": {"bn": dict(c["params"])}, "batch_stats": {"bn": dict(c["batch_stats"])}}


def model(config, dtype):
    return _kit.linen(Norm(dtype), to_canonical, from_canonical, mutable=("batch_stats",))
