"""The cached places ``git:`` and ``pip:`` sides run in, and the package index.

Both live under the user cache (``$XDG_CACHE_HOME/nnbench``, else
``~/.cache/nnbench``), each entry a folder with a JSON file of the same name
beside it (what it is, when it was made and last used), so that ``nnbench
envs`` can list and prune them and an entry without its JSON (a build that
was cut short) is never used:

- ``worktrees/<repo>-<commit>/``: ``git worktree add --detach`` of one commit
  of one repository, reused by every later side naming that commit.
- ``envs/<key>/``: a virtual environment per requirement set, keyed by the
  normalized requirements, the Python version and the nnbench checkout it
  was made from. It gets nnbench's own dependencies resolved together with
  the requirements (a requirement naming one of them replaces it: ``flax==0.10.0``
  where nnbench asks ``flax>=0.12``), then nnbench itself *editable* from the
  running checkout (``--no-deps``): the side's nnbench is then the code the
  parent runs, at every later commit too, so the handshake and the stepped
  worker's protocol always match and an environment is not rebuilt because
  nnbench changed. ``uv`` builds it where it is on ``PATH``, else ``venv`` and
  pip.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nnbench.measure.env import cache_root as cache_root  # the user cache, shared with calibrations
from nnbench.run.sides import SideError

INSTALL_TIMEOUT_S = 3600.0
# Recorded per environment (with every requirement's own package): what a reader asks first.
KEY_PACKAGES = ("jax", "jaxlib", "flax", "dm-haiku", "optax", "numpy")


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def _git(args: list[str], cwd: str | os.PathLike) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL)


def _last_line(text: str) -> str:
    lines = [x.strip() for x in text.splitlines() if x.strip()]
    return lines[-1][:300] if lines else "no message"


@contextlib.contextmanager
def _locked(entry: Path) -> Iterator[None]:
    """Hold ``entry``'s lock file: two processes building one entry take turns."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    with open(entry.with_suffix(".lock"), "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _meta_path(entry: Path) -> Path:
    return entry.with_name(entry.name + ".json")


def _read_meta(entry: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(_meta_path(entry).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_meta(entry: Path, meta: dict[str, Any]) -> None:
    tmp = _meta_path(entry).with_suffix(".json.tmp")
    tmp.write_text(json.dumps(meta, indent=1))
    os.replace(tmp, _meta_path(entry))


def _touch(entry: Path, meta: dict[str, Any]) -> None:
    _write_meta(entry, {**meta, "used": _now()})


# --- git: sides ---


def repo_root(repo: str | None, where: str) -> str:
    """The top of the repository holding ``repo`` (default: the current directory)."""
    cwd = repo or os.getcwd()
    if not os.path.isdir(cwd):
        raise SideError(f"{where}: --repo {cwd}: no such directory")
    top = _git(["rev-parse", "--show-toplevel"], cwd)
    if top.returncode != 0:
        raise SideError(f"{where}: {cwd} is not in a git repository (pass --repo DIR)")
    return top.stdout.strip()


def resolve_commit(rev: str, top: str, where: str) -> str:
    """The full hash of commit ``rev`` in the repository at ``top``."""
    if not rev or rev.startswith("-"):
        raise SideError(f"{where}: {rev!r} is not a revision")
    res = _git(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"], top)
    if res.returncode != 0:
        raise SideError(f"{where}: unknown revision {rev!r} in {top}")
    return res.stdout.strip()


def git_worktree(rev: str, repo: str | None, where: str) -> tuple[str, str]:
    """``(commit, directory)``: commit ``rev`` of the repository ``repo``
    checked out detached in the cache (made once, reused after)."""
    top = repo_root(repo, where)
    commit = resolve_commit(rev, top, where)
    common = _git(["rev-parse", "--path-format=absolute", "--git-common-dir"], top).stdout.strip()
    repo_id = hashlib.sha256(os.path.realpath(common or top).encode()).hexdigest()[:12]
    entry = cache_root() / "worktrees" / f"{repo_id}-{commit[:16]}"
    with _locked(entry):
        meta = _read_meta(entry)
        head = _git(["rev-parse", "HEAD"], entry).stdout.strip() if (entry / ".git").exists() else None
        if meta is None or head != commit:
            _remove_worktree(entry, top)
            added = _git(["worktree", "add", "--detach", "--force", str(entry), commit], top)
            if added.returncode != 0:
                raise SideError(f"{where}: cannot check out {commit[:12]} ({_last_line(added.stderr)})")
            meta = {"kind": "git", "repo": top, "rev": rev, "commit": commit, "created": _now()}
        _touch(entry, meta)
    return commit, str(entry)


def _remove_worktree(entry: Path, top: str | None) -> None:
    if top and entry.exists():
        _git(["worktree", "remove", "--force", str(entry)], top)
    shutil.rmtree(entry, ignore_errors=True)
    if top and os.path.isdir(top):
        _git(["worktree", "prune"], top)


# --- pip: sides ---


def normalize_requirements(text: str, where: str) -> list[str]:
    """``REQ[,REQ...]`` as a sorted list of normalized requirements (one per
    package); ``SideError`` for an empty, malformed or repeated one."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    out: dict[str, str] = {}
    items = [x.strip() for x in text.split(",")]
    if not any(items) or not all(items):
        raise SideError(f"{where}: expected pip:REQ[,REQ...] (e.g. pip:flax==0.12.0), with no empty item")
    for item in items:
        try:
            req = Requirement(item)
        except InvalidRequirement as e:
            raise SideError(f"{where}: {item!r} is not a requirement ({e})") from None
        if req.url:
            raise SideError(f"{where}: {item!r}: a requirement by URL is not supported; name a version")
        name = canonicalize_name(req.name)
        if name in out:
            raise SideError(f"{where}: {req.name} is named twice")
        extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
        marker = f"; {req.marker}" if req.marker else ""
        out[name] = f"{name}{extras}{req.specifier}{marker}"
    return [out[k] for k in sorted(out)]


def nnbench_checkout() -> Path | None:
    """The checkout the running nnbench comes from, or None (an installed copy)."""
    import nnbench

    root = Path(nnbench.__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() else None


def _dependencies(root: Path, pinned: set[str]) -> list[str]:
    """nnbench's own dependencies, less those a requirement names."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    deps = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    return [d for d in deps if canonicalize_name(Requirement(d).name) not in pinned]


def install_commands(env: Path, root: Path, requirements: list[str]) -> list[list[str]]:
    """The commands that build environment ``env`` (uv where on ``PATH``, else venv and pip)."""
    from packaging.requirements import Requirement

    pinned = {Requirement(r).name for r in requirements}
    wanted = [*_dependencies(root, pinned), *requirements]
    py = str(env / "bin" / "python")
    uv = shutil.which("uv")
    if uv:
        return [
            [uv, "venv", "--quiet", "--python", sys.executable, str(env)],
            [uv, "pip", "install", "--quiet", "--python", py, *wanted],
            [uv, "pip", "install", "--quiet", "--python", py, "--no-deps", "-e", str(root)],
        ]
    return [
        [sys.executable, "-m", "venv", str(env)],
        [py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *wanted],
        [py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps", "-e", str(root)],
    ]


def _install(env: Path, root: Path, requirements: list[str]) -> str | None:
    """Build ``env``; None, or why it failed (one line)."""
    for argv in install_commands(env, root, requirements):
        try:
            res = subprocess.run(
                argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=INSTALL_TIMEOUT_S
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"{Path(argv[0]).name}: {e}"
        if res.returncode != 0:
            return _last_line(res.stderr or res.stdout)
    return None


def installed_versions(python: str) -> dict[str, str]:
    """``{normalized name: version}`` of every distribution ``python`` sees."""
    code = (
        "import importlib.metadata as m, json, re\n"
        "print(json.dumps({re.sub(r'[-_.]+', '-', d.metadata['Name']).lower(): d.version"
        " for d in m.distributions() if d.metadata['Name']}))"
    )
    res = subprocess.run([python, "-c", code], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    try:
        return json.loads(res.stdout) if res.returncode == 0 else {}
    except ValueError:
        return {}


def pip_env(text: str, where: str) -> tuple[str, str]:
    """``(python, requirement set)`` of the environment for ``text``
    (``REQ[,REQ...]``), built on first use; ``SideError`` (one line) when
    the requirements are malformed or do not install."""
    from packaging.requirements import Requirement

    requirements = normalize_requirements(text, where)
    root = nnbench_checkout()
    if root is None:
        raise SideError(f"{where}: pip: sides install nnbench from its checkout, and this nnbench is not one")
    ident = {"requirements": requirements, "python": sys.version.split()[0], "nnbench": str(root)}
    key = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]
    entry = cache_root() / "envs" / key
    python = entry / "bin" / "python"
    with _locked(entry):
        meta = _read_meta(entry)
        if meta is None or not python.exists():
            shutil.rmtree(entry, ignore_errors=True)
            failed = _install(entry, root, requirements)
            if failed is not None:
                shutil.rmtree(entry, ignore_errors=True)
                raise SideError(f"{where}: the environment does not install ({failed})")
            versions = installed_versions(str(python))
            names = {*KEY_PACKAGES, *(Requirement(r).name for r in requirements)}
            meta = {
                "kind": "pip",
                **ident,
                "versions": {k: versions[k] for k in sorted(names) if k in versions},
                "installer": "uv" if shutil.which("uv") else "pip",
                "created": _now(),
            }
        _touch(entry, meta)
    return str(python), ",".join(requirements)


# --- listing and pruning ---


def entries() -> list[dict[str, Any]]:
    """Every cached worktree and environment: its JSON plus ``path`` and
    ``complete`` (false for a folder without its JSON: a build cut short)."""
    out = []
    for sub in ("worktrees", "envs"):
        folder = cache_root() / sub
        if not folder.is_dir():
            continue
        for p in sorted(folder.iterdir()):
            if p.is_dir():
                meta = _read_meta(p)
                out.append(
                    {
                        "kind": "git" if sub == "worktrees" else "pip",
                        **(meta or {}),
                        "path": str(p),
                        "complete": meta is not None,
                    }
                )
    return out


def _age_days(entry: dict[str, Any]) -> float:
    stamp = entry.get("used") or entry.get("created")
    try:
        then = _dt.datetime.fromisoformat(stamp)
    except (TypeError, ValueError):
        return float("inf")
    return (_dt.datetime.now(_dt.UTC) - then).total_seconds() / 86400


def prune(older_than_days: float | None = None) -> list[dict[str, Any]]:
    """Remove the entries unused for ``older_than_days`` days (every one
    when None) and any build cut short; the entries removed."""
    removed = []
    for e in entries():
        if e["complete"] and older_than_days is not None and _age_days(e) < older_than_days:
            continue
        p = Path(e["path"])
        with _locked(p):
            if e["kind"] == "git":
                _remove_worktree(p, e.get("repo"))
            else:
                shutil.rmtree(p, ignore_errors=True)
            _meta_path(p).unlink(missing_ok=True)
        p.with_suffix(".lock").unlink(missing_ok=True)
        removed.append(e)
    return removed


# --- the package index ---


def index_versions(name: str) -> list[str]:
    """The versions of ``name`` the package index offers (``pip index
    versions``), newest first; ``ValueError`` (one line) when it offers none
    or cannot be asked."""
    res = subprocess.run(
        [sys.executable, "-m", "pip", "index", "versions", "--disable-pip-version-check", name],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    line = next((x for x in res.stdout.splitlines() if x.startswith("Available versions:")), None)
    if res.returncode != 0 or line is None:
        raise ValueError(f"--package {name}: the package index offers no versions ({_last_line(res.stderr)})")
    return [v.strip() for v in line.removeprefix("Available versions:").split(",") if v.strip()]
