"""Sharding strategies for a catalog entry's train step.

Every strategy is a sharding of the *same* train step that ``layers.build``
makes (``dp_shard_map`` rewrites it per device with ``jax.shard_map``). The
rules read nothing but each leaf's role and shape, so any entry whose
functional train step has the usual ``(state..., batch, rng)`` arguments
gets every strategy without code of its own:

- state leaves (the arguments the step's ``carry`` feeds back: parameters,
  optimizer state, mutable collections) follow the strategy's parameter
  rule;
- other array leaves whose leading dimension is the global batch are the
  batch: split along ``data`` for ``dp``/``fsdp``/``dp_shard_map``,
  replicated for ``tp``;
- everything else (PRNG keys, scalars) is replicated.

Parameter rules (``n`` devices, one mesh axis):

============== ===================================================== ======
strategy       state leaves                                          axis
============== ===================================================== ======
dp             replicated                                            data
fsdp           split along the largest dimension divisible by ``n``  data
               (first such on ties; replicated if none)
tp             ``ndim >= 2``: split the last (output) dimension if    model
               divisible by ``n``; 1-D leaves (biases, norms)
               replicated
dp_shard_map   replicated; per-device step under ``jax.shard_map``,   data
               gradients ``pmean``-ed over ``data``
============== ===================================================== ======

Optimizer moments have their parameters' shapes, so they are sharded like
their parameters. ``tp`` splits every kernel on its output dimension (no
Megatron column/row alternation, which needs to know which layer follows
which); XLA inserts the collectives the layout needs and the record counts
them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from nnbench.layers import styles as _styles
from nnbench.layers.catalog import Entry

STRATEGIES = ("dp", "fsdp", "tp", "dp_shard_map")
MESH_AXIS = {"dp": "data", "fsdp": "data", "tp": "model", "dp_shard_map": "data"}
BATCH_SPLIT = {"dp": True, "fsdp": True, "tp": False, "dp_shard_map": True}
# Styles each strategy supports: ``nnx`` steps through ``nnx.jit`` on a live
# module (use ``nnx_split`` for the same model); ``dp_shard_map`` rewrites the
# step of the functional families.
STYLES = {
    "dp": ("jax", "linen", "nnx_split", "haiku"),
    "fsdp": ("jax", "linen", "nnx_split", "haiku"),
    "tp": ("jax", "linen", "nnx_split", "haiku"),
    "dp_shard_map": ("jax", "linen", "haiku"),
}


def make_mesh(strategy: str, devices: Sequence[jax.Device]) -> Mesh:
    """A 1-D mesh over ``devices``, axis ``data`` or ``model`` (auto axis types)."""
    return Mesh(np.array(list(devices)), (MESH_AXIS[strategy],))


def param_spec(strategy: str, shape: tuple[int, ...], n: int) -> P:
    """The partition spec of one state leaf of ``shape`` on ``n`` devices."""
    axis = MESH_AXIS[strategy]
    if strategy == "fsdp":
        fits = [d for d in range(len(shape)) if shape[d] % n == 0 and shape[d] >= n]
        if not fits or n == 1:
            return P()
        dim = max(fits, key=lambda d: (shape[d], -d))
        return P(*[axis if d == dim else None for d in range(len(shape))])
    if strategy == "tp" and len(shape) >= 2 and shape[-1] % n == 0 and n > 1:
        return P(*([None] * (len(shape) - 1)), axis)
    return P()


def scaled_config(config: Mapping[str, Any], scaling: str, n: int) -> dict[str, Any]:
    """``config`` with the global batch for ``n`` devices: unchanged for strong
    scaling, ``batch * n`` for weak scaling (needs a ``batch`` key)."""
    if scaling == "strong":
        return dict(config)
    if scaling != "weak":
        raise ValueError(f"unknown scaling {scaling!r} (known: strong, weak)")
    if "batch" not in config:
        raise ValueError("weak scaling needs a 'batch' key in the layer's config")
    return {**config, "batch": config["batch"] * n}


def scaled_entry(entry: Entry, size: str, scaling: str, n: int) -> Entry:
    """``entry`` whose ``size`` config has the global batch for ``n`` devices."""
    return dataclasses.replace(entry, sizes={**entry.sizes, size: scaled_config(entry.config(size), scaling, n)})


class _Slot:
    """Marks output leaf ``i`` while tracing which outputs ``carry`` feeds back."""

    def __init__(self, i: int):
        self.i = i


def carried(built: _styles.Built) -> tuple[dict[int, tuple[int, int]], list[int], Any]:
    """Which outputs become which arguments on the next call.

    Returns ``(slots, loss_leaves, out_treedef)``: ``slots`` maps output leaf
    index -> ``(argument position, leaf index in that argument)``;
    ``loss_leaves`` are the output leaves no argument takes (the loss and
    other metrics).
    """
    out_shape = jax.eval_shape(built.step, *built.args)
    leaves, treedef = jax.tree_util.tree_flatten(out_shape)
    if built.carry is None:
        return {}, list(range(len(leaves))), treedef
    marked = jax.tree_util.tree_unflatten(treedef, [_Slot(i) for i in range(len(leaves))])
    nxt = built.carry(built.args, marked)
    slots: dict[int, tuple[int, int]] = {}
    for pos, arg in enumerate(nxt):
        for j, leaf in enumerate(jax.tree_util.tree_leaves(arg)):
            if isinstance(leaf, _Slot):
                slots[leaf.i] = (pos, j)
    return slots, [i for i in range(len(leaves)) if i not in slots], treedef


def place(x: Any, sharding: NamedSharding) -> jax.Array:
    """A fresh global array of ``x``'s values laid out by ``sharding``.

    Works across processes (each process supplies its addressable shards from
    the same host values) and always copies, so donating the result never
    deletes ``x`` (``device_put`` onto a 1-device mesh can alias it).
    """
    if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
        data = place(jax.random.key_data(x), NamedSharding(sharding.mesh, P()))
        return jax.random.wrap_key_data(data, impl=jax.random.key_impl(x))
    host = np.array(x)
    return jax.make_array_from_callback(host.shape, sharding, lambda idx: host[idx])


@dataclasses.dataclass(frozen=True)
class Sharded:
    """A sharded train step: ``built`` (arguments placed on ``mesh``) plus
    what the harness records. ``loss_leaves``: output leaves holding the loss
    (and any other uncarried output)."""

    built: _styles.Built
    mesh: Mesh
    strategy: str
    loss_leaves: tuple[int, ...]
    param_specs: dict[str, int]  # spec text -> number of state leaves with it


def _pmean_grads(axis: str) -> optax.GradientTransformation:
    return optax.stateless(lambda updates, params=None: jax.lax.pmean(updates, axis))


def _shard_map_step(
    entry: Entry, style: str, config: Mapping[str, Any], dtype: str, mesh: Mesh, built: _styles.Built
) -> _styles.Built:
    """Data parallel written per device: each device steps on its batch
    shard, gradients and the loss are averaged over ``data``. Exact for a
    loss that is a mean over equal per-device batches."""
    axis = MESH_AXIS["dp_shard_map"]
    fm = _styles._functional(entry, style, config, dtype)
    tx = optax.chain(_pmean_grads(axis), optax.adamw(_styles.LEARNING_RATE))
    inner = _styles._functional_train_step(fm, entry.loss, tx, entry.stochastic)

    def per_device(variables, opt_state, batch, rng):
        variables, opt_state, value, rng = inner(variables, opt_state, batch, rng)
        # Mutable collections (e.g. batch statistics) are averaged too.
        rest = {
            k: jax.tree.map(
                lambda v: jax.lax.pmean(v, axis) if jax.numpy.issubdtype(v.dtype, jax.numpy.inexact) else v, c
            )
            for k, c in variables.items()
            if k != "params"
        }
        return {**variables, **rest}, opt_state, jax.lax.pmean(value, axis), rng

    step = jax.shard_map(
        per_device, mesh=mesh, in_specs=(P(), P(), P(axis), P()), out_specs=(P(), P(), P(), P()), check_vma=False
    )
    variables, _, batch, rng = built.args
    return _styles.Built(step, (variables, tx.init(variables["params"]), batch, rng), built.carry, built.donated)


def shard(
    entry: Entry,
    style: str,
    size: str,
    dtype: str,
    strategy: str,
    devices: Sequence[jax.Device],
    scaling: str = "strong",
    seed: int = 0,
) -> Sharded:
    """Build ``entry``'s train step for ``style`` and lay it out by ``strategy``
    on ``devices`` (a 1-D mesh). ``scaling`` picks the global batch (see
    ``scaled_config``). The step is jitted with explicit in/out shardings
    (state outputs keep their argument's sharding, so carrying them back
    never recompiles) and donates its state like the unsharded step."""
    if strategy not in STRATEGIES:
        raise KeyError(f"unknown strategy {strategy!r} (known: {', '.join(STRATEGIES)})")
    if style not in STYLES[strategy]:
        raise ValueError(f"strategy {strategy} supports styles {', '.join(STYLES[strategy])}, not {style}")
    n = len(devices)
    entry = scaled_entry(entry, size, scaling, n)
    config = entry.config(size)
    global_batch = config.get("batch")
    if BATCH_SPLIT[strategy] and global_batch is not None and global_batch % n:
        raise ValueError(f"global batch {global_batch} does not split over {n} devices")
    mesh = make_mesh(strategy, devices)
    built = _styles.build(entry, style, size, "train", dtype, seed)
    if strategy == "dp_shard_map":
        built = _shard_map_step(entry, style, config, dtype, mesh, built)
    slots, loss_leaves, out_treedef = carried(built)
    state_positions = {pos for pos, _ in slots.values()}
    axis = MESH_AXIS[strategy]
    replicated = NamedSharding(mesh, P())
    counts: dict[str, int] = {}

    def leaf_sharding(pos: int, leaf: Any) -> NamedSharding:
        shape = tuple(getattr(leaf, "shape", ()))
        if pos in state_positions:
            spec = param_spec("dp" if strategy == "dp_shard_map" else strategy, shape, n)
            counts[str(spec)] = counts.get(str(spec), 0) + 1
            return NamedSharding(mesh, spec)
        if BATCH_SPLIT[strategy] and shape and shape[0] == global_batch:
            return NamedSharding(mesh, P(axis))
        return replicated

    in_shardings = []
    for pos, arg in enumerate(built.args):
        leaves, treedef = jax.tree_util.tree_flatten(arg)
        in_shardings.append(jax.tree_util.tree_unflatten(treedef, [leaf_sharding(pos, x) for x in leaves]))
    flat_in = [jax.tree_util.tree_leaves(s, is_leaf=lambda x: isinstance(x, NamedSharding)) for s in in_shardings]
    out_shardings = jax.tree_util.tree_unflatten(
        out_treedef,
        [flat_in[slots[i][0]][slots[i][1]] if i in slots else replicated for i in range(out_treedef.num_leaves)],
    )
    fn = built.step if strategy == "dp_shard_map" else built.step.__wrapped__  # the function jax.jit wraps
    donate = tuple(sorted(state_positions)) if built.donated else ()
    step = jax.jit(fn, in_shardings=tuple(in_shardings), out_shardings=out_shardings, donate_argnums=donate)
    args = tuple(jax.tree.map(place, arg, sh) for arg, sh in zip(built.args, in_shardings, strict=True))
    return Sharded(_styles.Built(step, args, built.carry, bool(donate)), mesh, strategy, tuple(loss_leaves), counts)
