"""Run files: a versioned schema id, the environment, one record per case.

A run file is JSON. It is rewritten atomically (temp file + ``os.replace``)
after every finished case, so a run killed at any point leaves a readable file
holding every case that finished. Loading never executes anything from it.

Every file nnbench takes (run files, profile summaries) is read by
``read_json``: regular files only (a FIFO or a device is refused before it is
opened), at most ``NNBENCH_MAX_INPUT_MB`` MiB after gzip decompression
(default 256), strict JSON (no NaN/Infinity literals, no duplicate keys, no
runaway nesting or integers). A run file is then checked against
``run.schema.json`` (JSON Schema 2020-12, the schema id ``nnbench.run/1``)
and what a schema cannot state (``_check_record``); every refusal is one
``RunFileError`` line naming the file, the record and the field.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import math
import os
import re
import stat
import tempfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SCHEMA = "nnbench.run/1"
_COMPATIBLE = {SCHEMA}


class RunFileError(ValueError):
    """A run file is unreadable or incompatible (a bad-input error: exit 2)."""


def now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def new_run(env: dict[str, Any], argv: list[str] | None = None, suite: str | None = None) -> dict[str, Any]:
    return {"schema": SCHEMA, "started": now(), "finished": None, "argv": argv or [], "suite": suite, "env": env, "records": []}


def write_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON so that readers see the old or the new file, never a part."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)  # mkstemp's 0600 would make results private to the runner
        with os.fdopen(fd, "w") as f:
            json.dump(sanitize(data), f, indent=1, allow_nan=False, default=_json_default)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def sanitize(obj: Any) -> Any:
    """NaN and ±Inf are not JSON: store them as null."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: sanitize(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [sanitize(v) for v in obj]
    return obj


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def create_exclusive(path: Path, data: dict[str, Any] | None = None) -> None:
    """Claim ``path`` for a new run file; refuse to overwrite anything.

    The file appears already holding ``data`` (default: an empty run), so
    a run killed right after claiming it still leaves a readable file: it is
    written to a temp file and hard-linked into place, which fails if
    ``path`` exists.
    """
    path = Path(path)
    if path.exists():
        raise RunFileError(f"{path}: already exists; refusing to overwrite it")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise RunFileError(f"{path}: cannot create ({e.strerror})") from None
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "w") as f:
            json.dump(sanitize(data if data is not None else new_run({})), f, indent=1, allow_nan=False, default=_json_default)
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp, path)
    except FileExistsError:
        raise RunFileError(f"{path}: already exists; refusing to overwrite it") from None
    except OSError as e:
        raise RunFileError(f"{path}: cannot create ({e.strerror})") from None
    finally:
        os.unlink(tmp)


def read_run(path: str | os.PathLike) -> dict[str, Any]:
    """Read and validate one run file; ``RunFileError`` names the problem."""
    where = str(path)
    data = read_json(path, "run file")
    validate(data, where)
    return data


# --- reading any file nnbench takes -------------------------------------------

MAX_INPUT_ENV = "NNBENCH_MAX_INPUT_MB"
DEFAULT_MAX_INPUT_MB = 256  # the published 504-case run file is 22 MB uncompressed


def max_input_bytes() -> int:
    """The most bytes nnbench reads from one input file, after gzip
    decompression: ``NNBENCH_MAX_INPUT_MB`` MiB (default 256)."""
    text = os.environ.get(MAX_INPUT_ENV)
    if text is None:
        return DEFAULT_MAX_INPUT_MB * 2**20
    try:
        mb = float(text)
    except ValueError:
        mb = math.nan
    if not (math.isfinite(mb) and mb > 0):
        raise RunFileError(f"{MAX_INPUT_ENV}={text!r}: expected a positive number of MiB")
    return int(mb * 2**20)


def _mib(n: int) -> str:
    return f"{n / 2**20:.3g} MiB"


def read_bytes(path: str | os.PathLike, what: str = "run file") -> bytes:
    """The bytes of a regular file (gzip files decompressed), at most
    ``max_input_bytes()``; ``RunFileError`` otherwise.

    Never blocks and never reads without end: a FIFO, a device such as
    ``/dev/zero``, a socket or a directory is refused from ``os.stat``
    before it is opened, and the file is opened with ``O_NONBLOCK`` and
    checked again (it could have been swapped in between).
    """
    p = str(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise RunFileError(f"{p}: no such file or directory") from None
    except OSError as e:
        raise RunFileError(f"{p}: cannot read ({e.strerror})") from None
    _regular(p, st.st_mode, what)
    cap = max_input_bytes()
    if st.st_size > cap:
        raise RunFileError(f"{p}: {_mib(st.st_size)} is over the {_mib(cap)} input limit (raise it with {MAX_INPUT_ENV})")
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise RunFileError(f"{p}: cannot read ({e.strerror})") from None
    try:
        _regular(p, os.fstat(fd).st_mode, what)
        chunks, size = [], 0
        while size <= cap:
            chunk = os.read(fd, min(1 << 20, cap + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as e:
        raise RunFileError(f"{p}: cannot read ({e.strerror})") from None
    finally:
        os.close(fd)
    raw = b"".join(chunks)
    if len(raw) > cap:
        raise RunFileError(f"{p}: over the {_mib(cap)} input limit (raise it with {MAX_INPUT_ENV})")
    if raw[:2] == b"\x1f\x8b":  # gzip (a published run file, e.g. reports/*.json.gz)
        raw = _gunzip(p, raw, cap)
    return raw


def _regular(p: str, mode: int, what: str) -> None:
    if stat.S_ISDIR(mode):
        raise RunFileError(f"{p}: is a directory, not a {what}")
    if not stat.S_ISREG(mode):
        kind = "a FIFO" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode) else "not a regular file"
        raise RunFileError(f"{p}: {kind}, not a {what} (only regular files are read)")


def _gunzip(p: str, raw: bytes, cap: int) -> bytes:
    """Decompress at most ``cap`` bytes: a gzip bomb is refused, not inflated."""
    import gzip
    import io

    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as f:
            out = f.read(cap + 1)
    except (OSError, EOFError, zlib.error) as e:
        raise RunFileError(f"{p}: a damaged gzip file ({e})") from None
    if len(out) > cap:
        raise RunFileError(f"{p}: decompresses to over the {_mib(cap)} input limit (raise it with {MAX_INPUT_ENV})")
    return out


class _Refused(ValueError):
    pass


def _no_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number (nnbench writes a non-finite value as null)")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise _Refused(f"duplicate key {dup!r} in one object")
    return obj


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def parse_json(raw: bytes, where: str, what: str = "run file") -> Any:
    """Decode JSON bytes without letting anything escape as a traceback.

    Refused, each with a one-line ``RunFileError``: bytes that are not
    UTF-8, invalid JSON, nesting deeper than the interpreter's recursion
    limit, integers longer than Python's digit limit (4300), the non-JSON
    literals ``NaN``/``Infinity``, a key given twice in one object, and a
    string holding a lone UTF-16 surrogate (no output can encode it).
    Numbers too large for a float (``1e999``) decode as infinity; the
    validation that follows refuses them where nnbench reads them.
    """
    if not raw.strip():
        raise RunFileError(f"{where}: empty file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RunFileError(f"{where}: not a {what} (binary, not UTF-8 JSON)") from None
    try:
        data = json.loads(text, parse_constant=_no_constant, object_pairs_hook=_unique_keys)
    except RecursionError:
        raise RunFileError(f"{where}: not a {what} (JSON nested too deeply)") from None
    except json.JSONDecodeError as e:
        raise RunFileError(f"{where}: not valid JSON (line {e.lineno}: {e.msg}); truncated?") from None
    except _Refused as e:
        raise RunFileError(f"{where}: not a {what} ({e})") from None
    except ValueError as e:  # the int conversion limit
        raise RunFileError(f"{where}: not a {what} ({str(e).split(':')[0]})") from None
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(data):
        raise RunFileError(f"{where}: not a {what} (a string holds a lone UTF-16 surrogate)")
    return data


def _has_lone_surrogate(obj: Any) -> bool:
    stack = [obj]
    while stack:
        x = stack.pop()
        if isinstance(x, str):
            try:
                x.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(x, dict):
            stack += x.keys()
            stack += x.values()
        elif isinstance(x, list):
            stack += x
    return False


def read_json(path: str | os.PathLike, what: str = "run file") -> Any:
    """``read_bytes`` then ``parse_json``: the one way nnbench reads a JSON file."""
    return parse_json(read_bytes(path, what), str(path), what)


# --- validation ------------------------------------------------------------

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
        raise RunFileError(f"{where}: schema {_short(schema)} is not supported by this nnbench (reads {', '.join(sorted(_COMPATIBLE))})")
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
            raise RunFileError(f"{where}: {_record_name(data['records'], i)}: duplicate case id (record {seen[rec['id']]} has it too)")
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
            bad = x[~(np.isfinite(x) & (x >= 0) & (x <= MAX_STEP_S))][0] if x.dtype.kind == "f" else x[(x < 0) | (x > MAX_STEP_S)][0]
            return f"field {section}.samples_s: {float(bad):g} is impossible (must be finite, 0 to {MAX_STEP_S} s)"
        if rec["status"] == "ok" and section == "time":
            if not x.size:
                return "field time.samples_s: empty, but the record is ok"
            med = s["median"]
            if not x.min() - 1e-9 <= med <= x.max() + 1e-9:  # samples are stored rounded to the nanosecond
                return f"field time.median: {med:g} lies outside its samples ({float(x.min()):g} to {float(x.max()):g} s)"
        for key in ("round_ends", "process_ends"):
            ends = s.get(key)
            if ends is None:
                continue
            limit = x.size if key == "round_ends" else len(s.get("round_ends") or [])
            e = np.asarray(ends) if isinstance(ends, list) else None
            if e is None or e.ndim != 1 or (e.size and (e.dtype.kind not in "iu" or e.min() < 0 or e.max() > limit or (np.diff(e) < 0).any())):
                return f"field {section}.{key}: not a non-decreasing list of counts up to {limit}"
    t = rec.get("time")
    if rec["status"] == "ok" and isinstance(t, dict):
        lo, med, hi = t.get("ci_low"), t["median"], t.get("ci_high")
        if lo is not None and hi is not None and not (lo <= med * (1 + 1e-9) and med <= hi * (1 + 1e-9)):
            return f"field time: median {med:g} s lies outside its confidence interval [{lo:g}, {hi:g}]"
    return None


def run_files(path: str | os.PathLike) -> list[Path]:
    """A run file, or every ``*.json`` run file directly in a directory."""
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.glob("*.json") if not f.name.startswith("."))
        if not files:
            raise RunFileError(f"{p}: no run files (*.json) in this directory")
        return files
    if not p.exists():
        raise RunFileError(f"{p}: no such file or directory")
    return [p]


def load(path: str | os.PathLike):
    """Load a run file, or a directory of them, as one ``pandas.DataFrame``.

    One row per record; nested fields are flattened with dots
    (``time.median``, ``compile.trace_s``), raw sample lists kept as lists,
    plus ``run`` (file name), ``device_kind`` and ``started`` columns.

    >>> df = nnbench.load("results/")                      # doctest: +SKIP
    >>> df.pivot_table("time.median", "case.layer", "case.style")  # doctest: +SKIP
    """
    import pandas as pd

    frames = []
    for f in run_files(path):
        run = read_run(f)
        rows = []
        for rec in run["records"]:
            row = pd.json_normalize(_without_lists(rec), sep=".").iloc[0].to_dict()
            row["time.samples_s"] = rec.get("time", {}).get("samples_s")
            row.update(run=f.name, device_kind=run["env"].get("device_kind"), started=run.get("started"))
            rows.append(row)
        frames.append(pd.DataFrame(rows))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _without_lists(rec: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in rec.items():
        if isinstance(v, dict):
            out[k] = {kk: vv for kk, vv in v.items() if not isinstance(vv, list) and kk != "hlo_op_histogram"}
        elif not isinstance(v, list):
            out[k] = v
    return out
