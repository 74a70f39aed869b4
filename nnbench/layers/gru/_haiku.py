"""GRU in Haiku: an ``hk.RNNCore`` under ``hk.dynamic_unroll``.

``hk.GRU`` is the original Cho et al. cell: it resets the state *before* the
recurrent matmul (``(r ⊙ h)·Un``) and updates with ``(1 − z)·h + z·n``. No
weight conversion makes that the cuDNN/PyTorch/Linen cell nnbench compares,
so this core is that cell written the Haiku way (``hk.Linear`` projections,
``hk.get_parameter`` for the candidate bias, ``hk.dynamic_unroll``).
"""

import haiku as hk
import jax
import jax.numpy as jnp

from nnbench.layers import kit as _kit


class GRUCore(hk.RNNCore):
    def __init__(self, hidden, name=None):
        super().__init__(name=name)
        self.hidden = hidden

    def __call__(self, x, h):
        xr, xz, xn = jnp.split(hk.Linear(3 * self.hidden, name="wx")(x), 3, axis=-1)
        hr, hz, hn = jnp.split(hk.Linear(3 * self.hidden, with_bias=False, name="wh")(h), 3, axis=-1)
        bhn = hk.get_parameter("bhn", [self.hidden], hn.dtype, init=jnp.zeros)
        r = jax.nn.sigmoid(xr + hr)
        z = jax.nn.sigmoid(xz + hz)
        n = jnp.tanh(xn + r * (hn + bhn))
        h = (1 - z) * n + z * h
        return h, h

    def initial_state(self, batch_size):
        return jnp.zeros((batch_size, self.hidden), jnp.float32)


def model(config, dtype):
    def forward(x, train):
        core = GRUCore(config["hidden"], name="gru")
        hs, _ = hk.dynamic_unroll(core, x, core.initial_state(x.shape[0]).astype(x.dtype), time_major=False)
        return hs

    def to_canonical(v):
        p = v["params"]
        return {
            "params": {"wx": p["gru/wx"]["w"], "bx": p["gru/wx"]["b"], "wh": p["gru/wh"]["w"], "bhn": p["gru"]["bhn"]}
        }

    def from_canonical(c):
        p = c["params"]
        return {
            "params": {"gru/wx": {"w": p["wx"], "b": p["bx"]}, "gru/wh": {"w": p["wh"]}, "gru": {"bhn": p["bhn"]}},
            "state": {},
        }

    return _kit.haiku(forward, dtype, to_canonical, from_canonical)
