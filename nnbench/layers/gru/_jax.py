"""GRU in plain JAX: ``lax.scan`` over time."""

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
                "wx": _kit.lecun_normal(kx, (d, 3 * h), d),
                "bx": jnp.zeros((3 * h,), jnp.float32),
                "wh": _kit.lecun_normal(kh, (h, 3 * h), h),
                "bhn": jnp.zeros((h,), jnp.float32),
            }
        }

    def forward(variables, x, train, rng):
        p = jax.tree.map(lambda a: a.astype(dtype), variables["params"])
        x = x.astype(dtype)
        # The input projection does not depend on the carry: one matmul for all steps.
        xr, xz, xn = jnp.split(x @ p["wx"] + p["bx"], 3, axis=-1)

        def step(hid, xt):
            xr_t, xz_t, xn_t = xt
            hr, hz, hn = jnp.split(hid @ p["wh"], 3, axis=-1)
            r = jax.nn.sigmoid(xr_t + hr)
            z = jax.nn.sigmoid(xz_t + hz)
            n = jnp.tanh(xn_t + r * (hn + p["bhn"]))
            hid = (1 - z) * n + z * hid
            return hid, hid

        time_major = tuple(a.swapaxes(0, 1) for a in (xr, xz, xn))
        _, hs = jax.lax.scan(step, jnp.zeros((x.shape[0], h), dtype), time_major)
        return hs.swapaxes(0, 1), {}

    return _kit.raw(init, forward)
