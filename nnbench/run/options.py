"""The options of a run: one typed, frozen value.

``RunOptions`` holds every option of ``nnbench run`` (the selection, the
timing settings, the worker limits, what else to record), with its type and
default. It is written whole into the run file (``request``), read back
whole by ``--resume`` (``from_json`` refuses an unknown or ill-typed field),
and handed whole to every worker process, which reads its attributes.

Its field names are the command line's option names (``--target-ci`` is
``target_ci``), so a run file's ``request`` reads like the command that
made it, and run files written before this module existed resume.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

if typing.TYPE_CHECKING:
    from nnbench.measure.timing import TimingPolicy

DEFAULT_TIMEOUT_S = 600.0


class OptionsError(ValueError):
    """Recorded options that cannot be used as they are (one line)."""


# Options added since run files began recording their request: a request
# without one reads back with its default (the run it records had none).
ADDED_LATER = ("max_samples", "settle", "shard", "calibrate")


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """Every option of a run; the defaults are ``nnbench run``'s.

    Selection (each list as given: an item may be comma-separated):
    ``suite``, ``layer``, ``style``, ``mode``, ``size``, ``dtype``,
    ``devices``, ``strategy``, ``scaling``; or ``cases``, a user's case list
    (``MODULE:ATTR``). Timing: ``budget`` (seconds per case; None: the
    suite's, else 1), ``target_ci``, ``min_samples``, ``max_samples`` (None:
    the suite's, else the policy's), ``settle`` (seconds). Workers:
    ``timeout`` (seconds per case), ``memory_limit`` (bytes a worker may
    grow past its imports), ``in_process``. Also recorded: ``profile`` (an
    XLA profile of each ok case beside the run file), ``compile_cache`` (a
    persistent-cache directory: cold vs warm compile), ``lower_for``
    (comma-separated platforms to also lower each case for). ``shard``
    (``"K/N"``): only the K-th of N deterministic parts of the selection,
    whole worker groups each (``nnbench merge`` joins the parts).
    ``calibrate``: measure this machine's peaks first when none are stored
    (``nnbench calibrate``), so the roofline has ceilings.
    """

    suite: str | None = None
    layer: tuple[str, ...] | None = None
    style: tuple[str, ...] | None = None
    mode: tuple[str, ...] | None = None
    size: tuple[str, ...] | None = None
    dtype: tuple[str, ...] | None = None
    cases: str | None = None
    timeout: float = DEFAULT_TIMEOUT_S
    budget: float | None = None
    target_ci: float = 0.01
    min_samples: int = 10
    max_samples: int | None = None
    settle: float = 0.5
    memory_limit: int | None = None
    in_process: bool = False
    profile: bool = False
    compile_cache: str | None = None
    lower_for: str | None = None
    devices: tuple[str, ...] | None = None
    strategy: tuple[str, ...] | None = None
    scaling: tuple[str, ...] | None = None
    shard: str | None = None
    calibrate: bool = False

    def __post_init__(self):
        for f in dataclasses.fields(self):  # a list given for a tuple field (from argparse): kept as a tuple
            value = getattr(self, f.name)
            if isinstance(value, list):
                object.__setattr__(self, f.name, tuple(value))

    @classmethod
    def from_args(cls, args: Any) -> RunOptions:
        """The options an ``argparse`` namespace (or any object) has as attributes."""
        return cls(**{f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)})

    def replace(self, **changes: Any) -> RunOptions:
        """A copy with ``changes``."""
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        """Every field, JSON-ready (tuples as lists)."""
        return {
            f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v for f in dataclasses.fields(self)
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], optional: tuple[str, ...] = ADDED_LATER) -> RunOptions:
        """Options written by ``to_json``. ``OptionsError`` names the first
        field that is unknown, ill-typed, or missing (fields in ``optional``,
        by default those added since run files began recording requests,
        may be missing: their default)."""
        if not isinstance(data, Mapping):
            raise OptionsError(f"options are {type(data).__name__}, not an object")
        hints = typing.get_type_hints(cls)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = [k for k in data if k not in known]
        if unknown:
            raise OptionsError(f"unknown option {unknown[0]!r}")
        missing = [k for k in known if k not in data and k not in optional]
        if missing:
            raise OptionsError(f"option {missing[0]!r} is missing")
        for key, value in data.items():
            if not _fits(value, hints[key]):
                raise OptionsError(f"{key} = {json.dumps(value)[:40]}, not what --{key.replace('_', '-')} takes")
        return cls(**data)

    def policy(self) -> TimingPolicy:
        """The timing policy: the budget and sample cap given, else the suite's, else the defaults."""
        from nnbench.measure.timing import TimingPolicy
        from nnbench.run.cases import SUITES

        suite = SUITES[self.suite] if self.suite else None
        return TimingPolicy(
            budget_s=self.budget or (suite.budget_s if suite else None) or 1.0,
            target_ci=self.target_ci,
            min_samples=self.min_samples,
            max_samples=self.sample_cap(),
            settle_s=self.settle,
        )

    def sample_cap(self) -> int:
        """Timed calls at most per case: ``max_samples``, else the suite's, else the policy's."""
        from nnbench.measure.timing import TimingPolicy
        from nnbench.run.cases import SUITES

        return self.max_samples or (SUITES[self.suite].max_samples if self.suite else None) or TimingPolicy.max_samples

    def platforms(self) -> tuple[str, ...]:
        """``lower_for`` as platform names, each known; ``OptionsError`` otherwise."""
        from nnbench.measure.stages import LOWER_PLATFORMS

        names = tuple(dict.fromkeys(p.strip() for p in (self.lower_for or "").split(",") if p.strip()))
        for name in names:
            if name not in LOWER_PLATFORMS:
                raise OptionsError(f"--lower-for: unknown platform {name!r} (known: {', '.join(LOWER_PLATFORMS)})")
        if self.lower_for is not None and not names:
            raise OptionsError("--lower-for: no platform given")
        return names


@dataclasses.dataclass(frozen=True)
class ABOptions:
    """How ``nnbench ab`` samples one case group: ``rounds`` alternating
    rounds and ``budget_s`` seconds of timing per case and side in each
    worker pair, the order's ``seed``, and how many worker pairs: at least
    ``pairs``, then one more at a time until the step-time verdict of every
    case is decided or ``max_pairs`` ran (sequential: ``max_pairs ==
    pairs`` runs exactly that many). ``run``: what ``nnbench ab`` shares
    with ``nnbench run`` (the selection, the workers' ``timeout`` and
    ``memory_limit``), handed whole to each side's workers."""

    rounds: int = 40
    budget_s: float = 1.5
    seed: int = 0
    pairs: int = 3
    run: RunOptions = RunOptions()
    max_pairs: int | None = 12  # None: exactly ``pairs``

    def __post_init__(self):
        if self.rounds < 1 or self.pairs < 1:
            raise ValueError("rounds and pairs must be at least 1")
        if self.max_pairs is not None and self.max_pairs < self.pairs:
            raise ValueError(f"max_pairs must be at least pairs ({self.pairs})")

    @property
    def most_pairs(self) -> int:
        return self.pairs if self.max_pairs is None else self.max_pairs

    @property
    def sequential(self) -> bool:
        """Whether pairs are added until the verdict is decided."""
        return self.most_pairs > self.pairs

    @property
    def timeout_s(self) -> float:
        return self.run.timeout

    @property
    def memory_limit(self) -> int | None:
        return self.run.memory_limit

    def record(self) -> dict[str, Any]:
        """The settings a run file's ``ab`` block records."""
        return {
            "rounds_per_pair": self.rounds,
            "budget_s_per_pair": self.budget_s,
            "seed": self.seed,
            "timeout_s": self.timeout_s,
            "memory_limit": self.memory_limit,
            "pairs": self.pairs,
            "max_pairs": self.most_pairs,
        }

    def policy(self) -> TimingPolicy:
        """Blocks sized so a pair's ``rounds`` rounds take about ``budget_s`` per case."""
        from nnbench.measure.timing import TimingPolicy

        return TimingPolicy(
            budget_s=self.budget_s, block_s=self.budget_s / self.rounds, seed=self.seed, max_samples=10**7
        )  # rounds, not a sample cap, end sampling


def profile_dir(run_file: str | Path) -> Path:
    """Where ``--profile`` writes the profiles of run file ``run_file``."""
    return Path(run_file).with_suffix(".profile")


def _fits(value: Any, hint: Any) -> bool:
    """Whether a JSON value has type ``hint`` (``str``, ``int``, ``float``,
    ``bool``, ``tuple[str, ...]`` or one of those ``| None``)."""
    if isinstance(hint, types.UnionType):
        return any(_fits(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if typing.get_origin(hint) is tuple:
        (item, _) = typing.get_args(hint)
        return isinstance(value, (list, tuple)) and all(_fits(v, item) for v in value)
    if hint is bool:
        return isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, hint) and not isinstance(value, bool)
