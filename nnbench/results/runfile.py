"""Run files: a versioned schema id, the environment, one record per case.

A run file is JSON. It is rewritten atomically (temp file + ``os.replace``)
after every finished case, so a run killed at any point leaves a readable file
holding every case that finished. Loading never executes anything from it.

This module writes run files and reads them whole (``read_run``, ``load``);
the pieces: ``reading`` (every file nnbench takes is read by ``read_json``:
regular files only, size-capped, strict JSON), ``validation`` (the schema id
``nnbench.run/1``, ``run.schema.json`` and what a schema cannot state),
``files`` (never overwriting an output). Their public names stay importable
from here. Every refusal is one ``RunFileError`` line naming the file, the
record and the field.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from nnbench.results import files as _files
from nnbench.results.reading import (  # noqa: F401 - re-exported
    DEFAULT_MAX_INPUT_MB,
    MAX_INPUT_ENV,
    RunFileError,
    max_input_bytes,
    parse_json,
    read_bytes,
    read_json,
)
from nnbench.results.validation import MAX_STEP_S, SCHEMA, schema_problem, validate  # noqa: F401 - re-exported


def now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def new_run(env: dict[str, Any], argv: list[str] | None = None, suite: str | None = None) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "started": now(),
        "finished": None,
        "argv": argv or [],
        "suite": suite,
        "env": env,
        "records": [],
    }


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
    a run killed right after claiming it still leaves a readable file
    (``nnbench.results.files.create_exclusive``: temp file, hard link).
    """
    text = json.dumps(
        sanitize(data if data is not None else new_run({})), indent=1, allow_nan=False, default=_json_default
    )
    try:
        _files.create_exclusive(path, text)
    except _files.OutputExists as e:
        raise RunFileError(str(e)) from None
    except OSError as e:
        raise RunFileError(f"{path}: cannot create ({e.strerror})") from None


def read_run(path: str | os.PathLike) -> dict[str, Any]:
    """Read and validate one run file; ``RunFileError`` names the problem."""
    where = str(path)
    data = read_json(path, "run file")
    validate(data, where)
    return data


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
