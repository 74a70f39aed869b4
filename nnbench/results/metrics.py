"""Every metric a record carries, declared once.

A ``Metric`` says where a value lies in a record (``path``), its ``unit``,
its ``kind`` (how two runs are compared), its threshold ``family``, which
way is better, a short ``label``, and which consumers show it. Readers
derive from these declarations rather than spelling record paths
themselves: ``compare`` (``nnbench compare`` / ``ab`` verdicts), ``history``
(change points over runs), the pytest plugin's ``extra_info`` and the asv
suite's ``track_*`` methods, and the reports' labels and units.

API (stable: attributes are only ever added)::

    METRICS: tuple[Metric, ...]          # every declaration, in display order
    get(name) -> Metric                  # by name; KeyError names the known ones
    shown_in(consumer) -> tuple[Metric, ...]   # COMPARE, HISTORY, PYTEST, ASV
    Metric.name                          # stable id: compare result key, history series name
    Metric.path                          # tuple of keys into a record
    Metric.samples                       # path of the raw sample list (kind "sampled"), else None
    Metric.unit                          # "s", "B", "FLOP", "FLOP/s", "count", "fraction", "items/s", "J"
    Metric.kind                          # "sampled", "single", "exact" or "info"
    Metric.family                        # threshold family: "time", "dispatch", "compile", "exact" or None
    Metric.lower_is_better               # True, False, or None (no direction)
    Metric.label                         # a short human label ("step time")
    Metric.consumers                     # frozenset of consumer names
    Metric.key                           # flat name (pytest extra_info, asv cache): "compile_s"
    Metric.asv_name                      # asv method suffix: track_<asv_name>
    Metric.value(record) -> int | float | None   # the finite number at path, else None
    Metric.format(value) -> str          # by unit: "1.02 ms", "1.5 KiB", "12.3 %", "–" for None

Kinds: ``sampled`` (raw samples per run: ratio tests with CIs), ``single``
(one value per process, e.g. a cold compile: a ratio, tested only over
worker pairs), ``exact`` (deterministic: any change shows, growth past the
``exact`` tolerance regresses), ``info`` (shown, never compared).

Adding a metric: declare it here, write its value into the record where it
is measured (``nnbench/measure/step.py``), and name its field in
``run.schema.json`` (a test checks every declared path is there). Compare,
history, pytest ``extra_info`` and asv ``track_*`` pick it up from its
``consumers``.

Example::

    >>> from nnbench.results import metrics
    >>> m = metrics.get("memory.compiled_temp_bytes")
    >>> m.value({"memory": {"compiled_temp_bytes": 1536}}), m.format(1536)
    (1536, '1.5 KiB')
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

COMPARE, HISTORY, PYTEST, ASV = "compare", "history", "pytest", "asv"
CONSUMERS = (COMPARE, HISTORY, PYTEST, ASV)
KINDS = ("sampled", "single", "exact", "info")
FAMILIES = ("time", "dispatch", "compile", "exact")  # the fields of compare's Thresholds
UNITS = ("s", "B", "FLOP", "FLOP/s", "count", "fraction", "items/s", "J")
# asv's unit strings (free text shown by asv; kept as the suite always wrote them)
_ASV_UNITS = {
    "s": "seconds",
    "B": "bytes",
    "FLOP": "flops",
    "FLOP/s": "flops/s",
    "count": "count",
    "fraction": "fraction",
    "items/s": "items/s",
    "J": "joules",
}


def fmt_time(seconds: float | None) -> str:
    """``0.00102`` -> ``"1.02 ms"``; ``"–"`` for None."""
    if seconds is None:
        return "–"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def fmt_bytes(n: float | None) -> str:
    """``1536`` -> ``"1.5 KiB"`` (binary prefixes up to GiB); ``"–"`` for None."""
    if n is None:
        return "–"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def fmt_rate(value: float | None, unit: str) -> str:
    """``1.38e9, "FLOP/s"`` -> ``"1.38 GFLOP/s"`` (SI prefixes); ``"–"`` for None."""
    if value is None:
        return "–"
    for prefix, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def fmt_number(value: float | None) -> str:
    """Six significant digits (counts and FLOPs as compare tables show them); ``"–"`` for None."""
    return "–" if value is None else f"{value:.6g}"


def fmt_fraction(value: float | None) -> str:
    """``0.123`` -> ``"12.3 %"``; ``"–"`` for None."""
    return "–" if value is None else f"{100 * value:.1f} %"


_FORMATTERS = {
    "s": fmt_time,
    "B": fmt_bytes,
    "FLOP": fmt_number,
    "count": fmt_number,
    "fraction": fmt_fraction,
    "FLOP/s": lambda v: fmt_rate(v, "FLOP/s"),
    "items/s": lambda v: fmt_rate(v, "/s"),
    "J": lambda v: fmt_rate(v, "J"),
}


@dataclasses.dataclass(frozen=True)
class Metric:
    """One metric: where it lies in a record and how it is read (module docstring)."""

    name: str
    path: tuple[str, ...]
    unit: str
    kind: str
    label: str
    family: str | None = None
    lower_is_better: bool | None = True
    consumers: frozenset[str] = frozenset()
    samples: tuple[str, ...] | None = None
    flat: str | None = None  # the flat key when not path[-1]
    asv: str | None = None  # the asv method suffix when not ``key``

    def __post_init__(self) -> None:
        if (
            self.unit not in UNITS
            or self.kind not in KINDS
            or (self.family is not None and self.family not in FAMILIES)
        ):
            raise ValueError(
                f"metric {self.name!r}: bad unit, kind or family ({self.unit!r}, {self.kind!r}, {self.family!r})"
            )
        if not set(self.consumers) <= set(CONSUMERS):
            raise ValueError(f"metric {self.name!r}: unknown consumers {sorted(set(self.consumers) - set(CONSUMERS))}")
        if (self.kind == "sampled") != (self.samples is not None):
            raise ValueError(f"metric {self.name!r}: a sampled metric, and only one, names its samples' path")
        if HISTORY in self.consumers and self.lower_is_better is None:
            raise ValueError(f"metric {self.name!r}: history needs a direction (lower_is_better True or False)")
        if COMPARE in self.consumers and (self.kind == "info" or self.family is None):
            raise ValueError(
                f"metric {self.name!r}: compared metrics need a kind other than info and a threshold family"
            )

    @property
    def key(self) -> str:
        """The flat name (pytest ``extra_info``, asv's per-case cache)."""
        return self.flat or self.path[-1]

    @property
    def asv_name(self) -> str:
        """The asv method is ``track_<asv_name>``."""
        return self.asv or self.key

    @property
    def asv_unit(self) -> str:
        return _ASV_UNITS[self.unit]

    def raw(self, record: Mapping[str, Any] | None) -> Any:
        """Whatever lies at ``path`` (None where a key is missing)."""
        cur: Any = record
        for p in self.path:
            if not isinstance(cur, Mapping):
                return None
            cur = cur.get(p)
        return cur

    def value(self, record: Mapping[str, Any] | None) -> int | float | None:
        """The finite number at ``path`` as stored (int or float), else None."""
        v = self.raw(record)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return None
        return v

    def sample_list(self, record: Mapping[str, Any] | None) -> list | None:
        """The stored sample list of a sampled metric (None where absent)."""
        cur: Any = record
        for p in self.samples or ():
            cur = cur.get(p) if isinstance(cur, Mapping) else None
        return cur if isinstance(cur, list) and self.samples else None

    def format(self, value: float | None) -> str:
        """``value`` in this metric's unit, e.g. ``"1.02 ms"``; ``"–"`` for None."""
        return _FORMATTERS[self.unit](value)


def _m(name: str, unit: str, kind: str, label: str, *consumers: str, **kw: Any) -> Metric:
    return Metric(
        name=name,
        path=kw.pop("path", tuple(name.split("."))),
        unit=unit,
        kind=kind,
        label=label,
        consumers=frozenset(consumers),
        **kw,
    )


METRICS: tuple[Metric, ...] = (
    # sampled: raw samples per run
    _m(
        "time",
        "s",
        "sampled",
        "step time",
        COMPARE,
        HISTORY,
        path=("time", "median"),
        samples=("time", "samples_s"),
        family="time",
        flat="time_median_s",
    ),
    _m(
        "dispatch",
        "s",
        "sampled",
        "dispatch",
        COMPARE,
        path=("dispatch", "median"),
        samples=("dispatch", "samples_s"),
        family="dispatch",
        flat="dispatch_median_s",
    ),
    # single: one cold compile per process
    _m("compile.trace_s", "s", "single", "trace", COMPARE, PYTEST, family="compile"),
    _m("compile.lower_s", "s", "single", "lower", COMPARE, PYTEST, family="compile"),
    _m(
        "compile.compile_s", "s", "single", "XLA compile", COMPARE, PYTEST, ASV, family="compile", asv="compile_seconds"
    ),
    _m(
        "compile.total_s",
        "s",
        "single",
        "trace+lower+compile",
        HISTORY,
        PYTEST,
        ASV,
        family="compile",
        flat="compile_total_s",
        asv="trace_lower_compile_seconds",
    ),
    _m(
        "roofline.efficiency",
        "fraction",
        "single",
        "roofline efficiency",
        COMPARE,
        HISTORY,
        family="time",
        lower_is_better=False,
        flat="roofline_efficiency",
    ),
    # exact: deterministic
    _m("work.xla_flops", "FLOP", "exact", "XLA FLOPs", COMPARE, HISTORY, PYTEST, ASV, family="exact"),
    _m("work.xla_bytes_accessed", "B", "exact", "XLA bytes accessed", COMPARE, PYTEST, family="exact"),
    _m("compile.hlo_ops", "count", "exact", "HLO ops", COMPARE, HISTORY, PYTEST, ASV, family="exact"),
    _m("compile.jaxpr_eqns", "count", "exact", "jaxpr eqns", COMPARE, PYTEST, family="exact"),
    _m("memory.compiled_argument_bytes", "B", "exact", "argument bytes", COMPARE, PYTEST, family="exact"),
    _m("memory.compiled_output_bytes", "B", "exact", "output bytes", COMPARE, PYTEST, family="exact"),
    _m("memory.compiled_temp_bytes", "B", "exact", "temp bytes", COMPARE, HISTORY, PYTEST, family="exact"),
    _m("memory.compiled_peak_bytes", "B", "exact", "compiled peak bytes", COMPARE, PYTEST, family="exact"),
    _m("memory.compiled_alias_bytes", "B", "exact", "alias bytes", PYTEST, family="exact"),
    _m("memory.compiled_generated_code_bytes", "B", "exact", "generated code bytes", PYTEST, family="exact"),
    _m(
        "memory.compiled_bytes",
        "B",
        "exact",
        "compiled memory",
        PYTEST,
        ASV,
        family="exact",
        asv="compiled_memory_bytes",
    ),
    _m("params", "count", "exact", "parameters", COMPARE, path=("model", "params"), family="exact"),
    # info: shown, never compared
    _m("time.first_call_s", "s", "info", "first call", PYTEST),
    _m("time.cv", "fraction", "info", "CV", lower_is_better=None),
    _m("compile.recompiles", "count", "info", "recompiles", PYTEST),
    _m("work.model_flops", "FLOP", "info", "model FLOPs", PYTEST, lower_is_better=None),
    _m("work.achieved_flops_per_s", "FLOP/s", "info", "model FLOP/s", lower_is_better=False),
    _m("work.hw_flops_per_s", "FLOP/s", "info", "XLA FLOP/s", lower_is_better=False),
    _m("work.mfu", "fraction", "info", "MFU", PYTEST, lower_is_better=False),
    _m("work.hfu", "fraction", "info", "HFU", lower_is_better=False),
    _m("roofline.time_s", "s", "info", "roofline time", lower_is_better=None, flat="roofline_time_s"),
    _m("throughput.items_per_step", "count", "info", "items/step", PYTEST, lower_is_better=None),
    _m("throughput.items_per_s", "items/s", "info", "items/s", lower_is_better=False),
    _m("memory.runtime_bytes", "B", "info", "runtime bytes"),
    _m("memory.predicted_bytes", "B", "info", "predicted bytes"),
    _m("memory.prediction_error", "fraction", "info", "prediction error", lower_is_better=None),
    _m("memory.rss_growth_bytes", "B", "info", "RSS growth"),
    _m("memory.case_peak_rss_growth_bytes", "B", "info", "case peak RSS growth"),
    _m("memory.process_peak_rss_bytes", "B", "info", "process peak RSS"),
    _m("scaling.efficiency", "fraction", "info", "scaling efficiency", lower_is_better=False),
    _m("scaling.items_per_s_per_device", "items/s", "info", "items/s per device", lower_is_better=False),
    _m("scaling.memory_per_device_bytes", "B", "info", "memory per device"),
    _m("group_wall_s", "s", "info", "group wall time"),
)


def _index(metrics: tuple[Metric, ...]) -> dict[str, Metric]:
    out: dict[str, Metric] = {}
    for m in metrics:
        if m.name in out:
            raise ValueError(f"metric {m.name!r} declared twice")
        out[m.name] = m
    return out


_index(METRICS)  # names are unique


def get(name: str) -> Metric:
    """The metric called ``name``; ``KeyError`` naming the known ones."""
    for m in METRICS:
        if m.name == name:
            return m
    raise KeyError(f"unknown metric {name!r} (known: {', '.join(m.name for m in METRICS)})")


def shown_in(consumer: str) -> tuple[Metric, ...]:
    """The metrics ``consumer`` (``COMPARE``, ``HISTORY``, ``PYTEST``, ``ASV``) shows, in declaration order."""
    if consumer not in CONSUMERS:
        raise ValueError(f"unknown consumer {consumer!r} (known: {', '.join(CONSUMERS)})")
    return tuple(m for m in METRICS if consumer in m.consumers)


def flat(record: Mapping[str, Any], consumer: str) -> dict[str, int | float | None]:
    """``{metric.key: value}`` of the metrics ``consumer`` shows (pytest, asv)."""
    return {m.key: m.value(record) for m in shown_in(consumer)}
