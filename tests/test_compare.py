"""``nnbench compare`` and ``nnbench history`` on synthetic run files with
controlled sample distributions (no JAX needed): verdicts, exit codes,
refusals, escaping, step detection."""

import io
import json
import subprocess
import sys

import numpy as np
import pytest
from rich.console import Console

from nnbench.cli import main
from nnbench.compare import compare as _compare
from nnbench.measure import stats as _stats
from nnbench.report import compare as _report_compare
from nnbench.results import runfile as _results

CASE = {"layer": "mlp", "style": "jax", "mode": "forward", "size": "tiny", "dtype": "float32"}


def record(median=1e-3, n=300, seed=0, case=None, status="ok", hlo_ops=40, flops=1e6, rho=0.0, noise=0.02, **extra):
    """A record whose step times are AR(1) noise (correlation ``rho``, log SD ``noise``) around ``median``."""
    case = dict(CASE, **(case or {}))
    rid = "/".join(case[k] for k in ("layer", "style", "mode", "size", "dtype"))
    rec = {"id": rid, "case": case, "status": status, "error": None if status == "ok" else "boom"}
    if status != "ok":
        return rec
    rng = np.random.default_rng(seed)
    e = rng.standard_normal(n) * noise
    for i in range(1, n):
        e[i] = rho * e[i - 1] + np.sqrt(1 - rho**2) * e[i]
    samples = (median * np.exp(e)).tolist()
    dispatch = [s / 10 for s in samples]
    rec.update(
        time={**_stats.summarize(samples), "samples_s": samples},
        dispatch={**_stats.summarize(dispatch), "samples_s": dispatch},
        compile={
            "trace_s": 0.01,
            "lower_s": 0.01,
            "compile_s": 0.05,
            "total_s": 0.07,
            "hlo_ops": hlo_ops,
            "jaxpr_eqns": 10,
        },
        work={"xla_flops": flops, "achieved_flops_per_s": None, "peak_flops_per_s": None, "mfu": None},
        throughput={"items_per_s": None},
        memory={"compiled_temp_bytes": 1024},
    )
    rec.update(extra)
    return rec


def run(records, device_kind="cpu", started="2026-11-26T00:00:00+00:00", commit="abc"):
    env = {
        "backend": "cpu",
        "device_kind": device_kind,
        "device_count": 1,
        "versions": {"jax": "0.10.2"},
        "git_commit": commit,
    }
    return {
        "schema": _results.SCHEMA,
        "started": started,
        "finished": started,
        "argv": [],
        "suite": None,
        "env": env,
        "records": records,
    }


def write(path, data):
    path.write_text(json.dumps(data))
    return str(path)


@pytest.fixture
def pair(tmp_path):
    def make(base_records, cand_records, **cand_kw):
        return write(tmp_path / "base.json", run(base_records)), write(
            tmp_path / "cand.json", run(cand_records, **cand_kw)
        )

    return make


def test_a_a_is_unchanged_and_exits_0(pair, capsys):
    base, cand = pair([record(seed=1)], [record(seed=2)])
    assert main(["compare", base, cand]) == 0
    out = capsys.readouterr().out
    assert "unchanged" in out and "regressed" not in out.split("cases compared")[0]


def test_slower_candidate_regresses_exit_1_with_command(pair, capsys):
    base, cand = pair([record(seed=1)], [record(median=1.2e-3, seed=2)])
    assert main(["compare", base, cand]) == 1
    out = capsys.readouterr().out
    assert "regressed" in out
    assert "nnbench run --layer mlp --style jax --mode forward --size tiny --dtype float32" in out
    assert main(["compare", base, cand, "--no-fail"]) == 0


def test_faster_candidate_improves(pair, capsys):
    base, cand = pair([record(seed=1)], [record(median=0.8e-3, seed=2)])
    assert main(["compare", base, cand, "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    t = result["cases"][0]["metrics"]["time"]
    assert t["verdict"] == "improved" and t["ci_high"] < 1 and 0.75 < t["ratio"] < 0.85


def test_threshold_override_absorbs_a_small_change(pair):
    base, cand = pair([record(seed=1)], [record(median=1.08e-3, seed=2)])
    assert main(["compare", base, cand]) == 1
    assert main(["compare", base, cand, "--threshold", "time=10"]) == 0


def test_deterministic_metric_growth_is_a_regression(pair, capsys):
    base, cand = pair([record(seed=1)], [record(seed=1, hlo_ops=41)])
    assert main(["compare", base, cand, "--format", "json"]) == 1
    result = json.loads(capsys.readouterr().out)
    m = result["cases"][0]["metrics"]
    assert m["compile.hlo_ops"]["verdict"] == "regressed" and m["time"]["verdict"] == "unchanged"
    assert main(["compare", base, cand, "--threshold", "exact=5"]) == 0


def test_case_that_now_fails_regresses_and_one_sided_cases_listed(pair, capsys):
    other = {"style": "haiku"}
    base, cand = pair([record(), record(case=other)], [record(status="failed"), record(case={"style": "linen"})])
    assert main(["compare", base, cand]) == 1
    out = capsys.readouterr().out
    assert "only in the baseline: mlp/haiku/forward/tiny/float32" in out
    assert "only in the candidate: mlp/linen/forward/tiny/float32" in out


def test_device_change_refused_unless_allowed(pair, capsys):
    base, cand = pair([record(seed=1)], [record(seed=2)], device_kind="NVIDIA H100")
    assert main(["compare", base, cand]) == 2
    assert "allow-device-change" in capsys.readouterr().err
    assert main(["compare", base, cand, "--allow-device-change"]) == 0
    assert "NVIDIA H100" in capsys.readouterr().out  # environment differences shown


@pytest.mark.parametrize(
    "argv", [["--threshold", "fast=5"], ["--threshold", "x"], ["--threshold", "-3"], ["--format", "pdf"]]
)
def test_bad_requests_exit_2_one_line(pair, argv, capsys):
    base, cand = pair([record()], [record()])
    assert main(["compare", base, cand, *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nnbench: error:") and len(err.strip().splitlines()) == 1


def test_bad_request_through_the_console_entry_point(pair):
    base, cand = pair([record()], [record()])
    proc = subprocess.run(
        [sys.executable, "-m", "nnbench", "compare", base, cand, "--threshold", "x"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("nnbench: error:") and len(proc.stderr.strip().splitlines()) == 1


def test_unreadable_run_and_existing_out(pair, tmp_path, capsys):
    base, cand = pair([record()], [record()])
    (tmp_path / "bad.json").write_text("{")
    assert main(["compare", base, str(tmp_path / "bad.json")]) == 2
    out = tmp_path / "r.md"
    out.write_text("keep")
    assert main(["compare", base, cand, "--format", "md", "--out", str(out)]) == 2
    assert out.read_text() == "keep"


def test_names_escaped_in_md_and_html(pair, tmp_path):
    evil = {"layer": "<script>alert(1)</script>", "size": "a|b*"}
    base, cand = pair([record(case=evil, seed=1)], [record(case=evil, median=1.3e-3, seed=2)])
    md, page = tmp_path / "c.md", tmp_path / "c.html"
    assert main(["compare", base, cand, "--format", "md", "--out", str(md), "--no-fail"]) == 0
    assert main(["compare", base, cand, "--format", "html", "--out", str(page), "--no-fail"]) == 0
    for text in (md.read_text(), page.read_text()):
        assert "<script>" not in text and "&lt;script&gt;" in text
    assert md.with_suffix(".png").read_bytes().startswith(b"\x89PNG")
    assert "data:image/png;base64," in page.read_text()


def _profile(*ops):
    """A record's ``profile`` field holding ``ops`` (name, category, seconds per step); no summary file."""
    top = [
        {"op": op, "module": "jit_step", "category": cat, "shape": "f32[8]", "self_s_per_step": t} for op, cat, t in ops
    ]
    return {"summary": "gone/summary.json", "top_ops": top}


def test_profile_diff_in_compare_is_plain_data(tmp_path):
    """Both records profiled: the case carries the op-level diff as numbers and
    names (a JSON round trip gives it back unchanged), figures by hand."""
    base = record(seed=1, profile=_profile(("dot.1", "matmul/conv", 2e-3), ("copy.2", "copy", 1e-4)))
    cand = record(seed=2, profile=_profile(("dot.1", "matmul/conv", 3e-3), ("fusion.3", "fusion", 5e-4)))
    res = _compare.compare_runs(
        run([base]), run([cand]), base_path=str(tmp_path / "a.json"), cand_path=str(tmp_path / "b.json")
    )
    d = res["cases"][0]["profile_diff"]
    assert json.loads(json.dumps(d)) == d
    assert d["op_time_s_per_step"] == pytest.approx([2.1e-3, 3.5e-3])
    assert [(r["op"], r["base_s"], r["cand_s"]) for r in d["slower"]] == [("dot.1", 2e-3, 3e-3)]
    assert d["slower"][0]["ratio"] == pytest.approx(1.5)
    assert [r["op"] for r in d["appeared"]] == ["fusion.3"] and [r["op"] for r in d["disappeared"]] == ["copy.2"]
    assert d["categories"]["matmul/conv"] == pytest.approx([2e-3, 3e-3]) and d["faster"] == []
    unprofiled = _compare.compare_runs(run([record(seed=1)]), run([record(seed=2)]))
    assert "profile_diff" not in unprofiled["cases"][0]


def test_profile_diff_failure_is_data_and_does_not_break_compare(monkeypatch):
    def boom(*args):
        raise KeyError("ops")

    monkeypatch.setattr(_compare, "_profile_diff_data", boom)
    base, cand = record(seed=1, profile=_profile()), record(seed=2, profile=_profile())
    res = _compare.compare_runs(run([base]), run([cand]))
    assert res["cases"][0]["profile_diff"] == {"error": "KeyError: 'ops'"} and res["cases"][0]["verdict"] == "unchanged"


def test_a_a_false_alarm_rate_on_autocorrelated_samples():
    """Strongly autocorrelated A/A samples: the verdict must not cry wolf."""
    alarms = 0
    for seed in range(60):
        a = record(seed=2 * seed, rho=0.9)["time"]["samples_s"]
        b = record(seed=2 * seed + 1, rho=0.9)["time"]["samples_s"]
        alarms += _compare.ratio_test(a, b, 0.05)["verdict"] in ("regressed", "improved")
    assert alarms <= 3


def test_thresholds_parse():
    t = _compare.Thresholds.parse("3,compile=20")
    assert (t.time, t.compile, t.dispatch) == (0.03, 0.20, _compare.Thresholds().dispatch)


# --- history ---


def write_history(tmp_path, medians, hlo=None):
    d = tmp_path / "hist"
    d.mkdir()
    for i, m in enumerate(medians):
        rec = record(median=m, seed=i, hlo_ops=(hlo or {}).get(i, 40))
        write(d / f"night-{i:02d}.json", run([rec], started=f"2026-11-{i + 1:02d}T00:00:00+00:00", commit=f"c{i}"))
    return str(d)


def test_history_names_the_first_run_of_a_regression_and_exits_1(tmp_path, capsys):
    rng = np.random.default_rng(0)
    medians = list(1e-3 * (1 + 0.01 * rng.standard_normal(7))) + list(1.3e-3 * (1 + 0.01 * rng.standard_normal(5)))
    d = write_history(tmp_path, medians)
    assert main(["history", d, "--format", "json"]) == 1
    result = json.loads(capsys.readouterr().out)
    time_series = next(s for s in result["series"] if s["metric"] == "time")
    assert [c["run"] for c in time_series["changes"]] == [7]
    assert result["in_regression"] == ["mlp/jax/forward/tiny/float32 time"]
    # runs carry their commit: the bisection between the last good and the first bad one is ready to paste
    assert result["bisect"] == [f"nnbench bisect c6 c7 {time_series['command'].removeprefix('nnbench run ')}"]
    assert main(["history", d]) == 1
    out = capsys.readouterr().out
    assert "night-07.json" in out and "in regression" in out and "nnbench bisect c6 c7" in out
    assert main(["history", d, "--no-fail"]) == 0


def test_history_bisects_a_release_when_the_commit_is_the_same(tmp_path, capsys):
    from nnbench.compare import history as _history

    runs = [{"name": f"r{i}", "commit": "abc", "versions": {"jax": "0.10.2", "flax": f"0.12.{i}"}} for i in range(3)]
    series = {
        "metric": "time",
        "command": "nnbench run --layer mlp",
        "regression": {"jumps": [{"run": 2, "last_good_run": 1}]},
    }
    assert _history.bisect_command(runs, series) == "nnbench bisect --package flax 0.12.1 0.12.2 --layer mlp"
    assert _history.bisect_command(runs, {**series, "metric": "compile.total_s"}) is None


def test_history_recovered_series_exits_0_and_renders(tmp_path, capsys):
    medians = [1e-3] * 5 + [1.3e-3] * 4 + [1e-3] * 4
    d = write_history(tmp_path, [m * (1 + 0.002 * (i % 3)) for i, m in enumerate(medians)])
    out = tmp_path / "h.html"
    assert main(["history", d, "--format", "html", "--out", str(out)]) == 0
    page = out.read_text()
    assert "night-05.json" in page and "night-09.json" in page and "data:image/png;base64," in page


def test_drifting_runs_raise_the_bar():
    """A run whose level wanders 20 % inside itself cannot support a 6 % verdict."""
    a = record(seed=1)["time"]["samples_s"]
    drifting = [s * (1.2 if (i // 30) % 2 else 1.0) for i, s in enumerate(record(seed=2)["time"]["samples_s"])]
    res = _compare.ratio_test(a, [s * 1.06 for s in drifting], 0.05)
    assert res["drift"] > 0.1 and res["threshold_used"] == _compare.DRIFT_FACTOR * res["drift"]
    assert res["verdict"] == "inconclusive"  # outside the asked-for 5 %, inside the raised bar: cannot tell


# --- cross-device report ---


def test_cross_device_report_side_by_side(tmp_path, capsys):
    cpu = write(tmp_path / "cpu.json", run([record(median=2e-3, throughput={"items_per_s": 500.0})]))
    tpu_rec = record(
        median=1e-4, throughput={"items_per_s": 10000.0}
    )  # one chip: per chip = items/s (sharded: tests/test_scaling.py)
    tpu_rec["work"]["mfu"] = 0.31
    tpu = write(tmp_path / "tpu.json", run([tpu_rec], device_kind="TPU <v5e>"))
    md = tmp_path / "r.md"
    assert main(["report", cpu, tpu, "--format", "md", "--out", str(md)]) == 0
    text = md.read_text()
    section = text[text.index("## across devices") :]
    row = next(line for line in section.splitlines() if line.startswith("| mlp/jax/forward/tiny/float32"))
    cells = row.split(" | ")
    assert "★" in cells[2] and "★" not in cells[1]  # the TPU is fastest
    assert "1e+04/s/chip" in cells[2] and "31.0 %" in cells[2]
    assert "TPU &lt;v5e&gt; ×1" in section and (tmp_path / "r.devices.png").exists()
    page = tmp_path / "r.html"
    assert main(["report", cpu, tpu, "--format", "html", "--out", str(page)]) == 0
    assert "across devices" in page.read_text() and "TPU <v5e>" not in page.read_text()
    assert main(["report", cpu, tpu]) == 0
    assert "across devices" in capsys.readouterr().out


# --- on a real run file (tests/data: `nnbench run --layer mlp --style jax,linen --mode forward,train --size tiny`) ---

REAL = __import__("pathlib").Path(__file__).parent / "data" / "run-mlp-tiny.json"


def _real_variant(tmp_path, name, scale=1.0, **env):
    data = json.loads(REAL.read_text())
    data["env"].update(env)
    for rec in data["records"]:
        samples = [s * scale for s in rec["time"]["samples_s"]]
        rec["time"].update(_stats.summarize(samples), samples_s=samples)  # the summary must still describe the samples
    return write(tmp_path / name, data)


def test_real_run_against_itself_exits_0(capsys):
    assert main(["compare", str(REAL), str(REAL), "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert len(result["cases"]) == 4 and result["regressions"] == 0 and not result["env_diff"]
    times = [c["metrics"]["time"] for c in result["cases"]]
    assert all(t["ratio"] == 1 and t["ci_low"] <= 1 <= t["ci_high"] for t in times)
    # These runs drift 30-48 % within themselves: even against itself such a run cannot vouch for +-5 %
    # (the old drift guard called all four unchanged), and the advice says what would.
    assert all(
        t["drift"] > 0.25 and t["verdict"] == "inconclusive" and "nnbench ab" in t["more_data"]["text"] for t in times
    )
    assert all(c["metrics"]["compile.hlo_ops"]["verdict"] == "unchanged" for c in result["cases"])


def test_real_run_slowed_exits_1_other_device_exits_2(tmp_path, capsys):
    assert main(["compare", str(REAL), _real_variant(tmp_path, "slow.json", 2.0)]) == 1
    out = capsys.readouterr().out
    assert out.count("reproduce: nnbench run --layer mlp") == 4
    assert main(["compare", str(REAL), _real_variant(tmp_path, "gpu.json", device_kind="NVIDIA H100")]) == 2


def test_too_few_samples_is_inconclusive(pair, capsys):
    base, cand = pair([record(n=30, seed=1)], [record(n=30, median=2e-3, seed=2)])
    assert main(["compare", base, cand, "--format", "md"]) == 0
    out = capsys.readouterr().out
    assert "inconclusive" in out and "too few samples" in out


# --- verdicts claim only what the data show ---


@pytest.mark.parametrize(
    "ratio, lo, hi, expected",
    [
        (1.024, 0.899, 2.088, "inconclusive"),  # seen on dense/linen/train at 5 %, called unchanged by the old rule
        (1.03, 1.01, 1.08, "inconclusive"),  # a real shift whose CI reaches past +5 %: the old rule said unchanged
        (0.97, 0.93, 0.99, "inconclusive"),  # the same below 1
        (1.02, 1.01, 1.03, "unchanged"),  # real, but the whole CI inside the band
        (0.99, 0.96, 1.04, "unchanged"),
        (1.08, 1.06, 1.10, "regressed"),
        (1.08, 0.99, 1.17, "inconclusive"),
        (0.90, 0.88, 0.93, "improved"),
    ],
)
def test_unchanged_needs_the_whole_ci_inside_the_band(ratio, lo, hi, expected):
    assert _compare.verdict(ratio, lo, hi, 0.05) == expected


def test_runs_drifting_past_the_band_are_never_unchanged():
    """A/A on runs that wander 20 % inside themselves: the ratio sits near 1,
    but the raised bar cannot vouch for +-5 % (the old guard said unchanged)."""
    a, b = (
        [s * (1.2 if (i // 30) % 2 else 1.0) for i, s in enumerate(record(seed=seed)["time"]["samples_s"])]
        for seed in (1, 2)
    )
    res = _compare.ratio_test(a, b, 0.05)
    assert 0.95 < res["ratio"] < 1.05 and res["threshold_used"] > 0.05
    assert (
        1 / (1 + res["threshold_used"]) <= res["ci_low"] and res["ci_high"] <= 1 + res["threshold_used"]
    )  # inside the raised bar
    assert res["verdict"] == "inconclusive" and "nnbench ab" in res["more_data"]["text"]
    tight = dict(res, ratio=1.0, ci_low=0.99, ci_high=1.01)  # even a tight CI: the shift between runs may hide a change
    assert _compare.decide(tight, 0.05) == (res["threshold_used"], "inconclusive")
    assert _compare.decide(dict(tight, drift=0.01), 0.05) == (0.05, "unchanged")  # from steady runs it may be unchanged


def test_inconclusive_says_how_much_more_data_would_decide(pair, tmp_path, capsys):
    # The truth is A/A; 300 samples of 10 % noise leave the CI reaching past +-5 %.
    base, cand = pair([record(seed=11, noise=0.1)], [record(seed=12, noise=0.1)])
    assert main(["compare", base, cand, "--format", "json"]) == 0
    t = json.loads(capsys.readouterr().out)["cases"][0]["metrics"]["time"]
    advice = t["more_data"]
    assert t["verdict"] == "inconclusive" and advice["unit"] == "samples" and 2 < advice["factor"] < 100
    assert advice["count"] == pytest.approx(advice["factor"] * 300, abs=1)
    phrase = f"(~{advice['count']} per run) would likely decide at ±5 %"
    for fmt in ("md", "html"):
        out = tmp_path / f"c.{fmt}"
        assert main(["compare", base, cand, "--format", fmt, "--out", str(out)]) == 0
        assert phrase in out.read_text()
    wide = Console(file=io.StringIO(), width=1000)  # the terminal table, unwrapped
    _report_compare.print_compare(_compare.compare_runs(*(_results.read_run(p) for p in (base, cand))), wide)
    assert phrase in wide.file.getvalue()
    # Following the advice (new draws, same truth and noise) decides most of the time.
    decided = 0
    for seed in range(6):
        a, b = (record(n=advice["count"], seed=100 + 2 * seed + i, noise=0.1)["time"]["samples_s"] for i in (0, 1))
        decided += _compare.ratio_test(a, b, 0.05)["verdict"] == "unchanged"
    assert decided >= 4


def test_one_compile_sample_per_side_is_shown_but_never_fails(pair, capsys):
    # A/A on a loaded machine: one cold compile 40 % slower. One sample has no noise estimate.
    slow = {"trace_s": 0.01, "lower_s": 0.01, "compile_s": 0.07, "total_s": 0.09, "hlo_ops": 40, "jaxpr_eqns": 10}
    base, cand = pair([record(seed=1)], [record(seed=2, compile=slow)])
    assert main(["compare", base, cand, "--format", "json"]) == 0
    case = json.loads(capsys.readouterr().out)["cases"][0]
    c = case["metrics"]["compile.compile_s"]
    assert c["verdict"] == "untested" and c["ratio"] == pytest.approx(1.4) and case["verdict"] == "unchanged"
    assert main(["compare", base, cand, "--format", "md"]) == 0
    out = capsys.readouterr().out
    assert "×1.400 (one sample per side: no noise estimate): untested" in out
    assert "compile.trace_s" not in out  # untested and within its threshold: not listed


def _verdicts_study():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "studies" / "verdicts.py"
    spec = importlib.util.spec_from_file_location("verdicts_study", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def test_simulated_known_truths():
    """A small run of studies/verdicts.py: separate runs on a drifting, bimodal
    machine never call a true +10 % unchanged (the old rule did, in the same
    trials); ab on a quiet machine finds +10 % and raises no A/A alarm."""
    v = _verdicts_study()
    sizes = v.Sizes()
    ten = v.run_cell(v.compare_trial, v.MACHINES["tiny"], sizes, 0.10, 25, (5,), follow=0)
    assert ten.new["unchanged"] == 0 and ten.old["unchanged"] >= 2
    found = v.run_cell(v.ab_trial, v.MACHINES["quiet"], sizes, 0.10, 12, (6,), follow=0)
    assert found.new["regressed"] == 12
    aa = v.run_cell(v.ab_trial, v.MACHINES["quiet"], sizes, 0.0, 12, (7,), follow=0)
    assert aa.new["regressed"] + aa.new["improved"] == 0 and aa.new["unchanged"] >= 8
