"""Same compiled program? Compare each style's optimized-HLO op histogram with
raw JAX's, per case group (layer/mode/size/dtype).

Reads records only (``record["compile"]["hlo_op_histogram"]``, written by
``_compile``); never measures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nnbench.results.case import Case

REFERENCE = "jax"


def histogram_diff(reference: dict[str, int], other: dict[str, int]) -> dict[str, tuple[int, int]]:
    """``{op: (count in reference, count in other)}`` for every op whose counts differ."""
    return {
        op: (reference.get(op, 0), other.get(op, 0))
        for op in sorted(set(reference) | set(other))
        if reference.get(op, 0) != other.get(op, 0)
    }


def same_program(records: Sequence[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per group, per style: does its compiled program match raw JAX's?

    Returns ``{group: {style: {"same": bool | None, "diff": {op: (jax_n,
    style_n)}}}}``. ``same`` is ``None`` (and ``diff`` empty) when either
    side has no histogram (a failed case, or no ``jax`` case in the group).
    The ``jax`` style itself is omitted. Equal histograms are a strong hint,
    not proof, of the same program: op counts, not operands, are compared.
    """
    by_group: dict[str, dict[str, dict[str, int] | None]] = {}
    for r in records:
        case = Case.from_dict(r["case"])
        hist = (r.get("compile") or {}).get("hlo_op_histogram") if r.get("status") == "ok" else None
        by_group.setdefault(case.group, {})[case.style] = hist
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for group, styles in by_group.items():
        ref = styles.get(REFERENCE)
        row = {}
        for style, hist in styles.items():
            if style == REFERENCE:
                continue
            if ref is None or hist is None:
                row[style] = {"same": None, "diff": {}}
            else:
                diff = histogram_diff(ref, hist)
                row[style] = {"same": not diff, "diff": diff}
        if row:
            out[group] = row
    return out


def diff_text(diff: dict[str, tuple[int, int]], limit: int = 6) -> str:
    """``"fusion 3→4, copy 0→2"``: jax's count → the style's, first ``limit`` ops."""
    parts = [f"{op} {a}→{b}" for op, (a, b) in list(diff.items())[:limit]]
    if len(diff) > limit:
        parts.append(f"… {len(diff) - limit} more")
    return ", ".join(parts)
