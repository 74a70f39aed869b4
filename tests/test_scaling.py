"""The device axis: case ids, sharding rules, the correctness gate, virtual
devices per worker, and a 2-process jax.distributed job on loopback."""

import json
import os
import signal
import socket
import subprocess
import sys

import pytest
from jax.sharding import PartitionSpec as P

from nnbench.layers import sharding as _sharding
from nnbench.report import scaling as _scaling_report
from nnbench.run import scaling as _scaling
from nnbench.run.cases import Case, SelectionError
from nnbench.run.options import RunOptions
from nnbench.run.worker import run_group, run_in_subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_plain_case_keeps_its_id_group_and_dict():
    case = Case("mlp", "jax", "train", "tiny")
    assert case.id == "mlp/jax/train/tiny/float32"
    assert case.group == "mlp/train/tiny/float32"
    assert case.to_dict() == {"layer": "mlp", "style": "jax", "mode": "train", "size": "tiny", "dtype": "float32"}
    assert Case.from_dict(case.to_dict()) == case  # old run files load unchanged
    sharded = Case("mlp", "jax", "train", "tiny", devices=4, strategy="fsdp", scaling="weak")
    assert sharded.id == "mlp/jax/train/tiny/float32/fsdp/weak/d4"
    assert Case.from_dict(sharded.to_dict()) == sharded
    assert "--devices 4 --strategy fsdp --scaling weak" in sharded.command()


def test_param_rules_by_shape():
    assert _sharding.param_spec("dp", (16, 32), 4) == P()
    assert _sharding.param_spec("fsdp", (16, 32), 4) == P(None, "data")  # largest dim
    assert _sharding.param_spec("fsdp", (32, 32), 4) == P("data", None)  # first on ties
    assert _sharding.param_spec("fsdp", (6, 10), 4) == P()  # nothing divides
    assert _sharding.param_spec("tp", (16, 32), 4) == P(None, "model")  # output dim
    assert _sharding.param_spec("tp", (2, 8, 32), 4) == P(None, None, "model")
    assert _sharding.param_spec("tp", (32,), 4) == P()  # biases replicated
    assert _sharding.param_spec("fsdp", (), 4) == P()


def test_expand_adds_the_baseline_and_drops_unsupported_styles():
    cases = [Case("mlp", s, m, "tiny") for s in ("jax", "nnx") for m in ("forward", "train")]
    out = _scaling.expand(cases, ["2,4"], ["dp,tp"], None, styles_given=False)
    assert {c.style for c in out} == {"jax"} and {c.mode for c in out} == {"train"}
    assert sorted({c.devices for c in out}) == [1, 2, 4]
    assert {c.strategy for c in out} == {"dp", "tp"}
    assert _scaling.expand(cases, None, None, None, False) == cases
    assert {c.devices for c in _scaling.expand(cases, ["2"], None, None, False, baseline=False)} == {2}
    for bad in (
        (["0"], None, None),
        (["x"], None, None),
        (None, ["pp"], None),
        (None, None, ["medium"]),
        (["3"], ["dp"], None),
    ):
        with pytest.raises(SelectionError):
            _scaling.expand(cases, *bad, styles_given=False)
    with pytest.raises(SelectionError, match="not nnx"):
        _scaling.expand(cases, ["2"], None, None, styles_given=True)


def test_collectives_by_kind():
    hist = {"all-reduce": 2, "all-gather-start": 3, "all-gather-done": 3, "reduce-scatter": 1, "add": 9}
    assert _scaling.collectives(hist) == {
        "all-reduce": 2,
        "all-gather": 3,
        "reduce-scatter": 1,
        "all-to-all": 0,
        "collective-permute": 0,
        "collective-broadcast": 0,
        "send": 0,
        "recv": 0,
    }


def test_child_env_gives_exactly_n_devices(monkeypatch):
    monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=4 --xla_cpu_foo=1")
    assert _scaling.child_env([Case("mlp", "jax", "train", "tiny")]) is None
    env = _scaling.child_env([Case("mlp", "jax", "train", "tiny", devices=d, strategy="dp") for d in (1, 8)])
    assert env["XLA_FLAGS"] == "--xla_cpu_foo=1 --xla_force_host_platform_device_count=8"


@pytest.fixture(scope="module")
def strategy_records(fast_policy):
    """In-process on conftest's 4 devices: the mlp train step on 1 device (dp)
    and on 2 devices in every strategy, as ``nnbench run`` records them."""
    cases = [Case("mlp", "jax", "train", "tiny", devices=1, strategy="dp")]
    cases += [Case("mlp", "jax", "train", "tiny", devices=2, strategy=s) for s in ("dp", "fsdp", "tp", "dp_shard_map")]
    records = run_group(cases, fast_policy)
    _scaling.annotate(records)
    return records


def test_strategies_match_one_device_and_record_collectives(strategy_records):
    """Every strategy passes the gate and its compiled program holds the
    collectives its layout implies."""
    records = strategy_records
    by = {(r["case"]["strategy"], r["case"]["devices"]): r for r in records}
    for r in records:
        assert r["status"] == "ok", r["error"]
        s = r["scaling"]
        assert s["gate"]["ok"] and s["mesh_shape"] == {_sharding.MESH_AXIS[r["case"]["strategy"]]: r["case"]["devices"]}
        assert r["compile"]["recompiles"] == 0
    assert sum(by["dp", 1]["scaling"]["collectives"].values()) == 0
    # Strong scaling: efficiency = T_1 / (N * T_N), read from the two records' own medians.
    t1, t2 = by["dp", 1]["time"]["median"], by["dp", 2]["time"]["median"]
    assert by["dp", 1]["scaling"]["efficiency"] == pytest.approx(1.0)
    assert by["dp", 2]["scaling"]["efficiency"] == pytest.approx(t1 / (2 * t2), rel=1e-9)
    assert by["tp", 2]["scaling"]["efficiency"] is None  # no 1-device tp record to compare with
    assert by["dp", 2]["scaling"]["collectives"]["all-reduce"] >= 1
    assert by["dp_shard_map", 2]["scaling"]["collectives"]["all-reduce"] >= 1
    assert by["tp", 2]["scaling"]["per_device_batch"] == 8 and by["dp", 2]["scaling"]["per_device_batch"] == 4
    assert any("data" in spec for spec in by["fsdp", 2]["scaling"]["state_leaf_specs"])
    # fsdp and tp hold less state per device than dp
    assert by["fsdp", 2]["memory"]["compiled_argument_bytes"] < by["dp", 2]["memory"]["compiled_argument_bytes"]
    assert by["tp", 2]["memory"]["compiled_argument_bytes"] < by["dp", 2]["memory"]["compiled_argument_bytes"]
    table = _scaling_report.rows(records)
    assert len(table) == len(records) and table[0]["efficiency"] == "100 %"
    assert _scaling_report.plot_png(records).startswith(b"\x89PNG")


def test_efficiency_against_hand_computed_values():
    """``annotate`` on records with chosen medians: strong scaling on 2
    devices at the 1-device step time is 50 % efficient, at half of it 100 %;
    weak scaling at the same step time is 100 %."""

    def rec(devices, median, scaling="strong", batch=8):
        items = batch * (devices if scaling == "weak" else 1)
        case = Case("mlp", "jax", "train", "tiny", devices=devices, strategy="dp", scaling=scaling)
        return {
            "status": "ok",
            "case": case.to_dict(),
            "throughput": {"items_per_s": items / median},
            "scaling": {"devices": devices, "items_per_s_per_device": items / median / devices},
        }

    records = [rec(1, 2e-3), rec(2, 2e-3), rec(1, 2e-3, "weak"), rec(2, 2e-3, "weak")]
    _scaling.annotate(records)
    assert [r["scaling"]["efficiency"] for r in records] == pytest.approx([1.0, 0.5, 1.0, 1.0])
    fast = [rec(1, 2e-3), rec(2, 1e-3)]
    _scaling.annotate(fast)
    assert fast[1]["scaling"]["efficiency"] == pytest.approx(1.0)


def test_cross_device_report_counts_chips_of_a_sharded_record(strategy_records, tmp_path):
    """Items/s per chip divides by the devices the case ran on (its mesh), read
    from records the suite produced: the 2-device dp record ÷ 2, the 1-device ÷ 1."""
    from nnbench.measure import env as _env
    from nnbench.report import devices as _report_devices
    from nnbench.results import runfile as _results

    env = _env.fingerprint()
    runs = [
        ("cpu.json", {**_results.new_run(env), "records": strategy_records}),
        ("tpu.json", {**_results.new_run({**env, "device_kind": "TPU v5 lite"}), "records": strategy_records}),
    ]
    _, rows = _report_devices.table(runs)
    by_id = {row["id"]: row for row in rows}
    for r in strategy_records:
        cell = by_id[r["id"]]["cells"][0]
        assert cell["per_chip"] == pytest.approx(r["throughput"]["items_per_s"] / r["case"]["devices"])
    d2 = next(r for r in strategy_records if r["case"]["devices"] == 2)
    assert by_id[d2["id"]]["cells"][1]["per_chip"] < 0.51 * d2["throughput"]["items_per_s"]


def test_weak_scaling_grows_the_global_batch(fast_policy):
    """Weak scaling keeps the per-device batch: 2 devices run twice the
    global batch, are gated against one device on that batch, and the
    efficiency compares per-device throughput with the 1-device record."""
    cases = [Case("mlp", "jax", "train", "tiny", devices=n, strategy="dp", scaling="weak") for n in (1, 2)]
    records = run_group(cases, fast_policy)
    _scaling.annotate(records)
    one, two = (r["scaling"] for r in records)
    assert all(r["status"] == "ok" for r in records), [r["error"] for r in records]
    assert two["global_batch"] == 2 * one["global_batch"] and two["per_device_batch"] == one["per_device_batch"]
    assert two["gate"]["ok"] and one["efficiency"] == pytest.approx(1.0) and two["efficiency"] > 0
    assert records[1]["throughput"]["items_per_step"] == 2 * records[0]["throughput"]["items_per_step"]


def test_gate_rejects_a_wrong_sharding(fast_policy, monkeypatch):
    """Data parallel without averaging the gradients steps each device on its
    own half batch: the losses leave the single-device run's, so invalid."""
    import optax

    monkeypatch.setattr(_sharding, "_pmean_grads", lambda axis: optax.identity())
    (record,) = run_group([Case("mlp", "jax", "train", "tiny", devices=2, strategy="dp_shard_map")], fast_policy)
    assert record["status"] == "invalid" and record["error"].startswith("gate:")
    assert not record["scaling"]["gate"]["ok"]


def test_worker_provides_virtual_devices(fast_policy):
    """conftest gives 4 devices; the worker of an 8-device case has 8."""
    (record,) = run_in_subprocess(
        [Case("mlp", "jax", "train", "tiny", devices=8, strategy="dp")], fast_policy, RunOptions(timeout=300)
    )
    assert record["status"] == "ok", record["error"]
    assert record["scaling"]["mesh_shape"] == {"data": 8} and record["scaling"]["per_device_batch"] == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_process_job_agrees(tmp_path):
    """The same run in 2 jax.distributed processes on loopback: process 0
    writes the run file with both environments; both saw the same losses."""
    port, out = _free_port(), tmp_path / "run.json"
    # One CPU device per process (not the session's four), compiled as fast as the session's
    flags = [f for f in os.environ.get("XLA_FLAGS", "").split() if "device_count" not in f]
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env.update(JAX_PLATFORMS="cpu", PYTHONPATH=ROOT, XLA_FLAGS=" ".join(flags))
    argv = [
        "--layer",
        "mlp",
        "--style",
        "jax",
        "--devices",
        "2",
        "--strategy",
        "dp,fsdp",
        "--min-samples",
        "3",
        "--out",
        str(out),
    ]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "nnbench",
                "run",
                *argv,
                "--coordinator",
                f"127.0.0.1:{port}",
                "--num-processes",
                "2",
                "--process-id",
                str(i),
            ],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        for i in range(2)
    ]
    logs = []
    try:
        for p in procs:
            logs.append(p.communicate(timeout=400)[0])
    finally:
        for p in procs:
            if p.poll() is None:  # JAX catches SIGTERM: a hung peer needs SIGKILL
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
    assert [p.returncode for p in procs] == [0, 0], logs
    assert sorted(f.name for f in tmp_path.iterdir() if f.suffix == ".json") == ["run.json"]
    data = json.loads(out.read_text())
    assert len(data["processes"]) == 2 and data["env"]["process_count"] == 2
    assert {r["id"].rsplit("/", 3)[1] for r in data["records"]} == {"dp", "fsdp"}
    for r in data["records"]:
        assert r["status"] == "ok", r["error"]
        gate = r["scaling"]["gate"]
        assert r["scaling"]["processes"] == 2 and gate["ok"]
        assert gate["losses_by_process"][0] == gate["losses_by_process"][1] == gate["losses"]
        assert r["time"]["n"] == 3  # lockstep: a fixed number of timed calls
