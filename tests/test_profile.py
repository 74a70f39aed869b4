"""XLA profiles: a fenced capture apart from timing, summaries read back
through JAX's ProfileData and xprof's converters, the op-level diff, the
``profile``/``profile-diff``/``run --profile`` commands, and the xprof server
finding the capture."""

import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import jax
import jax.numpy as jnp
import pytest

from nnbench.cli import main
from nnbench.profile import capture as _profile
from nnbench.profile import summary as _summary_mod
from nnbench.results import runfile as _results
from nnbench.results.case import Case

XPROF = Path(sys.executable).with_name("xprof")


@pytest.fixture(scope="module")
def profiled(tmp_path_factory):
    """The MLP train step (tiny), profiled in this process."""
    root = tmp_path_factory.mktemp("prof")
    prof = _profile.profile_case(Case("mlp", "jax", "train", "tiny"), root / "logs", base=root, steps=3)
    return root, prof


def test_capture_writes_trace_programs_and_summary(profiled):
    root, prof = profiled
    for key in ("xplane", "hlo", "jaxpr", "summary"):
        assert not os.path.isabs(prof[key]) and (root / prof[key]).is_file(), key
    assert (root / prof["xplane"]).name.endswith(".xplane.pb")
    assert (root / prof["hlo"]).read_text().startswith("HloModule jit_train_step")
    assert "dot_general" in (root / prof["jaxpr"]).read_text()
    summary = _profile.load_summary(root / prof["session"])
    assert summary["steps"] == 3 and summary["overview"]["captured_steps"] == 3
    ops = summary["ops"]
    assert ops and all(o["module"] == "jit_train_step" for o in ops)
    # Every profiled op is found in the saved HLO (its shape comes from there).
    assert all(o["shape"] and o["self_s_median"] >= 0 for o in ops), [o["op"] for o in ops if not o["shape"]]
    assert summary["hlo_sha256"] and len(summary["hlo_sha256"]) == 64
    # A train step runs each of its ops once per step.
    assert all(o["occurrences"] % 3 == 0 for o in ops)
    assert sum(o["share"] for o in ops) == pytest.approx(1.0)
    assert [o["self_s_per_step"] for o in ops] == sorted((o["self_s_per_step"] for o in ops), reverse=True)
    assert summary["categories"]["matmul/conv"]["ops"] >= 3  # forward + backward matmuls of 2+ layers
    ov = summary["overview"]
    assert ov["step_time_ms_avg"] > 0 and 0 < ov["op_busy_share"] <= 1
    assert prof["top_ops"] == ops[: _profile.TOP_K]


def test_files_load_back_through_xprof(profiled):
    from xprof.convert import raw_to_tool_data

    root, prof = profiled
    path = str(root / prof["xplane"])
    tools = raw_to_tool_data.xspace_to_tool_names([path])
    assert "overview_page" in tools and any(t.startswith("trace_viewer") for t in tools)
    data, _ = raw_to_tool_data.xspace_to_tool_data([path], "trace_viewer", {})
    assert b"jit_train_step" in (data if isinstance(data, bytes) else data.encode())


def test_format_summary_has_table_and_overview(profiled):
    _, prof = profiled
    text = _profile.format_summary(prof, k=3, title="t")
    assert "mean/step" in text and "share" in text and prof["top_ops"][0]["op"] in text
    assert "categories:" in text and "step time (xprof overview)" in text


def test_hlo_categories_of_a_compiled_program():
    def f(a, b):
        return jnp.tanh(a @ b) + 1.0

    hlo = jax.jit(f).lower(jnp.ones((8, 8)), jnp.ones((8, 8))).compile().as_text()
    cats = _profile.hlo_categories(hlo)
    assert "matmul/conv" in cats.values()
    text = """HloModule m
%fused_dot (p0: f32[2,2], p1: f32[2,2]) -> f32[2,2] {
  %p0 = f32[2,2]{1,0} parameter(0)
  %p1 = f32[2,2]{1,0} parameter(1)
  ROOT %d = f32[2,2]{1,0} dot(%p0, %p1), lhs_contracting_dims={1}, rhs_contracting_dims={0}
}
%fused_add (p0: f32[2,2]) -> f32[2,2] {
  %p0 = f32[2,2]{1,0} parameter(0)
  ROOT %a = f32[2,2]{1,0} add(%p0, %p0)
}
ENTRY %main (x: f32[2,2]) -> f32[2,2] {
  %x = f32[2,2]{1,0} parameter(0)
  %ynn_fusion = f32[2,2]{1,0} fusion(%x, %x), kind=kCustom, calls=%fused_dot
  %add_fusion = f32[2,2]{1,0} fusion(%ynn_fusion), kind=kLoop, calls=%fused_add
  %copy.1 = f32[2,2]{0,1} copy(%add_fusion)
  %all-reduce.2 = f32[2,2]{1,0} all-reduce(%copy.1), to_apply=%fused_add
  ROOT %t = f32[2,2]{1,0} transpose(%all-reduce.2), dimensions={1,0}
}
"""
    cats = _profile.hlo_categories(text)
    assert cats["ynn_fusion"] == "matmul/conv" and cats["add_fusion"] == "fusion"
    assert cats["copy.1"] == "copy" and cats["all-reduce.2"] == "collective" and cats["t"] == "other"
    assert _profile.hlo_op_info(text)["copy.1"] == ("copy", "f32[2,2]")


def test_self_time_excludes_nested_ops():
    events = [(0, 100, "outer", {}), (10, 30, "inner", {}), (50, 20, "inner2", {}), (200, 5, "next", {})]
    got = {op: self_ns for op, _, _, self_ns, _ in _summary_mod._self_times(events)}
    assert got == {"outer": 50, "inner": 30, "inner2": 20, "next": 5}
    assert _summary_mod._union_ns([(0, 10), (5, 20), (30, 40)]) == 30


def _summary(ops: dict[str, float], shapes: dict[str, str] | None = None) -> dict:
    rows = [
        {
            "op": k,
            "module": "m",
            "category": "fusion",
            "shape": (shapes or {}).get(k, "f32[8]"),
            "occurrences": 1,
            "self_s_per_step": 9.0,  # the mean; the diff reads the median
            "self_s_median": v,
            "share": 0,
            "flops": None,
            "bytes_accessed": None,
        }
        for k, v in ops.items()
    ]
    return {
        "ops": rows,
        "categories": {"fusion": {"self_s_per_step": sum(ops.values()), "share": 1.0, "ops": len(ops)}},
        "overview": {"op_time_s_per_step": sum(ops.values())},
    }


def test_diff_finds_slower_faster_appeared_disappeared():
    base = _summary({"a.1": 1e-3, "b": 1e-3, "same": 1e-3, "gone": 5e-4, "w": 1e-3}, {"w": "f32[64,512]"})
    cand = _summary({"a.1": 2e-3, "b": 5e-4, "same": 1.02e-3, "new": 7e-4, "w": 1e-3}, {"w": "f32[64,1024]"})
    d = _profile.diff(base, cand)
    assert [x["op"] for x in d["slower"]] == ["a.1"] and d["slower"][0]["ratio"] == pytest.approx(2.0)
    assert [x["op"] for x in d["faster"]] == ["b"]
    # An op whose shape changed is another computation: gone on one side, new on the other.
    assert [x["op"] for x in d["appeared"]] == ["w", "new"] and [x["op"] for x in d["disappeared"]] == ["w", "gone"]
    assert d["kinds"]["a"] == (1e-3, 2e-3) and "same" not in d["kinds"] and "w" not in d["kinds"]
    text = _profile.format_diff(d)
    assert "ops slower (1)" in text and "ops appeared (2)" in text and "ops disappeared (2)" in text
    assert "f32[64,1024]" in text and "same" not in text and "HLO differs" not in text
    base["hlo_sha256"], cand["hlo_sha256"] = "x", "y"
    assert "note: the optimized HLO differs" in _profile.format_diff(_profile.diff(base, cand))


def test_diff_for_compare_reads_summaries_beside_the_run(profiled, tmp_path):
    root, prof = profiled
    run = root / "run.json"
    rec = {"id": "mlp/jax/train/tiny/float32", "profile": prof}
    text = _profile.diff_for_compare(run, rec, run, rec)
    assert text.startswith("profile diff mlp/jax/train/tiny/float32") and "no op moved" in text
    assert _profile.diff_for_compare(run, rec, run, {"id": "x"}) is None
    # Summary file gone (run file copied elsewhere): falls back to the record's top ops.
    assert "no op moved" in _profile.diff_for_compare(tmp_path / "run.json", rec, tmp_path / "run.json", rec)
    # The same diff as data (what compare stores): the full summary's ops, nothing moved.
    d = _profile.records_diff(run, rec, run, rec)
    full = _profile.load_summary(root / prof["summary"])
    total = sum(o.get("self_s_median", o["self_s_per_step"]) for o in full["ops"])
    assert d["op_time_s_per_step"] == [pytest.approx(total), pytest.approx(total)] and total > 0
    assert d["slower"] == d["faster"] == d["appeared"] == d["disappeared"] == [] and d["same_program"] is True


def test_widened_layer_diff(tmp_path):
    """Two programs differing in one layer's width: the diff names the moved ops."""

    def mlp(width):
        ws = (jnp.ones((64, width)) / 64, jnp.ones((width, 64)) / width)
        return jax.jit(lambda w, x: jnp.tanh(jnp.tanh(x @ w[0]) @ w[1])), (ws, jnp.ones((32, 64)))

    summaries = []
    for width in (64, 1024):
        step, args = mlp(width)
        prof = _profile.profile_step(step, args, None, tmp_path / f"w{width}", steps=3)
        summaries.append(_profile.load_summary(prof["summary"]))
    d = _profile.diff(*summaries)
    text = _profile.format_diff(d)
    assert "XLA op time per step" in text and "matmul/conv" in text
    base_mm, cand_mm = d["categories"]["matmul/conv"]
    assert cand_mm > base_mm  # 16x the matmul work; far beyond timing noise


def test_profile_command_and_errors(profiled, tmp_path, capsys):
    # In process (the subprocess entry point is exercised by the run test below).
    assert (
        main(["profile", "mlp/jax/forward/tiny/float32", "--logdir", str(tmp_path), "--steps", "2", "--top", "5"]) == 0
    )
    out = capsys.readouterr().out
    assert "top XLA ops by self time: mlp/jax/forward/tiny/float32" in out and "median/step" in out
    assert f"xprof --logdir {tmp_path} --port" in out and f"tensorboard --logdir {tmp_path}" in out
    session = next((tmp_path / "mlp-jax-forward-tiny-float32" / "plugins" / "profile").iterdir())
    assert {"hlo.txt", "jaxpr.txt", "summary.json"} <= {p.name for p in session.iterdir()}
    assert main(["profile-diff", str(profiled[0] / profiled[1]["session"]), str(session)]) == 0
    assert "XLA op time per step" in capsys.readouterr().out
    for argv in (
        ["profile", "mlp/jax/train"],
        ["profile", "nosuch/jax/train/tiny/float32"],
        ["profile", "mlp/jax/train/huge/float32"],
        ["profile-diff", str(tmp_path / "none"), str(session)],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("nnbench: error:"), err


def test_run_profile_links_captures_from_the_record(tmp_path, capsys):
    # The command in this process; the case runs (timing, then capture) in a worker process.
    out = tmp_path / "run.json"
    argv = ["run", "--layer", "mlp", "--style", "jax", "--mode", "forward", "--size", "tiny", "--profile"]
    assert main([*argv, "--budget", "0.05", "--target-ci", "0.5", "--min-samples", "5", "--out", str(out)]) == 0
    assert f"xprof --logdir {out.with_suffix('.profile')} --port" in capsys.readouterr().out
    (rec,) = _results.read_run(out)["records"]
    prof = rec["profile"]
    assert prof["session"].startswith("run.profile/mlp-jax-forward-tiny-float32/plugins/profile/")
    assert (tmp_path / prof["xplane"]).is_file() and (tmp_path / prof["hlo"]).is_file()
    assert rec["time"]["n"] >= 5  # the timing samples are separate from the capture
    assert "XLA op time per step" in _profile.diff_for_compare(out, rec, out, rec)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_xprof_server_lists_the_capture(profiled):
    root, prof = profiled
    logdir = root / prof["logdir"]
    port, grpc_port = _free_port(), _free_port()
    server = subprocess.Popen(
        [str(XPROF), "--logdir", str(logdir.parent), "--port", str(port), "--grpc_port", str(grpc_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline, runs = time.monotonic() + 30, None
        while time.monotonic() < deadline and runs is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/data/plugin/profile/runs", timeout=2) as r:
                    body = r.read()
                    if r.headers.get("Content-Encoding") == "gzip":
                        body = gzip.decompress(body)
                    runs = json.loads(body)
            except OSError:
                assert server.poll() is None, "xprof server exited"
                time.sleep(0.3)
        session = Path(prof["session"]).name
        assert runs is not None, "xprof server did not answer within 30 s"
        assert f"{logdir.name}/{session}" in runs
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
