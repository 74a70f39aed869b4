"""Compile measurements: JAX's own compile events, the persistent cache
across processes, lowering for other platforms."""

import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import pytest

import nnbench
from nnbench import layers
from nnbench.cli import main
from nnbench.measure import stages as _compile


def named_step(x):
    return jnp.tanh(x @ x.T).sum(axis=0)


def test_compile_events_recorded_for_the_measured_function(fast_policy):
    rec = nnbench.measure(jax.jit(named_step), jnp.ones((8, 8)), policy=fast_policy)
    c = rec["compile"]
    ev = c["events"]
    assert ev["fun_name"] == "jit(named_step)"
    for key in ("trace_s", "lower_s", "backend_compile_s"):
        assert ev[key] is not None and ev[key] > 0
    # JAX's event spans sit inside the stage-API wall times around them.
    assert ev["backend_compile_s"] <= c["compile_s"] and ev["trace_s"] <= c["trace_s"] and ev["lower_s"] <= c["lower_s"]


def test_event_log_filters_by_name():
    a, b = jax.block_until_ready((jnp.ones(3), jnp.ones((2, 2))))
    with _compile.EventLog() as log:
        jax.jit(lambda x: x + 1).trace(a).lower().compile()
        jax.jit(named_step).trace(b).lower().compile()
    assert log.count(_compile.BACKEND_COMPILE_EVENT) == 2
    assert log.seconds(_compile.BACKEND_COMPILE_EVENT, "jit(named_step)") < log.seconds(_compile.BACKEND_COMPILE_EVENT)
    assert log.seconds(_compile.BACKEND_COMPILE_EVENT, "jit(nothing)") is None


_PROBE = textwrap.dedent(
    """
    import json, sys
    import jax, jax.numpy as jnp
    from nnbench.measure import stages as _compile
    from nnbench.run import worker as _worker
    if sys.argv[1] != "-":
        _worker.enable_compile_cache(sys.argv[1])
    f = jax.jit(lambda x: jnp.sin(x) @ x)
    _, info, _, _ = _compile.compile_stages(f, (jnp.ones((16, 16)),))
    print(json.dumps({"cache": info["persistent_cache"], "compile_s": info["compile_s"]}))
    """
)


def test_persistent_cache_hits_in_a_second_process(tmp_path):
    """Fresh processes: the first with a cache misses and writes it, the
    second hits; one without a cache records neither."""
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "JAX_PLATFORMS": "cpu"}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    runs = []
    for cache in (str(tmp_path / "cache"), str(tmp_path / "cache"), "-"):
        out = subprocess.run([sys.executable, "-c", _PROBE, cache], env=env, capture_output=True, text=True, check=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    assert [r["cache"] for r in runs] == ["miss", "hit", None]
    assert any((tmp_path / "cache").iterdir())


def test_lower_for_other_platforms():
    entry = layers.get("mlp")
    for style in ("jax", "nnx"):
        built = layers.build(entry, style, "tiny", "forward")
        out = _compile.lower_for(built.step, built.args, ("tpu", "gpu"))
        assert set(out) == {"tpu", "gpu"} and out["gpu"]["platform"] == "cuda"
        for rec in out.values():
            assert rec["lower_s"] > 0
            assert rec["stablehlo_op_histogram"]["stablehlo.dot_general"] == 3
            assert rec["stablehlo_ops"] == sum(rec["stablehlo_op_histogram"].values())


def test_stablehlo_histogram_counts_ops_once_per_line():
    text = (
        "%0 = stablehlo.dot_general %a, %b\n%1 = stablehlo.reduce(%0 init: %c) applies stablehlo.add across\nreturn %1"
    )
    assert _compile.stablehlo_op_histogram(text) == {"stablehlo.dot_general": 1, "stablehlo.reduce": 1}


@pytest.mark.parametrize("flag", [["--lower-for", "bogus"], ["--lower-for", ","]])
def test_bad_lower_for_is_bad_input(flag, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert (
        main(
            ["run", "--layer", "mlp", "--style", "jax", "--size", "tiny", "--mode", "forward", "--out", str(out), *flag]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("nnbench: error: --lower-for") and err.count("\n") == 1
    assert not out.exists()


def test_compile_cache_that_is_a_file_is_bad_input(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert (
        main(
            [
                "run",
                "--layer",
                "mlp",
                "--style",
                "jax",
                "--size",
                "tiny",
                "--compile-cache",
                str(blocker),
                "--out",
                str(tmp_path / "r.json"),
            ]
        )
        == 2
    )
    assert "--compile-cache" in capsys.readouterr().err
