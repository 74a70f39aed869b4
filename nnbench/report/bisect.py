"""A bisection as a document (``nnbench bisect``): the verdict, then every step.

Reads the plain dict of ``nnbench.run.bisect.Bisection.run``; never measures.
"""

from __future__ import annotations

from typing import Any

from nnbench.report.document import BAD, DIM, GOOD, WARN, Cell, Document, Note, Section, Table

_TONES = {"bad": BAD, "good": GOOD, "skipped": DIM, "undecided": WARN}
STEP_COLUMNS = ("step", "purpose", "point", "against", "rounds x pairs", "ratio", "95 % CI", "outcome", "wall", "why")


def _ci(step: dict[str, Any]) -> str:
    lo, hi = step.get("ci_low"), step.get("ci_high")
    return f"{lo:.3f}–{hi:.3f}" if lo is not None and hi is not None else "–"


def _ratio(step: dict[str, Any]) -> str:
    return f"×{step['ratio']:.3f}" if step.get("ratio") is not None else "–"


def headline(result: dict[str, Any]) -> Note:
    """The finding in one sentence."""
    metric = result["metric"]
    if result["outcome"] == "culprit":
        c = result["culprit"]
        title = f" ({result['first_bad_title']})" if result.get("first_bad_title") else ""
        return Note(
            f"{result['first_bad']}{title} is the first bad point: {metric} {_ratio(c)} (95 % CI {_ci(c)}) "
            f"against {result['last_good']}, the last good one, in {c.get('id')}",
            BAD,
            lead="culprit",
        )
    lead = {"range": "narrowed", "no-regression": "no regression", "undecided": "undecided"}[result["outcome"]]
    return Note(result["why"], WARN, lead=lead)


def cost_line(result: dict[str, Any]) -> str:
    skipped = [s["point"] for s in result["steps"] if s["outcome"] == "skipped"]
    return (
        f"{result['ab_steps']} ab steps over {len(result['points'])} points "
        f"(⌈log2 {len(result['points'])}⌉ + 2 = {result['budget']}), {result['wall_s']:.0f} s wall time"
        + (f"; skipped: {', '.join(skipped)}" if skipped else "")
        + f"; cases: {', '.join(result['cases'])}"
    )


def step_rows(result: dict[str, Any]) -> list[list[Cell | str]]:
    rows: list[list[Cell | str]] = []
    for s in result["steps"]:
        rows.append(
            [
                str(s["n"]) + (f" (try {s['attempt']})" if s["attempt"] > 1 else ""),
                s["purpose"],
                s["point"],
                s["good"],
                f"{s['rounds']} x {s['pairs']}",
                _ratio(s),
                _ci(s),
                Cell.of(s["outcome"], _TONES.get(s["outcome"])),
                f"{s['wall_s']:.0f} s",
                s.get("why") or "",
            ]
        )
    return rows


def bisect_document(result: dict[str, Any]) -> Document:
    points = result["points"]
    blocks: list[Any] = [
        headline(result),
        Note(f"between {points[0]['label']} (good) and {points[-1]['label']} (bad), on {result['metric']}"),
        Note(cost_line(result), DIM),
        Table(
            "steps (each an nnbench ab of the point against the last good one)",
            STEP_COLUMNS,
            step_rows(result),
            "rllllrrlrl",
            brief=("step", "point", "against", "ratio", "95 % CI", "outcome", "why"),
            data=[{k: v for k, v in s.items() if k != "cases"} for s in result["steps"]],
        ),
    ]
    return Document("nnbench bisect", [Section("", blocks)])
