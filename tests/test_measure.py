"""The measurement core: compile kept out of step time, every sample fenced
on the whole output, recompiles caught, records complete."""

import re
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import nnbench
from nnbench import layers
from nnbench.measure import keep
from nnbench.measure import stages as _compile
from nnbench.measure import step as _measure
from nnbench.measure import timing as _timing


def _slow_second_leaf(x):
    # Output pytree: a cheap leaf first, an expensive one second. Blocking on
    # the first leaf alone would time almost nothing.
    y = x
    for _ in range(40):
        y = jnp.tanh(y @ x)
    return {"cheap": x[0, 0] + 1.0, "slow": y}


@pytest.fixture(scope="module")
def slow_step():
    f = jax.jit(_slow_second_leaf)
    x = jax.random.normal(jax.random.key(0), (192, 192)) / 14.0
    return f, x


def test_every_sample_blocks_on_whole_output(slow_step, fast_policy, monkeypatch):
    """Every leaf of every output the step produced while measured — the
    cheap one and the slow one, in fenced single calls and in bursts — was
    handed to ``block_until_ready`` before its clock stopped."""
    f, x = slow_step
    produced, blocked = [], set()
    real = _timing.jax.block_until_ready

    class Spied:
        def __call__(self, *args):
            out = f(*args)
            produced.extend(jax.tree_util.tree_leaves(out))
            return out

        def trace(self, *args):
            return f.trace(*args)

    def spy(out):
        blocked.update(id(leaf) for leaf in jax.tree_util.tree_leaves(out))
        return real(out)

    monkeypatch.setattr(_timing.jax, "block_until_ready", spy)
    rec = nnbench.measure(Spied(), x, policy=fast_policy)
    t = rec["time"]
    assert len(produced) == 2 * (1 + t["warmup_calls"] + t["rewarm_calls"] + t["n"] * t["calls_per_sample"])
    assert all(id(leaf) in blocked for leaf in produced)


def test_settle_calls_every_lane_untimed_before_warm_up(fast_policy):
    # Right after a compile a step runs slow for a while (studies/settle.py):
    # the settle phase calls each lane, untimed, for settle_s first.
    import dataclasses

    f = jax.jit(lambda x: jnp.tanh(x @ x))
    x = jnp.ones((16, 16))
    jax.block_until_ready(f(x))
    lanes = [_timing.Lane(f, (x,), None), _timing.Lane(f, (x + 1,), None)]
    seen = []  # (phase, each lane's untimed calls so far): the gates open before settling and before warm-up

    def gate(phase, lanes=lanes):
        seen.append((phase, [lane.warmup_calls for lane in lanes]))

    t0 = time.perf_counter()
    _timing.run_rounds(lanes, dataclasses.replace(fast_policy, settle_s=0.2), gate=gate)
    assert time.perf_counter() - t0 >= 0.2
    (settle, before), (warm, settled) = seen
    assert (settle, warm, before) == ("settle", "warm", [0, 0])
    assert all(n > 10 for n in settled)  # every lane called, untimed, all through the 0.2 s
    unsettled = _timing.Lane(f, (x,), None)
    unsettled_seen = []
    _timing.run_rounds([unsettled], fast_policy, gate=lambda p: unsettled_seen.append((p, unsettled.warmup_calls)))
    assert unsettled_seen == [("settle", 0), ("warm", 0)]  # settle_s 0: no call before warm-up
    for lane in lanes:
        assert lane.recompiles == 0 and len(lane.samples_s) >= fast_policy.min_samples
    with pytest.raises(ValueError, match="settle"):
        _timing.TimingPolicy(settle_s=-1)


def test_step_time_is_device_time_not_dispatch(slow_step, fast_policy):
    import dataclasses

    f, x = slow_step
    f(x)["slow"].block_until_ready()

    # A hand loop blocking on the whole output, and one timing dispatch only.
    full, dispatch = [], []

    def hand_loop():
        for _ in range(10):
            t0 = time.perf_counter()
            out = f(x)
            t1 = time.perf_counter()
            jax.block_until_ready(out)
            full.append(time.perf_counter() - t0)
            dispatch.append(t1 - t0)

    hand_loop()
    # Enough samples that a burst of load on the shared machine does not
    # move the median (one 50 ms budget once read 3.5x the hand loop).
    rec = nnbench.measure(f, x, policy=dataclasses.replace(fast_policy, min_samples=15, budget_s=0.3))
    hand_loop()
    med = rec["time"]["median"]
    # Side-by-side ratios (the hand loop's 20 calls on both sides of nnbench's), generous bounds.
    assert med > 5 * np.median(dispatch)
    assert 0.3 < med / np.median(full) < 3.0


def test_compile_time_not_in_step_time(fast_policy):
    # Many distinct ops: compile takes far longer than one run.
    def many_ops(x):
        for i in range(300):
            x = jnp.sin(x) * (1.0 + i * 1e-3) + jnp.cos(x)
        return x

    f = jax.jit(many_ops)
    rec = nnbench.measure(f, jnp.ones((4,)), policy=fast_policy)
    c, t = rec["compile"], rec["time"]
    assert c["compile_s"] > 0 and c["trace_s"] > 0 and c["lower_s"] > 0
    assert c["first_call_compiles"] == 0 and c["recompiles"] == 0
    # The first call after compile compiles nothing (counted above) and is far
    # below compile time; no timed sample contains a compile.
    assert t["first_call_s"] < c["compile_s"] / 5
    assert max(t["samples_s"]) < c["compile_s"] / 5


def test_recompile_is_flagged(fast_policy):
    f = jax.jit(lambda x: x * 2.0)
    # A carry that grows the input changes its shape every call.
    rec = nnbench.measure(
        f, jnp.ones((1,)), carry=lambda args, out: (jnp.ones((args[0].shape[0] + 1,)),), policy=fast_policy
    )
    assert rec["compile"]["recompiles"] > 0


def test_record_fields(fast_policy):
    entry = layers.get("mlp")
    built = layers.build(entry, "jax", "tiny", "train")
    config = entry.config("tiny")
    rec = nnbench.measure(
        built.step,
        *built.args,
        carry=built.carry,
        model_flops=entry.flops(config, "train"),
        items_per_step=8,
        policy=fast_policy,
    )
    assert rec["status"] == "ok"
    assert rec["compile"]["jaxpr_eqns"] > 10 and rec["compile"]["hlo_ops"] > 10
    assert rec["compile"]["hlo_op_histogram"]["dot"] >= 3
    t = rec["time"]
    assert t["ci_low"] <= t["median"] <= t["ci_high"] and t["cv"] >= 0 and len(t["samples_s"]) == t["n"]
    assert rec["work"]["xla_flops"] > 0 and rec["work"]["model_flops"] == entry.flops(config, "train")
    assert rec["work"]["mfu"] is None and rec["work"]["peak_flops_per_s"] is None  # CPU: unknown peak
    assert rec["memory"]["compiled_argument_bytes"] > 0
    assert rec["throughput"]["items_per_s"] == pytest.approx(8 / t["median"])


def test_non_finite_output_is_invalid(fast_policy):
    f = jax.jit(lambda x: jnp.log(x))
    with pytest.raises(_measure.NonFiniteOutput):
        nnbench.measure(f, -jnp.ones((3,)), policy=fast_policy)


def test_interleaved_lanes_all_sampled(fast_policy):
    fs = [jax.jit(lambda x, k=k: x * k) for k in range(3)]
    prepared = [_measure.prepare(f, (jnp.ones((4,)),)) for f in fs]
    _measure.reprime(prepared)
    stop = _timing.run_rounds([p.lane for p in prepared], fast_policy)
    assert stop in ("ci", "budget", "max_samples")
    for p in prepared:
        assert len(p.lane.samples_s) >= 3 and p.lane.recompiles == 0


def test_each_prepare_compiles_cold_and_reprime_leaves_nothing_to_compile():
    # Three steps sharing one helper (jax.nn.relu, itself jitted) prepared
    # in turn, as a group's styles are: each compile stage must run XLA's
    # backend compile of its own program (a cache hit would emit none); the
    # steps prepared earlier compile again at reprime, never while sampled.
    fs = [jax.jit(lambda x, k=k: jax.nn.relu(x) * k + 1.0) for k in range(3)]
    x = jnp.ones((8,))
    prepared = [_measure.prepare(f, (x,)) for f in fs]
    for p in prepared:
        assert p.compile_info["events"]["backend_compile_s"] > 0
        assert p.compile_info["first_call_compiles"] == 0
    _measure.reprime(prepared)
    assert [p.compile_info["reprime_compiles"] for p in prepared] == [1, 1, 0]
    counter = _compile.compile_counter()
    before = counter.count
    for p in prepared:
        p.lane.call()
    assert counter.count == before


def test_kept_executables_answer_the_reprime_and_compute_what_a_compile_does():
    # The same three steps prepared under a Keeper: the reprime runs no XLA
    # compile (each dropped executable is served again), nothing compiles
    # once sampled, and every step's output and optimized program equal a
    # fresh jit's of the same function (the reference: an ordinary compile).
    fns = [lambda x, k=k: jnp.tanh(x @ x.T) * k + 1.0 for k in range(3)]
    x = jnp.arange(16.0).reshape(4, 4) / 16
    keeper = keep.Keeper()
    prepared = []
    for f in fns:
        with keeper.record():
            prepared.append(_measure.prepare(jax.jit(f), (x,)))
    assert len(keeper.kept) >= 3
    keep.reprime(prepared, keeper)
    assert [p.compile_info["reprime_compiles"] for p in prepared] == [0, 0, 0]
    assert [p.compile_info["reprime_kept"] for p in prepared] == [1, 1, 0]
    assert keeper.kept == {}  # let go once served
    counter = _compile.compile_counter()
    before = counter.count
    outs = [p.lane.step(*p.lane.args) for p in prepared]
    served = [_program(p.lane.step.lower(x).compile().as_text()) for p in prepared]
    assert counter.count == before  # the served executables, not new compiles
    jax.clear_caches()
    for f, out, program in zip(fns, outs, served, strict=True):
        fresh = jax.jit(f)
        np.testing.assert_array_equal(np.asarray(out), np.asarray(fresh(x)))
        assert program == _program(fresh.lower(x).compile().as_text())


def _program(hlo: str) -> list[str]:
    """An optimized HLO module's text without its debug information (source
    tables, op metadata), which follows the Python frames that traced it."""
    out, skip = [], False
    for line in hlo.splitlines():
        if line in ("FileNames", "FunctionNames", "FileLocations", "StackFrames"):
            skip = True
        elif skip and not line.strip():
            skip = False
        elif not skip:
            out.append(re.sub(r", metadata=\{[^}]*\}", "", line))
    return out


def test_a_module_the_keeper_did_not_record_compiles():
    keeper = keep.Keeper()
    with keeper.record():
        first = _measure.prepare(jax.jit(lambda x: x * 2.0), (jnp.ones((3,)),))
    other = _measure.prepare(jax.jit(lambda x: x * 3.0), (jnp.ones((3,)),))  # not recorded
    jax.clear_caches()
    keep.reprime([first, other], keeper)
    assert (first.compile_info["reprime_kept"], first.compile_info["reprime_compiles"]) == (1, 0)
    assert (other.compile_info["reprime_kept"], other.compile_info["reprime_compiles"]) == (0, 1)


def test_a_group_reprimes_from_the_executables_its_cold_compiles_made(fast_policy):
    # Through a run's own group code: every style compiles cold once, the
    # reprime compiles nothing (the styles prepared before the last are
    # served their kept executables) and nothing compiles while sampled.
    from nnbench.results.case import Case
    from nnbench.run.worker import run_group

    records = run_group([Case("mlp", s, "train", "tiny") for s in ("jax", "linen", "nnx")], fast_policy)
    assert [r["status"] for r in records] == ["ok"] * 3
    assert all(r["compile"]["events"]["backend_compile_s"] > 0 for r in records)
    assert [r["compile"]["reprime_compiles"] for r in records] == [0, 0, 0]
    assert [r["compile"]["reprime_kept"] for r in records] == [1, 1, 0]
    assert [r["compile"]["recompiles"] for r in records] == [0, 0, 0]


def test_not_jitted_is_refused():
    with pytest.raises(TypeError, match="jitted"):
        nnbench.measure(lambda x: x, 1.0)


def test_runtime_memory_recorded_beside_compiled(fast_policy):
    f = jax.jit(lambda x: jnp.tile(x, (64, 1)))
    rec = nnbench.measure(f, jnp.ones((1024, 256)), policy=fast_policy)
    mem = rec["memory"]
    assert mem["runtime_source"] == "rss_peak"  # CPU: no memory_stats; the VmHWM mark, reset per case
    assert mem["predicted_bytes"] == mem["compiled_output_bytes"] + mem["compiled_temp_bytes"] == 64 * 1024 * 256 * 4
    assert mem["runtime_bytes"] >= 0 and "prediction_error" in mem


def test_runtime_peak_is_per_case_and_sees_temporaries(fast_policy):
    # A 64 MiB intermediate (the tiled tanh feeding the matmul) freed before
    # the call returns: the RSS after the call does not show it, the peak mark
    # does (XLA's CPU memory analysis does not count it either). Then a small
    # case in the same process: its peak is its own, not the big one's.
    big = jax.jit(lambda x, w: jnp.sum(jnp.tanh(jnp.tile(x, (64, 1))) @ w, axis=0))
    small = jax.jit(lambda x, w: x[:8] @ w)
    x, w = jax.random.normal(jax.random.key(0), (1024, 256)), jnp.ones((256, 8))
    mem_big = nnbench.measure(big, x, w, policy=fast_policy)["memory"]
    mem_small = nnbench.measure(small, x, w, policy=fast_policy)["memory"]
    assert mem_big["runtime_bytes"] >= 32 * 2**20 > mem_big["first_call_rss_growth_bytes"]
    assert mem_big["case_peak_rss_growth_bytes"] >= 32 * 2**20
    assert mem_small["case_peak_rss_growth_bytes"] < 16 * 2**20
    assert mem_small["process_peak_rss_bytes"] >= mem_big["runtime_bytes"]  # the process peak survives the resets


def test_runtime_memory_from_device_stats():
    # The GPU/TPU path, with memory_stats as the backend reports them.
    compiled = {"output_bytes": 800, "temp_bytes": 200}
    m = _measure.runtime_memory(
        0,
        0,
        {"bytes_in_use": 1000, "peak_bytes_in_use": 1500},
        {"bytes_in_use": 1800, "peak_bytes_in_use": 2250},
        compiled,
    )
    assert m["runtime_source"] == "memory_stats" and m["runtime_bytes"] == 1250
    assert m["prediction_error"] == pytest.approx((1000 - 1250) / 1250)
    # The peak did not move: an earlier case set it, no per-case figure.
    m = _measure.runtime_memory(
        0, 0, {"bytes_in_use": 0, "peak_bytes_in_use": 9000}, {"bytes_in_use": 10, "peak_bytes_in_use": 9000}, compiled
    )
    assert m["runtime_bytes"] is None and m["prediction_error"] is None


def test_peak_table():
    from nnbench.measure.flops import peak_flops

    assert peak_flops("NVIDIA H100 80GB HBM3", "bfloat16") == 989.4e12
    assert peak_flops("NVIDIA H100 PCIe", "bfloat16") == 756e12
    assert peak_flops("TPU v5 lite", "bfloat16") == 197e12 and peak_flops("TPU v5", "bfloat16") == 459e12
    assert peak_flops("TPU v4", "float32") is None and peak_flops("cpu", "float32") is None
