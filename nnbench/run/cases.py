"""Cases (layer × style × mode × size × dtype [× devices × strategy ×
scaling]) and suites, named selections over the catalog."""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from nnbench import layers
from nnbench.layers.catalog import COMPILE_DEPTHS, DTYPES, MODES
from nnbench.results.case import Case as Case


@dataclasses.dataclass(frozen=True)
class Suite:
    name: str
    description: str
    layers: tuple[str, ...] | None  # None: every catalog entry
    modes: tuple[str, ...]
    sizes: tuple[str, ...]
    dtypes: tuple[str, ...]
    skip: tuple[tuple[str, str], ...] = ()  # (mode, size) pairs left out
    budget_s: float | None = None  # default timing budget per case (None: the CLI's)
    max_samples: int | None = None  # default cap on timed calls per case (None: the CLI's)


SUITES = {
    s.name: s
    for s in (
        Suite(
            "smoke",
            "the MLP in every style, forward and train, small size: seconds",
            ("mlp",),
            ("forward", "train"),
            ("small",),
            ("float32",),
        ),
        Suite(
            "ci",
            "every layer × style × mode at tiny size: the CPU regression suite",
            None,
            MODES,
            ("tiny",),
            ("float32",),
            budget_s=0.25,
            max_samples=2000,
        ),
        Suite(
            "nightly", "every layer × style × mode at small size, float32 and bfloat16", None, MODES, ("small",), DTYPES
        ),
        Suite(
            "gpu",
            "every layer × style, forward and train, base size, bfloat16",
            None,
            ("forward", "train"),
            ("base",),
            ("bfloat16",),
        ),
        # Depth 1000 is forward only: its unrolled train step takes minutes of XLA compile on CPU.
        Suite(
            "overhead",
            "framework overhead: a stack of tiny Dense layers at depth 1, 10, 100, 1000 "
            "(forward; train to 100), every style",
            ("stack",),
            ("forward", "train"),
            ("d1", "d10", "d100", "d1000"),
            ("float32",),
            skip=(("train", "d1000"),),
        ),
        Suite(
            "compile",
            "trace/lower/compile time vs depth (1-32 blocks), unrolled vs scanned, every style; tiny widths, train",
            ("mlp", "transformer_lm"),
            ("train",),
            tuple(f"d{n}{v}" for n in COMPILE_DEPTHS for v in ("", "_scan")),
            ("float32",),
            budget_s=0.05,
        ),
    )
}


class SelectionError(ValueError):
    """An unknown name in a suite or filter (a bad-input error: exit 2)."""


def _split(values: Iterable[str] | None) -> list[str]:
    out: list[str] = []
    for v in values or ():
        out.extend(p.strip() for p in v.split(",") if p.strip())
    return out


def _check(kind: str, wanted: Sequence[str], known: Sequence[str]) -> None:
    for w in wanted:
        if w not in known:
            raise SelectionError(f"unknown {kind} {w!r} (known: {', '.join(known)})")


def select(
    suite: str | None = None,
    layer: Iterable[str] | None = None,
    style: Iterable[str] | None = None,
    mode: Iterable[str] | None = None,
    size: Iterable[str] | None = None,
    dtype: Iterable[str] | None = None,
) -> list[Case]:
    """The cases of ``suite`` (default: ``smoke`` when no filter is given,
    else every catalog case at ``tiny``/``float32``), narrowed by filters.

    Filters are lists of names, each possibly comma-separated.
    """
    layer_f, style_f, mode_f, size_f, dtype_f = (_split(v) for v in (layer, style, mode, size, dtype))
    layer_f = list(dict.fromkeys(layers.ALIASES.get(n, n) for n in layer_f))
    entries = layers.all_entries()
    _check("layer", layer_f, list(entries))
    _check("style", style_f, layers.STYLES)
    _check("mode", mode_f, MODES)
    _check("dtype", dtype_f, DTYPES)
    all_sizes = sorted({s for e in entries.values() for s in e.sizes})
    _check("size", size_f, all_sizes)
    if suite is None and not any((layer_f, style_f, mode_f, size_f, dtype_f)):
        suite = "smoke"
    if suite is not None:
        if suite not in SUITES:
            raise SelectionError(f"unknown suite {suite!r} (known: {', '.join(SUITES)})")
        s = SUITES[suite]
        base_layers, modes, sizes, dtypes = s.layers or tuple(entries), s.modes, s.sizes, s.dtypes
        skip = set(s.skip)
    else:
        base_layers, modes, sizes, dtypes = tuple(entries), MODES, ("tiny",), ("float32",)
        skip = set()
    cases = []
    for lay, sty, mo, si, dt in itertools.product(
        layer_f or base_layers, style_f or layers.STYLES, mode_f or modes, size_f or sizes, dtype_f or dtypes
    ):
        if lay not in base_layers and not layer_f:
            continue
        if si not in entries[lay].sizes or (mo, si) in skip:
            continue
        cases.append(Case(lay, sty, mo, si, dt))
    if not cases:
        raise SelectionError("the suite and filters select no case")
    return cases


def group_key(case: Case) -> str:
    """The worker group of ``case``: the styles of one layer/mode/size/dtype
    (and device axis, and user case list) are measured together, interleaved."""
    return f"{case.source or ''}|{case.group}"


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` as ``(K, N)`` with 1 ≤ K ≤ N; ``SelectionError`` otherwise."""
    k, sep, n = text.partition("/")
    if not (sep and k.strip().isdigit() and n.strip().isdigit()) or not 1 <= int(k) <= int(n):
        raise SelectionError(f"--shard {text!r}: expected K/N with 1 <= K <= N, e.g. 2/3")
    return int(k), int(n)


def shard(cases: Sequence[Case], k: int, n: int) -> list[Case]:
    """The cases of shard ``k`` of ``n``: whole worker groups (the styles of a
    group are timed interleaved, so a group is never split), the costliest
    groups first (``group_seconds``), each to the shard with the least
    seconds so far (ties: the lowest number). Deterministic for a given
    selection and nnbench version, and every case lands in exactly one
    shard; the cases keep their selection order."""
    groups: dict[str, list[Case]] = {}
    for case in cases:
        groups.setdefault(group_key(case), []).append(case)
    seconds = {key: group_seconds(members) for key, members in groups.items()}
    load = [0.0] * n
    owner: dict[str, int] = {}
    for key in sorted(groups, key=lambda g: -seconds[g]):  # stable: equal costs keep selection order
        i = min(range(n), key=lambda j: load[j])
        owner[key] = i
        load[i] += seconds[key]
    return [c for c in cases if owner[group_key(c)] == k - 1]


GROUP_SECONDS_FILE = Path(__file__).with_name("group_seconds.json")


@functools.cache
def _group_seconds_table() -> dict[str, Any]:
    return json.loads(GROUP_SECONDS_FILE.read_text())


def group_seconds(members: Sequence[Case]) -> float:
    """What a worker group is expected to cost, for balancing shards: the
    seconds it took in the run ``group_seconds.json`` was made from (a
    catalog group measured there), else its case count times that run's
    median seconds per case (user cases, sizes it did not run)."""
    table = _group_seconds_table()
    case = members[0]
    if case.source is None and case.group in table["groups"]:
        return float(table["groups"][case.group])
    return len(members) * float(table["per_case"])


def group_seconds_table(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """``group_seconds.json``'s content from run dicts: each catalog group's
    wall seconds (a later run's over an earlier one's), and the median
    seconds per case over the groups."""
    import statistics

    walls: dict[str, float] = {}
    counts: dict[str, int] = {}
    for run in runs:
        seen: dict[str, int] = {}
        for r in run["records"]:
            case = Case.from_dict(r["case"])
            if case.source is None and r.get("group_wall_s"):
                walls[case.group] = float(r["group_wall_s"])
                seen[case.group] = seen.get(case.group, 0) + 1
        counts.update(seen)
    return {
        "source": [{"started": r.get("started"), "cpu_model": (r.get("env") or {}).get("cpu_model")} for r in runs],
        "per_case": round(statistics.median(walls[g] / counts[g] for g in walls), 3),
        "groups": {g: round(walls[g], 2) for g in sorted(walls)},
    }
