"""Joining run files: the shards of one selection (``nnbench run --shard
K/N`` on several machines) back into one run file (``nnbench merge``).

The merged file is an ordinary run file: the records of every part in the
order given, the first part's environment as ``env`` and every part's own
environment, times, request and case count under ``merged`` (nothing a part
recorded about where it ran is lost). Parts must come from the same kind of
machine (backend, device kind, device count) and share no case id; the
first ``started`` and the last ``finished`` span the whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nnbench.results.reading import RunFileError
from nnbench.results.validation import SCHEMA

MACHINE_KEYS = ("backend", "device_kind", "device_count")  # what makes records of two parts comparable


def merge_runs(parts: Sequence[tuple[str, dict[str, Any]]], argv: list[str] | None = None) -> dict[str, Any]:
    """One run from ``parts`` (``[(name, run)]``, each already read and
    validated); ``RunFileError`` (one line naming the parts) when they
    cannot be one run."""
    if len(parts) < 2:
        raise RunFileError("merge needs at least two run files")
    first_name, first = parts[0]
    seen: dict[str, str] = {}
    for name, run in parts:
        for key in MACHINE_KEYS:
            a, b = first["env"].get(key), run["env"].get(key)
            if a != b:
                raise RunFileError(f"{name}: env.{key} is {b!r} where {first_name} has {a!r}: not parts of one run")
        for rec in run["records"]:
            if rec["id"] in seen:
                raise RunFileError(f"{name}: case {rec['id']!r} is also in {seen[rec['id']]}: the parts overlap")
            seen[rec["id"]] = name
    starts = [run.get("started") for _, run in parts]
    ends = [run.get("finished") for _, run in parts]
    suites = {run.get("suite") for _, run in parts}
    requests = [_without_shard(run.get("request")) for _, run in parts]
    return {
        "schema": SCHEMA,
        "started": min(s for s in starts if s) if any(starts) else None,
        "finished": max(ends) if all(ends) else None,  # a part still unfinished leaves the whole unfinished
        "argv": argv or [],
        "suite": suites.pop() if len(suites) == 1 else None,
        "env": first["env"],
        "request": requests[0] if all(r == requests[0] for r in requests) else None,
        "merged": [
            {
                "name": name,
                "started": run.get("started"),
                "finished": run.get("finished"),
                "env": run["env"],
                "request": run.get("request"),
                "cases": len(run["records"]),
            }
            for name, run in parts
        ],
        "records": [rec for _, run in parts for rec in run["records"]],
    }


def _without_shard(request: Any) -> Any:
    """A part's request with its shard left out: the parts of one selection
    differ only there, and the merged run is the whole selection."""
    if not isinstance(request, dict):
        return request
    return {**request, "shard": None} if "shard" in request else request
