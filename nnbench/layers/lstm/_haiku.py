"""LSTM in Haiku: an ``hk.RNNCore`` under ``hk.dynamic_unroll``.

``hk.LSTM`` adds a fixed 1 to the forget gate's pre-activation (Sonnet's
forget bias), which no weight conversion can express for gradients; this
core is the canonical LSTM written the Haiku way (``hk.Linear`` projections,
``hk.dynamic_unroll``).
"""

import haiku as hk
import jax
import jax.numpy as jnp

from nnbench.layers import kit as _kit


class LSTMCore(hk.RNNCore):
    def __init__(self, hidden, name=None):
        super().__init__(name=name)
        self.hidden = hidden

    def __call__(self, x, state):
        c, h = state
        z = hk.Linear(4 * self.hidden, with_bias=False, name="wx")(x) + hk.Linear(4 * self.hidden, name="wh")(h)
        i, f, g, o = jnp.split(z, 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return h, (c, h)

    def initial_state(self, batch_size):
        zeros = jnp.zeros((batch_size, self.hidden), jnp.float32)
        return zeros, zeros


def model(config, dtype):
    def forward(x, train):
        core = LSTMCore(config["hidden"], name="lstm")
        state = jax.tree.map(lambda a: a.astype(x.dtype), core.initial_state(x.shape[0]))
        hs, _ = hk.dynamic_unroll(core, x, state, time_major=False)
        return hs

    def to_canonical(v):
        p = v["params"]
        return {"params": {"wx": p["lstm/wx"]["w"], "wh": p["lstm/wh"]["w"], "b": p["lstm/wh"]["b"]}}

    def from_canonical(c):
        p = c["params"]
        return {"params": {"lstm/wx": {"w": p["wx"]}, "lstm/wh": {"w": p["wh"], "b": p["b"]}}, "state": {}}

    return _kit.haiku(forward, dtype, to_canonical, from_canonical)
