"""The command-line contract: selections, exit codes, one-line errors,
nothing overwritten; a real run end to end."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import nnbench
from nnbench import layers
from nnbench.cli import main
from nnbench.results import runfile as _results


def nnbench_cli(*args, cwd=None):
    """Run the real console entry point in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "nnbench", *args], capture_output=True, text=True, cwd=cwd, timeout=600
    )


def assert_bad_input(proc):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nnbench: error:"), proc.stderr
    assert "Traceback" not in proc.stderr


def test_list_smoke_suite(capsys):
    assert main(["list", "--suite", "smoke"]) == 0
    ids = capsys.readouterr().out.split()
    assert len(ids) == 2 * len(layers.STYLES)
    assert {i.split("/")[1] for i in ids} == set(layers.STYLES) >= {"jax", "linen", "nnx", "nnx_split", "haiku"}


def test_filters_narrow_and_split_commas(capsys):
    assert main(["list", "--layer", "mlp", "--style", "jax,linen", "--mode", "train", "--size", "tiny"]) == 0
    assert capsys.readouterr().out.split() == ["mlp/jax/train/tiny/float32", "mlp/linen/train/tiny/float32"]


@pytest.mark.parametrize(
    "argv",
    [
        ["list", "--layer", "nosuch"],
        ["list", "--style", "pytorch"],
        ["list", "--suite", "nosuch"],
        ["list", "--mode", "eval"],
        ["run", "--budget", "-1"],
        ["run", "--timeout", "0"],
        ["run", "--min-samples", "lots"],
        ["frobnicate"],
    ],
)
def test_bad_requests_exit_2_with_one_line(argv):
    assert_bad_input(nnbench_cli(*argv))


def test_unwritable_out_exits_2(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    os.chmod(locked, 0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        assert_bad_input(
            nnbench_cli("run", "--style", "jax", "--size", "tiny", "--mode", "forward", "--out", str(locked))
        )
    finally:
        os.chmod(locked, 0o700)


def test_out_under_a_file_exits_2(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert_bad_input(nnbench_cli("run", "--style", "jax", "--size", "tiny", "--out", str(blocker / "results")))
    assert blocker.read_text() == "x"


def test_out_file_never_overwritten(tmp_path):
    existing = tmp_path / "run.json"
    existing.write_text("precious")
    proc = nnbench_cli("run", "--style", "jax", "--size", "tiny", "--mode", "forward", "--out", str(existing))
    assert_bad_input(proc)
    assert existing.read_text() == "precious"


def test_run_refuses_over_an_existing_report_plot(tmp_path):
    stale = tmp_path / "run.ratio.png"  # the run's Markdown report would write its heatmap here
    stale.write_bytes(b"precious")
    proc = nnbench_cli(
        "run", "--style", "jax", "--size", "tiny", "--mode", "forward", "--out", str(tmp_path / "run.json")
    )
    assert_bad_input(proc)
    assert "run.ratio.png" in proc.stderr and stale.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.ratio.png"]  # no run file either


def test_out_parent_missing_exits_2(tmp_path):
    assert_bad_input(nnbench_cli("run", "--out", str(tmp_path / "no" / "such" / "run.json")))


BAD_RUN_FILES = {
    "empty.json": b"",
    "truncated.json": b'{"schema": "nnbench.run/1", "env": {}, "reco',
    "garbage.json": bytes(range(256)) * 4,
    "future.json": json.dumps({"schema": "nnbench.run/99", "env": {}, "records": []}).encode(),
    "missing.json": json.dumps({"schema": "nnbench.run/1", "records": []}).encode(),
    "list.json": b"[1, 2, 3]",
}


@pytest.mark.parametrize("name", sorted(BAD_RUN_FILES))
def test_malformed_run_file_exits_2(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(BAD_RUN_FILES[name])
    out = tmp_path / "report.md"
    proc = nnbench_cli("report", str(path), "--format", "md", "--out", str(out))
    assert_bad_input(proc)
    assert not out.exists()


def test_report_on_empty_directory_exits_2(tmp_path):
    assert_bad_input(nnbench_cli("report", str(tmp_path)))


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One real run through the CLI and worker processes: MLP tiny forward, two styles."""
    out = tmp_path_factory.mktemp("run") / "run.json"
    proc = nnbench_cli(
        "run", "--layer", "mlp", "--style", "jax,nnx", "--mode", "forward", "--size", "tiny",
        "--budget", "0.05", "--target-ci", "0.5", "--min-samples", "5", "--out", str(out),
    )  # fmt: skip
    return proc, out


def test_run_end_to_end(tiny_run):
    proc, out = tiny_run
    assert proc.returncode == 0, proc.stderr
    assert "median step time per style" in proc.stdout and "×1.00" in proc.stdout
    data = _results.read_run(out)
    assert data["schema"] == _results.SCHEMA and data["finished"]
    env = data["env"]
    for key in ("versions", "platform", "device_kind", "device_count", "cpu_model", "xla_flags", "git_commit", "host"):
        assert key in env
    assert [r["id"] for r in data["records"]] == ["mlp/jax/forward/tiny/float32", "mlp/nnx/forward/tiny/float32"]
    for r in data["records"]:
        assert r["status"] == "ok" and r["parity"]["ok"] and r["interleaved_with"] == 2
        assert r["compile"]["recompiles"] == 0
    assert out.with_suffix(".md").exists() and out.with_suffix(".png").exists()


def test_load_gives_one_row_per_record(tiny_run):
    _, out = tiny_run
    df = nnbench.load(out)
    assert isinstance(df, pd.DataFrame) and len(df) == 2
    assert {"case.style", "time.median", "compile.trace_s", "work.xla_flops", "status"} <= set(df.columns)
    assert df["time.median"].gt(0).all()
    assert all(len(s) == n for s, n in zip(df["time.samples_s"], df["time.n"]))


@pytest.mark.slow
def test_report_formats(tiny_run, tmp_path):
    _, out = tiny_run
    for fmt in ("text", "md", "html"):
        target = tmp_path / f"r.{fmt}"
        proc = nnbench_cli("report", str(out), "--format", fmt, "--out", str(target))
        assert proc.returncode == 0, proc.stderr
        assert "mlp/forward/tiny/float32" in target.read_text()
    # Refuses to overwrite what it wrote.
    assert_bad_input(nnbench_cli("report", str(out), "--format", "md", "--out", str(tmp_path / "r.md")))


def test_env_command():
    proc = nnbench_cli("env")
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["backend"] == "cpu"


@pytest.mark.parametrize("fmt", ["text", "md", "html"])
def test_report_says_when_a_run_is_unfinished_or_empty(tmp_path, capsys, fmt):
    data = json.loads((Path(__file__).parent / "bad_inputs" / "disjoint" / "a.json").read_text())
    path = tmp_path / "run.json"
    for finished, records, note in (
        (None, data["records"], "unfinished run: 1 case recorded, no end time"),
        (None, [], "unfinished run: 0 cases recorded"),
        ("2026-11-26T00:01:00+00:00", [], "this run holds no records"),
        ("2026-11-26T00:01:00+00:00", data["records"], None),
    ):
        path.write_text(json.dumps(dict(data, finished=finished, records=records)))
        assert main(["report", str(path), "--format", fmt]) == 0
        out = capsys.readouterr().out
        assert (note in out) if note else ("unfinished" not in out and "no records" not in out), (
            finished,
            len(records),
            out[:500],
        )


@pytest.mark.parametrize("command", ["run", "list"])
def test_suite_help_names_every_suite(command, capsys):
    from nnbench.run.cases import SUITES

    with pytest.raises(SystemExit):
        main([command, "--help"])
    helptext = " ".join(capsys.readouterr().out.split())
    listed = helptext.split("named selection:")[1].split("--")[0]
    assert {s.strip() for s in listed.split(",")} == set(SUITES)
