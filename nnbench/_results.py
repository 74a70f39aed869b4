"""Run files: a versioned schema id, the environment, one record per case.

A run file is JSON. It is rewritten atomically (temp file + ``os.replace``)
after every finished case, so a run killed at any point leaves a readable file
holding every case that finished. Loading never executes anything from it.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import tempfile
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
            json.dump(_sanitize(data), f, indent=1, allow_nan=False, default=_json_default)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _sanitize(obj: Any) -> Any:
    """NaN and ±Inf are not JSON: store them as null."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _sanitize(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_sanitize(v) for v in obj]
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
            json.dump(_sanitize(data if data is not None else new_run({})), f, indent=1, allow_nan=False, default=_json_default)
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
    p = Path(path)
    try:
        raw = p.read_bytes()
    except IsADirectoryError:
        raise RunFileError(f"{p}: is a directory, not a run file") from None
    except OSError as e:
        raise RunFileError(f"{p}: cannot read ({e.strerror})") from None
    if raw[:2] == b"\x1f\x8b":  # gzip (a published run file, e.g. reports/*.json.gz)
        import gzip

        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise RunFileError(f"{p}: a damaged gzip file ({e})") from None
    if not raw.strip():
        raise RunFileError(f"{p}: empty file")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise RunFileError(f"{p}: not a run file (binary, not UTF-8 JSON)") from None
    except json.JSONDecodeError as e:
        raise RunFileError(f"{p}: not valid JSON (line {e.lineno}: {e.msg}); truncated?") from None
    validate(data, str(p))
    return data


def validate(data: Any, where: str = "run") -> None:
    if not isinstance(data, dict):
        raise RunFileError(f"{where}: not a run file (top level is not an object)")
    schema = data.get("schema")
    if schema is None:
        raise RunFileError(f"{where}: not a run file (no 'schema' field)")
    if schema not in _COMPATIBLE:
        raise RunFileError(f"{where}: schema {schema!r} is not supported by this nnbench (reads {', '.join(sorted(_COMPATIBLE))})")
    for field, kind in (("env", dict), ("records", list)):
        if not isinstance(data.get(field), kind):
            raise RunFileError(f"{where}: field {field!r} is missing or malformed")
    for i, rec in enumerate(data["records"]):
        if not isinstance(rec, dict) or not isinstance(rec.get("case"), dict) or not isinstance(rec.get("status"), str):
            raise RunFileError(f"{where}: record {i} is missing 'case' or 'status'")
        if not isinstance(rec.get("id"), str):
            raise RunFileError(f"{where}: record {i} has no 'id'")
        if rec["status"] == "ok":
            t = rec.get("time")
            if not isinstance(t, dict) or not isinstance(t.get("median"), (int, float, type(None))) or isinstance(t.get("median"), bool):
                raise RunFileError(f"{where}: record {i} is 'ok' but has no timing")


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
