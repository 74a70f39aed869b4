"""Self-attention in Flax NNX: ``nnx.MultiHeadAttention`` with
``nnx.make_causal_mask``."""

import jax.numpy as jnp
from flax import nnx

NAMES = ("query", "key", "value", "out")


class SelfAttention(nnx.Module):
    def __init__(self, config, dtype, rngs: nnx.Rngs):
        self.causal = config["causal"]
        d = config["d_model"]
        self.attn = nnx.MultiHeadAttention(
            num_heads=config["heads"],
            in_features=d,
            qkv_features=d,
            out_features=d,
            decode=False,
            dtype=dtype,
            param_dtype=jnp.float32,
            rngs=rngs,
        )

    def __call__(self, x):
        mask = nnx.make_causal_mask(x[..., 0]) if self.causal else None
        return self.attn(x, mask=mask)


def model(config, dtype, rngs):
    return SelfAttention(config, dtype, rngs)


def to_canonical(pure):
    return {"params": {n: {"w": pure["attn"][n]["kernel"], "b": pure["attn"][n]["bias"]} for n in NAMES}}


def from_canonical(canonical):
    return {"attn": {n: {"kernel": v["w"], "bias": v["b"]} for n, v in canonical["params"].items()}}
