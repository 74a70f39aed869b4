"""``nnbench bisect``: the first bad commit or release between a good and a bad one.

The points are ordered oldest first: the good end, what lies between
(``commits``: the first-parent commits of ``git rev-list``; ``versions``: the
releases the package index offers), the bad end. Each step is one ``nnbench
ab`` (``nnbench.run.ab.run`` and ``compare_runs(..., paired=True)``) of a
point against the last known good one, read on one metric of the cases
that regressed between the ends:

- *regressed* in any case: the point is bad;
- *unchanged* (or *improved*) in every case: the point is good;

(with ``direction="faster"`` a speed-up is hunted instead: *improved* is bad,
*unchanged* or *regressed* good);
- *inconclusive* (``ab`` ran its most worker pairs undecided): the step is
  run again allowing twice the pairs, up to
  ``retries`` times, and the bisection stops undecided if it stays so;
- the point's side cannot be made (a checkout, an install) or proven (the
  handshake), or a case does not build or import there: the point is
  skipped, as ``git bisect skip`` does, and the next one nearest the middle
  is tried.

Before bisecting, the bad end is timed against the good one: no regression
there, nothing to bisect. At the end the first bad point is timed against
the last good one, unless a step did that already, so its ratio and CI are
measured between neighbours. Plain data in, plain data out: the report is
``nnbench.report.bisect``.
"""

from __future__ import annotations

import dataclasses
import math
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from nnbench.compare import compare as _compare
from nnbench.results.case import Case
from nnbench.run import ab as _ab
from nnbench.run import envs as _envs
from nnbench.run.sides import GIT, PIP, Side, SideError

GOOD, BAD, SKIPPED, UNDECIDED = "good", "bad", "skipped", "undecided"
# Outcomes of a bisection (``result["outcome"]``).
CULPRIT, RANGE, NO_REGRESSION, STOPPED = "culprit", "range", "no-regression", "undecided"


@dataclasses.dataclass(frozen=True)
class Point:
    """One commit or release: ``spec`` the side that runs it (``git:<hash>``,
    ``pip:name==v,...``), ``label`` how reports name it, ``title`` a commit's
    subject or the requirement set."""

    spec: str
    label: str
    title: str = ""


@dataclasses.dataclass(frozen=True)
class BisectOptions:
    """``ab``: each step's settings; ``thresholds``: the verdicts'; ``metric``:
    the one read (``time`` or ``dispatch``); ``retries``: reruns of an
    inconclusive step, each allowing twice the worker pairs; ``direction``:
    the change hunted, ``slower`` (a regression) or ``faster``."""

    ab: _ab.ABOptions = _ab.ABOptions()
    thresholds: _compare.Thresholds = _compare.AB_THRESHOLDS
    metric: str = "time"
    retries: int = 2
    direction: str = "slower"

    def __post_init__(self):
        if self.direction not in ("slower", "faster"):
            raise ValueError(f"direction must be slower or faster, not {self.direction!r}")


def commit_points(good: str, bad: str, repo: str | None) -> list[Point]:
    """``[good, first-parent commits after it ..., bad]``; ``ValueError`` (one
    line) for an unknown revision, a good end that is not an ancestor of the
    bad one, or ends with nothing between them."""
    try:
        top = _envs.repo_root(repo, "bisect")
        g, b = (_envs.resolve_commit(rev, top, f"bisect {rev}") for rev in (good, bad))
    except SideError as e:
        raise ValueError(str(e)) from None
    if subprocess.run(["git", "merge-base", "--is-ancestor", g, b], cwd=top).returncode != 0:
        raise ValueError(f"bisect: {good} ({g[:12]}) is not an ancestor of {bad} ({b[:12]})")
    log = subprocess.run(
        ["git", "log", "--first-parent", "--reverse", "--format=%H %s", f"{g}..{b}"],
        cwd=top,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    subject = subprocess.run(["git", "log", "-1", "--format=%s", g], cwd=top, capture_output=True, text=True).stdout
    rows = [(g, subject.strip()), *(tuple(line.split(" ", 1)) if " " in line else (line, "") for line in log)]
    if len(rows) < 3:
        raise ValueError(f"bisect: nothing lies between {good} and {bad}; time them with nnbench ab")
    return [Point(f"{GIT}{h}", h[:12], s) for h, s in rows]


def version_points(package: str, good: str, bad: str, offered: Sequence[str], extra: Sequence[str] = ()) -> list[Point]:
    """``[good, the releases ``offered`` between, bad]`` of ``package``,
    oldest first (pre-releases only when an end is one); jax brings jaxlib
    of the same version, and ``extra`` requirements go with every point.
    ``ValueError`` (one line) for an end the index does not offer, ends in
    the wrong order or nothing between them."""
    from packaging.version import InvalidVersion, Version

    versions = {}
    for v in offered:
        try:
            versions[Version(v)] = v
        except InvalidVersion:
            continue
    ends = []
    for end in (good, bad):
        try:
            ends.append(Version(end))
        except InvalidVersion:
            raise ValueError(f"bisect --package {package}: {end!r} is not a version") from None
        if ends[-1] not in versions:
            raise ValueError(f"bisect --package {package}: the package index does not offer {package} {end}")
    lo, hi = ends
    if not lo < hi:
        raise ValueError(f"bisect --package {package}: {good} is not older than {bad}")
    pre = lo.is_prerelease or hi.is_prerelease
    between = sorted(v for v in versions if lo < v < hi and (pre or not v.is_prerelease))
    if not between:
        raise ValueError(f"bisect --package {package}: the index offers nothing between {good} and {bad}")
    points = []
    for v in (lo, *between, hi):
        reqs = [f"{package}=={versions[v]}"]
        if package == "jax":
            reqs.append(f"jaxlib=={versions[v]}")
        points.append(Point(PIP + ",".join([*reqs, *extra]), f"{package} {versions[v]}", ",".join(reqs)))
    return points


def _metric_rows(result: dict[str, Any], ids: set[str] | None, metric: str) -> list[dict[str, Any]]:
    rows = []
    for c in result["cases"]:
        if ids is not None and c["id"] not in ids:
            continue
        m = c["metrics"].get(metric) or {}
        rows.append(
            {
                "id": c["id"],
                "base_status": c["base_status"],
                "cand_status": c["cand_status"],
                "note": c.get("note"),
                **{k: m.get(k) for k in ("ratio", "ci_low", "ci_high", "verdict", "rounds", "pairs", "more_data")},
            }
        )
    return rows


def judge(rows: Sequence[dict[str, Any]], direction: str = "slower") -> tuple[str, str]:
    """``(good | bad | skipped | undecided, why)`` of one step's case rows:
    bad when a case changed in ``direction``, good when none changed so or
    could have."""
    broken = [r for r in rows if r["cand_status"] != "ok" or r["base_status"] != "ok"]
    if broken:
        r = broken[0]
        side = "the point" if r["cand_status"] != "ok" else "the good side"
        return SKIPPED, f"{r['id']}: {side} did not run it ({r.get('note') or r['cand_status']})"
    if not rows:
        return SKIPPED, "no case ran"
    verdicts = [r["verdict"] for r in rows]
    hunted, other = (
        (_compare.REGRESSED, _compare.IMPROVED) if direction == "slower" else (_compare.IMPROVED, _compare.REGRESSED)
    )
    if hunted in verdicts:
        return BAD, ""
    if all(v in (_compare.UNCHANGED, other) for v in verdicts):
        return GOOD, ""
    return UNDECIDED, "; ".join(f"{r['id']}: {r['verdict']}" for r in rows if r["verdict"] != _compare.UNCHANGED)


class Bisection:
    """One bisection over ``points``: ``run()`` gives the result (plain data).

    ``make_side(role, point)`` makes and proves a side (``SideError``: the
    point is skipped); ``outs(n)`` claims step ``n``'s two run files;
    ``log`` takes progress lines.
    """

    def __init__(
        self,
        points: Sequence[Point],
        cases: Sequence[Case],
        options: BisectOptions,
        make_side: Callable[[str, Point], Side],
        outs: Callable[[int], tuple[Path, Path] | None] = lambda n: None,
        argv: list[str] | None = None,
        log: Callable[[str], None] = lambda line: None,
    ):
        self.points, self.cases, self.options = list(points), list(cases), options
        self.make_side, self.outs, self.argv, self.log = make_side, outs, argv, log
        self.steps: list[dict[str, Any]] = []
        self.ids: set[str] | None = None  # the cases bisected: those that regressed between the ends
        self._sides: dict[str, Side | SideError] = {}

    def _side(self, role: str, point: Point) -> Side:
        """The side of ``point``, made and proven once whatever its role."""
        if point.spec not in self._sides:
            try:
                self._sides[point.spec] = self.make_side(role, point)
            except SideError as e:
                self._sides[point.spec] = e
        side = self._sides[point.spec]
        if isinstance(side, SideError):
            raise side
        return dataclasses.replace(side, role=role)

    def _ab(self, good: int, point: int, purpose: str) -> dict[str, Any]:
        """One step: ``point`` against ``good``, rerun while inconclusive."""
        step: dict[str, Any] = {}
        for attempt in range(self.options.retries + 1):
            factor = 2**attempt
            # ab adds pairs until decided: a retry lets it add twice as many
            ab = dataclasses.replace(self.options.ab, max_pairs=self.options.ab.most_pairs * factor)
            step = {
                "n": len(self.steps) + 1,
                "purpose": purpose,
                "attempt": attempt + 1,
                "good": self.points[good].label,
                "point": self.points[point].label,
                "index": point,
                "rounds": ab.rounds,
                "pairs": ab.pairs,
                "max_pairs": ab.most_pairs,
            }
            self.log(
                f"step {step['n']}: {self.points[point].label} against {self.points[good].label} "
                f"({purpose}; {ab.rounds} rounds per pair, {ab.pairs}-{ab.most_pairs} pairs)"
            )
            started = time.monotonic()
            step.update(self._measure(good, point, ab, step["n"]))
            step["wall_s"] = time.monotonic() - started
            self.steps.append(step)
            self.log(
                f"step {step['n']}: {step['outcome']}"
                + (
                    f" (x{step['ratio']:.3f}, CI {step['ci_low']:.3f}-{step['ci_high']:.3f})"
                    if step.get("ratio")
                    else ""
                )
                + (f": {step['why']}" if step.get("why") else "")
            )
            if step["outcome"] != UNDECIDED:
                break
        return step

    def _measure(self, good: int, point: int, ab: _ab.ABOptions, n: int) -> dict[str, Any]:
        try:
            sides = (self._side("baseline", self.points[good]), self._side("candidate", self.points[point]))
        except SideError as e:
            return {"outcome": SKIPPED, "why": str(e)}
        cases = self.cases if self.ids is None else [c for c in self.cases if c.id in self.ids]
        outs = self.outs(n)
        try:
            base, cand = _ab.run(
                cases, sides, ab, outs, self.argv, self.log, self.options.thresholds, self.options.metric
            )
        except SideError as e:
            return {"outcome": SKIPPED, "why": str(e)}
        result = _compare.compare_runs(
            base, cand, self.options.thresholds, allow_device_change=True, paired=True, primary=self.options.metric
        )
        rows = _metric_rows(result, self.ids, self.options.metric)
        outcome, why = judge(rows, self.options.direction)
        measured = [r for r in rows if r["ratio"]]
        worst = max(measured, key=lambda r: abs(math.log(r["ratio"])), default=None)  # the largest change
        return {
            "outcome": outcome,
            "why": why,
            "cases": rows,
            "files": [str(p) for p in outs] if outs else [],
            "versions": {
                **{k: (cand["env"].get("versions") or {}).get(k) for k in ("jax", "jaxlib", "flax", "dm-haiku")},
                "git_commit": cand["env"].get("git_commit"),
            },
            **({k: worst[k] for k in ("id", "ratio", "ci_low", "ci_high", "verdict")} if worst else {}),
        }

    def run(self) -> dict[str, Any]:
        started = time.monotonic()
        lo, hi = 0, len(self.points) - 1
        ends = self._ab(lo, hi, "ends")
        if ends["outcome"] == SKIPPED:
            raise SideError(f"the ends do not both run the cases: {ends['why']}")
        outcome, culprit, why = None, None, ""
        if ends["outcome"] == GOOD:
            outcome = NO_REGRESSION
            why = f"{self.points[hi].label} is not {self.options.direction} than {self.points[lo].label}"
        elif ends["outcome"] == UNDECIDED:
            outcome = STOPPED
            why = f"could not decide whether {self.points[hi].label} is {self.options.direction}: {ends['why']}"
        else:
            hunted = _compare.REGRESSED if self.options.direction == "slower" else _compare.IMPROVED
            self.ids = {r["id"] for r in ends["cases"] if r["verdict"] == hunted}
            decided = {hi: ends}  # point -> the step that found it bad, against which good point
            skipped: set[int] = set()
            while outcome is None:
                left = [i for i in range(lo + 1, hi) if i not in skipped]
                if not left:
                    break
                middle = (lo + hi) / 2
                mid = min(left, key=lambda i: (abs(i - middle), i))
                step = self._ab(lo, mid, "bisect")
                if step["outcome"] == SKIPPED:
                    skipped.add(mid)
                elif step["outcome"] == BAD:
                    hi, decided[mid] = mid, {**step, "against": lo}
                elif step["outcome"] == GOOD:
                    lo = mid
                else:
                    outcome, why = STOPPED, f"could not decide at {self.points[mid].label}: {step['why']}"
            if outcome is None and any(lo < i < hi for i in skipped):
                outcome = RANGE
                why = "skipped points left: the first bad one is one of " + ", ".join(
                    self.points[i].label for i in range(lo + 1, hi + 1)
                )
            elif outcome is None:
                outcome = CULPRIT
                culprit = decided[hi] if decided[hi].get("against", 0) == lo else self._ab(lo, hi, "confirm")
                if culprit["outcome"] != BAD:
                    outcome = STOPPED
                    why = (
                        f"{self.points[hi].label} was bad against an older good point but is {culprit['outcome']} "
                        f"against {self.points[lo].label}: the change is spread or the steps disagree"
                    )
        return {
            "outcome": outcome,
            "why": why,
            "metric": self.options.metric,
            "direction": self.options.direction,
            "thresholds": dataclasses.asdict(self.options.thresholds),
            "points": [dataclasses.asdict(p) for p in self.points],
            "last_good": self.points[lo].label,
            "first_bad": self.points[hi].label,
            "first_bad_title": self.points[hi].title,
            "culprit": _summary(culprit) if culprit else None,
            "cases": sorted(self.ids) if self.ids else [c.id for c in self.cases],
            "steps": self.steps,
            "ab_steps": len(self.steps),
            "wall_s": time.monotonic() - started,
            "budget": math.ceil(math.log2(len(self.points))) + 2,
        }


def _summary(step: dict[str, Any]) -> dict[str, Any]:
    return {k: step.get(k) for k in ("n", "id", "ratio", "ci_low", "ci_high", "verdict", "cases")}
