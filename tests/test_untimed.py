"""Untimed programs (reference weights, batches, NNX construction) compile
cheaply without changing a value: each is held to what the default route
computes — a default-optimisation compile, eager ``make_batch``, an eagerly
constructed NNX module."""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pytest
from flax import nnx

from nnbench import layers
from nnbench.layers import styles, untimed
from nnbench.measure import stages


def _bits(tree) -> list[bytes]:
    out = []
    for leaf in jax.tree_util.tree_leaves(tree):
        if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            leaf = jax.random.key_data(leaf)
        out.append(np.asarray(leaf).reshape(-1).view(np.uint8).tobytes() + str(np.shape(leaf)).encode())
    return out


def _keys():
    return jax.random.split(jax.random.key(0), 3)


@pytest.mark.parametrize(("layer", "dtype"), [("conv2d", "float32"), ("mlp", "bfloat16")])
def test_build_options_give_the_default_compiles_weights_bit_for_bit(layer, dtype):
    # The reference: the same initialiser at XLA:CPU's defaults, named
    # explicitly (the test session's XLA_FLAGS compile at -O0). At -O0 the
    # conv2d weights differ in 9 of 296 values: the test can fail.
    entry = layers.get(layer)
    config = entry.config("tiny")
    k_data, k_init, _ = _keys()
    x = styles.batch_for(entry, config, dtype, k_data)["x"]
    init = entry.impls["jax"].model(config, styles._dtype(dtype)).init
    default = {"xla_backend_optimization_level": 3, "xla_cpu_use_fusion_emitters": True}
    want = untimed.compile_with(jax.jit(init).lower(k_init, x), default)(k_init, x)
    got = untimed.Once(init, untimed.build_options(None))(k_init, x)
    assert _bits(got) == _bits(want)


def test_build_options_keep_a_lower_level_the_flags_ask_for():
    assert untimed.build_options(None)["xla_backend_optimization_level"] == untimed.BUILD_LEVEL == 1
    assert untimed.build_options("--xla_backend_optimization_level=0 --x=1")["xla_backend_optimization_level"] == 0
    assert untimed.build_options("--xla_backend_optimization_level=3")["xla_backend_optimization_level"] == 1


@pytest.mark.parametrize("name", layers.names())
def test_compiled_batches_equal_eager_make_batch(name):
    entry = layers.get(name)
    config = entry.config("tiny")
    key = _keys()[0]
    assert _bits(styles.batch_for(entry, config, "float32", key)) == _bits(
        entry.make_batch(config, key, styles._dtype("float32"))
    )


@pytest.mark.parametrize("name", ["dropout", "batchnorm"])
def test_nnx_template_equals_an_eagerly_built_module(name):
    # dropout: the module holds an Rngs stream; batchnorm: batch statistics.
    entry = layers.get(name)
    config = entry.config("tiny")
    k_data, k_init, k_rng = _keys()
    x = styles.batch_for(entry, config, "float32", k_data)["x"]
    canonical = styles.canonical_weights(entry, config, "float32", k_init, x)
    eager = styles._nnx_module(entry, config, "float32", canonical, k_rng)
    built = styles._nnx_built_module(entry, config, "float32", 0, k_init, k_rng, x)
    assert jax.tree_util.tree_structure(nnx.state(built)) == jax.tree_util.tree_structure(nnx.state(eager))
    assert _bits(nnx.state(built)) == _bits(nnx.state(eager))


def test_once_survives_cache_clears_and_inlines_under_a_trace():
    once = untimed.Once(lambda a: (a * 2.0).sum(), untimed.BUILD_OPTIONS)
    a = np.arange(6, dtype=np.float32)
    assert float(once(a)) == 30.0
    counter = stages.compile_counter()
    jax.clear_caches()
    before = counter.count
    assert float(once(a)) == 30.0
    assert counter.count == before  # the kept executable answered
    assert jax.eval_shape(once, a).shape == ()  # traced, not the compiled signature
    assert float(once(np.ones((2, 3), np.float32))) == 12.0  # another signature: compiled for it
    assert float(once(a)) == 30.0 and counter.count == before + 1


def test_an_untraceable_make_batch_runs_eagerly():
    entry = layers.get("mlp")
    calls = []

    def make_batch(config, key, dtype):
        calls.append(1)
        n = int(np.asarray(jax.random.randint(key, (), 1, 4)))  # needs a concrete value
        return {"x": np.ones((n, config["widths"][0]), np.float32), "y": np.zeros((n, 1), np.float32)}

    odd = dataclasses.replace(entry, name="odd_batch", make_batch=make_batch)
    config = odd.config("tiny")
    first = styles.batch_for(odd, config, "float32", _keys()[0])
    again = styles.batch_for(odd, config, "float32", _keys()[0])
    assert first["x"].shape == again["x"].shape and first["x"].shape[0] in (1, 2, 3)
    assert len(calls) == 3  # the failed trace, then two eager calls
