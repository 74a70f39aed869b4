"""The roofline: ``nnbench calibrate`` (stored per machine under the user
cache), the bound of constructed programs whose regime is known, roofline
lower bounds on other accelerators, and the reports that show them."""

from __future__ import annotations

import dataclasses
import gzip
import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import nnbench
from nnbench.cli import main
from nnbench.compare import history as _history
from nnbench.measure import calibration as _calibration
from nnbench.measure import roofline as _roofline
from nnbench.report import plotting as _plotting
from nnbench.report import roofline as _report_roofline
from nnbench.report import run as _report

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    """A quick calibration stored in a cache of this module's own."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        _calibration.forget()
        cal = _calibration.calibrate(quick=True, dtypes=("float32",))
        _calibration.save(cal)
        yield cal
    _calibration.forget()


def _hand_timed_matmul(n: int, calls: int = 15) -> list[float]:
    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    b = jax.random.normal(jax.random.key(1), (n, n), jnp.float32)
    f = jax.jit(jnp.matmul)
    jax.block_until_ready(f(a, b))  # compile and warm up outside the timed calls
    jax.block_until_ready(f(a, b))
    out = []
    for _ in range(calls):
        t0 = time.perf_counter()
        jax.block_until_ready(f(a, b))
        out.append(2 * n**3 / (time.perf_counter() - t0))
    return out


@pytest.mark.slow
def test_calibrated_matmul_peak_agrees_with_a_hand_timed_matmul():
    """Side by side: calibrate's matmul probe sandwiched between two
    hand-timed runs of ``2 n³ / t`` of the same matmul (drift cancels), five
    rounds; the median per-round ratio within ±20 % — wide for a shared
    2-core machine, narrow enough that FLOPs counted 2× wrong (ratio 2 or
    0.5) fail."""
    n, ratios = 1024, []
    policy = dataclasses.replace(_calibration.probe_policy(quick=True), budget_s=0.2, warmup_budget_s=0.1)
    for _ in range(5):
        before = float(np.median(_hand_timed_matmul(n)))
        entry = _calibration.matmul_probe(n, "float32", policy)
        after = float(np.median(_hand_timed_matmul(n)))
        ratios.append(entry["flops_per_s"] / ((before + after) / 2))
    assert entry["flops"] == pytest.approx(2 * n**3, rel=0.01)
    lo, hi = entry["ci"]
    assert lo <= entry["flops_per_s"] <= hi
    assert 0.8 < float(np.median(ratios)) < 1.25, ratios


def test_full_calibration_has_every_probe(calibrated):
    cal = calibrated
    assert cal["matmul"]["float32"]["n"] == 1024 and cal["quick"]
    assert cal["bandwidth"]["bytes"] >= 2 * 4 * cal["bandwidth"]["elements"]  # read and written
    lo, hi = cal["bandwidth"]["ci"]
    assert lo <= cal["bandwidth"]["bytes_per_s"] <= hi
    assert 0 < cal["dispatch_floor"]["s"] < cal["matmul"]["float32"]["median_s"]


def test_calibration_is_stored_per_machine_under_the_user_cache(calibrated, capsys):
    path = _calibration.path_for(_calibration.machine_key())
    assert path.is_relative_to(_calibration.cache_dir()) and path.exists()
    assert _calibration.load() == json.loads(path.read_text())
    assert _calibration.load({**calibrated["key"], "cpu_count": -1}) is None  # another machine's key
    assert main(["calibrate", "--show"]) == 0
    assert "dispatch floor" in capsys.readouterr().out
    assert _calibration.current() == calibrated  # what records and the run's env read


def test_show_without_a_calibration_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert main(["calibrate", "--show"]) == 2
    assert "nnbench calibrate" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: (jax.jit(lambda x: x * 2 + 1), jnp.ones((4,), jnp.float32)), "overhead"),
        (lambda: (jax.jit(lambda x: x * 2 + 1), jnp.ones((2**26,), jnp.float32)), "memory"),
        (lambda: (jax.jit(lambda a: a @ a), jnp.ones((1024, 1024), jnp.float32)), "compute"),
    ],
    ids=["tiny-op", "64M-elementwise", "large-matmul"],
)
def test_constructed_programs_land_in_their_regime(calibrated, fast_policy, make, expected):
    f, x = make()
    rec = nnbench.measure(f, x, policy=fast_policy)
    r = rec["roofline"]
    assert r["bound"] == expected, r
    assert r["peak_source"] == "measured" and rec["work"]["peak_source"] == "measured"
    assert r["time_s"] == pytest.approx(
        max(r["flops"] / r["peak_flops_per_s"], r["bytes"] / r["bandwidth_bytes_per_s"])
    )
    assert r["efficiency"] == pytest.approx(r["time_s"] / rec["time"]["median"])


def test_without_a_calibration_records_say_nothing_they_did_not_measure(fast_policy, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # an empty cache: this machine never calibrated
    rec = nnbench.measure(jax.jit(lambda x: x + 1), jnp.ones((4,)), policy=fast_policy)
    r = rec["roofline"]
    assert r["efficiency"] is None and r["time_s"] is None and r["peak_source"] is None  # CPU: no vendor figures
    # the one bound measured without ceilings: the host's own dispatch share
    assert r["bound"] == ("overhead" if r["dispatch_share"] > _roofline.OVERHEAD_DISPATCH_SHARE else None)
    assert rec["work"]["mfu"] is None and rec["work"]["peak_source"] is None


def test_classification_thresholds():
    c = _roofline.classify
    assert c(1e3, 1e3, 1.5e-5, 1e-6, 1e11, 1e10, 1e-5) == "overhead"  # under 2 × the floor
    assert c(1e9, 1e3, 1e-2, 6e-3, 1e11, 1e10, 1e-5) == "overhead"  # dispatch 60 % of the step
    assert c(1e6, 1e9, 1e-1, 1e-5, 1e11, 1e10, 1e-5) == "memory"
    assert c(1e10, 1e6, 1e-1, 1e-5, 1e11, 1e10, 1e-5) == "compute"
    assert c(1e10, 1e6, 1e-1, 1e-5, None, None, None) is None  # nothing to hold it against


def test_lower_bound_on_other_accelerators_is_a_vendor_figure():
    b = _roofline.lower_bound(989.4e12, 1.0, "h100", "bfloat16")
    assert b["time_s"] == pytest.approx(1.0) and b["bound"] == "compute"
    b = _roofline.lower_bound(1.0, 3.35e12, "h100", "float32")
    assert b["time_s"] == pytest.approx(1.0) and b["bound"] == "memory"
    tpu = _roofline.lower_bound(197e12, 1.0, "tpu-v5e", "float32")  # no float32 peak: the bfloat16 one bounds it
    assert tpu["peak_dtype"] == "bfloat16" and tpu["time_s"] == pytest.approx(1.0)


def test_report_lower_for_renders_the_published_run_and_refuses_unknown_names(tmp_path, capsys):
    published = str(ROOT / "reports" / "ci-cpu.json.gz")
    assert main(["report", published, "--format", "md", "--lower-for", "h100,tpu-v5e"]) == 0
    out = capsys.readouterr().out
    assert "h100 bound (not measured)" in out and "tpu-v5e bound (not measured)" in out
    assert main(["report", published, "--lower-for", "h100,nope"]) == 2
    err = capsys.readouterr().err
    assert "nope" in err and "tpu-v6e" in err


def test_old_records_render_as_na():
    # Records written before the roofline existed: the published run's, without it.
    with gzip.open(ROOT / "reports" / "ci-cpu.json.gz", "rt") as f:
        run = json.load(f)
    for record in run["records"]:
        record.pop("roofline", None)
    assert _report_roofline.section(run) is None
    assert _report_roofline.roofline_png(run["records"]) is None
    assert {row["bound"] for row in _report.detail_rows(run["records"]) if row["status"] == "ok"} == {"n/a"}


def test_a_calibrated_run_shows_its_peaks_bound_table_and_plot(calibrated, fast_policy):
    records = []
    for style, n in (("jax", 4), ("linen", 512)):
        rec = nnbench.measure(jax.jit(lambda a: a @ a), jnp.ones((n, n)), policy=fast_policy)
        case = {"layer": "probe", "style": style, "mode": "forward", "size": "tiny", "dtype": "float32"}
        records.append({**rec, "id": f"probe/{style}", "case": case})
    run = {"env": {"calibration": calibrated}, "records": records}
    doc = _report_roofline.section(run)
    text = json.dumps([str(b) for b in doc.blocks])
    assert "calibrated peaks" in text and "dispatch floor" in text and "overhead" in text
    assert _report_roofline.roofline_png(records).startswith(b"\x89PNG")
    assert "roofline" in [s.key for s in _plotting.specs("run")]


def test_history_flags_a_fall_in_roofline_efficiency():
    """Efficiency is higher-is-better: a drop is the regression, reported in its own values."""
    res = _history.analyse_series([0.5, 0.5, 0.5, 0.25, 0.25, 0.25], 0.05, lower_is_better=False)
    assert res["regression"] is not None
    assert res["regression"]["latest"] == pytest.approx(0.25) and res["regression"]["best"] == pytest.approx(0.5)
    assert res["changes"][0]["ratio"] == pytest.approx(0.5)
    assert _history.analyse_series([0.25, 0.25, 0.25, 0.5, 0.5, 0.5], 0.05, lower_is_better=False)["regression"] is None
