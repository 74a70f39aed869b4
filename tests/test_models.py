"""The models (Transformer LM, ViT, LSTM LM, ResNet): weight layouts round-trip,
scanned stacks compute what unrolled ones do, BatchNorm statistics update
alike in every family, model FLOPs against XLA's count, and the compile
suite's selection."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from nnbench import layers
from nnbench.layers import styles as _styles
from nnbench.layers.transformer_lm import _jax as tlm_jax
from nnbench.measure import flops as _flops
from nnbench.run import cases as _cases

MODELS = ("transformer_lm", "vit", "lstm_lm", "resnet")


def _canonical(name, size, seed=0):
    entry = layers.get(name)
    config = entry.config(size)
    batch = _styles.batch_for(entry, config, "float32", jax.random.key(seed))
    return (
        entry,
        config,
        batch,
        _styles.canonical_weights(entry, config, "float32", jax.random.key(seed + 1), batch["x"]),
    )


def _same(a, b):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.mark.parametrize(
    ("name", "size"),
    [(m, "tiny") for m in MODELS] + [("transformer_lm", "tiny_scan"), ("transformer_lm", "tiny_untied")],
)
def test_weights_round_trip(name, size):
    """canonical -> native -> canonical is the identity in every family."""
    entry, config, _, canonical = _canonical(name, size)
    for family in ("linen", "haiku"):
        fm = entry.impls[family].model(config, jnp.float32)
        _same(canonical, fm.to_canonical(fm.from_canonical(canonical)))
    impl = entry.impls["nnx"]
    _same(canonical, impl.to_canonical(impl.from_canonical(canonical)))


def test_scanned_transformer_matches_unrolled():
    """The same weights, stacked, give the same logits through lax.scan."""
    entry, config, batch, canonical = _canonical("transformer_lm", "d4")
    scan_config = entry.config("d4_scan")
    stacked = {"params": tlm_jax.stack_blocks(canonical["params"], 4)}
    assert stacked["params"]["blocks"]["mlp"]["fc1"]["w"].shape == (4, 16, 64)
    want = jax.jit(_styles.forward_fn(entry, "jax", config, "float32"))(canonical, batch["x"])
    got = jax.jit(_styles.forward_fn(entry, "jax", scan_config, "float32"))(stacked, batch["x"])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    _same(canonical["params"], tlm_jax.unstack_blocks(stacked["params"], 4))


@pytest.mark.slow
def test_scanned_transformer_parity_in_every_style():
    report = layers.check_parity(layers.get("transformer_lm"), "tiny_scan", "float32")
    assert all(r["ok"] for r in report.values())


def test_batchnorm_running_stats_update_alike():
    """One train-mode forward updates the running statistics the same way in
    every family (Haiku's zero-debiased EMA included)."""
    entry, config, batch, canonical = _canonical("resnet", "tiny")
    want = None
    for family in ("jax", "linen", "haiku"):
        fm = entry.impls[family].model(config, jnp.float32)
        _, updates = jax.jit(lambda v, x, fm=fm: fm.apply(v, x, train=True, rng=None))(
            fm.from_canonical(canonical), batch["x"]
        )
        native = {**fm.from_canonical(canonical), **updates}
        stats = fm.to_canonical(native)["batch_stats"]
        if want is None:
            want = stats
            assert not np.allclose(stats["stem"]["bn"]["mean"], canonical["batch_stats"]["stem"]["bn"]["mean"])
        else:
            jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), stats, want)
    model = _styles._nnx_module(entry, config, "float32", canonical, jax.random.key(0))
    model.train()
    nnx.jit(lambda m, x: m(x))(model, batch["x"])
    stats = entry.impls["nnx"].to_canonical(nnx.to_pure_dict(nnx.state(model)))["batch_stats"]
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), stats, want)


@pytest.mark.parametrize(
    ("name", "size"),
    [(m, "tiny") for m in MODELS] + [("transformer_lm", "tiny_untied"), ("transformer_lm", "tiny_scan")],
)
def test_model_flops_against_xla(name, size):
    """Each model's analytic FLOPs (derived block by block) within 2.5 % of
    XLA's count of the same raw-JAX step as JAX lowered it (scans counted
    every iteration, the AdamW update's own count subtracted), forward and
    train: train is forward + loss + the backward pass, whose ratio to the
    forward follows from each model's structure (about 3 here, where every
    layer's input gradient is formed), not an assumed 3 ×."""
    entry = layers.get(name)
    for mode in ("forward", "train"):
        ref = _flops.xla_reference(entry, size, mode)
        assert entry.flops(entry.config(size), mode) == pytest.approx(ref["model_xla"], rel=0.025), mode


def test_lm_items_are_tokens():
    lm = layers.get("transformer_lm")
    assert lm.items(lm.config("tiny")) == 8 * 8  # batch 8 × sequence 8


def test_compile_suite_sweeps_depth_scan_and_style():
    cases = _cases.select("compile")
    sizes = {c.size for c in cases if c.layer == "transformer_lm"}
    assert sizes == {f"d{n}{v}" for n in (1, 2, 4, 8, 16, 32) for v in ("", "_scan")}
    assert {c.style for c in cases} == set(layers.STYLES)
    assert _cases.SUITES["compile"].budget_s == 0.05
    for c in cases:
        config = layers.get(c.layer).config(c.size)
        # Transformer: ``depth`` blocks; MLP: input layer, depth hidden blocks, output layer.
        blocks = config["depth"] if "depth" in config else len(config["widths"]) - 2
        assert blocks == int(c.size[1:].split("_")[0])
    # Existing suites keep their identity: tiny only in ci.
    assert {c.size for c in _cases.select("ci")} == {"tiny"}
