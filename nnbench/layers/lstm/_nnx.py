"""LSTM in Flax NNX: ``nnx.RNN(nnx.LSTMCell)`` (NNX names the input forget
kernel ``if_``)."""

import jax.numpy as jnp
from flax import nnx

from nnbench.layers import kit as _kit
from nnbench.layers.lstm import _linen


def model(config, dtype, rngs):
    cell = nnx.LSTMCell(config["d_in"], config["hidden"], dtype=dtype, param_dtype=jnp.float32, rngs=rngs)
    return nnx.RNN(cell, rngs=rngs)


def to_canonical(pure):
    return _linen.to_canonical({"params": {"cell": _kit.rename(pure["cell"], {"if_": "if"})}})


def from_canonical(canonical):
    return {"cell": _kit.rename(_linen.from_canonical(canonical)["params"]["cell"], {"if": "if_"})}
