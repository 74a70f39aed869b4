"""Validating a decoded run file: the schema id, ``run.schema.json`` (JSON
Schema 2020-12), then what a schema cannot state (``_check_record``). Every
refusal is one ``RunFileError`` line naming the file, the record and the
field.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nnbench.results.reading import RunFileError

SCHEMA = "nnbench.run/1"
_COMPATIBLE = {SCHEMA}

MAX_STEP_S = 7 * 86400  # a week: nnbench's longest --timeout, and the schema's bound on a median


@functools.cache
def _schema() -> dict[str, Any]:
    with open(Path(__file__).with_name("run.schema.json"), encoding="utf-8") as f:
        return json.load(f)


def _is_finite_number(checker, x: Any) -> bool:
    t = type(x)  # JSON decodes to exactly int and float (a bool is not a number here)
    return t is int or (t is float and x - x == 0.0)


def _is_bounded_integer(checker, x: Any) -> bool:
    t = type(x)
    return (t is int and -(2**63) <= x < 2**63) or (t is float and x.is_integer())


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """The schema with each ``{"$ref": "#/$defs/x"}`` replaced by ``x`` itself
    (the run schema has no cycles): jsonschema resolves a reference on every
    use, which doubled the time to validate a 504-record run file."""
    if isinstance(node, dict):
        if set(node) == {"$ref"} and node["$ref"].startswith("#/$defs/"):
            return _inline(defs[node["$ref"].removeprefix("#/$defs/")], defs)
        return {k: _inline(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


@functools.cache
def _validator(definition: str | None = None):
    """A draft 2020-12 validator for the run schema, or for one of its
    ``$defs`` (``definition``, e.g. ``profile_summary``).

    Its ``number`` type is finite only and its ``integer`` type fits 64 bits,
    so ``1e999`` (decoded as infinity) and a 4000-digit integer are refused
    by type, not passed on to arithmetic.
    """
    import jsonschema

    base = jsonschema.Draft202012Validator
    checker = base.TYPE_CHECKER.redefine("number", _is_finite_number).redefine("integer", _is_bounded_integer)
    cls = jsonschema.validators.extend(base, type_checker=checker)
    schema = _schema()
    root = schema if definition is None else schema["$defs"][definition]
    return cls(_inline(root, schema["$defs"]))


def _where_in(path: Sequence[Any]) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def _short(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return f"{type(value).__name__} of {len(value)}"
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _problem(err) -> str:
    """One short line for a jsonschema error (its own message can quote a whole sample list)."""
    v, inst, expected = err.validator, err.instance, err.validator_value
    if v == "type":
        kinds = expected if isinstance(expected, list) else [expected]
        finite = " finite" if {"number", "integer"} & set(kinds) else ""
        return f"expected{finite} {' or '.join(kinds)}, got {_short(inst)}"
    if v == "required":
        missing = [k for k in expected if isinstance(inst, dict) and k not in inst]
        return f"missing {', '.join(repr(k) for k in missing)}"
    if v in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        rel = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}[v]
        return f"{_short(inst)} is impossible (must be {rel} {expected:g})"
    if v in ("enum", "const"):
        allowed = expected if v == "enum" else [expected]
        return f"{_short(inst)} is not one of {', '.join(repr(a) for a in allowed)}"
    if v == "minLength":
        return "empty"
    if v == "propertyNames":
        return f"unknown key {_short(inst)}"
    return err.message if len(err.message) <= 120 else err.message[:119] + "…"


def _first_error(validator, data: Any):
    """The error jsonschema ranks most relevant, deepest first; None if valid."""
    import jsonschema

    return jsonschema.exceptions.best_match(validator.iter_errors(data))


def schema_problem(data: Any, definition: str) -> str | None:
    """``data`` checked against one of the run schema's ``$defs``
    (``profile_summary``): ``"field X: problem"``, or None when it holds."""
    err = _first_error(_validator(definition), data)
    if err is None:
        return None
    path = list(err.absolute_path)
    return f"field {_where_in(path)}: {_problem(err)}" if path else _problem(err)


def validate(data: Any, where: str = "run") -> None:
    """Check a decoded run file: schema, version, the run schema
    (``run.schema.json``), then what a schema cannot state (``_check_record``).
    ``RunFileError`` names the record (index and id) and the field."""
    if not isinstance(data, dict):
        raise RunFileError(f"{where}: not a run file (top level is not an object)")
    schema = data.get("schema")
    if schema is None:
        raise RunFileError(f"{where}: not a run file (no 'schema' field)")
    if schema not in _COMPATIBLE:
        raise RunFileError(
            f"{where}: schema {_short(schema)} is not supported by this nnbench "
            f"(reads {', '.join(sorted(_COMPATIBLE))})"
        )
    for field, kind in (("env", dict), ("records", list)):
        if not isinstance(data.get(field), kind):
            raise RunFileError(f"{where}: field {field!r} is missing or malformed")
    err = _first_error(_validator(), data)
    if err is not None:
        path = list(err.absolute_path)
        parts = [where]
        if len(path) >= 2 and path[0] == "records" and isinstance(path[1], int):
            parts.append(_record_name(data["records"], path[1]))
            path = path[2:]
        if path:
            parts.append(f"field {_where_in(path)}")
        raise RunFileError(": ".join([*parts, _problem(err)]))
    seen: dict[str, int] = {}
    for i, rec in enumerate(data["records"]):
        problem = _check_record(rec)
        if problem:
            raise RunFileError(f"{where}: {_record_name(data['records'], i)}: {problem}")
        if rec["id"] in seen:
            raise RunFileError(
                f"{where}: {_record_name(data['records'], i)}: duplicate case id (record {seen[rec['id']]} has it too)"
            )
        seen[rec["id"]] = i


def _record_name(records: list[Any], i: int) -> str:
    rid = records[i].get("id") if isinstance(records[i], dict) else None
    return f"record {i} ({_short(rid)})" if isinstance(rid, str) else f"record {i}"


def _check_record(rec: dict[str, Any]) -> str | None:
    """What the schema cannot state about one (schema-valid) record, or None.

    Sample lists (``time.samples_s``, ``dispatch.samples_s``) are 1-D
    lists of finite numbers in [0, ``MAX_STEP_S``], checked with numpy (a
    run file holds up to ~10^6 of them); round and process ends are
    non-decreasing counts within the samples. An ok record's median lies
    inside its confidence interval and inside its samples' range (within
    the nanosecond the stored samples are rounded to). A zero median is
    refused by the schema: the clock did not resolve the step, and no ratio
    to it exists; a zero sample or a zero CI bound is legal (a coarse clock's
    tick).
    """
    import numpy as np

    for section in ("time", "dispatch"):
        s = rec.get(section)
        if not isinstance(s, dict) or "samples_s" not in s:
            continue
        samples = s["samples_s"]
        try:
            x = np.asarray(samples)
        except (ValueError, OverflowError):
            x = np.asarray([], dtype=object)
        if x.ndim != 1 or (x.size and x.dtype.kind not in "iuf"):
            return f"field {section}.samples_s: not a list of numbers"
        if x.size and not (np.isfinite(x).all() and x.min() >= 0 and x.max() <= MAX_STEP_S):
            bad = (
                x[~(np.isfinite(x) & (x >= 0) & (x <= MAX_STEP_S))][0]
                if x.dtype.kind == "f"
                else x[(x < 0) | (x > MAX_STEP_S)][0]
            )
            return f"field {section}.samples_s: {float(bad):g} is impossible (must be finite, 0 to {MAX_STEP_S} s)"
        if rec["status"] == "ok" and section == "time":
            if not x.size:
                return "field time.samples_s: empty, but the record is ok"
            med = s["median"]
            if not x.min() - 1e-9 <= med <= x.max() + 1e-9:  # samples are stored rounded to the nanosecond
                return (
                    f"field time.median: {med:g} lies outside its samples ({float(x.min()):g} to {float(x.max()):g} s)"
                )
        for key in ("round_ends", "process_ends"):
            ends = s.get(key)
            if ends is None:
                continue
            limit = x.size if key == "round_ends" else len(s.get("round_ends") or [])
            e = np.asarray(ends) if isinstance(ends, list) else None
            if (
                e is None
                or e.ndim != 1
                or (e.size and (e.dtype.kind not in "iu" or e.min() < 0 or e.max() > limit or (np.diff(e) < 0).any()))
            ):
                return f"field {section}.{key}: not a non-decreasing list of counts up to {limit}"
    t = rec.get("time")
    if rec["status"] == "ok" and isinstance(t, dict):
        lo, med, hi = t.get("ci_low"), t["median"], t.get("ci_high")
        if lo is not None and hi is not None and not (lo <= med * (1 + 1e-9) and med <= hi * (1 + 1e-9)):
            return f"field time: median {med:g} s lies outside its confidence interval [{lo:g}, {hi:g}]"
    return None
