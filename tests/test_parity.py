"""Every style computes the same math: outputs, loss and gradients match raw
JAX from the same weights, and the gate catches a perturbed weight."""

import jax
import pytest

from nnbench import layers

ENTRIES = layers.names()


# Known gaps, tracked here so they cannot silently close or widen: a strict
# xfail fails the suite once the gap is fixed, and the runner marks such a
# case ``invalid`` (never timed) until then.
# (layer, dtype) -> reason: a parity gap under investigation, run as a strict xfail.
KNOWN_GAPS: dict[tuple[str, str], str] = {}


def _pairs():
    for name in ENTRIES:
        for dtype in ("float32", "bfloat16"):
            reason = KNOWN_GAPS.get((name, dtype))
            marks = [pytest.mark.xfail(strict=True, raises=layers.ParityError, reason=reason)] if reason else []
            yield pytest.param(name, dtype, marks=marks, id=f"{name}-{dtype}")


@pytest.mark.parametrize("name, dtype", list(_pairs()))
def test_all_styles_match_jax(name, dtype):
    entry = layers.get(name)
    report = layers.check_parity(entry, "tiny", dtype)
    assert set(report) == set(layers.STYLES)
    limit = sum(entry.tolerance[dtype])
    for style, errs in report.items():
        assert errs["ok"], errs["message"]
        for what in ("forward", "grad", "loss"):
            assert errs[what] is not None and errs[what] <= limit, (style, what, errs)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize("name", ENTRIES)
def test_gate_catches_a_5_percent_weight_change(name, dtype):
    """The gate's resolution in every dtype it gates: the largest weight
    tensor scaled by 5 % is caught for every library (bfloat16 through its
    float32 gate: its own tolerance of a few per cent would let it pass)."""
    entry = layers.get(name)
    config = entry.config("tiny")
    k_data, k_init = jax.random.split(jax.random.key(0))
    batch = layers.styles.batch_for(entry, config, dtype, k_data)
    weights = layers.styles.canonical_weights(entry, config, dtype, k_init, batch["x"])
    leaves, treedef = jax.tree_util.tree_flatten(weights)
    if not leaves:
        pytest.skip(f"{name} has no weights to perturb")
    # The largest non-zero weight tensor (zeros, e.g. a fresh running mean, would not change).
    big = max(range(len(leaves)), key=lambda i: (bool((leaves[i] != 0).any()), leaves[i].size))
    leaves[big] = leaves[big] * 1.05
    perturbed = jax.tree_util.tree_unflatten(treedef, leaves)
    # One library per entry, taking turns over the catalog (the gate's rule is
    # the same for each; test_all_styles_match_jax passes the clean weights).
    style = ("linen", "haiku", "nnx")[ENTRIES.index(name) % 3]
    report = layers.parity_report(entry, "tiny", dtype, styles=(style,), canonical=perturbed)
    assert not report[style]["ok"], report[style]


def test_step_gate_catches_a_jit_mode_that_steps_other_weights(fast_policy, monkeypatch):
    """The parity views run each library's module once; the timed step of a
    jit mode is gated on its own: an ``nnx_partial`` step bound to a module
    whose weights are 5 % off is invalid, every other style is timed."""
    from flax import nnx

    from nnbench.results.case import Case
    from nnbench.run.worker import run_group

    real = layers.styles._nnx_built

    def skewed(style, fn, objects, data):
        if style == "nnx_partial":
            params = nnx.state(objects[0], nnx.Param)
            nnx.update(objects[0], jax.tree.map(lambda a: a * 1.05, params))
        return real(style, fn, objects, data)

    monkeypatch.setattr(layers.styles, "_nnx_built", skewed)
    for mode in ("forward", "train"):
        records = run_group([Case("mlp", s, mode, "tiny") for s in ("jax", "nnx", "nnx_partial")], fast_policy)
        by = {r["case"]["style"]: r for r in records}
        assert by["nnx_partial"]["status"] == "invalid" and "timed step" in by["nnx_partial"]["error"], by[
            "nnx_partial"
        ]["error"]
        assert (
            by["nnx"]["status"] == "ok"
            and by["nnx"]["parity"]["step"]["ok"]
            and by["nnx"]["parity"]["step"]["err"] <= 1e-6
        )
        assert by["jax"]["parity"]["step"]["err"] == 0.0


def test_step_gate_without_a_jax_case_builds_its_reference(fast_policy):
    from nnbench.results.case import Case
    from nnbench.run.worker import run_group

    (record,) = run_group([Case("mlp", "nnx_cached", "train", "tiny")], fast_policy)
    step = record["parity"]["step"]
    assert record["status"] == "ok" and step["ok"] and step["calls"] >= 2 and step["err"] <= step["limit"]
    assert not layers.parity._VIEWS, "the gate's views outlived it into the group's timing"


def test_weights_round_trip_through_every_style():
    """Converting canonical -> native -> canonical is the identity."""
    entry = layers.get("mlp")
    config = entry.config("tiny")
    x = layers.styles.batch_for(entry, config, "float32", jax.random.key(1))["x"]
    canonical = layers.styles.canonical_weights(entry, config, "float32", jax.random.key(2), x)
    for family in ("linen", "haiku"):
        fm = entry.impls[family].model(config, jax.numpy.float32)
        back = fm.to_canonical(fm.from_canonical(canonical))
        assert jax.tree_util.tree_all(jax.tree.map(lambda a, b: bool((a == b).all()), canonical, back))
    impl = entry.impls["nnx"]
    back = impl.to_canonical(impl.from_canonical(canonical))
    assert jax.tree_util.tree_all(jax.tree.map(lambda a, b: bool((a == b).all()), canonical, back))


def test_a_report_of_other_weights_compiles_no_view_again():
    """Each family's views are compiled once per process and serve any
    weights of the entry's shapes: a perturbed report (the gate test above)
    and a bfloat16 report's float32 gate compile no view twice, and what
    they compute is the perturbed weights' (the gate still fires)."""
    from nnbench.layers import parity

    entry = layers.get("mlp")
    parity.forget_views()
    compiles = []

    def on_duration(event, duration, **_):
        if event == "/jax/core/compile/backend_compile_duration":
            compiles.append(duration)

    jax.monitoring.register_event_duration_secs_listener(on_duration)
    try:
        layers.parity_report(entry, "tiny", "float32", styles=("linen",), seed=7)
        first = len(compiles)
        config = entry.config("tiny")
        k_data, k_init = jax.random.split(jax.random.key(7))
        batch = layers.styles.batch_for(entry, config, "float32", k_data)
        weights = layers.styles.canonical_weights(entry, config, "float32", k_init, batch["x"])
        off = jax.tree.map(lambda a: a * 1.05, weights)
        jax.block_until_ready(off)
        before = len(compiles)
        report = layers.parity_report(entry, "tiny", "float32", styles=("linen",), seed=7, canonical=off)
    finally:
        jax.monitoring.unregister_event_duration_listener(on_duration)
    assert first >= 4  # the forward and gradient views of jax and linen, at least
    assert len(compiles) == before, f"{len(compiles) - before} compiles for views already compiled"
    assert not report["linen"]["ok"]
    parity.forget_views()
