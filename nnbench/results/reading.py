"""Reading any file nnbench takes (run files, profile summaries), safely.

``read_json``: regular files only (a FIFO or a device is refused before it
is opened), at most ``NNBENCH_MAX_INPUT_MB`` MiB after gzip decompression
(default 256), strict JSON (no NaN/Infinity literals, no duplicate keys, no
runaway nesting or integers). Every refusal is one ``RunFileError`` line.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
import zlib
from typing import Any


class RunFileError(ValueError):
    """A run file is unreadable or incompatible (a bad-input error: exit 2)."""


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
        raise RunFileError(
            f"{p}: {_mib(st.st_size)} is over the {_mib(cap)} input limit (raise it with {MAX_INPUT_ENV})"
        )
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
        kind = (
            "a FIFO"
            if stat.S_ISFIFO(mode)
            else "a device"
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a socket"
            if stat.S_ISSOCK(mode)
            else "not a regular file"
        )
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
