"""Embedding in Flax Linen: ``nn.Embed``."""

import flax.linen as nn
import jax.numpy as jnp

from nnbench.layers import kit as _kit


class Embedding(nn.Module):
    vocab: int
    features: int
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        return nn.Embed(self.vocab, self.features, dtype=self.dtype, param_dtype=jnp.float32, name="embed")(x)


def model(config, dtype):
    return _kit.linen(
        Embedding(config["vocab"], config["features"], dtype),
        lambda v: {"params": {"table": v["params"]["embed"]["embedding"]}},
        lambda c: {"params": {"embed": {"embedding": c["params"]["table"]}}},
    )
