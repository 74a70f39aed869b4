"""Helpers shared by the asv and pytest-benchmark suites.

Both suites hand the *timing loop* to their framework; what nnbench adds is
everything around it: a catalog case built and compiled outside any timed
region (``nnbench.measure.step.prepare``: cold compile stages, then the first
call), one call per tick blocked on the whole output pytree with donated
state threaded through, and the compile/work/memory figures flattened into
plain numbers a framework can store.

Example::

    case = prepare_case("mlp", "jax", "forward", "tiny")  # compiled, called once
    case.step()                                           # one blocked call
    case.metrics()["xla_flops"]                           # from cost_analysis
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

DEFAULT_CACHE_DIR = os.path.join(os.path.expanduser("~"), ".cache", "nnbench", "jax-compilation-cache")


class NotInCatalog(LookupError):
    """The requested case does not exist (e.g. a layer without that size)."""


def use_compilation_cache(cache_dir: str | None = None) -> str:
    """Point JAX's persistent compilation cache at ``cache_dir``.

    ``cache_dir`` defaults to ``$JAX_COMPILATION_CACHE_DIR`` or
    ``~/.cache/nnbench/jax-compilation-cache``. The minimum compile time to
    cache is set to 0 (JAX's default of 1 s caches nothing for small
    models). Only the XLA compile is cached; trace and lower are not.
    Returns the directory used.
    """
    import jax

    cache_dir = cache_dir or os.environ.get("JAX_COMPILATION_CACHE_DIR") or DEFAULT_CACHE_DIR
    jax.config.update("jax_compilation_cache_dir", cache_dir)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    return cache_dir


def flat_metrics(prepared: Any) -> dict[str, Any]:
    """Compile, work and compiled-memory figures of a ``_measure.Prepared``,
    as one flat dict of numbers (None where the backend reports nothing)."""
    info = prepared.compile_info
    out: dict[str, Any] = {
        "trace_s": info["trace_s"],
        "lower_s": info["lower_s"],
        "compile_s": info["compile_s"],
        "compile_total_s": info["total_s"],
        "first_call_s": prepared.first_call_s,
        "jaxpr_eqns": info["jaxpr_eqns"],
        "hlo_ops": info["hlo_ops"],
        "xla_flops": prepared.cost["flops"],
        "xla_bytes_accessed": prepared.cost["bytes_accessed"],
        "model_flops": prepared.model_flops,
        "items_per_step": prepared.items_per_step,
    }
    out.update({f"compiled_{k}": v for k, v in prepared.memory.items()})
    return out


def compiled_bytes(memory: dict[str, Any]) -> int | None:
    """Compiled memory footprint: the compiler's peak if it reports one,
    else argument + output + temp − alias bytes; None if nothing is known."""
    if memory.get("peak_bytes"):
        return int(memory["peak_bytes"])
    parts = [memory.get(f"{k}_bytes") for k in ("argument", "output", "temp")]
    if any(p is None for p in parts):
        return None
    return int(sum(parts) - (memory.get("alias_bytes") or 0))


def mfu(model_flops: float | None, median_s: float, dtype: str) -> float | None:
    """Model FLOPs utilisation of one device, or None when the device's peak
    FLOP/s is unknown (CPU) or there are no model FLOPs."""
    import jax

    from nnbench.measure import flops as _flops

    peak = _flops.peak_flops(jax.devices()[0].device_kind, dtype)
    if not peak or not model_flops or median_s <= 0:
        return None
    return model_flops / median_s / peak


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

    def metrics(self) -> dict[str, Any]:
        return flat_metrics(self.prepared)


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
