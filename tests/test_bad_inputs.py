"""The bad-input corpus (``tests/bad_inputs/``) given to every command that
reads run files, plus unknown names and absurd option values: each gives
exit 2, one line on stderr naming the problem, no traceback, nothing written."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import nnbench
from nnbench import _results
from nnbench.cli import main

CORPUS = Path(__file__).parent / "bad_inputs"
# file -> what the one-line message must say (a regular expression)
BAD_RUN_FILES = {
    "empty.json": "empty file",
    "truncated.json": "truncated",
    "garbage.json": "binary",
    "future_schema.json": "nnbench.run/99",
    "no_schema.json": "no 'schema'",
    "missing_env.json": "'env'",
    "records_not_a_list.json": "'records'",
    "record_missing_fields.json": "record 0",
    "not_an_object.json": "not an object",
    "ok_record_without_time.json": "'ok' but has no timing",
    "ok_record_missing_sections.json": "lacks what a report needs|no request to resume",
    "no_runs": "no run files|is a directory",
}
READABLE_BUT_UNRENDERABLE = {"ok_record_missing_sections.json"}  # valid JSON data; only a report refuses it

# Every command that reads run files, as argv builders: (run path, scratch dir) -> argv.
READERS = {
    "report-text": lambda run, d: ["report", str(run)],
    "report-md": lambda run, d: ["report", str(run), "--format", "md", "--out", str(d / "out.md")],
    "report-html": lambda run, d: ["report", str(run), "--format", "html", "--out", str(d / "out.html")],
    "run-resume": lambda run, d: ["run", "--resume", str(run)],
}


def listing(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): (p.read_bytes() if p.is_file() else b"") for p in sorted(d.rglob("*"))}


def assert_refused(capsys, argv, must_say: str = "") -> str:
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nnbench: error: "), captured.err
    assert "Traceback" not in captured.err and captured.out == ""
    assert re.search(must_say, lines[0]), lines[0]
    return lines[0]


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("name", sorted(BAD_RUN_FILES))
def test_corpus_refused_by_every_reader(tmp_path, capsys, reader, name):
    target = tmp_path / name
    src = CORPUS / name
    shutil.copytree(src, target) if src.is_dir() else shutil.copy(src, target)
    before = listing(tmp_path)
    line = assert_refused(capsys, READERS[reader](target, tmp_path), BAD_RUN_FILES[name])
    assert name in line  # names the file
    assert listing(tmp_path) == before  # wrote nothing, touched nothing


@pytest.mark.parametrize("name", sorted(set(BAD_RUN_FILES) - READABLE_BUT_UNRENDERABLE))
def test_load_api_raises_run_file_error(name):
    with pytest.raises(_results.RunFileError, match=BAD_RUN_FILES[name]):
        nnbench.load(CORPUS / name)


def test_real_process_gives_one_line_no_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "nnbench", *READERS["report-md"](CORPUS / "truncated.json", tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_disjoint_runs_are_valid_each(tmp_path, capsys):
    """The compare pair: each file alone reads fine (no case in common is compare's error to give)."""
    a, b = (_results.read_run(CORPUS / "disjoint" / n) for n in ("a.json", "b.json"))
    assert not {r["id"] for r in a["records"]} & {r["id"] for r in b["records"]}
    assert main(["report", str(CORPUS / "disjoint"), "--format", "md"]) == 0
    assert "attention/forward/tiny/float32" in capsys.readouterr().out
    # A run file without a recorded request cannot be resumed.
    shutil.copy(CORPUS / "disjoint" / "a.json", tmp_path / "a.json")
    assert_refused(capsys, ["run", "--resume", str(tmp_path / "a.json")], "no request to resume")


@pytest.mark.parametrize(
    "argv, must_say",
    [
        (["run", "--layer", "nosuch"], "unknown layer 'nosuch'"),
        (["run", "--style", "pytorch"], "unknown style"),
        (["run", "--suite", "weekly"], "unknown suite"),
        (["run", "--dtype", "float7"], "unknown dtype"),
        (["run", "--size", "galactic"], "unknown size"),
        (["run", "--timeout", "-3"], "positive"),
        (["run", "--timeout", "1e12"], "absurd"),
        (["run", "--budget", "nan"], "positive"),
        (["run", "--budget", "1e9"], "absurd"),
        (["run", "--target-ci", "50"], "absurd"),
        (["run", "--settle", "-0.1"], "non-negative"),
        (["run", "--min-samples", "0"], "positive"),
        (["run", "--min-samples", "99999999999"], "absurd"),
        (["run", "--memory-limit=-1G"], "out of range"),
        (["run", "--memory-limit", "1K"], "out of range"),
        (["run", "--memory-limit", "64T"], "out of range"),
        (["run", "--memory-limit", "lots"], "not a size"),
        (["run", "--cases", "nocolon"], "MODULE:ATTR"),
        (["run", "--cases", "no_such_module_xyz:CASES"], "cannot import"),
        (["run", "--cases", "nnbench:NOPE"], "no attribute 'NOPE'"),
        (["run", "--cases", "nnbench:__version__"], "not a list of nnbench.UserCase"),
        (["run", "--cases", "missing/file.py:CASES"], "no such file"),
        (["run", "--cases", "nnbench:UserCase", "--suite", "ci"], "cannot be combined with --suite"),
        (["run", "--resume", "x.json", "--layer", "mlp"], "drop --layer"),
        (["run", "--resume", "no/such/run.json"], "no/such/run.json: cannot read"),
        (["ab", "--baseline", str(Path(nnbench.__file__).parents[1]), "--candidate", sys.executable, "--rounds", "4", "--pairs", "5"], "more pairs than --rounds 4"),
    ],
)
def test_bad_requests(tmp_path, capsys, monkeypatch, argv, must_say):
    monkeypatch.chdir(tmp_path)
    assert_refused(capsys, [*argv, *(["--out", str(tmp_path / "out")] if "--resume" not in argv else [])], must_say)
    assert list(tmp_path.iterdir()) == []
