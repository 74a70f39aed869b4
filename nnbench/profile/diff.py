"""Op-level difference of two profile summaries, as plain data (``diff``,
``records_diff`` for two run records) and as text (``format_diff``,
``diff_text_for_compare``). No JAX here: ``compare`` imports it.
"""

from __future__ import annotations

import collections
import json
import os
import re
from pathlib import Path
from typing import Any

from nnbench.profile.text import CATEGORIES, fmt_s, table

SUMMARY_FILE = "summary.json"


def _op_time(o: dict[str, Any]) -> float:
    """An op's self time per step: the median over steps where recorded."""
    return o.get("self_s_median", o["self_s_per_step"])


def _kind(op: str) -> str:
    """An op's name without XLA's numeric suffix (``ynn_fusion.5`` → ``ynn_fusion``)."""
    return re.sub(r"\.\d+$", "", op)


def _moved(ta: float, tb: float, rel: float, abs_s: float) -> bool:
    return abs(tb - ta) > abs_s and (ta <= 0 or abs(tb - ta) / ta > rel)


def diff(
    base: dict[str, Any], cand: dict[str, Any], rel_threshold: float = 0.10, abs_threshold_s: float = 1e-6
) -> dict[str, Any]:
    """Op-level difference of two summaries (``summarize`` results, or the
    ``profile`` record fields, which hold only the top ops).

    Ops are matched by ``(module, op name, result shape)``: an op whose
    shape changed is a different computation, so it is listed as
    disappeared and appeared. An op is ``slower``/``faster`` when its
    median self time per step moved by more than ``rel_threshold`` and
    ``abs_threshold_s``; categories, kinds and the total add up these
    medians too (a record's ``profile`` field holds the top ops only, so
    its totals are partial). XLA numbers ops in the order it creates them, so
    when the two programs differ (``same_program`` false) a name can denote
    different work on each side: ``kinds`` (names without their number) and
    ``categories`` are compared too, and do not depend on numbering.
    """

    def ops_of(s: dict[str, Any]) -> list[dict[str, Any]]:
        return s.get("ops") or s.get("top_ops") or []

    def index(s: dict[str, Any]) -> dict[tuple[str, str, str | None], dict[str, Any]]:
        return {(o["module"], o["op"], o.get("shape")): o for o in ops_of(s)}

    def row(o: dict[str, Any], **times: float) -> dict[str, Any]:
        return {"op": o["op"], "shape": o.get("shape"), "category": o["category"], **times}

    a, b = index(base), index(cand)
    slower, faster = [], []
    for key in a.keys() & b.keys():
        ta, tb = _op_time(a[key]), _op_time(b[key])
        if ta > 0 and _moved(ta, tb, rel_threshold, abs_threshold_s):
            (slower if tb > ta else faster).append(row(b[key], base_s=ta, cand_s=tb, ratio=tb / ta))
    kinds: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0.0])
    cats = {c: [0.0, 0.0] for c in CATEGORIES}
    for side, s in enumerate((base, cand)):
        for o in ops_of(s):
            kinds[_kind(o["op"])][side] += _op_time(o)
            cats[o["category"]][side] += _op_time(o)
    ha, hb = base.get("hlo_sha256"), cand.get("hlo_sha256")
    return {
        "same_program": None if ha is None or hb is None else ha == hb,
        "slower": sorted(slower, key=lambda d: d["base_s"] - d["cand_s"]),
        "faster": sorted(faster, key=lambda d: d["cand_s"] - d["base_s"]),
        "appeared": sorted((row(b[k], cand_s=_op_time(b[k])) for k in b.keys() - a.keys()), key=lambda d: -d["cand_s"]),
        "disappeared": sorted(
            (row(a[k], base_s=_op_time(a[k])) for k in a.keys() - b.keys()), key=lambda d: -d["base_s"]
        ),
        "kinds": {
            k: tuple(v)
            for k, v in sorted(kinds.items(), key=lambda kv: -abs(kv[1][1] - kv[1][0]))
            if _moved(v[0], v[1], rel_threshold, abs_threshold_s)
        },
        "categories": {c: tuple(v) for c, v in cats.items()},
        "op_time_s_per_step": (sum(v[0] for v in cats.values()), sum(v[1] for v in cats.values())),
    }


def _ratio(x: float | None, y: float | None) -> str:
    return f"×{y / x:.2f}" if x and y is not None else "new"


def format_diff(d: dict[str, Any], k: int = 10) -> str:
    """A printable block for a ``diff`` result."""
    ta, tb = d["op_time_s_per_step"]
    out = [
        f"XLA op time per step (sum of per-op medians): {fmt_s(ta)} -> {fmt_s(tb)}"
        + (f" ({_ratio(ta, tb)})" if ta and tb else "")
    ]
    if d.get("same_program") is False:
        out.append(
            "note: the optimized HLO differs, so a same-named op may be different work; "
            "trust categories and kinds first"
        )
    cat_rows = [[c, fmt_s(x), fmt_s(y), _ratio(x, y)] for c, (x, y) in d["categories"].items() if x or y]
    out += table(["category", "base/step", "cand/step", "ratio"], cat_rows, "<>>>")
    if d.get("kinds"):
        out.append(f"op kinds that moved ({len(d['kinds'])}), median self time per step:")
        rows = [[kind, fmt_s(x), fmt_s(y), _ratio(x, y)] for kind, (x, y) in list(d["kinds"].items())[:k]]
        out += ["  " + r for r in table(["kind", "base/step", "cand/step", "ratio"], rows, "<>>>")]
    for kind in ("slower", "faster"):
        if d[kind]:
            out.append(f"ops {kind} ({len(d[kind])}), median self time per step:")
            rows = [
                [
                    x["op"],
                    x["shape"] or "",
                    x["category"],
                    fmt_s(x["base_s"]),
                    fmt_s(x["cand_s"]),
                    f"×{x['ratio']:.2f}",
                ]
                for x in d[kind][:k]
            ]
            out += [
                "  " + r for r in table(["op", "shape", "category", "base/step", "cand/step", "ratio"], rows, "<<<>>>")
            ]
    for kind, key in (("appeared", "cand_s"), ("disappeared", "base_s")):
        if d[kind]:
            out.append(f"ops {kind} ({len(d[kind])}):")
            rows = [[x["op"], x["shape"] or "", x["category"], fmt_s(x[key])] for x in d[kind][:k]]
            out += ["  " + r for r in table(["op", "shape", "category", "self/step"], rows, "<<<>")]
            if len(d[kind]) > k:
                out.append(f"  … {len(d[kind]) - k} more")
    if not any(d[kind] for kind in ("slower", "faster", "appeared", "disappeared")):
        out.append("no op moved past the thresholds")
    return "\n".join(out)


def _full_summary(run_path: str | os.PathLike, record: dict[str, Any]) -> dict[str, Any]:
    """The full ``summary.json`` of a record's profile, or the record's own
    (top ops only) when the file is not beside the run file any more."""
    prof = record["profile"]
    name = prof.get("summary")
    if not isinstance(name, str) or not name or os.path.isabs(name) or ".." in Path(name).parts:
        return prof  # a run file names its summaries relative to itself, never elsewhere
    try:
        return load_summary(Path(run_path).parent / name)
    except ProfileFileError:
        return prof


class ProfileFileError(ValueError):
    """A profile summary is missing or unreadable (a bad-input error: exit 2)."""


def load_summary(path: str | os.PathLike) -> dict[str, Any]:
    """A ``summary.json``: the file itself, a session folder holding it, or a
    case log folder (its newest session). Read as every input is
    (``_results.read_json``: regular files only, size-capped, strict JSON)
    and checked against the run schema's ``profile_summary``."""
    from nnbench.results import runfile as _results

    p = Path(path)
    if p.is_dir():
        sessions = sorted((p / "plugins" / "profile").glob("*/" + SUMMARY_FILE))
        p = p / SUMMARY_FILE if (p / SUMMARY_FILE).exists() else (sessions[-1] if sessions else p / SUMMARY_FILE)
    try:
        data = _results.read_json(p, "profile summary")
    except _results.RunFileError as e:
        raise ProfileFileError(f"{path}: no profile summary ({e})" if p != Path(path) else str(e)) from None
    if not isinstance(data, dict) or not isinstance(data.get("ops"), list):
        raise ProfileFileError(f"{path}: not a profile summary (no 'ops' list)")
    problem = _results.schema_problem(data, "profile_summary")
    if problem:
        raise ProfileFileError(f"{path}: not a profile summary ({problem})")
    return data


def records_diff(
    base_run_path: str | os.PathLike,
    base_record: dict[str, Any],
    cand_run_path: str | os.PathLike,
    cand_record: dict[str, Any],
) -> dict[str, Any] | None:
    """The op-level ``diff`` of two records' profiles as JSON-ready data
    (pairs as lists), or ``None`` when either record has no ``profile``.
    Each side's full ``summary.json`` is read from beside its run file when
    it is still there, else the record's top ops are used. ``compare``
    stores this in a case's ``profile_diff``."""
    if not isinstance(base_record.get("profile"), dict) or not isinstance(cand_record.get("profile"), dict):
        return None
    d = diff(_full_summary(base_run_path, base_record), _full_summary(cand_run_path, cand_record))
    return json.loads(json.dumps(d))  # tuples to lists: what a JSON round trip gives back


def diff_text_for_compare(
    base_run_path: str | os.PathLike,
    base_record: dict[str, Any],
    cand_run_path: str | os.PathLike,
    cand_record: dict[str, Any],
) -> str | None:
    """``records_diff`` as printable text headed ``profile diff <case id>``,
    or ``None`` when either record has no ``profile``."""
    d = records_diff(base_run_path, base_record, cand_run_path, cand_record)
    return None if d is None else f"profile diff {base_record.get('id', '')}\n" + format_diff(d)


diff_for_compare = diff_text_for_compare  # the name compare called before it took the data
