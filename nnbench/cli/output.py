"""Where outputs go: every ``--out`` and ``--logdir`` checked before the
work starts, never overwriting a file, and cleaned up when writing fails."""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import socket
from pathlib import Path

from nnbench.cli.common import BadInput


def can_make_dir(path: Path, what: str) -> None:
    """BadInput unless directory ``path`` exists or can be created: its
    nearest existing ancestor is a writable directory (checked before a
    long preparation, created after it)."""
    probe = path
    while not os.path.lexists(probe) and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise BadInput(f"{what}: {probe} exists and is not a directory")
    if probe != path and not os.access(probe, os.W_OK | os.X_OK):
        raise BadInput(f"{what}: cannot create a directory in {probe} (not writable)")


def make_dir(path: Path, what: str) -> None:
    """Create directory ``path`` (and parents) or raise BadInput naming ``what``."""
    if path.exists() and not path.is_dir():
        raise BadInput(f"{what}: exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BadInput(f"{what}: cannot create directory ({e.strerror})") from None


def resolve_out(out: str) -> Path:
    """The run file to create; checks writability before any case runs.

    ``--out`` names a run file when it ends in ``.json`` (its directory must
    exist), else a directory (created, with its parents; a new file is
    named in it): the rule of every ``--out`` and ``--logdir``.
    """
    path = Path(out)
    if path.suffix != ".json" or out.endswith(("/", os.sep)):
        make_dir(path, f"--out {out}")
        path = path / f"{run_name('run')}.json"
    else:
        out_dir(path, out)
    return claim(path, out)


def out_dir(path: Path, out: str) -> None:
    """The directory of an output file: it must exist and be writable (nnbench
    creates a directory only where ``--out`` names one)."""
    parent = path.parent
    if not parent.is_dir():
        raise BadInput(
            f"--out {out}: directory {parent} does not exist "
            "(create it first; only a directory given as --out is created)"
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise BadInput(f"--out {out}: directory {parent} is not writable")


def out_file(out: str, also: list[Path] | tuple[Path, ...] = ()) -> Path:
    """An output file (``report``, ``compare``, ``history --out``): not a
    directory, its directory existing and writable, and neither it nor
    ``also`` (what is written beside it) existing."""
    path = Path(out)
    if out.endswith(("/", os.sep)) or path.is_dir():
        raise BadInput(f"--out {out}: is a directory; give a file name")
    out_dir(path, out)
    if path in also:
        raise BadInput(f"--out {out}: a plot written beside it would have the same name; give another name")
    for p in (path, *also):
        if p.exists() or p.is_symlink():
            raise BadInput(
                f"--out {out}: {'already exists' if p == path else f'{p} already exists'}; refusing to overwrite it"
            )
    return path


@contextlib.contextmanager
def writing(out: str, planned: list[Path] | tuple[Path, ...]):
    """Write the planned outputs (none exists yet: ``out_file``); on an
    ``OSError`` remove what was created and refuse in one line."""
    before = {p for p in planned if os.path.lexists(p)}
    try:
        yield
    except FileExistsError as e:  # another process wrote there meanwhile: touch nothing
        where = getattr(e, "path", None) or e.filename or e  # nnbench's OutputExists names it as .path
        raise BadInput(f"--out {out}: {where} appeared while writing; refusing to overwrite it") from None
    except OSError as e:
        for p in planned:
            if p not in before:
                with contextlib.suppress(OSError):
                    os.unlink(p)
        raise BadInput(f"--out {out}: cannot write {e.filename or out} ({e.strerror or e})") from None


def run_name(prefix: str) -> str:
    """``prefix-<time>-<host>-<pid>``: a new file name in a results directory."""
    return f"{prefix}-{_dt.datetime.now().strftime('%Y%m%dT%H%M%S')}-{socket.gethostname()}-{os.getpid()}"


def claim(path: Path, out: str) -> Path:
    """Create ``path`` as an empty run file, never overwriting it or the
    report written beside it at the end; else BadInput."""
    from nnbench.report import run as _report
    from nnbench.results import runfile as _results

    if not os.access(path.parent, os.W_OK):
        raise BadInput(f"--out {out}: directory {path.parent} is not writable")
    for p in _report.report_paths(path.with_suffix(".md")):  # written beside the run file at its end
        if p.exists():
            raise BadInput(f"--out {out}: {p} (its report) already exists; refusing to overwrite it")
    try:
        _results.create_exclusive(path)
    except _results.RunFileError as e:
        raise BadInput(f"--out {e}") from None
    return path


def emit(args, kind: str, result: dict) -> None:
    """Render a compare/history result to ``--out`` (never overwriting) or stdout."""
    from nnbench.report import compare as _report_compare

    out = args.out
    if not out:
        _report_compare.emit(kind, args.format, None, result)
        return
    beside = [Path(out).with_suffix(".png")] if args.format == "md" else []
    planned = [out_file(out, beside), *beside]
    with writing(out, planned):
        written = _report_compare.emit(kind, args.format, out, result)
    for path in written:
        print(path)
