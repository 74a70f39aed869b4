"""Work figures against XLA's own count: the catalog's analytic model FLOPs,
loop iterations in XLA's cost analysis, utilisation of a sharded case, and
the peak table's device kinds."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import nnbench
from nnbench import layers
from nnbench.layers import styles as _styles
from nnbench.measure import flops as _flops
from nnbench.measure import stages as _compile
from nnbench.report import scaling as _scaling_report
from nnbench.results.case import Case
from nnbench.run import scaling as _scaling
from nnbench.run.worker import run_group

BAND = 0.10  # analytic vs XLA, the bar


def _ratios() -> dict[tuple[str, str, str], float]:
    """(XLA − optimizer update) ÷ analytic for every entry × tiny/small ×
    forward/train; NaN where the analytic count is 0."""
    out = {}
    for name, entry in layers.all_entries().items():
        for size in ("tiny", "small"):
            if size not in entry.sizes:
                continue
            for mode in ("forward", "train"):
                analytic = entry.flops(entry.config(size), mode)
                ref = _flops.xla_reference(entry, size, mode)
                assert not ref["lower_bound"]
                out[name, size, mode] = ref["model_xla"] / analytic if analytic else float("nan")
    return out


@pytest.mark.slow
def test_analytic_flops_match_xla_for_the_whole_catalog():
    """Every entry's model FLOPs are within ±10 % of XLA's count of the same
    raw-JAX step (the program as JAX lowered it, every scan iteration
    counted, the AdamW update's own count subtracted), or the entry says why
    not; a note on an entry that agrees everywhere is stale."""
    ratios = _ratios()
    off = {k: r for k, r in ratios.items() if not abs(r - 1) <= BAND}
    unexplained = {k: r for k, r in off.items() if not layers.get(k[0]).flops_note}
    assert not unexplained, f"analytic/XLA outside ±{BAND:.0%}: {unexplained}"
    noted = {name for name, e in layers.all_entries().items() if e.flops_note}
    assert noted == {k[0] for k in off}, "a flops_note on an entry that agrees with XLA everywhere"


def test_noted_departures_are_what_the_notes_say():
    """Embedding forward: XLA's whole count is the lookup's index wrap-around
    (the same count as that integer arithmetic alone). Dropout train: the
    analytic count is XLA's once the mask draw's own count is taken out."""
    emb = layers.get("embedding")
    for size in ("tiny", "small"):
        c = emb.config(size)
        tokens = jax.ShapeDtypeStruct((c["batch"], c["seq"]), jnp.int32)
        wrap = (
            jax.jit(lambda x, v=c["vocab"]: jnp.where(x < 0, x + v, x)).trace(tokens).lower().cost_analysis()["flops"]
        )
        assert _flops.xla_reference(emb, size, "forward")["model_xla"] == wrap > 0
    drop = layers.get("dropout")
    c = drop.config("tiny")
    shape = (c["batch"], c["d_out"])
    draw = (
        jax.jit(lambda k: jax.random.bernoulli(k, 1 - c["rate"], shape))
        .trace(jax.random.key(0))
        .lower()
        .cost_analysis()["flops"]
    )
    ref = _flops.xla_reference(drop, "tiny", "train")
    assert ref["model_xla"] - draw == pytest.approx(drop.flops(c, "train"), rel=BAND)


# --- every loop iteration counted ---


def _matmul_chain(length: int, unroll: int = 1, inner: int | None = None):
    """``length`` steps of ``tanh(h @ h)`` (8×8; tanh is no FLOP, it keeps the
    values finite), optionally each an inner scan of ``inner`` steps."""

    def step(h, _):
        if inner is None:
            return jnp.tanh(h @ h), None
        return jax.lax.scan(lambda g, _: (jnp.tanh(g @ g), None), h, length=inner)[0], None

    return jax.jit(lambda h: jax.lax.scan(step, h, length=length, unroll=unroll)[0])


@pytest.mark.parametrize(("length", "unroll", "inner"), [(6, 1, None), (5, 2, None), (4, 4, None), (4, 1, 3)])
def test_scan_cost_counts_every_iteration(length, unroll, inner):
    """A chain of 8×8 matmuls costs ``2·8³`` per matmul, by hand: XLA's count
    with loops corrected holds every one (a while body of ``unroll`` copies
    plus a remainder, fully unrolled, or nested), whether compiled or only
    lowered; XLA's own figure holds the body once."""
    f = _matmul_chain(length, unroll, inner)
    x = jnp.ones((8, 8))
    want = 2 * 8**3 * length * (inner or 1)
    traced = f.trace(x)
    lowered = traced.lower()
    compiled = lowered.compile()
    for analysis, compile in ((compiled.cost_analysis(), True), (lowered.cost_analysis(), False)):
        cost = _compile.program_cost(traced.jaxpr, analysis, compile=compile)
        assert cost["flops"] == pytest.approx(want, rel=0.01)
        assert cost["loops"]["scans"] == (1 if inner is None else 2) and not cost["lower_bound"]
    if unroll == 1:
        assert cost["flops_loop_bodies_once"] < want / 2


def test_while_without_a_trip_count_is_a_lower_bound():
    f = jax.jit(lambda h, n: jax.lax.fori_loop(0, n, lambda i, g: g @ g, h))
    traced = f.trace(jnp.ones((8, 8)), 5)
    cost = _compile.program_cost(traced.jaxpr, traced.lower().compile().cost_analysis())
    assert cost["lower_bound"] and cost["loops"]["unbounded"] == 1


def _nnx_lowered(name: str, size: str, mode: str) -> float:
    """XLA's count (every iteration, as lowered) of the NNX style's step,
    traced on an abstract module (``nnx.eval_shape``: no weights made); the
    NNX jit modes all trace this same module call."""
    entry = layers.get(name)
    config, impl = entry.config(size), entry.impls["nnx"]
    batch = jax.eval_shape(lambda: entry.make_batch(config, jax.random.key(0), jnp.float32))
    if mode == "forward":
        traced = nnx.jit(_styles._nnx_forward).trace(
            nnx.eval_shape(lambda: impl.model(config, jnp.float32, nnx.Rngs(0))), batch["x"]
        )
    else:

        def objects():
            model = impl.model(config, jnp.float32, nnx.Rngs(0))
            model.train()
            return model, nnx.Optimizer(model, optax.adamw(_styles.LEARNING_RATE), wrt=nnx.Param)

        traced = nnx.jit(functools.partial(_styles._nnx_train, loss=entry.loss)).trace(*nnx.eval_shape(objects), batch)
    return _compile.program_cost(_compile.jaxpr_of(traced), traced.lower().cost_analysis(), compile=False)["flops"]


def _lowered(family: str, name: str, size: str, mode: str) -> float:
    if family == "nnx":
        return _nnx_lowered(name, size, mode)
    return _flops.xla_reference(layers.get(name), size, mode, family)["xla"]


@pytest.mark.parametrize("family", ["jax", "linen", "nnx", "haiku"])
def test_scanned_and_unrolled_programs_count_alike_in_every_family(family):
    """Each family's scan (``lax.scan``, ``nn.scan``, ``nnx.scan``,
    ``hk.layer_stack``; LSTMs: ``lax.scan``, ``nn.RNN``, ``nnx.scan``,
    ``hk.dynamic_unroll``) counted as JAX lowered it: the scanned
    transformer counts what its unrolled twin does (the same math, within
    1 %), forward and train; the MLP's forward too, its train step by
    exactly the one matmul a scan body cannot skip (the first block's input
    gradient, ``2·B·W²``, which the unrolled program never forms); an LSTM
    over 64 steps counts its model FLOPs (the optimizer update, a few
    tenths of a per cent, left in)."""
    for mode in ("forward", "train"):
        unrolled = _lowered(family, "transformer_lm", "d2", mode)
        assert _lowered(family, "transformer_lm", "d2_scan", mode) == pytest.approx(unrolled, rel=0.01), mode
    assert _lowered(family, "mlp", "d4_scan", "forward") == pytest.approx(
        _lowered(family, "mlp", "d4", "forward"), rel=0.01
    )
    c = layers.get("mlp").config("d4")
    unrolled = _lowered(family, "mlp", "d4", "train")
    assert _lowered(family, "mlp", "d4_scan", "train") - unrolled == pytest.approx(
        2 * c["batch"] * c["widths"][1] ** 2, abs=1e-3 * unrolled
    )
    lstm = layers.get("lstm")
    for mode in ("forward", "train"):
        assert _lowered(family, "lstm", "small", mode) == pytest.approx(
            lstm.flops(lstm.config("small"), mode), rel=BAND
        ), mode


def test_compiled_programs_count_every_iteration():
    """What a record's ``xla_flops`` holds (``compile_stages``: the compiled
    program, loop bodies compiled on their own): the LSTM over 64 steps ≈
    its model FLOPs, XLA's own body-once figure under a tenth of it; a
    scanned transformer's count within 5 % of its unrolled twin's (fusion
    recomputes a little differently in the two)."""
    lstm = layers.get("lstm")
    _, _, cost, _ = _compile.compile_stages(*_flops._step_and_args(lstm, "jax", "small", "forward"))
    assert cost["flops"] == pytest.approx(lstm.flops(lstm.config("small"), "forward"), rel=BAND)
    assert cost["flops_loop_bodies_once"] < cost["flops"] / 10 and cost["loops"]["scans"] == 1
    assert cost["bytes_accessed"] > cost["bytes_accessed_loop_bodies_once"]
    lm = layers.get("transformer_lm")
    unrolled, scanned = (
        _compile.compile_stages(*_flops._step_and_args(lm, "jax", size, "forward"))[2]["flops"]
        for size in ("d4", "d4_scan")
    )
    assert scanned == pytest.approx(unrolled, rel=0.05)


@pytest.mark.parametrize("shard_map", [False, True])
def test_loops_of_a_partitioned_program_count_one_device_share(shard_map):
    """Six steps of ``tanh(h @ w)`` over a batch of 16 rows split across 2
    devices: XLA counts one device's program, so every iteration of its
    8 rows, ``6·2·8·8·8`` by hand, whether the loop body was traced with
    global shapes (jit over sharded arrays) or per-device ones (``shard_map``)."""
    mesh = jax.sharding.Mesh(np.array(jax.devices()[:2]), ("data",))
    x = jax.device_put(jnp.ones((16, 8)), jax.NamedSharding(mesh, jax.P("data")))
    w = jax.device_put(jnp.eye(8), jax.NamedSharding(mesh, jax.P()))

    def chain(x, w):
        return jax.lax.scan(lambda h, _: (jnp.tanh(h @ w), None), x, length=6)[0]

    if shard_map:
        chain = jax.shard_map(chain, mesh=mesh, in_specs=(jax.P("data"), jax.P()), out_specs=jax.P("data"))
    _, _, cost, _ = _compile.compile_stages(jax.jit(chain), (x, w))
    assert cost["devices"] == 2 and cost["loops"]["scans"] == 1
    assert cost["flops"] == pytest.approx(6 * 2 * 8 * 8 * 8, rel=0.01)


def test_record_holds_every_iteration_and_the_body_once_figure(fast_policy):
    """``nnbench.measure`` of a 6-step scan of 8×8 matmuls: ``work.xla_flops``
    is all six (``6·2·8³``, by hand), ``xla_flops_loop_bodies_once`` XLA's
    own figure (one), the loop flagged as counted."""
    work = nnbench.measure(_matmul_chain(6), jnp.ones((8, 8)), policy=fast_policy)["work"]
    assert work["xla_flops"] == pytest.approx(6 * 2 * 8**3, rel=0.01)
    assert work["xla_flops_loop_bodies_once"] == pytest.approx(2 * 8**3, rel=0.05)
    assert work["xla_loops"] == {"scans": 1, "unbounded": 0, "uncounted": 0} and work["xla_lower_bound"] is False
    assert work["devices"] == 1


# --- utilisation of a sharded case ---


@pytest.fixture(scope="module")
def dp_records(fast_policy):
    """mlp/tiny train on 1 and 2 devices (dp), measured in-process with a
    made-up peak for the CPU (product behaviour on CPU is no peak: n/a)."""
    kind = jax.devices()[0].device_kind
    assert _flops.peak_flops(kind, "float32") is None
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(_flops.PEAKS, kind, {"float32": 1e11})
        records = run_group(
            [Case("mlp", "jax", "train", "tiny", devices=n, strategy="dp") for n in (1, 2)], fast_policy
        )
    _scaling.annotate(records)
    assert all(r["status"] == "ok" for r in records), [r.get("error") for r in records]
    return records


def test_xla_counts_one_device_share_of_a_partitioned_program(dp_records):
    """XLA's count of the 2-device program is one device's: half the
    1-device step's work, plus what every device repeats (the replicated
    AdamW update) and the gradient all-reduce (one add per parameter)."""
    one, two = (r["work"] for r in dp_records)
    entry = layers.get("mlp")
    params = jax.eval_shape(lambda: layers.build(entry, "jax", "tiny", "train").args[0]["params"])
    n_params = sum(int(np.prod(p.shape)) for p in jax.tree.leaves(params))
    update = _flops.update_flops(
        params,
        jax.eval_shape(optax.adamw(_styles.LEARNING_RATE).init, params),
        optax.adamw(_styles.LEARNING_RATE),
        compile=True,
    )
    assert two["devices"] == 2 and one["devices"] == 1
    assert two["xla_flops"] == pytest.approx((one["xla_flops"] - update) / 2 + update + n_params, rel=0.02)


def test_mfu_and_hfu_of_a_sharded_case_are_against_all_its_devices(dp_records):
    """The same global step on 2 devices: MFU relative to the 1-device
    record is the scaling efficiency (T1 / (2·T2)), not T1/T2 (one device's
    peak); HFU divides the devices' summed XLA count by the same combined
    peak; the scaling table shows both, and FLOP/s in total and per device."""
    one, two = dp_records
    w1, w2 = one["work"], two["work"]
    assert w1["model_flops"] == w2["model_flops"]  # strong scaling: the same step
    assert w2["mfu"] / w1["mfu"] == pytest.approx(two["scaling"]["efficiency"], rel=1e-9)
    assert w2["peak_flops_per_s_total"] == 2 * w2["peak_flops_per_s"] == 2e11
    assert w2["hfu"] == pytest.approx(2 * w2["xla_flops"] / two["time"]["median"] / 2e11, rel=1e-9)
    assert w2["achieved_flops_per_s_per_device"] == pytest.approx(w2["achieved_flops_per_s"] / 2)
    rows = {r["devices"]: r for r in _scaling_report.rows(dp_records)}
    assert rows["2"]["MFU"] == f"{100 * w2['mfu']:.1f} %" and rows["2"]["HFU"] == f"{100 * w2['hfu']:.1f} %"
    assert rows["2"]["FLOP/s/device"] != rows["2"]["model FLOP/s"]


# --- peaks by exact device kind ---


def test_peaks_by_exact_device_kind():
    """Exact ``device_kind`` strings JAX reports give the vendor's dense
    figures; look-alikes that are not those strings give None."""
    bf16 = {
        "NVIDIA H100 80GB HBM3": 989.4e12,  # H100 SXM5
        "NVIDIA H100 PCIe": 756e12,
        "NVIDIA H200": 989.5e12,  # SXM
        "NVIDIA H200 NVL": 835.5e12,
        "NVIDIA B200": 2.25e15,
        "NVIDIA GB200": 2.5e15,
        "NVIDIA A100-SXM4-80GB": 312e12,
        "TPU v4": 275e12,
        "TPU v5 lite": 197e12,
        "TPU v5": 459e12,
        "TPU v6 lite": 918e12,
    }
    for kind, peak in bf16.items():
        assert _flops.peak_flops(kind, "bfloat16") == peak, kind
    assert _flops.peak_flops("NVIDIA B200", "float32") == 75e12  # HGX B200's, not GB200's 80
    assert _flops.peak_flops("NVIDIA GB200", "float32") == 80e12
    for kind in (
        "NVIDIA H100",
        "nvidia h200",
        "NVIDIA H200 SXM",
        "H200",
        "NVIDIA GB300",
        "TPU v4 lite",
        "TPU v5 litepod",
        "TPU v6",
        "TPU7x",
        "cpu",
        "Tesla V100-SXM2-16GB",
    ):
        assert _flops.peak_flops(kind, "bfloat16") is None, kind
    assert _flops.peak_flops("TPU v5 lite", "float32") is None  # TPUs: no float32 peak
