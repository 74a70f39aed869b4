"""pytest plugin: the ``jax_benchmark`` fixture, pytest-benchmark for JAX steps.

Registered by entry point (``pytest11``), so installing nnbench makes the
fixture available to every test session; loading it imports nothing but
pytest (JAX is imported when the fixture is first used). Without the entry
point (e.g. a checkout on ``PYTHONPATH``), pass ``-p nnbench.integrations.pytest_plugin``
or import the fixture in a ``conftest.py``:
``from nnbench.integrations.pytest_plugin import jax_benchmark``.

What it adds on top of pytest-benchmark's ``benchmark``:

- compile is excluded from the timed rounds and recorded: the step is traced,
  lowered and compiled cold (JAX caches cleared) and called once before
  pytest-benchmark starts;
- every timed call blocks on the step's whole output pytree, and donated
  state is threaded from call to call (``carry``);
- with ``setup=``, fresh arguments are made before each round, blocked on,
  and not timed (``benchmark.pedantic(setup=...)``);
- ``benchmark.extra_info`` gets the metrics ``nnbench.results.metrics``
  declares for ``PYTEST``, under their flat ``key``: trace/lower/compile
  seconds, jaxpr and optimized-HLO sizes, XLA FLOPs and bytes accessed,
  compiled memory bytes, recompiles seen while timing (the test fails if
  there are any) and MFU from pytest-benchmark's median (None where the
  device's peak FLOP/s is unknown, as on CPU). These land in
  ``--benchmark-json`` and ``--benchmark-autosave`` files.

Example (a user's test file)::

    import jax, jax.numpy as jnp

    def test_matmul(jax_benchmark):
        step = jax.jit(lambda w, x: jnp.tanh(x @ w))
        out = jax_benchmark(step, jnp.ones((256, 256)), jnp.ones((64, 256)),
                            model_flops=2 * 64 * 256 * 256)
        assert out.shape == (64, 256)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


class JaxBenchmark:
    """Callable handed to tests by the ``jax_benchmark`` fixture."""

    def __init__(self, benchmark: Any):
        self.benchmark = benchmark

    def __call__(
        self,
        step: Callable[..., Any],
        *args: Any,
        carry: Callable[[tuple[Any, ...], Any], tuple[Any, ...]] | None = None,
        setup: Callable[[], tuple[Any, ...]] | None = None,
        rounds: int | None = None,
        warmup_rounds: int = 0,
        model_flops: float | None = None,
        items_per_step: int | None = None,
        dtype: str = "float32",
    ) -> Any:
        """Benchmark one jitted step; returns the last call's output.

        Args:
          step: a jitted callable with JAX's stage API (``jax.jit``,
            ``nnx.jit``).
          *args: its arguments (ignored when ``setup`` is given).
          carry: ``(args, out) -> next_args`` for steps that donate and return
            their state, e.g. ``lambda a, o: (o[0], o[1], a[2])``.
          setup: ``() -> args``, called before every round and not timed; its
            result is blocked on before the round starts. Uses
            ``benchmark.pedantic`` with one call per round (``rounds``,
            default 20). Not combinable with ``carry``.
          rounds: with no ``setup``, fixed rounds through ``pedantic``
            instead of pytest-benchmark's own calibration.
          warmup_rounds: untimed rounds before timing (the step is already
            compiled and called once either way).
          model_flops: analytic FLOPs of one step, for MFU.
          items_per_step: samples or tokens per step, recorded in extra_info.
          dtype: compute dtype, to pick the device's peak FLOP/s for MFU.
        """
        import jax

        from nnbench.integrations import bench as _bench
        from nnbench.measure import stages as _compile
        from nnbench.measure import step as _measure

        if setup is not None and carry is not None:
            raise ValueError("pass either setup= (fresh arguments each round) or carry=, not both")

        counter = _compile.compile_counter()
        setup_compiles = 0

        def fresh() -> tuple[Any, ...]:
            nonlocal setup_compiles
            before = counter.count
            made = tuple(setup())
            jax.block_until_ready(made)
            setup_compiles += counter.count - before  # setup is not timed
            return made

        first_args = fresh() if setup is not None else args
        prepared = _measure.prepare(step, first_args, carry, model_flops, items_per_step, dtype)
        info = self.benchmark.extra_info
        info.update(_bench.flat_metrics(prepared))
        lane = prepared.lane
        before, setup_compiles = counter.count, 0
        if setup is None:
            if rounds is None:
                self.benchmark(lane.call)
            else:
                self.benchmark.pedantic(lane.call, rounds=rounds, warmup_rounds=warmup_rounds)
        else:

            def one_call(*call_args: Any) -> None:
                lane.last_out = jax.block_until_ready(step(*call_args))

            self.benchmark.pedantic(
                one_call, setup=lambda: (fresh(), {}), rounds=rounds or 20, warmup_rounds=warmup_rounds
            )
        recompiles = counter.count - before - setup_compiles
        stats = getattr(self.benchmark, "stats", None)
        median = stats.stats.median if stats is not None else None
        info.update(_bench.timed_metrics(prepared, median, compile={"recompiles": recompiles}))
        if recompiles:
            pytest.fail(f"the step compiled {recompiles} time(s) while being timed: compile time is in the numbers")
        return lane.last_out

    def case(self, layer: str, style: str, mode: str, size: str = "tiny", dtype: str = "float32") -> Any:
        """Benchmark one catalog case (``layers.build``), recording the case's
        analytic FLOPs and items per step."""
        from nnbench import layers

        entry = layers.get(layer)
        config = entry.config(size)
        built = layers.build(entry, style, size, mode, dtype)
        self.benchmark.extra_info.update(layer=layer, style=style, mode=mode, size=size, dtype=dtype)
        return self(
            built.step,
            *built.args,
            carry=built.carry,
            model_flops=entry.flops(config, mode) or None,
            items_per_step=entry.items(config),
            dtype=dtype,
        )


@pytest.fixture
def jax_benchmark(benchmark: Any) -> JaxBenchmark:
    """pytest-benchmark's ``benchmark`` for jitted JAX steps (see module doc)."""
    return JaxBenchmark(benchmark)
