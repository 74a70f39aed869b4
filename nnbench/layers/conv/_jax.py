"""Convolution in plain JAX: ``lax.conv_general_dilated`` / ``lax.conv_transpose``."""

import math

import jax
import jax.numpy as jnp

from nnbench.layers import kit as _kit

SPECS = {1: ("NWC", "WIO", "NWC"), 2: ("NHWC", "HWIO", "NHWC"), 3: ("NDHWC", "DHWIO", "NDHWC")}


def model(config, dtype):
    kernel = config["kernel"]
    shape = (*kernel, config["c_in"], config["c_out"])

    def init(key, x):
        del x
        return {
            "params": {
                "w": _kit.lecun_normal(key, shape, math.prod(kernel) * config["c_in"]),
                "b": jnp.zeros((config["c_out"],), jnp.float32),
            }
        }

    def forward(variables, x, train, rng):
        p = variables["params"]
        w = p["w"].astype(dtype)
        spec = SPECS[len(kernel)]
        if config["transpose"]:
            y = jax.lax.conv_transpose(x.astype(dtype), w, config["stride"], config["padding"], dimension_numbers=spec)
        else:
            y = jax.lax.conv_general_dilated(
                x.astype(dtype), w, config["stride"], config["padding"], dimension_numbers=spec
            )
        return y + p["b"].astype(dtype), {}

    return _kit.raw(init, forward)
