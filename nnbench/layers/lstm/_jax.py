"""LSTM in plain JAX: ``lax.scan`` over time."""

import jax
import jax.numpy as jnp

from nnbench.layers import kit as _kit


def model(config, dtype):
    d, h = config["d_in"], config["hidden"]

    def init(key, x):
        del x
        kx, kh = jax.random.split(key)
        return {
            "params": {
                "wx": _kit.lecun_normal(kx, (d, 4 * h), d),
                "wh": _kit.lecun_normal(kh, (h, 4 * h), h),
                "b": jnp.zeros((4 * h,), jnp.float32),
            }
        }

    def forward(variables, x, train, rng):
        p = jax.tree.map(lambda a: a.astype(dtype), variables["params"])
        x = x.astype(dtype)

        def step(carry, xt):
            c, hid = carry
            i, f, g, o = jnp.split(xt @ p["wx"] + hid @ p["wh"] + p["b"], 4, axis=-1)
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            hid = jax.nn.sigmoid(o) * jnp.tanh(c)
            return (c, hid), hid

        zeros = jnp.zeros((x.shape[0], h), dtype)
        _, hs = jax.lax.scan(step, (zeros, zeros), x.swapaxes(0, 1))
        return hs.swapaxes(0, 1), {}

    return _kit.raw(init, forward)
