"""GRU in Flax NNX: ``nnx.RNN`` over a subclass of ``nnx.GRUCell``.

``nnx.GRUCell`` has no bias on the recurrent candidate projection (``bhn``
inside the reset gate), so it is a different cell from Linen's, cuDNN's and
PyTorch's; the subclass adds that one parameter the way an NNX user extends
a module, and keeps the cell's own ``dense_i``/``dense_h`` layout (r, z, n).
"""

import jax
import jax.numpy as jnp
from flax import nnx


class GRUCell(nnx.GRUCell):
    def __init__(self, in_features, hidden_features, *, rngs, **kwargs):
        super().__init__(in_features, hidden_features, rngs=rngs, **kwargs)
        self.bhn = nnx.Param(jnp.zeros((hidden_features,), kwargs.get("param_dtype", jnp.float32)))

    def __call__(self, carry, inputs):
        h = carry
        xr, xz, xn = jnp.split(self.dense_i(inputs), 3, axis=-1)
        hr, hz, hn = jnp.split(self.dense_h(h), 3, axis=-1)
        r = jax.nn.sigmoid(xr + hr)
        z = jax.nn.sigmoid(xz + hz)
        n = jnp.tanh(xn + r * (hn + self.bhn[...].astype(hn.dtype)))
        new_h = (1.0 - z) * n + z * h
        return new_h, new_h


def model(config, dtype, rngs):
    cell = GRUCell(config["d_in"], config["hidden"], dtype=dtype, param_dtype=jnp.float32, rngs=rngs)
    return nnx.RNN(cell, rngs=rngs)


def to_canonical(pure):
    cell = pure["cell"]
    return {
        "params": {
            "wx": cell["dense_i"]["kernel"],
            "bx": cell["dense_i"]["bias"],
            "wh": cell["dense_h"]["kernel"],
            "bhn": cell["bhn"],
        }
    }


def from_canonical(canonical):
    p = canonical["params"]
    return {"cell": {"dense_i": {"kernel": p["wx"], "bias": p["bx"]}, "dense_h": {"kernel": p["wh"]}, "bhn": p["bhn"]}}
