"""The stack in plain JAX: the MLP's pure function, with an initialiser
that computes every layer's weights in one array op from a hash of the
element index (per-layer ``truncated_normal`` calls made the jitted init of
a 100-layer stack take minutes to compile here, which is not what this
entry measures; the weights only need to be the same in every style).

Canonical layout, as the MLP's: ``{"params": {"dense_i": {"w": [in, out],
"b": [out]}}}``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from layers._styles import Functional
from layers.mlp import _jax as mlp_jax
from layers.mlp._common import layer_names


def model(config, dtype) -> Functional:
    base = mlp_jax.model(config, dtype)
    depth, width = config["depth"], config["width"]

    def init(key, x):
        del x
        # Uniform with LeCun variance, all layers at once from a hash of the
        # element index and the key (no per-layer RNG ops): [depth, width, width].
        seed = jax.random.key_data(key).astype(jnp.float32).sum() % 997.0
        i = jnp.arange(depth * width * width, dtype=jnp.float32).reshape(depth, width, width)
        u = jnp.mod(jnp.sin(i * 12.9898 + seed * 78.233) * 43758.5453, 1.0)
        # The barrier keeps XLA from re-fusing the hash into every slice.
        w = jnp.unstack(jax.lax.optimization_barrier((2.0 * u - 1.0) * jnp.sqrt(3.0 / width)))
        b = jnp.unstack(jnp.zeros((depth, width), jnp.float32))
        return {"params": {name: {"w": w[i], "b": b[i]} for i, name in enumerate(layer_names(config))}}

    return base._replace(init=init)
