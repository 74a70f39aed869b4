"""Dense + dropout in Flax NNX: ``nnx.Dropout`` holding its ``Rngs`` stream."""

import jax.numpy as jnp
from flax import nnx

from nnbench.layers.dense import _nnx as dense


class DenseDropout(nnx.Module):
    def __init__(self, d_in, d_out, rate, dtype, rngs: nnx.Rngs):
        self.dense = nnx.Linear(d_in, d_out, dtype=dtype, param_dtype=jnp.float32, rngs=rngs)
        self.dropout = nnx.Dropout(rate, rngs=rngs)

    def __call__(self, x):
        return self.dropout(self.dense(x))


def model(config, dtype, rngs):
    return DenseDropout(config["d_in"], config["d_out"], config["rate"], dtype, rngs)


def to_canonical(pure):
    return dense.to_canonical(pure["dense"])


def from_canonical(canonical):
    return {"dense": dense.from_canonical(canonical)}
