"""The stack in plain JAX: the MLP's pure function, with a cheap initialiser.

The weights are fixed numpy constants (uniform with LeCun variance, numpy
seed 0; the key is unused): what the stack measures is per-layer overhead,
and its weights only need to be the same in every style. Per-layer
``jax.random`` calls made the jitted init of a 1000-layer stack compile for
minutes here (XLA CPU re-fuses the random math into each of the 2000
outputs); constants compile in seconds.

Canonical layout, as the MLP's: ``{"params": {"dense_i": {"w": [in, out],
"b": [out]}}}``.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from nnbench.layers.catalog import Functional
from nnbench.layers.mlp import _jax as mlp_jax
from nnbench.layers.mlp._common import layer_names


def model(config, dtype) -> Functional:
    base = mlp_jax.model(config, dtype)
    depth, width = config["depth"], config["width"]

    def init(key, x):
        del key, x
        w = np.random.default_rng(0).uniform(-1.0, 1.0, (depth, width, width)) * np.sqrt(3.0 / width)
        w = w.astype(np.float32)
        zeros = np.zeros((width,), np.float32)
        return {
            "params": {
                name: {"w": jnp.asarray(w[i]), "b": jnp.asarray(zeros)} for i, name in enumerate(layer_names(config))
            }
        }

    return base._replace(init=init)
