"""Run files: atomic writes, validation, loading never executes anything."""

import json

import pytest

from nnbench.results import runfile as _results


def _run(records=()):
    data = _results.new_run({"device_kind": "cpu"}, argv=["nnbench"], suite="smoke")
    data["records"] = list(records)
    return data


def _record(i, status="ok"):
    return {
        "id": f"mlp/jax/forward/tiny/float32#{i}",
        "case": {"layer": "mlp", "style": "jax", "mode": "forward", "size": "tiny", "dtype": "float32"},
        "status": status,
        "time": {"median": 1.0, "samples_s": [1.0]},
    }


def test_round_trip(tmp_path):
    path = tmp_path / "r.json"
    _results.write_atomic(path, _run([_record(0), _record(1, "failed")]))
    data = _results.read_run(path)
    assert [r["status"] for r in data["records"]] == ["ok", "failed"]


def test_non_finite_numbers_stored_as_null(tmp_path):
    path = tmp_path / "r.json"
    rec = _record(0)
    rec["time"]["median"] = float("nan")
    _results.write_atomic(path, _run([rec]))
    assert json.loads(path.read_text())["records"][0]["time"]["median"] is None


def test_atomic_rewrite_leaves_no_temp_files(tmp_path):
    path = tmp_path / "r.json"
    for i in range(5):
        _results.write_atomic(path, _run([_record(j) for j in range(i)]))
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_create_exclusive_refuses_existing(tmp_path):
    path = tmp_path / "r.json"
    _results.create_exclusive(path)
    with pytest.raises(_results.RunFileError, match="refusing to overwrite"):
        _results.create_exclusive(path)


@pytest.mark.parametrize(
    "payload, message",
    [
        ({"schema": "nnbench.run/2", "env": {}, "records": []}, "not supported"),
        ({"env": {}, "records": []}, "no 'schema'"),
        ({"schema": "nnbench.run/1", "env": {}, "records": [{"id": "x"}]}, "missing 'case'"),
        ({"schema": "nnbench.run/1", "env": [], "records": []}, "'env'"),
    ],
)
def test_validation_names_the_problem(tmp_path, payload, message):
    path = tmp_path / "r.json"
    path.write_text(json.dumps(payload))
    with pytest.raises(_results.RunFileError, match=message):
        _results.read_run(path)
