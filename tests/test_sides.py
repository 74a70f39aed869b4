"""The sides of ``nnbench ab``: a user's project directory, ``git:REV`` and
``pip:REQ`` (environments built once, listed and pruned by ``nnbench envs``)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nnbench.cli import main
from nnbench.run import envs as _envs
from nnbench.run.sides import Side, SideError

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "nnbench"


def test_a_project_directory_is_a_side(tmp_path):
    # No nnbench/ inside: the installed nnbench, the project first on the path.
    (tmp_path / "mine.py").write_text("X = 1\n")
    side = Side.parse("candidate", str(tmp_path))
    assert side.kind == "project" and side.path == str(tmp_path.resolve()) and side.python == sys.executable
    assert Side.parse("baseline", str(REPO), handshake=False).kind == "checkout"


def test_git_sides_share_one_cached_worktree_per_commit(tmp_path, cache):
    repo = tmp_path / "repo"
    repo.mkdir()
    for args in (["init", "-q", "-b", "main"], ["config", "user.email", "t@example.com"], ["config", "user.name", "t"]):
        subprocess.run(["git", *args], cwd=repo, check=True)
    (repo / "a.py").write_text("A = 1\n")
    subprocess.run(["git", "add", "."], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "one"], cwd=repo, check=True)
    one = Side.parse("baseline", "git:HEAD", handshake=False, repo=str(repo))
    again = Side.parse("candidate", "git:main", handshake=False, repo=str(repo))
    assert one.kind == "git" and one.path == again.path and (Path(one.path) / "a.py").read_text() == "A = 1\n"
    assert (
        one.resolved
        == subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    )
    with pytest.raises(SideError, match="unknown revision 'nope'"):
        Side.parse("baseline", "git:nope", handshake=False, repo=str(repo))
    with pytest.raises(SideError, match="not in a git repository"):
        Side.parse("baseline", "git:HEAD", handshake=False, repo=str(tmp_path))
    (entry,) = _envs.entries()
    assert entry["kind"] == "git" and entry["complete"] and entry["path"] == one.path
    assert _envs.prune(older_than_days=1) == [] and len(_envs.prune()) == 1 and not Path(one.path).exists()
    worktrees = subprocess.run(["git", "worktree", "list"], cwd=repo, capture_output=True, text=True).stdout
    assert len(worktrees.splitlines()) == 1  # removed from the repository's list too


def _fake_install(calls, fail=None):
    """An installer that makes ``env/bin/python`` this interpreter (a wrapper
    script: a venv's python must not be linked elsewhere)."""

    def install(env, root, requirements):
        calls.append(requirements)
        if fail:
            return fail
        (env / "bin").mkdir(parents=True)
        (env / "bin" / "python").write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
        (env / "bin" / "python").chmod(0o755)
        return None

    return install


def test_pip_sides_build_one_environment_per_requirement_set(cache, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(_envs, "_install", _fake_install(calls))
    a = Side.parse("baseline", "pip:Flax==0.12.0, jax==0.10.2")
    b = Side.parse("candidate", "pip:jax==0.10.2,flax==0.12.0", handshake=False)  # the same set, normalized
    assert calls == [["flax==0.12.0", "jax==0.10.2"]] and a.python == b.python and a.kind == "pip"
    assert a.resolved == "flax==0.12.0,jax==0.10.2" and a.path is None
    meta = json.loads(Path(a.python).parents[1].with_suffix(".json").read_text())
    assert meta["requirements"] == ["flax==0.12.0", "jax==0.10.2"] and meta["versions"]["jax"]
    assert main(["envs", "list"]) == 0 and "flax==0.12.0,jax==0.10.2" in capsys.readouterr().out
    assert main(["envs", "prune", "--all"]) == 0 and "1 removed" in capsys.readouterr().out
    assert not Path(a.python).exists() and _envs.entries() == []


def test_a_failed_install_is_one_line_and_exit_2(tmp_path, cache, monkeypatch, capsys):
    monkeypatch.setattr(_envs, "_install", _fake_install([], fail="ERROR: No matching distribution for flax==99"))
    code = main(["ab", "--baseline", str(REPO), "--candidate", "pip:flax==99", "--out", str(tmp_path / "ab")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "does not install (ERROR: No matching distribution" in err[0]
    assert _envs.entries() == []  # nothing half-built is kept


@pytest.mark.parametrize(
    "spec, message",
    [
        ("pip:", "expected pip:REQ"),
        ("pip:flax==,", "no empty item"),
        ("pip:fl ax", "not a requirement"),
        ("pip:flax,Flax==1", "named twice"),
    ],
)
def test_malformed_requirements_are_refused(cache, spec, message):
    with pytest.raises(SideError, match=message):
        Side.parse("candidate", spec, handshake=False)


def test_install_commands_pin_the_requirements_over_nnbench_dependencies(tmp_path, monkeypatch):
    monkeypatch.setattr(_envs.shutil, "which", lambda name: None)  # venv and pip
    root = _envs.nnbench_checkout()
    make, deps, editable = _envs.install_commands(tmp_path / "env", root, ["flax==0.10.0"])
    assert make[1:3] == ["-m", "venv"]
    assert "flax==0.10.0" in deps and not any(d.startswith("flax>") for d in deps) and "optax>=0.2" in deps
    assert editable[-3:] == ["--no-deps", "-e", str(root)]
