"""asv benchmarks over the layer catalog: layer × style × mode × dtype.

No model code lives here: every case is ``layers.build`` + nnbench's
``_measure.prepare`` (cold compile stages, first call checked finite), done
in asv's ``setup`` so compile never lands in a timed call.

- ``Step.time_step``: one step, blocked on its whole output pytree, donated
  state carried from call to call. ``Step.peakmem_step``: asv's peak RSS of
  the benchmark process (it includes imports and compile: compare it across
  commits, not with the step's own buffers).
- ``Program.track_*``: one per metric ``nnbench.results.metrics`` declares
  for asv (today XLA compile seconds, trace+lower+compile seconds, HLO op
  count, XLA FLOPs, compiled memory bytes), cold: compiled once per commit
  in ``setup_cache`` with the persistent cache off.
- ``Utilisation.track_mfu``: model FLOPs utilisation; skipped (n/a) where
  the device's peak FLOP/s is unknown, as on CPU.

Which cases: environment variables, read when asv discovers the benchmarks
(comma-separated; keep them the same across runs you want to compare):
``NNBENCH_ASV_SIZE`` (default ``tiny``: right for CPU),
``NNBENCH_ASV_LAYERS`` (default: every catalog layer), ``NNBENCH_ASV_STYLES``,
``NNBENCH_ASV_MODES`` (default: all), ``NNBENCH_ASV_DTYPES`` (default
``float32``).

asv starts a fresh process per benchmark and round; JAX's persistent
compilation cache (``$JAX_COMPILATION_CACHE_DIR``, default
``~/.cache/nnbench/jax-compilation-cache``, minimum compile time 0) spares
``Step`` and ``Utilisation`` most of the XLA compile each time.
"""

from __future__ import annotations

import os

from nnbench import layers
from nnbench.integrations import bench as _bench
from nnbench.layers.catalog import MODES
from nnbench.results import metrics as _metrics

_MFU = _metrics.get("work.mfu")

SIZE = os.environ.get("NNBENCH_ASV_SIZE", "tiny")


def _axis(var: str, default: tuple[str, ...] | list[str]) -> list[str]:
    raw = os.environ.get(var, "")
    values = [v.strip() for v in raw.split(",") if v.strip()]
    return values or list(default)


PARAMS = [
    _axis("NNBENCH_ASV_LAYERS", layers.names()),
    _axis("NNBENCH_ASV_STYLES", layers.STYLES),
    _axis("NNBENCH_ASV_MODES", MODES),
    _axis("NNBENCH_ASV_DTYPES", ("float32",)),
]
PARAM_NAMES = ["layer", "style", "mode", "dtype"]


class _Catalog:
    """Base: one catalog case per parameter tuple, prepared in ``setup``."""

    params = PARAMS
    param_names = PARAM_NAMES
    timeout = 300.0

    def setup(self, layer: str, style: str, mode: str, dtype: str) -> None:
        _bench.use_compilation_cache()
        try:
            self.case = _bench.prepare_case(layer, style, mode, SIZE, dtype)
        except _bench.NotInCatalog as e:
            raise NotImplementedError(str(e)) from None


class Step(_Catalog):
    """Steady-state step time and process peak memory."""

    # Tiny steps are cheap to time; keep asv's per-case budget modest so the
    # whole catalog fits a CPU run.
    warmup_time = 0.2
    repeat = (3, 10, 2.0)

    def time_step(self, layer: str, style: str, mode: str, dtype: str) -> None:
        self.case.step()

    def peakmem_step(self, layer: str, style: str, mode: str, dtype: str) -> None:
        for _ in range(3):
            self.case.step()


def _program_metrics(layer: str, style: str, mode: str, dtype: str) -> dict[str, float | int | None]:
    case = _bench.prepare_case(layer, style, mode, SIZE, dtype)
    return case.metrics(_metrics.ASV)


def _track(metric: _metrics.Metric):
    """An asv ``track_<asv_name>`` method returning ``self.metrics[metric.key]``."""

    def track(self, cache: dict, layer: str, style: str, mode: str, dtype: str) -> float | int | None:
        return self.metrics[metric.key]

    track.unit = metric.asv_unit
    track.__doc__ = f"{metric.label} ({metric.name})."
    track.__name__ = f"track_{metric.asv_name}"
    return track


class Program:
    """What XLA made of each step, compiled cold (persistent cache off).

    Every case is compiled once per commit in ``setup_cache`` (one process,
    cache disabled before its first compile); the ``track_*`` methods (added
    below the class, one per declared asv metric) read those figures, so
    five tracks do not mean five compiles per case.
    """

    params = PARAMS
    param_names = PARAM_NAMES
    timeout = 900.0

    def setup_cache(self) -> dict[tuple[str, ...], dict[str, float | int | None]]:
        import itertools

        import jax

        jax.config.update("jax_enable_compilation_cache", False)
        out = {}
        for params in itertools.product(*PARAMS):
            try:
                out[params] = _program_metrics(*params)
            except _bench.NotInCatalog:
                continue
        return out

    def setup(self, cache: dict, layer: str, style: str, mode: str, dtype: str) -> None:
        if (layer, style, mode, dtype) not in cache:
            raise NotImplementedError(f"layer {layer!r} has no size {SIZE!r}")
        self.metrics = cache[(layer, style, mode, dtype)]


# One ``track_*`` per metric declared for asv (``nnbench.results.metrics``).
for _metric in _metrics.shown_in(_metrics.ASV):
    setattr(Program, f"track_{_metric.asv_name}", _track(_metric))


class Utilisation(_Catalog):
    """Model FLOPs utilisation from a short interleaving-free timing run."""

    def setup(self, layer: str, style: str, mode: str, dtype: str) -> None:
        import jax

        from nnbench.measure import flops as _flops

        if _flops.peak_flops(jax.devices()[0].device_kind, dtype) is None:
            raise NotImplementedError(f"no known peak FLOP/s for {jax.devices()[0].device_kind!r}")
        super().setup(layer, style, mode, dtype)
        if not self.case.prepared.model_flops:
            raise NotImplementedError(f"no model FLOPs for mode {mode!r}")

    def track_mfu(self, layer: str, style: str, mode: str, dtype: str) -> float | None:
        import numpy as np

        from nnbench.measure.timing import TimingPolicy, run_rounds

        lane = self.case.prepared.lane
        lane.samples_s.clear()
        run_rounds([lane], TimingPolicy(budget_s=0.5, warmup_budget_s=0.5, target_ci=0.02))
        figures = _bench.timed_metrics(self.case.prepared, float(np.median(lane.samples_s)), _metrics.PYTEST)
        return figures[_MFU.key]

    track_mfu.unit = _MFU.asv_unit
