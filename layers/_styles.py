"""Turn a catalog entry into steps, the way users of each API style write them.

Two protocols exist for a layer's per-style module (``entry.impls[family]``):

Functional families (``jax``, ``linen``, ``haiku``) provide
``model(config, dtype) -> Functional``: pure ``init``/``apply`` over a dict of
variable collections (``{"params": ..., <other collections>}``) plus
conversion to and from the canonical layout (the raw ``jax`` layout).

The ``nnx`` family provides ``model(config, dtype, rngs) -> nnx.Module`` and
``to_canonical(pure_dict)`` / ``from_canonical(canonical) -> pure_dict`` over
``nnx.to_pure_dict(nnx.state(module))``.

Styles are how a family is *stepped*: ``nnx`` uses ``nnx.jit`` on the module
as NNX users write it; ``nnx_split`` splits once and ``jax.jit``s a function
that merges inside.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from layers._catalog import MODES, Batch, Entry

STYLES = ("jax", "linen", "nnx", "nnx_split", "haiku")
FAMILY = {"jax": "jax", "linen": "linen", "haiku": "haiku", "nnx": "nnx", "nnx_split": "nnx"}
LEARNING_RATE = 1e-3

Variables = dict[str, Any]


class Functional(NamedTuple):
    """A pure model: what the ``jax``, ``linen`` and ``haiku`` families provide.

    ``init(key, x) -> variables``; ``apply(variables, x, *, train, rng) ->
    (y, updated_collections)`` where ``updated_collections`` holds the
    non-param collections a training step changes (empty for stateless
    layers).
    """

    init: Callable[[jax.Array, jax.Array], Variables]
    apply: Callable[..., tuple[jax.Array, Variables]]
    to_canonical: Callable[[Variables], Variables]
    from_canonical: Callable[[Variables], Variables]


@dataclasses.dataclass(frozen=True)
class Built:
    """One runnable step: ``step(*args)``; ``carry(args, out)`` gives the next
    call's arguments (``None``: the same ``args`` again)."""

    step: Callable[..., Any]
    args: tuple[Any, ...]
    carry: Callable[[tuple[Any, ...], Any], tuple[Any, ...]] | None = None
    donated: bool = False


def _dtype(name: str) -> Any:
    return jnp.dtype(name)


def canonical_weights(entry: Entry, config: Mapping[str, Any], dtype: str, key: jax.Array, x: jax.Array) -> Variables:
    """The reference weights every style loads: the raw-JAX initialiser's."""
    return jax.jit(entry.impls["jax"].model(config, _dtype(dtype)).init)(key, x)


def batch_for(entry: Entry, config: Mapping[str, Any], dtype: str, key: jax.Array) -> Batch:
    return entry.make_batch(config, key, _dtype(dtype))


def _nnx_module(entry: Entry, config: Mapping[str, Any], dtype: str, canonical: Variables | None, key: jax.Array) -> nnx.Module:
    impl = entry.impls["nnx"]
    module = impl.model(config, _dtype(dtype), nnx.Rngs(key))
    if canonical is not None:
        state = nnx.state(module)
        nnx.replace_by_pure_dict(state, impl.from_canonical(canonical))
        nnx.update(module, state)
    return module


def _functional(entry: Entry, style: str, config: Mapping[str, Any], dtype: str) -> Functional:
    return entry.impls[FAMILY[style]].model(config, _dtype(dtype))


def _functional_train_step(fm: Functional, loss: Callable, tx: optax.GradientTransformation):
    def train_step(variables, opt_state, batch, rng):
        rest = {k: v for k, v in variables.items() if k != "params"}

        def loss_fn(params):
            y, updates = fm.apply({"params": params, **rest}, batch["x"], train=True, rng=rng)
            return loss(y, batch), updates

        (value, updates), grads = jax.value_and_grad(loss_fn, has_aux=True)(variables["params"])
        deltas, opt_state = tx.update(grads, opt_state, variables["params"])
        params = optax.apply_updates(variables["params"], deltas)
        return {"params": params, **rest, **updates}, opt_state, value

    return train_step


def _nnx_loss_fn(loss: Callable, batch: Batch):
    def loss_fn(model):
        return loss(model(batch["x"]), batch)

    return loss_fn


def build(entry: Entry, style: str, size: str, mode: str, dtype: str = "float32", seed: int = 0) -> Built:
    """Build the jitted step for one case, with the canonical weights loaded."""
    if style not in STYLES:
        raise KeyError(f"unknown style {style!r} (known: {', '.join(STYLES)})")
    if mode not in MODES:
        raise KeyError(f"unknown mode {mode!r} (known: {', '.join(MODES)})")
    config = entry.config(size)
    k_data, k_init, k_rng = jax.random.split(jax.random.key(seed), 3)
    batch = batch_for(entry, config, dtype, k_data)
    loss = entry.loss
    tx = optax.adamw(LEARNING_RATE)

    if FAMILY[style] != "nnx":
        fm = _functional(entry, style, config, dtype)
        if mode == "init":
            return Built(jax.jit(fm.init), (k_init, batch["x"]))
        variables = fm.from_canonical(canonical_weights(entry, config, dtype, k_init, batch["x"]))
        if mode == "forward":
            step = jax.jit(lambda v, x: fm.apply(v, x, train=False, rng=None)[0])
            return Built(step, (variables, batch["x"]))
        opt_state = tx.init(variables["params"])
        step = jax.jit(_functional_train_step(fm, loss, tx), donate_argnums=(0, 1))
        return Built(
            step,
            (variables, opt_state, batch, k_rng),
            carry=lambda args, out: (out[0], out[1], args[2], args[3]),
            donated=True,
        )

    impl = entry.impls["nnx"]
    if mode == "init":
        if style == "nnx":
            step = nnx.jit(lambda key: impl.model(config, _dtype(dtype), nnx.Rngs(key)))
        else:
            step = jax.jit(lambda key: nnx.split(impl.model(config, _dtype(dtype), nnx.Rngs(key)))[1])
        return Built(step, (k_init,))

    canonical = canonical_weights(entry, config, dtype, k_init, batch["x"])
    model = _nnx_module(entry, config, dtype, canonical, k_rng)
    if mode == "forward":
        model.eval()
        if style == "nnx":
            return Built(nnx.jit(lambda m, x: m(x)), (model, batch["x"]))
        graphdef, state = nnx.split(model)
        step = jax.jit(lambda s, x: nnx.merge(graphdef, s)(x))
        return Built(step, (state, batch["x"]))

    model.train()
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    if style == "nnx":

        @nnx.jit
        def nnx_train_step(model, optimizer, batch):
            value, grads = nnx.value_and_grad(_nnx_loss_fn(loss, batch))(model)
            optimizer.update(model, grads)
            return value

        return Built(nnx_train_step, (model, optimizer, batch))

    graphdef, state = nnx.split((model, optimizer))

    def split_train_step(state, batch):
        model, optimizer = nnx.merge(graphdef, state)
        value, grads = nnx.value_and_grad(_nnx_loss_fn(loss, batch))(model)
        optimizer.update(model, grads)
        return nnx.state((model, optimizer)), value

    step = jax.jit(split_train_step, donate_argnums=(0,))
    return Built(step, (state, batch), carry=lambda args, out: (out[0], args[1]), donated=True)


# --- parity views: the same math from every style, in the canonical layout ---


def forward_fn(entry: Entry, style: str, config: Mapping[str, Any], dtype: str) -> Callable[[Variables, jax.Array], jax.Array]:
    """``(canonical, x) -> y`` computed through ``style``'s own API."""
    if FAMILY[style] != "nnx":
        fm = _functional(entry, style, config, dtype)
        return lambda canonical, x: fm.apply(fm.from_canonical(canonical), x, train=False, rng=None)[0]

    def forward(canonical, x):
        model = _nnx_module(entry, config, dtype, canonical, jax.random.key(0))
        model.eval()
        return model(x)

    return forward


def grad_fn(entry: Entry, style: str, config: Mapping[str, Any], dtype: str) -> Callable[[Variables, Batch], tuple[jax.Array, Variables]]:
    """``(canonical, batch) -> (loss, canonical param grads)`` through ``style``."""
    loss = entry.loss
    if FAMILY[style] != "nnx":
        fm = _functional(entry, style, config, dtype)

        def grads(canonical, batch):
            variables = fm.from_canonical(canonical)
            rest = {k: v for k, v in variables.items() if k != "params"}

            def loss_fn(params):
                y, _ = fm.apply({"params": params, **rest}, batch["x"], train=True, rng=None)
                return loss(y, batch)

            value, g = jax.value_and_grad(loss_fn)(variables["params"])
            return value, fm.to_canonical({"params": g, **rest})["params"]

        return grads

    impl = entry.impls["nnx"]

    def nnx_grads(canonical, batch):
        model = _nnx_module(entry, config, dtype, canonical, jax.random.key(0))
        model.train()
        value, g = nnx.value_and_grad(_nnx_loss_fn(loss, batch))(model)
        return value, impl.to_canonical(nnx.to_pure_dict(g))["params"]

    return nnx_grads
