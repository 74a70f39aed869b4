"""The README's and docs' examples run.

Every ``python`` block is executed (in a scratch directory holding a
``results/`` folder with one small run file, as a user's project would);
a block that opens with ``# NAME.py`` is written as that file instead, and
``test_*.py`` files among them are run by pytest in a subprocess (the
fixture's examples); every ``nnbench ...`` line of a ``bash`` block must
parse with nnbench's own command-line parser (its verbs and options exist).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nnbench.cli import build_parser

REPO = Path(__file__).resolve().parent.parent
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.M | re.S)
FILE_HEADER = re.compile(r"^# ([\w/]+\.py)\b")


def _blocks(lang: str) -> list[tuple[str, str]]:
    out = []
    for page in PAGES:
        for n, m in enumerate(BLOCK.finditer(page.read_text())):
            if m.group(1) == lang:
                out.append((f"{page.relative_to(REPO)}#{n}", m.group(2)))
    return out


def test_every_page_is_linked_from_the_readme():
    readme = (REPO / "README.md").read_text()
    for page in PAGES[1:]:
        assert f"(docs/{page.name})" in readme, f"docs/{page.name} is not linked from the README"


def test_readme_is_a_front_door():
    readme = (REPO / "README.md").read_text()
    assert len(readme) < 16_000
    assert "RUN_OUTPUT" not in readme and "FINDINGS" not in readme  # placeholders filled


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "results").mkdir()
    shutil.copy(REPO / "tests" / "data" / "run-mlp-tiny.json", tmp_path / "results" / "run.json")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


SCRIPTS = [(name, code) for name, code in _blocks("python") if not FILE_HEADER.match(code)]
FILES = [(name, code) for name, code in _blocks("python") if FILE_HEADER.match(code)]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "code"), SCRIPTS, ids=[n for n, _ in SCRIPTS])
def test_python_example_runs(name, code, project, capsys):
    exec(compile(code, name, "exec"), {"__name__": "__docs__"})
    assert capsys.readouterr().out.strip(), f"{name} printed nothing"


@pytest.mark.slow
@pytest.mark.parametrize(("name", "code"), FILES, ids=[n for n, _ in FILES])
def test_example_file_works(name, code, project):
    fname = FILE_HEADER.match(code).group(1).split("/")[-1]
    (project / fname).write_text(code)
    if fname.startswith("test_"):
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--benchmark-disable", fname],
            cwd=project,
            env={k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")},  # benchmark stays on
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert " passed" in proc.stdout
    else:  # a module of user cases: every case builds and its step runs
        import importlib

        import jax

        mod = importlib.import_module(fname[:-3])
        cases = [v for v in vars(mod).values() if isinstance(v, list) and v and hasattr(v[0], "build")]
        assert cases, f"{name} defines no case list"
        for case in cases[0]:
            step, args = case.build()[:2]
            jax.block_until_ready(step(*args))


COMMANDS = [
    (name, line) for name, code in _blocks("bash") for line in code.splitlines() if line.strip().startswith("nnbench ")
]


@pytest.mark.parametrize(("name", "line"), COMMANDS, ids=[f"{n}:{line.split()[1]}" for n, line in COMMANDS])
def test_documented_command_parses(name, line):
    argv = shlex.split(line.split("#")[0])[1:]
    try:
        build_parser().parse_args(argv)
    except SystemExit as e:
        pytest.fail(f"{name}: `{line.strip()}` does not parse (exit {e.code})")
