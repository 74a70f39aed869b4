"""Convolution in Flax NNX: ``nnx.Conv`` / ``nnx.ConvTranspose``."""

import jax.numpy as jnp
from flax import nnx


def model(config, dtype, rngs):
    layer = nnx.ConvTranspose if config["transpose"] else nnx.Conv
    return layer(
        config["c_in"],
        config["c_out"],
        config["kernel"],
        strides=config["stride"],
        padding=config["padding"],
        dtype=dtype,
        param_dtype=jnp.float32,
        rngs=rngs,
    )


def to_canonical(pure):
    return {"params": {"w": pure["kernel"], "b": pure["bias"]}}


def from_canonical(canonical):
    return {"kernel": canonical["params"]["w"], "bias": canonical["params"]["b"]}
