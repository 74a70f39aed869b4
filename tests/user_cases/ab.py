"""A tiny loop step for the ``nnbench ab`` tests: ``ITERS`` rounds of
``tanh(x @ w)`` on (16, 16) float32. A test copies this file into another
checkout with a larger ``ITERS`` to make a slower candidate."""

import jax
import jax.numpy as jnp

import nnbench

ITERS = 100


def build():
    x = jnp.ones((16, 16), jnp.float32) * 0.01
    w = jnp.eye(16, dtype=jnp.float32) * 0.5
    step = jax.jit(lambda x, w: jax.lax.fori_loop(0, ITERS, lambda i, y: jnp.tanh(y @ w), x))
    return step, (x, w)


CASES = [nnbench.UserCase("loop", build, model_flops=ITERS * 2 * 16**3, items_per_step=16)]
