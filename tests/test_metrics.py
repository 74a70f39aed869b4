"""The metric declarations (``nnbench.results.metrics``) and the readers that
derive from them: a metric declared once shows up in compare, history,
pytest ``extra_info``, asv ``track_*`` and the JSON they write."""

import importlib
import json

import jax
import jax.numpy as jnp
import pytest

from nnbench.compare import compare as _compare
from nnbench.compare import history as _history
from nnbench.integrations import bench as _bench
from nnbench.measure import step as _measure
from nnbench.results import metrics
from tests.test_compare import record, run


def test_formats_follow_the_unit():
    assert metrics.get("time").format(0.00102) == "1.02 ms"
    assert metrics.get("memory.compiled_temp_bytes").format(1536) == "1.5 KiB"
    assert metrics.get("work.mfu").format(0.123) == "12.3 %"
    assert metrics.get("work.achieved_flops_per_s").format(1.38e9) == "1.38 GFLOP/s"
    assert metrics.get("compile.hlo_ops").format(1117) == "1117"
    assert metrics.get("time").format(None) == "–"


def test_value_reads_the_declared_path_and_only_finite_numbers():
    m = metrics.get("params")
    assert m.path == ("model", "params") and m.value({"model": {"params": 1864}}) == 1864
    assert m.value({"model": {"params": True}}) is None and m.value({"model": None}) is None and m.value({}) is None
    assert metrics.get("time").value({"time": {"median": float("inf")}}) is None


def test_registry_is_consistent():
    names = [m.name for m in metrics.METRICS]
    assert len(names) == len(set(names))
    with pytest.raises(KeyError, match="unknown metric 'nope'"):
        metrics.get("nope")
    # compare's thresholds are exactly the declared families
    assert tuple(f.name for f in __import__("dataclasses").fields(_compare.Thresholds)) == metrics.FAMILIES
    for m in metrics.shown_in(metrics.COMPARE):
        assert m.kind != "info" and m.family in metrics.FAMILIES
    with pytest.raises(ValueError, match="names its samples"):
        metrics.Metric("x", ("x",), "s", "sampled", "x")


def test_compare_and_history_show_what_they_showed_before():
    """The names compare results and history series carry (reports and JSON readers key on them)."""
    assert [m.name for m in metrics.shown_in(metrics.COMPARE)] == [
        "time", "dispatch", "compile.trace_s", "compile.lower_s", "compile.compile_s", "roofline.efficiency",
        "work.xla_flops", "work.xla_bytes_accessed", "compile.hlo_ops", "compile.jaxpr_eqns",
        "memory.compiled_argument_bytes", "memory.compiled_output_bytes", "memory.compiled_temp_bytes",
        "memory.compiled_peak_bytes", "params",
    ]  # fmt: skip
    assert [m.name for m in metrics.shown_in(metrics.HISTORY)] == [
        "time",
        "compile.total_s",
        "roofline.efficiency",
        "work.xla_flops",
        "compile.hlo_ops",
        "memory.compiled_temp_bytes",
    ]


# --- a new metric, declared once, reaches every consumer ----------------------

EXTRA = metrics.Metric(
    name="memory.first_call_rss_growth_bytes",
    path=("memory", "first_call_rss_growth_bytes"),
    unit="B",
    kind="exact",
    label="first-call RSS growth",
    family="exact",
    consumers=frozenset(metrics.CONSUMERS),
)


@pytest.fixture
def extra_metric(monkeypatch):
    monkeypatch.setattr(metrics, "METRICS", (*metrics.METRICS, EXTRA))
    return EXTRA


@pytest.fixture(scope="module")
def prepared():
    """A tiny jitted step, compiled and called once (``Prepared``)."""
    f = jax.jit(lambda w, x: jnp.tanh(x @ w))
    return _measure.prepare(f, (jnp.ones((16, 16)), jnp.ones((4, 16))), model_flops=2 * 4 * 16 * 16, items_per_step=4)


def _with_extra(value, **kw):
    rec = record(**kw)
    rec["memory"]["first_call_rss_growth_bytes"] = value
    return rec


def test_a_declared_metric_reaches_compare_and_its_json(extra_metric):
    res = _compare.compare_runs(run([_with_extra(4096, seed=1)]), run([_with_extra(8192, seed=2)]))
    got = res["cases"][0]["metrics"][EXTRA.name]
    assert (got["base"], got["cand"], got["ratio"], got["kind"]) == (4096, 8192, 2.0, "exact")
    assert got["verdict"] == "regressed" and res["regressions"] == 1  # exact growth past a 0 tolerance
    assert json.loads(json.dumps(res))["cases"][0]["metrics"][EXTRA.name]["cand"] == 8192


def test_a_declared_metric_reaches_history(extra_metric):
    runs = [
        (f"r{i}", run([_with_extra(v, seed=i)], started=f"2026-11-2{i}T00:00:00+00:00"))
        for i, v in enumerate((100, 100, 300))
    ]
    (series,) = [s for s in _history.history(runs)["series"] if s["metric"] == EXTRA.name]
    assert series["values"] == [100.0, 100.0, 300.0]


def test_a_declared_metric_reaches_pytest_extra_info(extra_metric, prepared):
    want = prepared.runtime_memory["first_call_rss_growth_bytes"]
    assert _bench.flat_metrics(prepared)[EXTRA.key] == want
    assert _bench.timed_metrics(prepared, 1e-3)[EXTRA.key] == want


def test_a_declared_metric_reaches_asv_tracks(extra_metric, prepared):
    from suites.asv import bench_catalog

    try:
        mod = importlib.reload(bench_catalog)
        track = getattr(mod.Program, f"track_{EXTRA.asv_name}")
        assert track.unit == "bytes"
        program = mod.Program()
        program.metrics = _bench.flat_metrics(prepared, metrics.ASV)
        assert (
            track(program, {}, "mlp", "jax", "forward", "float32")
            == prepared.runtime_memory["first_call_rss_growth_bytes"]
        )
    finally:
        metrics.METRICS = tuple(m for m in metrics.METRICS if m is not EXTRA)
        importlib.reload(bench_catalog)


# --- one MFU -----------------------------------------------------------------


def test_pytest_mfu_is_the_records_mfu(prepared, monkeypatch):
    """With a known peak, the suites' MFU is model FLOPs / median / peak, as a run's records get it."""
    monkeypatch.setattr(_measure._flops, "peak_flops", lambda kind, dtype: 1e9)
    p = _measure.prepare(prepared.lane.step, prepared.lane.args, model_flops=2048.0)
    figures = _bench.timed_metrics(p, 1e-6)
    assert figures["mfu"] == pytest.approx(2048.0 / 1e-6 / 1e9)
    assert _bench.mfu(2048.0, 1e-6, "float32") == pytest.approx(figures["mfu"])
