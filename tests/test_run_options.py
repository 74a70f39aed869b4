"""``RunOptions``: one typed value from the command line to the run file's
``request``, back through ``--resume``, and whole into each worker process;
and ``nnbench list --cases``."""

import dataclasses
import json
import shutil
import sys
from pathlib import Path

import pytest

from nnbench.cli import build_parser, main
from nnbench.measure.timing import TimingPolicy
from nnbench.results.case import Case
from nnbench.run import worker as _worker
from nnbench.run.options import ABOptions, OptionsError, RunOptions
from nnbench.run.spawn import WorkerTask, run_in_subprocess

RESUMABLE = Path(__file__).parent / "bad_inputs" / "resumable.json"


def test_command_line_defaults_are_the_options_defaults():
    assert RunOptions.from_args(build_parser().parse_args(["run"])) == RunOptions()
    ab = build_parser().parse_args(["ab", "--baseline", ".", "--candidate", "."])
    assert (ab.timeout, ab.memory_limit) == (ABOptions().timeout_s, ABOptions().memory_limit)


def test_options_survive_json_whole():
    options = RunOptions(
        layer=("mlp", "conv,attention"),
        budget=0.5,
        min_samples=3,
        memory_limit=2**30,
        profile=True,
        lower_for="tpu,gpu",
    )
    assert RunOptions.from_json(json.loads(json.dumps(options.to_json()))) == options


@pytest.mark.parametrize(
    "change, says",
    [
        ({"bogus": 1}, "unknown option 'bogus'"),
        ({"budget": "fast"}, 'budget = "fast", not what --budget takes'),
        ({"in_process": 1}, "in_process = 1"),
        ({"min_samples": 2.5}, "min_samples = 2.5"),
        ({"layer": "mlp"}, 'layer = "mlp"'),
        ({"layer": ["mlp", 3]}, "layer ="),
        ({"timeout": True}, "timeout = true"),
    ],
)
def test_from_json_refuses_unknown_and_ill_typed_fields(change, says):
    with pytest.raises(OptionsError, match=f"^{says}"):
        RunOptions.from_json({**RunOptions().to_json(), **change})


def test_a_run_file_written_before_run_options_reads_back_as_it_was_given():
    # The request of tests/bad_inputs/resumable.json, read by hand.
    request = json.loads(RESUMABLE.read_text())["request"]
    expected = RunOptions(
        layer=("mlp",), style=("jax",), mode=("forward",), size=("tiny",), budget=0.05, target_ci=0.5, min_samples=5
    )
    assert RunOptions.from_json(request) == expected
    assert expected.policy().budget_s == 0.05 and expected.policy().max_samples == TimingPolicy().max_samples


@pytest.mark.parametrize(
    "change, says", [({"bogus": 1}, "unknown option 'bogus'"), ({"in_process": "yes"}, 'in_process = "yes"')]
)
def test_resume_refuses_a_request_it_cannot_type(tmp_path, capsys, change, says):
    path = tmp_path / "run.json"
    data = json.loads(RESUMABLE.read_text())
    data["request"].update(change)
    path.write_text(json.dumps(data))
    before = path.read_bytes()
    assert main(["run", "--resume", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"its recorded request has {says}" in err and len(err.strip().splitlines()) == 1
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]


def test_the_worker_process_receives_the_options_whole(tmp_path, monkeypatch):
    """A stand-in worker saves the request it was handed (``--fd N``), as
    the real one reads it; the options and the task in it are the ones given."""
    got = tmp_path / "request.json"
    script = tmp_path / "python"
    script.write_text(f'#!/bin/sh\ncat "/proc/$$/fd/$4" > {got}\nexit 3\n')
    script.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(script))
    options = RunOptions(layer=("mlp",), timeout=30.0, memory_limit=2**31, profile=True, lower_for="tpu")
    task = WorkerTask(run_file=str(tmp_path / "r.json"))
    (record,) = run_in_subprocess([Case("mlp", "jax", "forward", "tiny")], TimingPolicy(budget_s=0.1), options, task)
    assert record["fault"] == "exit"
    cases, policy, got_options, got_task = _worker.read_request(json.loads(got.read_text()))
    assert (cases, policy, got_options, got_task) == (
        [Case("mlp", "jax", "forward", "tiny")],
        TimingPolicy(budget_s=0.1),
        options,
        task,
    )


def test_a_worker_reads_the_request_of_an_older_ab_parent():
    """An ``nnbench ab`` parent from before ``RunOptions`` sends a flat ``options`` dict."""
    request = {
        "cases": [Case("mlp", "jax", "forward", "tiny").to_dict()],
        "policy": dataclasses.asdict(TimingPolicy()),
        "options": {"memory_limit": 5 << 30, "stepped": True, "env_out": "/tmp/env.json"},
    }
    _, _, options, task = _worker.read_request(request)
    assert options.memory_limit == 5 << 30 and task == WorkerTask(stepped=True, env_out="/tmp/env.json")


def test_ab_options_share_the_run_options():
    options = ABOptions(rounds=20, pairs=2, run=RunOptions(timeout=30.0, memory_limit=2**30), max_pairs=5)
    assert options.record() == {
        "rounds_per_pair": 20,
        "budget_s_per_pair": 1.5,
        "seed": 0,
        "timeout_s": 30.0,
        "memory_limit": 2**30,
        "pairs": 2,
        "max_pairs": 5,
    }
    assert options.sequential and not ABOptions(pairs=4, max_pairs=4).sequential
    assert ABOptions(pairs=4, max_pairs=None).most_pairs == 4
    with pytest.raises(ValueError, match="max_pairs must be at least pairs"):
        ABOptions(pairs=4, max_pairs=3)


def test_list_lists_a_user_case_list(tmp_path, capsys):
    bench = tmp_path / "bench.py"
    bench.write_text(
        "import nnbench\n"
        "def make():\n    raise AssertionError('listing must not build a case')\n"
        "CASES = [nnbench.UserCase('tiny', make), "
        "nnbench.UserCase('v2', make, group='mlp', mode='train', size='big', dtype='bfloat16')]\n"
    )
    assert main(["list", "--cases", f"{bench}:CASES"]) == 0
    assert capsys.readouterr().out.splitlines() == ["tiny/user/forward/default/float32", "mlp/v2/train/big/bfloat16"]
    assert main(["list", "--cases", f"{bench}:CASES", "--layer", "mlp"]) == 2
    assert "cannot be combined with --layer" in capsys.readouterr().err
    assert main(["list", "--cases", f"{tmp_path / 'nosuch.py'}:CASES"]) == 2


def test_a_run_records_its_options_whole(tmp_path, capsys):
    out = tmp_path / "r.json"
    argv = [
        "run",
        "--layer",
        "mlp",
        "--style",
        "jax",
        "--mode",
        "init",
        "--size",
        "tiny",
        "--in-process",
        "--budget",
        "0.01",
        "--min-samples",
        "3",
        "--target-ci",
        "0.5",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    request = json.loads(out.read_text())["request"]
    expected = RunOptions(
        layer=("mlp",),
        style=("jax",),
        mode=("init",),
        size=("tiny",),
        in_process=True,
        budget=0.01,
        min_samples=3,
        target_ci=0.5,
    )
    assert RunOptions.from_json(request) == expected
    shutil.rmtree(tmp_path)
