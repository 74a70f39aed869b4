"""Where one side of ``nnbench ab`` (and ``nnbench bisect``) runs.

A side is one of:

- a Python executable: an environment with nnbench and the code under test
  installed, run in the current directory;
- a directory: this interpreter with the directory as working directory and
  first on ``PYTHONPATH``. A checkout of nnbench (it holds ``nnbench/``)
  brings its own nnbench and layer catalog; any other directory is a user's
  project, timed with the installed nnbench and the project's own modules;
- ``git:REV``: revision ``REV`` of a repository (``--repo``, default the
  current directory's), checked out detached into a cached worktree keyed by
  the commit, then used as a directory;
- ``pip:REQ[,REQ...]``: a virtual environment keyed by the normalized
  requirement set, with nnbench installed from the running checkout and the
  requirements pinned over its dependencies (``nnbench.run.envs``).

Before any timing each side proves it is a working nnbench
(``Side.handshake``: the side's interpreter imports what its workers import
and answers a token), so ``/bin/true`` or a Python without nnbench is
refused, not timed as failed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

GIT = "git:"
PIP = "pip:"

# Run in a side's interpreter before any timing: it must import what its
# workers import and answer with the token reversed (any program that exits
# 0, /bin/true, proves nothing).
_HANDSHAKE = """
import json, sys
import nnbench, nnbench.run.worker as w, nnbench.layers, jax
print("nnbench-handshake " + json.dumps({
    "echo": sys.argv[1][::-1], "file": nnbench.__file__, "version": getattr(nnbench, "__version__", None),
    "stepped": hasattr(w, "SteppedWorker") and hasattr(w, "_stdin_rounds"), "jax": jax.__version__,
}))
"""
HANDSHAKE_TIMEOUT_S = 300.0  # importing JAX and the layer library, as a worker's start (STARTUP_TIMEOUT_S)
_HANDSHAKE_MAX_OUTPUT = 1 << 16


class SideError(ValueError):
    """A side cannot be used as given (a bad-input error: exit 2)."""


@dataclasses.dataclass(frozen=True)
class Side:
    """Where one side's workers run.

    ``spec``: as given on the command line; ``python``: the interpreter;
    ``path``: a directory (working directory, first on ``PYTHONPATH``) or
    None (the current directory, as ``python -m`` has it); ``kind``:
    ``python``, ``checkout`` (a directory holding ``nnbench/``), ``project``
    (any other directory), ``git`` or ``pip``; ``resolved``: what a ``git:``
    or ``pip:`` spec resolved to (the commit; the requirement set).
    """

    role: str
    spec: str
    python: str
    path: str | None = None
    kind: str = "python"
    resolved: str | None = None

    @classmethod
    def parse(cls, role: str, spec: str, handshake: bool = True, repo: str | None = None) -> Side:
        """The side ``spec`` names (see the module docstring), proven a
        working nnbench by ``handshake`` (unless false); ``SideError`` (one
        line) otherwise. ``repo``: the repository of a ``git:`` side."""
        where = f"--{role} {spec}"
        if spec.startswith(GIT):
            from nnbench.run import envs as _envs

            commit, tree = _envs.git_worktree(spec.removeprefix(GIT), repo, where)
            side = cls(role, spec, sys.executable, tree, "git", commit)
        elif spec.startswith(PIP):
            from nnbench.run import envs as _envs

            python, requirements = _envs.pip_env(spec.removeprefix(PIP), where)
            side = cls(role, spec, python, None, "pip", requirements)
        else:
            side = cls._local(role, spec, where)
        if handshake:
            side.handshake()
        return side

    @classmethod
    def _local(cls, role: str, spec: str, where: str) -> Side:
        p = Path(spec)
        if not p.exists():
            raise SideError(f"{where}: no such file or directory")
        if p.is_dir():
            return cls(role, spec, sys.executable, str(p.resolve()), _dir_kind(p))
        if not p.is_file() or not os.access(p, os.X_OK):
            raise SideError(f"{where}: not executable (expected a Python executable, a directory, git:REV or pip:REQ)")
        return cls(role, spec, os.path.abspath(p))  # not resolved: a venv's python is a link that must stay one

    @classmethod
    def parse_pair(cls, baseline: str, candidate: str, repo: str | None = None) -> tuple[Side, Side]:
        """Both sides of ``nnbench ab``: each checked as given first, then
        each proven by its handshake (a typo is refused in milliseconds)."""
        sides = (
            cls.parse("baseline", baseline, handshake=False, repo=repo),
            cls.parse("candidate", candidate, handshake=False, repo=repo),
        )
        prove(sides)
        return sides

    @property
    def label(self) -> str:
        """The spec, with what a ``git:`` spec resolved to."""
        return f"{self.spec} ({self.resolved[:12]})" if self.kind == "git" and self.resolved else self.spec

    def handshake(self, cancel: threading.Event | None = None) -> dict[str, Any]:
        """Run ``_HANDSHAKE`` where this side's workers will run (its
        interpreter, working directory and ``PYTHONPATH``) and check its
        answer: the token echoed, a stepped worker, and for a checkout of
        nnbench its own nnbench. The answer's fields; ``SideError`` naming
        what failed (also when ``cancel`` is set meanwhile)."""
        where = f"--{self.role} {self.spec}"
        token = secrets.token_hex(8)
        env = dict(os.environ)
        if self.path is not None:
            env["PYTHONPATH"] = os.pathsep.join(q for q in (self.path, env.get("PYTHONPATH")) if q)
        code, out, err = _bounded_run([self.python, "-c", _HANDSHAKE, token], self.path, env, cancel)
        if code is None:
            raise SideError(
                f"{where}: not a Python that can import nnbench and answer its handshake "
                f"({out.decode(errors='replace')})"
            )
        line = next((x for x in out.decode(errors="replace").splitlines() if x.startswith("nnbench-handshake ")), None)
        try:
            answer = json.loads(line.removeprefix("nnbench-handshake ")) if line else None
        except ValueError:
            answer = None
        if code != 0 or not isinstance(answer, dict) or answer.get("echo") != token[::-1]:
            tail = [x for x in err.decode(errors="replace").splitlines() if x.strip()]
            why = tail[-1].strip()[:200] if tail else f"exited with status {code} without the handshake's answer"
            raise SideError(f"{where}: not a Python that can import nnbench and answer its handshake ({why})")
        if not answer.get("stepped"):
            raise SideError(
                f"{where}: its nnbench ({answer.get('file')}) predates nnbench ab (no stepped worker); update it"
            )
        holds_nnbench = self.path is not None and _dir_kind(Path(self.path)) == "checkout"
        if holds_nnbench and not _within(str(answer.get("file")), self.path):
            raise SideError(f"{where}: imports nnbench from {answer.get('file')}, not from this checkout")
        return answer


def _dir_kind(p: Path) -> str:
    return "checkout" if (p / "nnbench").is_dir() else "project"


def _within(module_file: str, checkout: str) -> bool:
    """Whether a package's ``__init__.py`` lies directly in ``checkout`` (its
    folder may be a symlink: compared as files, not as path strings)."""
    try:
        return os.path.samefile(os.path.dirname(os.path.dirname(module_file)), checkout)
    except OSError:
        return False


def prove(sides: Sequence[Side]) -> None:
    """Handshake every side at once (each imports JAX: seconds); the first
    failure cancels the others and is raised."""
    import queue

    cancel, done = threading.Event(), queue.Queue()

    def one(side: Side) -> None:
        try:
            side.handshake(cancel)
            done.put(None)
        except SideError as e:
            done.put(e)

    threads = [threading.Thread(target=one, args=(side,), daemon=True) for side in sides]
    for t in threads:
        t.start()
    failure = None
    try:
        for _ in threads:
            failure = done.get()
            if failure is not None:
                break
    finally:
        cancel.set()
        for t in threads:
            t.join()
    if failure is not None:
        raise failure


def _bounded_run(
    argv: list[str], cwd: str | None, env: dict[str, str], cancel: threading.Event | None = None
) -> tuple[int | None, bytes, bytes]:
    """Run ``argv`` for at most ``HANDSHAKE_TIMEOUT_S``, keeping at most
    ``_HANDSHAKE_MAX_OUTPUT`` bytes of each stream: ``(status, stdout,
    stderr)``, or ``(None, why, b"")`` when it could not start, ran too long,
    said too much (``yes`` as a side must not fill the memory) or ``cancel``
    was set."""
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
    except OSError as e:
        return None, f"cannot start it: {e.strerror}".encode(), b""
    bufs = {proc.stdout.fileno(): bytearray(), proc.stderr.fileno(): bytearray()}
    open_fds, deadline, why = set(bufs), time.monotonic() + HANDSHAKE_TIMEOUT_S, None
    try:
        while open_fds and why is None:
            left = deadline - time.monotonic()
            if cancel is not None and cancel.is_set():
                why = "cancelled"
                break
            ready = select.select(list(open_fds), [], [], min(left, 0.1))[0] if left > 0 else []
            if not ready:
                if left <= 0:
                    why = f"no answer within {HANDSHAKE_TIMEOUT_S:g} s"
                continue
            for fd in ready:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    open_fds.discard(fd)
                elif len(bufs[fd]) + len(chunk) > _HANDSHAKE_MAX_OUTPUT:
                    why = f"printed over {_HANDSHAKE_MAX_OUTPUT >> 10} KiB without answering"
                else:
                    bufs[fd] += chunk
        if why is None:
            try:
                return (
                    proc.wait(timeout=max(deadline - time.monotonic(), 1.0)),
                    bytes(bufs[proc.stdout.fileno()]),
                    bytes(bufs[proc.stderr.fileno()]),
                )
            except subprocess.TimeoutExpired:
                why = f"no answer within {HANDSHAKE_TIMEOUT_S:g} s"
        return None, why.encode(), b""
    finally:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
