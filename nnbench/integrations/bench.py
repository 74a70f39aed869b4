"""Helpers shared by the asv and pytest-benchmark suites.

Both suites hand the *timing loop* to their framework; what nnbench adds is
everything around it: a catalog case built and compiled outside any timed
region (``nnbench.measure.step.prepare``: cold compile stages, then the first
call), one call per tick blocked on the whole output pytree with donated
state threaded through, and the compile/work/memory figures flattened into
plain numbers a framework can store: which ones, and under what names, is
what ``nnbench.results.metrics`` declares for each suite (``PYTEST``,
``ASV``).

Example::

    case = prepare_case("mlp", "jax", "forward", "tiny")  # compiled, called once
    case.step()                                           # one blocked call
    case.metrics()["xla_flops"]                           # from cost_analysis
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from nnbench.results import metrics as _metrics

DEFAULT_CACHE_DIR = os.path.join(os.path.expanduser("~"), ".cache", "nnbench", "jax-compilation-cache")


class NotInCatalog(LookupError):
    """The requested case does not exist (e.g. a layer without that size)."""


def use_compilation_cache(cache_dir: str | None = None) -> str:
    """Point JAX's persistent compilation cache at ``cache_dir``
    (``nnbench.measure.stages.enable_compile_cache``: every program cached,
    however quick or small its compile).

    ``cache_dir`` defaults to ``$JAX_COMPILATION_CACHE_DIR`` or
    ``~/.cache/nnbench/jax-compilation-cache``. Only the XLA compile is
    cached; trace and lower are not. Returns the directory used.
    """
    from nnbench.measure.stages import enable_compile_cache

    return enable_compile_cache(cache_dir or os.environ.get("JAX_COMPILATION_CACHE_DIR") or DEFAULT_CACHE_DIR)


def flat_metrics(prepared: Any, consumer: str = _metrics.PYTEST) -> dict[str, Any]:
    """The figures of a ``nnbench.measure.step.Prepared`` that ``consumer``
    shows (``nnbench.results.metrics``: pytest ``extra_info`` by default, or
    asv), as one flat dict ``{metric.key: number or None}``, from its
    ``partial_record``. Rates (MFU) need a median: see ``timed_metrics``."""
    from nnbench.measure import step as _measure

    return _metrics.flat(_measure.partial_record(prepared), consumer)


def timed_metrics(
    prepared: Any, median_s: float | None, consumer: str = _metrics.PYTEST, **record: Any
) -> dict[str, Any]:
    """``flat_metrics`` once the step has a median time (seconds, from the
    suite's own timing): rates, MFU among them, computed as a run's records
    get them (``nnbench.measure.step.set_rates``). ``record``: further
    sections merged in first, e.g. ``compile={"recompiles": 0}``."""
    from nnbench.measure import step as _measure

    rec = _measure.partial_record(prepared)
    for section, values in record.items():
        rec[section] = {**rec.get(section, {}), **values}
    if median_s:
        rec["time"]["median"] = median_s
        _measure.set_rates(rec)
    return _metrics.flat(rec, consumer)


def compiled_bytes(memory: dict[str, Any]) -> int | None:
    """Compiled memory footprint (``nnbench.measure.step.compiled_bytes``)."""
    from nnbench.measure.step import compiled_bytes as _compiled_bytes

    return _compiled_bytes(memory)


def mfu(model_flops: float | None, median_s: float, dtype: str) -> float | None:
    """Model FLOPs utilisation of one device (``nnbench.measure.flops.utilisation``,
    the formula records use), or None when the device's peak FLOP/s is
    unknown (CPU) or there are no model FLOPs."""
    import jax

    from nnbench.measure import flops as _flops

    return _flops.utilisation(model_flops, median_s, _flops.peak_flops(jax.devices()[0].device_kind, dtype))


@dataclasses.dataclass
class CaseStep:
    """One catalog case, compiled and called once, ready to be timed."""

    layer: str
    style: str
    mode: str
    size: str
    dtype: str
    prepared: Any  # nnbench.measure.step.Prepared

    def step(self) -> None:
        """One call of the step, blocked on its whole output (state carried)."""
        self.prepared.lane.call()

    def metrics(self, consumer: str = _metrics.PYTEST) -> dict[str, Any]:
        """``flat_metrics`` of the prepared step."""
        return flat_metrics(self.prepared, consumer)


def prepare_case(layer: str, style: str, mode: str, size: str, dtype: str = "float32") -> CaseStep:
    """Build one catalog case with ``layers.build`` and prepare it (cold
    compile stages, then the first call, checked finite).

    Raises ``NotInCatalog`` when the layer has no such size.
    """
    from nnbench import layers
    from nnbench.measure import step as _measure

    entry = layers.get(layer)
    if size not in entry.sizes:
        raise NotInCatalog(f"layer {layer!r} has no size {size!r}")
    config = entry.config(size)
    rss_before = _measure.current_rss_bytes()
    built = layers.build(entry, style, size, mode, dtype)
    prepared = _measure.prepare(
        built.step,
        built.args,
        built.carry,
        model_flops=entry.flops(config, mode) or None,
        items_per_step=entry.items(config),
        dtype=dtype,
        rss_before=rss_before,
    )
    return CaseStep(layer, style, mode, size, dtype, prepared)
