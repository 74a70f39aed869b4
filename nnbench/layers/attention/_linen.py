"""Self-attention in Flax Linen: ``nn.MultiHeadDotProductAttention`` with
``nn.make_causal_mask``."""

import flax.linen as nn
import jax.numpy as jnp

from nnbench.layers import kit as _kit


class SelfAttention(nn.Module):
    heads: int
    d_model: int
    causal: bool
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x, train: bool = False):
        mask = nn.make_causal_mask(x[..., 0]) if self.causal else None
        attn = nn.MultiHeadDotProductAttention(
            num_heads=self.heads,
            qkv_features=self.d_model,
            out_features=self.d_model,
            dtype=self.dtype,
            param_dtype=jnp.float32,
            name="attn",
        )
        return attn(x, x, mask=mask)


def to_canonical(v):
    p = v["params"]["attn"]
    return {"params": {n: {"w": p[n]["kernel"], "b": p[n]["bias"]} for n in ("query", "key", "value", "out")}}


def from_canonical(c):
    return {"params": {"attn": {n: {"kernel": v["w"], "bias": v["b"]} for n, v in c["params"].items()}}}


def model(config, dtype):
    return _kit.linen(
        SelfAttention(config["heads"], config["d_model"], config["causal"], dtype), to_canonical, from_canonical
    )
