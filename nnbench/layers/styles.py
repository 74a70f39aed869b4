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
import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from nnbench.layers import untimed
from nnbench.layers.catalog import MODES, Batch, Entry, Functional, Variables

DESIGN_STYLES = ("jax", "linen", "nnx", "nnx_split", "haiku")


def nnx_jit_modes() -> tuple[str, ...]:
    """The extra NNX jit modes the installed Flax offers, detected, not assumed.

    ``nnx_tree``: ``nnx.jit(..., graph=False)`` (tree mode); ``nnx_cached``:
    ``nnx.cached_partial`` over an ``nnx.jit`` step; ``nnx_partial``:
    ``nnx.jit_partial(..., graph=False)``.
    """
    modes = []
    if "graph" in inspect.signature(nnx.jit).parameters:
        modes.append("nnx_tree")
    if hasattr(nnx, "cached_partial"):
        modes.append("nnx_cached")
    if hasattr(nnx, "jit_partial"):
        modes.append("nnx_partial")
    return tuple(modes)


# Older Flax releases (the flax release study, ``nnbench bisect --package
# flax``) spell a few NNX calls differently: the pure-dict helpers were
# State methods before 0.10.7, and the optimizer held its model (update(grads))
# before 0.11.
_UPDATE_TAKES_MODEL = "model" in inspect.signature(nnx.Optimizer.update).parameters


def _replace_by_pure_dict(state, pure) -> None:
    if hasattr(nnx, "replace_by_pure_dict"):
        nnx.replace_by_pure_dict(state, pure)
    else:
        state.replace_by_pure_dict(pure)


def _to_pure_dict(state):
    return nnx.to_pure_dict(state) if hasattr(nnx, "to_pure_dict") else state.to_pure_dict()


STYLES = DESIGN_STYLES + nnx_jit_modes()
FAMILY = {"jax": "jax", "linen": "linen", "haiku": "haiku", **{s: "nnx" for s in STYLES if s.startswith("nnx")}}
LEARNING_RATE = 1e-3


def _same(out: Any) -> Any:
    return out


@dataclasses.dataclass(frozen=True)
class Built:
    """One runnable step: ``step(*args)``; ``carry(args, out)`` gives the next
    call's arguments (``None``: the same ``args`` again). ``result(out)`` is
    the part of a call's output every style computes alike, for the step
    gate (``_parity.step_results``): the model output of a forward step, the
    loss of a train step; ``None`` where styles differ by design (``init``)."""

    step: Callable[..., Any]
    args: tuple[Any, ...]
    carry: Callable[[tuple[Any, ...], Any], tuple[Any, ...]] | None = None
    donated: bool = False
    result: Callable[[Any], Any] | None = None


def _dtype(name: str) -> Any:
    return jnp.dtype(name)


# Kept programs, keyed on the code they run (an impl module, a batch maker)
# with the config and dtype: an entry rebuilt with other code under the
# same name (as tests do) gets its own.
_INITS: dict[tuple[Any, str, str], untimed.Once] = {}
_BATCHES: dict[tuple[Any, str, str], untimed.Once | None] = {}


def _ident(code: Any, config: Mapping[str, Any], dtype: str) -> tuple[Any, str, str]:
    return (code, repr(sorted(config.items())), dtype)


def canonical_weights(entry: Entry, config: Mapping[str, Any], dtype: str, key: jax.Array, x: jax.Array) -> Variables:
    """The reference weights every style loads: the raw-JAX initialiser's.

    Compiled once per (layer, config, dtype) and process with
    ``untimed.BUILD_OPTIONS`` (bitwise the default compile's weights, a
    fraction of its compile time) and kept across cache clears.
    """
    ident = _ident(entry.impls["jax"], config, dtype)
    if ident not in _INITS:
        _INITS[ident] = untimed.Once(entry.impls["jax"].model(config, _dtype(dtype)).init, untimed.BUILD_OPTIONS)
    return _INITS[ident](key, x)


def batch_for(entry: Entry, config: Mapping[str, Any], dtype: str, key: jax.Array) -> Batch:
    """``entry.make_batch``, compiled as one program like ``canonical_weights``
    (eagerly, each random op compiled on its own, again after every cache
    clear); a ``make_batch`` that cannot be traced runs as it is."""
    ident = _ident(entry.make_batch, config, dtype)
    if ident not in _BATCHES:
        _BATCHES[ident] = untimed.Once(lambda k: entry.make_batch(config, k, _dtype(dtype)), untimed.BUILD_OPTIONS)
    once = _BATCHES[ident]
    if once is not None:
        try:
            return once(key)
        except jax.errors.JAXTypeError:  # not traceable (a concrete value was needed): eager from now on
            _BATCHES[ident] = None
    return entry.make_batch(config, key, _dtype(dtype))


def _nnx_module(
    entry: Entry, config: Mapping[str, Any], dtype: str, canonical: Variables | None, key: jax.Array
) -> nnx.Module:
    module = entry.impls["nnx"].model(config, _dtype(dtype), nnx.Rngs(key))
    return module if canonical is None else _load_canonical(entry, module, canonical)


def _load_canonical(entry: Entry, module: nnx.Module, canonical: Variables) -> nnx.Module:
    state = nnx.state(module)
    _replace_by_pure_dict(state, entry.impls["nnx"].from_canonical(canonical))
    nnx.update(module, state)
    return module


_NNX_TEMPLATE: dict[tuple[Any, ...], nnx.Module] = {}
_NNX_STATES: dict[tuple[Any, str, str], tuple[Any, untimed.Once]] = {}  # (graphdef, state program)


def _nnx_constructed(entry: Entry, config: Mapping[str, Any], dtype: str, key: jax.Array) -> nnx.Module:
    """``impl.model(config, dtype, nnx.Rngs(key))`` outside a trace, its
    state computed by one program compiled like ``canonical_weights`` (and
    kept) instead of op by op: a module's eager initialisers compiled each
    kernel shape's truncated normal on its own at full optimisation (ResNet
    tiny: 12 shapes, 16 s, again after every cache clear)."""
    impl = entry.impls["nnx"]

    def make(k):
        return impl.model(config, _dtype(dtype), nnx.Rngs(k))

    ident = _ident(impl, config, dtype)
    if ident not in _NNX_STATES:
        graphdef = nnx.graphdef(nnx.eval_shape(make, key))
        _NNX_STATES[ident] = (graphdef, untimed.Once(lambda k: nnx.state(make(k)), untimed.BUILD_OPTIONS))
    graphdef, state = _NNX_STATES[ident]
    return nnx.merge(graphdef, state(key))


def _nnx_built_module(
    entry: Entry, config: Mapping[str, Any], dtype: str, seed: int, k_init: jax.Array, k_rng: jax.Array, x: jax.Array
) -> nnx.Module:
    """A fresh NNX module with the canonical weights of ``seed``.

    The NNX jit modes of one case load the same module: constructing each
    anew reruns its eager initialisers (after a cache clear, compiling each
    op again), so the first is kept as a template (one at a time) and the
    others are clones of it. The template itself is never stepped.
    """
    ident = (*_ident((entry.impls["jax"], entry.impls["nnx"]), config, dtype), seed)  # its weights are the jax init's
    if ident not in _NNX_TEMPLATE:
        canonical = canonical_weights(entry, config, dtype, k_init, x)
        template = _load_canonical(entry, _nnx_constructed(entry, config, dtype, k_rng), canonical)
        _NNX_TEMPLATE.clear()
        _NNX_TEMPLATE[ident] = template
    module = nnx.clone(_NNX_TEMPLATE[ident])
    # nnx.clone copies the graph, not the arrays: give the clone buffers of
    # its own, or a train step that donates its state deletes the template's.
    nnx.update(module, jax.tree.map(jnp.copy, nnx.state(module)))
    return module


def _functional(entry: Entry, style: str, config: Mapping[str, Any], dtype: str) -> Functional:
    return entry.impls[FAMILY[style]].model(config, _dtype(dtype))


def _functional_train_step(fm: Functional, loss: Callable, tx: optax.GradientTransformation, stochastic: bool):
    """``(variables, opt_state, batch, rng) -> (variables, opt_state, loss, rng)``.

    ``rng`` is raw key data (``uint32``); a stochastic layer splits it each
    step, uses one half and carries the other, so every step draws a new
    dropout mask. Non-param collections the forward pass updates (BatchNorm
    statistics) come back in ``variables``.
    """

    def train_step(variables, opt_state, batch, rng):
        rest = {k: v for k, v in variables.items() if k != "params"}
        step_key = None
        if stochastic:
            rng, step_key = jax.random.split(jax.random.wrap_key_data(rng))
            rng = jax.random.key_data(rng)

        def loss_fn(params):
            y, updates = fm.apply({"params": params, **rest}, batch["x"], train=True, rng=step_key)
            return loss(y, batch), updates

        (value, updates), grads = jax.value_and_grad(loss_fn, has_aux=True)(variables["params"])
        deltas, opt_state = tx.update(grads, opt_state, variables["params"])
        params = optax.apply_updates(variables["params"], deltas)
        return {"params": params, **rest, **updates}, opt_state, value, rng

    return train_step


def _nnx_loss_fn(loss: Callable, batch: Batch):
    def loss_fn(model):
        return loss(model(batch["x"]), batch)

    return loss_fn


def _nnx_train(model, optimizer, batch, loss):
    value, grads = nnx.value_and_grad(_nnx_loss_fn(loss, batch))(model)
    if _UPDATE_TAKES_MODEL:
        optimizer.update(model, grads)
    else:  # Flax before 0.11: the optimizer holds the model
        optimizer.update(grads)
    return value


def _nnx_forward(model, x):
    return model(x)


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
            return Built(step, (variables, batch["x"]), result=_same)
        opt_state = tx.init(variables["params"])
        stochastic = getattr(entry, "stochastic", False)
        step = jax.jit(_functional_train_step(fm, loss, tx, stochastic), donate_argnums=(0, 1))
        return Built(
            step,
            (variables, opt_state, batch, jax.random.key_data(k_rng)),
            carry=lambda args, out: (out[0], out[1], args[2], out[3]),
            donated=True,
            result=lambda out: out[2],
        )

    impl = entry.impls["nnx"]
    if mode == "init":
        if style == "nnx_split":
            step = jax.jit(lambda key: nnx.split(impl.model(config, _dtype(dtype), nnx.Rngs(key)))[1])
        else:
            step = _nnx_jit(style)(lambda key: impl.model(config, _dtype(dtype), nnx.Rngs(key)))
        return Built(step, (k_init,))

    model = _nnx_built_module(entry, config, dtype, seed, k_init, k_rng, batch["x"])
    if mode == "forward":
        model.eval()
        return _nnx_built(style, _nnx_forward, (model,), (batch["x"],))

    # nnx.Module.train(): Dropout draws from the module's own Rngs stream
    # (its counter advances every call) and BatchNorm updates its BatchStat.
    model.train()
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    return _nnx_built(style, functools.partial(_nnx_train, loss=loss), (model, optimizer), (batch,))


class _Bound:
    """An ``nnx.cached_partial`` step, plus ``trace(*data)`` (the bound
    ``nnx.jit`` function traced with its objects) for compile-stage timing:
    the cached partial itself is a plain function."""

    def __init__(self, call: Callable, jitted: Any, objects: tuple[Any, ...]):
        self._call, self._jitted, self._objects = call, jitted, objects

    def __call__(self, *data):
        return self._call(*data)

    def trace(self, *data):
        return self._jitted.trace(*self._objects, *data)


def _nnx_jit(style: str) -> Callable:
    """``nnx.jit`` as the style writes it (graph mode, or tree mode)."""
    return functools.partial(nnx.jit, graph=False) if style == "nnx_tree" else nnx.jit


def _nnx_built(style: str, fn: Callable, objects: tuple[Any, ...], data: tuple[Any, ...]) -> Built:
    """Step ``fn(*objects, *data)`` (objects: NNX modules/optimizers) in ``style``.

    ``nnx``/``nnx_tree`` pass the objects on every call; ``nnx_cached`` and
    ``nnx_partial`` bind them once; ``nnx_split`` splits them once and
    ``jax.jit``s a function over their state that merges inside.
    """
    if style in ("nnx", "nnx_tree"):
        return Built(_nnx_jit(style)(fn), objects + data, result=_same)
    if style == "nnx_cached":
        jitted = nnx.jit(fn)
        return Built(_Bound(nnx.cached_partial(jitted, *objects), jitted, objects), data, result=_same)
    if style == "nnx_partial":
        return Built(nnx.jit_partial(fn, *objects, graph=False), data, result=_same)
    graphdef, state = nnx.split(objects)
    train = len(objects) > 1

    def split_step(state, *data):
        objs = nnx.merge(graphdef, state)
        out = fn(*objs, *data)
        return (nnx.state(objs), out) if train else out

    if not train:
        return Built(jax.jit(split_step), (state, *data), result=_same)
    step = jax.jit(split_step, donate_argnums=(0,))
    return Built(
        step, (state, *data), carry=lambda args, out: (out[0], *args[1:]), donated=True, result=lambda out: out[1]
    )


# --- parity views: the same math from every style, in the canonical layout ---


def forward_fn(
    entry: Entry, style: str, config: Mapping[str, Any], dtype: str
) -> Callable[[Variables, jax.Array], jax.Array]:
    """``(canonical, x) -> y`` computed through ``style``'s own API, eval mode."""
    if FAMILY[style] != "nnx":
        fm = _functional(entry, style, config, dtype)
        return lambda canonical, x: fm.apply(fm.from_canonical(canonical), x, train=False, rng=None)[0]

    def forward(canonical, x):
        model = _nnx_module(entry, config, dtype, canonical, jax.random.key(0))
        model.eval()
        return model(x)

    return forward


def dropout_fn(
    entry: Entry, style: str, config: Mapping[str, Any], dtype: str
) -> Callable[[Variables, jax.Array, jax.Array], jax.Array]:
    """``(canonical, x, key) -> y`` in training mode with dropout drawn from ``key``.

    Functional styles get ``key`` as their step key; NNX builds its module
    with ``nnx.Rngs(key)``. Libraries derive masks from a key differently, so
    only properties are comparable across styles (see ``_parity``).
    """
    if FAMILY[style] != "nnx":
        fm = _functional(entry, style, config, dtype)
        return lambda canonical, x, key: fm.apply(fm.from_canonical(canonical), x, train=True, rng=key)[0]

    def forward(canonical, x, key):
        model = _nnx_module(entry, config, dtype, canonical, key)
        model.train()
        return model(x)

    return forward


def grad_fn(
    entry: Entry, style: str, config: Mapping[str, Any], dtype: str
) -> Callable[[Variables, Batch], tuple[jax.Array, Variables, Variables]]:
    """``(canonical, batch) -> (loss, param grads, state)`` through ``style``.

    Training mode (BatchNorm normalises with batch statistics) with dropout
    off; ``state`` is every non-param collection after the step (e.g.
    ``{"batch_stats": ...}``, ``{}`` for stateless layers), canonical layout.
    """
    loss = entry.loss
    if FAMILY[style] != "nnx":
        fm = _functional(entry, style, config, dtype)

        def grads(canonical, batch):
            variables = fm.from_canonical(canonical)
            rest = {k: v for k, v in variables.items() if k != "params"}

            def loss_fn(params):
                y, updates = fm.apply({"params": params, **rest}, batch["x"], train=True, rng=None)
                return loss(y, batch), updates

            (value, updates), g = jax.value_and_grad(loss_fn, has_aux=True)(variables["params"])
            after = fm.to_canonical({"params": g, **rest, **updates})
            return value, after.pop("params"), after

        return grads

    impl = entry.impls["nnx"]

    def nnx_grads(canonical, batch):
        model = _nnx_module(entry, config, dtype, canonical, jax.random.key(0))
        model.set_attributes(deterministic=True, use_running_average=False, raise_if_not_found=False)
        value, g = nnx.value_and_grad(_nnx_loss_fn(loss, batch))(model)
        grads = impl.to_canonical(_to_pure_dict(g))["params"]
        after = impl.to_canonical(_to_pure_dict(nnx.state(model)))
        after.pop("params")
        return value, grads, after

    return nnx_grads
