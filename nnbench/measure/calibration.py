"""This machine's achievable peaks, measured: ``nnbench calibrate``.

Three probes, each timed by ``nnbench.measure`` (warm-up to a steady state,
burst samples, the median with its order-statistic 95 % CI):

- ``matmul``: a square ``a @ b`` per dtype (float32, and bfloat16 where the
  backend runs it), FLOPs from XLA's ``cost_analysis``: achievable FLOP/s;
- ``bandwidth``: ``x + 1`` over a large float32 vector (≥ 256 MiB read, as
  much written), bytes from XLA's ``bytes accessed``: achievable bytes/s;
- ``dispatch_floor``: ``x + 1`` on a one-element array: the time of a call
  that does nothing, the floor under every step.

A rate's CI is its work over the time's CI (the bounds swap). The result is
stored as JSON under the user cache (``$XDG_CACHE_HOME/nnbench/calibration``,
default ``~/.cache``), one file per machine key (backend, device kind, CPU
model, core count, jax version): ``load`` finds this machine's, ``current``
the same once per process. Runs copy it into their environment
(``env.calibration``) and hold each case against it (``nnbench.measure.step``).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

SCHEMA = "nnbench.calibration/1"
DTYPES = ("float32", "bfloat16")


def _sizes(backend: str, quick: bool) -> dict[str, Any]:
    """Probe sizes: a matmul big enough to saturate (CPU 2048², accelerators
    8192²), a vector of ≥ 256 MiB (64 Mi float32; 256 Mi off CPU), and the
    timing budget per probe (s); ``quick`` shrinks all (the tests' mode)."""
    cpu = backend == "cpu"
    if quick:
        return {"n": 1024 if cpu else 4096, "elements": 2**24 if cpu else 2**26, "budget_s": 0.4}
    return {"n": 2048 if cpu else 8192, "elements": 2**26 if cpu else 2**28, "budget_s": 3.0}


def machine_key() -> dict[str, Any]:
    """What a calibration is valid for: backend, device kind, CPU model,
    core count and jax version (not the device count: virtual CPU devices
    share the same cores)."""
    import jax

    from nnbench.measure import env as _env

    return {
        "backend": jax.default_backend(),
        "device_kind": jax.devices()[0].device_kind,
        "cpu_model": _env.cpu_model(),
        "cpu_count": os.cpu_count(),
        "jax": jax.__version__,
    }


def cache_dir() -> Path:
    """``calibration/`` under nnbench's user cache (``env.cache_root``)."""
    from nnbench.measure import env as _env

    return _env.cache_root() / "calibration"


def path_for(key: dict[str, Any]) -> Path:
    """The file of the calibration for ``key``."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return cache_dir() / f"{digest}.json"


def _probe(step, args: tuple, policy, carry=None) -> dict[str, Any]:
    """One probe timed by ``nnbench.measure`` (``carry``: its outputs threaded
    back in, for a donated argument): its XLA counts and time summary."""
    from nnbench.measure import step as _step

    rec = _step.measure(step, *args, carry=carry, policy=policy)
    t = rec["time"]
    return {
        "flops": rec["work"]["xla_flops"],
        "bytes": rec["work"]["xla_bytes_accessed"],
        "median_s": t["median"],
        "ci_low_s": t["ci_low"],
        "ci_high_s": t["ci_high"],
        "samples": t["n"],
        "steady": t["steady"],
    }


def _rate(probe: dict[str, Any], work: float, name: str) -> dict[str, Any]:
    """``probe`` with ``name`` = work ÷ median time and its CI (work ÷ the time's CI)."""
    return {**probe, name: work / probe["median_s"], "ci": [work / probe["ci_high_s"], work / probe["ci_low_s"]]}


def probe_policy(quick: bool = False):
    """The timing policy of every probe (``_sizes``' budget per probe)."""
    import jax

    from nnbench.measure.timing import TimingPolicy

    budget = _sizes(jax.default_backend(), quick)["budget_s"]
    return TimingPolicy(min_samples=10, budget_s=budget, warmup_budget_s=budget / 2, settle_s=0.1, target_ci=0.01)


def matmul_probe(n: int, dtype: str, policy) -> dict[str, Any]:
    """``a @ b`` of two ``n`` × ``n`` ``dtype`` matrices timed: FLOP/s with its
    CI; ``{"n", "error"}`` when the backend cannot run the dtype."""
    import jax
    import jax.numpy as jnp

    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32).astype(dtype)
    b = jax.random.normal(jax.random.key(1), (n, n), jnp.float32).astype(dtype)
    try:
        probe = _probe(jax.jit(jnp.matmul), (a, b), policy)
    except Exception as e:  # noqa: BLE001 - a dtype the backend cannot run is recorded, not fatal
        return {"n": n, "error": f"{type(e).__name__}: {e}"}
    return {"n": n, **_rate(probe, probe["flops"], "flops_per_s")}


def calibrate(quick: bool = False, dtypes: tuple[str, ...] = DTYPES) -> dict[str, Any]:
    """Run the three probes on the default device; a calibration dict
    (module docstring), not yet stored (``save``). ``quick``: small probes
    and budgets (a few seconds), else about half a minute."""
    import jax
    import jax.numpy as jnp

    from nnbench.measure import env as _env

    _env.pin_matmul_precision()  # as every run does
    started = time.perf_counter()
    size = _sizes(jax.default_backend(), quick)
    policy = probe_policy(quick)
    matmul = {dtype: matmul_probe(size["n"], dtype, policy) for dtype in dtypes}
    # The streaming op writes over its input (donated, the output carried back
    # in): a fresh output of this size is a fresh mapping from the OS on CPU,
    # and its page faults, not the memory, would set the pace (4 GB/s here
    # against 55 GB/s in place).
    x = jnp.zeros((size["elements"],), jnp.float32)
    probe = _probe(jax.jit(lambda v: v + 1, donate_argnums=0), (x,), policy, carry=lambda a, o: (o,))
    bandwidth = {"elements": size["elements"], **_rate(probe, probe["bytes"], "bytes_per_s")}
    del x
    tiny = jnp.zeros((1,), jnp.float32)
    floor = _probe(jax.jit(lambda v: v + 1), (tiny,), policy)
    return {
        "schema": SCHEMA,
        "key": machine_key(),
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "quick": quick,
        "matmul_precision": _env.MATMUL_PRECISION,
        "seconds": time.perf_counter() - started,
        "matmul": matmul,
        "bandwidth": bandwidth,
        "dispatch_floor": {**floor, "s": floor["median_s"], "ci": [floor["ci_low_s"], floor["ci_high_s"]]},
    }


def save(calibration: dict[str, Any]) -> Path:
    """Store ``calibration`` as its machine's (replacing an older one); its path."""
    path = path_for(calibration["key"])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(calibration, indent=1), encoding="utf-8")
    os.replace(tmp, path)
    forget()
    return path


def load(key: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The stored calibration for ``key`` (default: this machine's), or None
    when there is none or it cannot be read as one."""
    path = path_for(key if key is not None else machine_key())
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("schema") == SCHEMA else None


_CURRENT: dict[Path, dict[str, Any] | None] = {}


def current() -> dict[str, Any] | None:
    """``load()``, read once per process and cache folder."""
    key = machine_key()
    path = path_for(key)
    if path not in _CURRENT:
        _CURRENT[path] = load(key)
    return _CURRENT[path]


def forget() -> None:
    """Drop what ``current`` read (after ``save``, so this process sees the new one)."""
    _CURRENT.clear()


def peak(calibration: dict[str, Any] | None, dtype: str) -> float | None:
    """The measured matmul FLOP/s for ``dtype``, or None."""
    entry = ((calibration or {}).get("matmul") or {}).get(dtype) or {}
    return entry.get("flops_per_s")


def bandwidth(calibration: dict[str, Any] | None) -> float | None:
    """The measured bytes/s, or None."""
    return ((calibration or {}).get("bandwidth") or {}).get("bytes_per_s")


def dispatch_floor(calibration: dict[str, Any] | None) -> float | None:
    """The measured median time of an empty jitted call (s), or None."""
    return ((calibration or {}).get("dispatch_floor") or {}).get("s")
