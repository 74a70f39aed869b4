"""One catalog entry per layer or model, describing it once for every style."""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Iterator, Mapping
from types import ModuleType
from typing import Any, NamedTuple

import jax

Batch = dict[str, jax.Array]
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


FAMILIES = ("jax", "linen", "nnx", "haiku")


class Impls(Mapping[str, ModuleType]):
    """An entry's module per style family, imported on first use: listing
    the catalog, selecting cases or reading an entry's sizes, FLOPs or
    notes imports no layer library (Flax, Haiku: seconds at a command's
    start); building a style imports its family's module, and that module
    its library: ``<package>._<family>``, or the module named for that
    family in ``modules`` (an entry borrowing another's)."""

    def __init__(self, package: str, **modules: str):
        if unknown := set(modules) - set(FAMILIES):
            raise ValueError(f"not style families: {sorted(unknown)}")
        self._names = {f: modules.get(f, f"{package}._{f}") for f in FAMILIES}

    def __getitem__(self, family: str) -> ModuleType:
        return importlib.import_module(self._names[family])

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __eq__(self, other: object) -> bool:  # by module names: comparing imports nothing
        return self._names == other._names if isinstance(other, Impls) else NotImplemented

    def __repr__(self) -> str:
        return f"Impls({self._names!r})"


# Modules under ``layers/`` that define a catalog ``ENTRY``. Adding a layer
# means adding its package here.
_ENTRY_MODULES = (
    "nnbench.layers.mlp",
    "nnbench.layers.dense",
    "nnbench.layers.layernorm",
    "nnbench.layers.rmsnorm",
    "nnbench.layers.batchnorm",
    "nnbench.layers.dropout",
    "nnbench.layers.conv1d",
    "nnbench.layers.conv2d",
    "nnbench.layers.conv_transpose",
    "nnbench.layers.groupnorm",
    "nnbench.layers.embedding",
    "nnbench.layers.maxpool",
    "nnbench.layers.avgpool",
    "nnbench.layers.attention",
    "nnbench.layers.lstm",
    "nnbench.layers.gru",
    "nnbench.layers.stack",
    "nnbench.layers.transformer_lm",
    "nnbench.layers.vit",
    "nnbench.layers.lstm_lm",
    "nnbench.layers.resnet",
)

# Short names users type for catalog entries (``--layer transformer``).
ALIASES = {"transformer": "transformer_lm", "lm": "transformer_lm", "resnet18": "resnet"}

MODES = ("init", "forward", "train")
DTYPES = ("float32", "bfloat16")
# Depths swept by the ``compile`` suite: models with stackable blocks offer
# sizes ``d<N>`` (unrolled) and ``d<N>_scan`` (the library's own scan).
COMPILE_DEPTHS = (1, 2, 4, 8, 16, 32)


@dataclasses.dataclass(frozen=True)
class Entry:
    """Everything nnbench needs to know about one layer or model.

    Attributes:
      name: catalog id, e.g. ``"mlp"``.
      description: one line for listings.
      sizes: config per size name (``tiny``, ``small``, ``base``, ``large``).
      make_batch: ``(config, key, dtype) -> {"x": ..., "y": ...}``; ``x`` is the
        model input, ``y`` the training target.
      loss: ``(prediction, batch) -> scalar float32`` used by the train mode.
      flops: ``(config, mode) -> float``, analytic model FLOPs for one step,
        counted by the one rule of ``layers.flops`` (train: forward, loss and
        the parameters' gradients; the optimizer update excluded).
      items: ``config -> int``, items (samples or tokens) processed per step.
      tolerance: ``dtype -> (rtol, atol)`` for cross-style parity.
      impls: style family (``jax``, ``linen``, ``nnx``, ``haiku``) -> module
        implementing the family's protocol (see ``layers.styles``).
      stochastic: the layer draws random numbers in training (dropout): train
        steps then thread a fresh PRNG key into every step.
      flops_note: where ``flops`` departs from XLA's count of the same step
        (beyond ±10 %, optimizer update aside), why, and what it counts
        instead; empty when they agree. Reports show it beside MFU.
    """

    name: str
    description: str
    sizes: Mapping[str, Mapping[str, Any]]
    make_batch: Callable[[Mapping[str, Any], jax.Array, Any], Batch]
    loss: Callable[[jax.Array, Batch], jax.Array]
    flops: Callable[[Mapping[str, Any], str], float]
    items: Callable[[Mapping[str, Any]], int]
    tolerance: Mapping[str, tuple[float, float]]
    impls: Mapping[str, ModuleType]
    stochastic: bool = False
    flops_note: str = ""

    def config(self, size: str) -> Mapping[str, Any]:
        try:
            return self.sizes[size]
        except KeyError:
            raise KeyError(f"layer {self.name!r} has no size {size!r} (known: {', '.join(self.sizes)})") from None


_CACHE: dict[str, Entry] = {}


def all_entries() -> dict[str, Entry]:
    """Every catalog entry by name, in catalog order."""
    if not _CACHE:
        for mod_name in _ENTRY_MODULES:
            entry = importlib.import_module(mod_name).ENTRY
            _CACHE[entry.name] = entry
    return dict(_CACHE)


def import_styles() -> None:
    """Import every entry's module of every family, and so every layer
    library (a worker does this before it reads its baseline memory)."""
    for entry in all_entries().values():
        for family in entry.impls:
            entry.impls[family]


def names() -> list[str]:
    return list(all_entries())


def get(name: str) -> Entry:
    entries = all_entries()
    try:
        return entries[ALIASES.get(name, name)]
    except KeyError:
        raise KeyError(f"unknown layer {name!r} (known: {', '.join(entries)})") from None
