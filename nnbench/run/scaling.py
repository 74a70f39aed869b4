"""The device axis: sharded train steps on 1…N devices, one or several hosts.

A sharded case (``Case.strategy`` set) runs the layer's train step laid out
by a strategy from ``layers.sharding`` (``dp``, ``fsdp``, ``tp``,
``dp_shard_map``) on a 1-D mesh of ``Case.devices`` devices. Before it is
timed, a correctness gate runs it for ``GATE_STEPS`` steps and compares the
losses with the unsharded step's (same weights, same global batch) within
the entry's tolerance; a mismatch makes the case ``invalid``.

Its record gains ``scaling``: devices, strategy, mesh shape, global and
per-device batch, the gate's losses, the collectives in the optimized HLO,
compiled memory per device, per-device throughput and (once the run has the
1-device record of the same case) the scaling efficiency
``throughput_N / (N · throughput_1)`` — for strong scaling that is
``T_1 / (N · T_N)``, for weak scaling ``T_1 / T_N``.

On CPU the worker process gets exactly ``Case.devices`` virtual host devices
(``child_env``); they share the machine's cores, so they show sharding
correctness, collectives and memory per device, not speed-up.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Sequence
from typing import Any

from nnbench.measure.stages import COLLECTIVES
from nnbench.run.cases import Case, SelectionError

GATE_STEPS = 3
SCALINGS = ("strong", "weak")
_DEVICE_FLAG = "--xla_force_host_platform_device_count"


class GateFailed(ValueError):
    """The sharded step's losses differ from the single-device step's: invalid."""


class Unavailable(RuntimeError):
    """This process cannot provide the devices a case needs: skipped."""


# --- selection ---


def _ints(values: Iterable[str] | None) -> list[int]:
    out = []
    for v in values or ():
        for p in v.split(","):
            p = p.strip()
            if not p:
                continue
            if not p.isdigit() or int(p) < 1:
                raise SelectionError(f"--devices: not a positive device count: {p!r}")
            out.append(int(p))
    return out


def _names(values: Iterable[str] | None) -> list[str]:
    return [p.strip() for v in values or () for p in v.split(",") if p.strip()]


def expand(
    cases: Sequence[Case],
    devices: Iterable[str] | None,
    strategy: Iterable[str] | None,
    scaling: Iterable[str] | None,
    styles_given: bool,
    baseline: bool = True,
) -> list[Case]:
    """The sharded cases for ``--devices/--strategy/--scaling``; ``cases``
    unchanged when none of them is given.

    Only ``train`` cases are sharded. ``--devices`` alone means ``dp``;
    ``--strategy`` alone means devices 1,2,4,8. The 1-device case is added
    as the baseline of the efficiency unless ``baseline`` is false (a
    multi-process job, whose meshes span every process). Styles a strategy does not
    support are dropped, or refused when named with ``--style``.
    """
    from nnbench.layers import sharding as _sharding

    counts, strategies, scalings = _ints(devices), _names(strategy), _names(scaling)
    if not (counts or strategies or scalings):
        return list(cases)
    for s in strategies:
        if s not in _sharding.STRATEGIES:
            raise SelectionError(f"unknown strategy {s!r} (known: {', '.join(_sharding.STRATEGIES)})")
    for s in scalings:
        if s not in SCALINGS:
            raise SelectionError(f"unknown scaling {s!r} (known: {', '.join(SCALINGS)})")
    counts = sorted({*([1] if baseline else []), *(counts or (1, 2, 4, 8))})
    strategies = list(dict.fromkeys(strategies or ["dp"]))
    scalings = list(dict.fromkeys(scalings or ["strong"]))
    from nnbench import layers

    out = []
    for case in cases:
        if case.mode != "train":
            continue
        batch = layers.get(case.layer).config(case.size).get("batch")
        for strat in strategies:
            if case.style not in _sharding.STYLES[strat]:
                if styles_given:
                    raise SelectionError(
                        f"strategy {strat} supports styles {', '.join(_sharding.STYLES[strat])}, not {case.style}"
                    )
                continue
            for sc in scalings:
                for n in counts:
                    if sc == "strong" and _sharding.BATCH_SPLIT[strat] and batch is not None and batch % n:
                        raise SelectionError(
                            f"{case.layer}/{case.size}: batch {batch} does not split over {n} devices (strong scaling)"
                        )
                    out.append(dataclasses.replace(case, devices=n, strategy=strat, scaling=sc))
    if not out:
        raise SelectionError("no train case to shard (sharded strategies are train steps)")
    return out


def max_devices(cases: Sequence[Case]) -> int | None:
    counts = [c.devices for c in cases if c.sharded]
    return max(counts) if counts else None


def child_env(cases: Sequence[Case]) -> dict[str, str] | None:
    """The environment of a worker for ``cases``: exactly as many virtual CPU
    devices as the largest sharded case needs (``None``: inherit)."""
    n = max_devices(cases)
    if n is None:
        return None
    env = dict(os.environ)
    flags = [f for f in env.get("XLA_FLAGS", "").split() if not f.startswith(_DEVICE_FLAG)]
    env["XLA_FLAGS"] = " ".join([*flags, f"{_DEVICE_FLAG}={n}"])
    return env


# --- multi-process ---


def init_distributed(
    coordinator: str | None, num_processes: int | None, process_id: int | None, local_cpu_devices: int | None
) -> None:
    """``jax.distributed.initialize`` (arguments left ``None`` are
    auto-detected where JAX supports the cluster: SLURM, Open MPI, TPU, …).
    ``local_cpu_devices``: virtual CPU devices per process."""
    import jax

    if local_cpu_devices:
        jax.config.update("jax_num_cpu_devices", local_cpu_devices)
    jax.distributed.initialize(coordinator_address=coordinator, num_processes=num_processes, process_id=process_id)


def process_index() -> int:
    import jax

    return jax.process_index()


def process_count() -> int:
    import jax

    return jax.process_count()


def use_cpu_devices(n: int | None) -> None:
    """Ask for ``n`` virtual CPU devices in this process (``--in-process``);
    a no-op once JAX's backends exist (cases needing more are skipped)."""
    import jax

    if n is None or n <= jax.config.jax_num_cpu_devices:
        return
    try:
        jax.config.update("jax_num_cpu_devices", n)
    except RuntimeError:
        pass


def allgather_json(value: Any) -> list[Any]:
    """``value`` from every process (a collective: every process calls it)."""
    import jax
    import numpy as np
    from jax.experimental import multihost_utils

    if jax.process_count() == 1:
        return [value]
    raw = np.frombuffer(json.dumps(value).encode(), dtype=np.uint8)
    lengths = multihost_utils.process_allgather(np.array([raw.size], np.int32))
    padded = np.zeros(int(lengths.max()), np.uint8)
    padded[: raw.size] = raw
    everyone = multihost_utils.process_allgather(padded)
    return [json.loads(bytes(everyone[i][: int(lengths[i][0])]).decode()) for i in range(everyone.shape[0])]


def pick_devices(n: int) -> list[Any]:
    """``n`` devices, the same number from every process (process order)."""
    import jax

    procs = jax.process_count()
    if n > jax.device_count():
        raise Unavailable(f"needs {n} devices, this job has {jax.device_count()}")
    if n % procs:
        raise Unavailable(f"{n} devices do not split over {procs} processes")
    by_proc: dict[int, list[Any]] = {}
    for d in jax.devices():
        by_proc.setdefault(d.process_index, []).append(d)
    per = n // procs
    if any(len(v) < per for v in by_proc.values()):
        raise Unavailable(f"needs {per} devices per process")
    return [d for p in sorted(by_proc) for d in by_proc[p][:per]]


def local_value(x: Any) -> Any:
    """A replicated array's value as numpy, on any process."""
    import numpy as np

    return np.asarray(x if getattr(x, "is_fully_addressable", True) else x.addressable_data(0))


# --- build, gate, record ---


def _losses(built: Any, loss_leaves: Sequence[int], steps: int) -> tuple[list[list[float]], tuple[Any, ...]]:
    """Run ``steps`` calls, blocking on each; the loss leaves after each."""
    import jax

    args, losses = built.args, []
    for _ in range(steps):
        out = built.step(*args)
        jax.block_until_ready(out)
        leaves = jax.tree_util.tree_leaves(out)
        losses.append([float(local_value(leaves[i])) for i in loss_leaves])
        args = built.carry(args, out) if built.carry else args
    return losses, args


def build(case: Case) -> tuple[Any, float, int, dict[str, Any]]:
    """The sharded, gated step of ``case``: ``(built, model_flops,
    items_per_step, scaling_info)``; ``built.args`` are the state after the
    gate's steps. Raises ``Unavailable`` or ``GateFailed``."""
    import numpy as np

    from nnbench import layers
    from nnbench.layers import sharding as _sharding

    devices = pick_devices(case.devices)
    entry = _sharding.scaled_entry(layers.get(case.layer), case.size, case.scaling, case.devices)
    config = entry.config(case.size)
    rtol, atol = entry.tolerance[case.dtype]

    reference = layers.build(entry, case.style, case.size, "train", case.dtype)
    _, ref_leaves, _ = _sharding.carried(reference)
    ref_losses, _ = _losses(reference, ref_leaves, GATE_STEPS)
    del reference

    sharded = _sharding.shard(
        layers.get(case.layer), case.style, case.size, case.dtype, case.strategy, devices, case.scaling
    )
    losses, args = _losses(sharded.built, sharded.loss_leaves, GATE_STEPS)
    everyone = allgather_json(losses)
    ok = np.allclose(np.array(losses), np.array(ref_losses), rtol=rtol, atol=atol) and all(
        p == losses for p in everyone
    )
    global_batch = config.get("batch")
    info = {
        "devices": case.devices,
        "strategy": case.strategy,
        "scaling": case.scaling,
        "mesh_shape": dict(sharded.mesh.shape),
        "processes": len(everyone),
        "global_batch": global_batch,
        "per_device_batch": global_batch // case.devices
        if global_batch and _sharding.BATCH_SPLIT[case.strategy]
        else global_batch,
        "state_leaf_specs": sharded.param_specs,
        "gate": {
            "ok": bool(ok),
            "steps": GATE_STEPS,
            "rtol": rtol,
            "atol": atol,
            "losses": losses,
            "reference_losses": ref_losses,
            "losses_by_process": everyone,
        },
    }
    if not ok:
        err = GateFailed(
            f"gate: losses {losses} differ from single-device {ref_losses} (rtol {rtol}, atol {atol})"
            + ("" if all(p == losses for p in everyone) else "; processes disagree")
        )
        err.info = info  # type: ignore[attr-defined]
        raise err
    built = dataclasses.replace(sharded.built, args=args)
    return built, entry.flops(config, "train"), entry.items(config), info


def collectives(histogram: dict[str, int]) -> dict[str, int]:
    """Collective ops by kind in an HLO op histogram (async ``*-start`` count
    once, ``*-done`` not at all)."""
    out = dict.fromkeys(COLLECTIVES, 0)
    for op, n in histogram.items():
        base = op[: -len("-start")] if op.endswith("-start") else op
        if base in out:
            out[base] += n
    return out


def finish_record(record: dict[str, Any]) -> None:
    """Add the per-device figures of a measured sharded record."""
    info = record["scaling"]
    n = info["devices"]
    mem = record.get("memory", {})
    parts = [mem.get(f"compiled_{k}_bytes") for k in ("argument", "output", "temp")]
    info["collectives"] = collectives(record["compile"].get("hlo_op_histogram", {}))
    info["memory_per_device_bytes"] = None if None in parts else sum(parts) - (mem.get("compiled_alias_bytes") or 0)
    tput = record.get("throughput", {}).get("items_per_s")
    info["items_per_s_per_device"] = tput / n if tput else None
    info["efficiency"] = None


def _key(case: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(case.get(k) for k in ("layer", "style", "mode", "size", "dtype", "strategy", "scaling"))


def annotate(records: Sequence[dict[str, Any]]) -> None:
    """Scaling efficiency of each ok sharded record against the 1-device
    record of the same case: ``per-device throughput_N / throughput_1``."""
    base = {
        _key(r["case"]): r["throughput"]["items_per_s"]
        for r in records
        if r["status"] == "ok"
        and r["case"].get("strategy")
        and r["case"].get("devices") == 1
        and r.get("throughput", {}).get("items_per_s")
    }
    for r in records:
        info = r.get("scaling")
        if r["status"] != "ok" or not info:
            continue
        ref = base.get(_key(r["case"]))
        per = info.get("items_per_s_per_device")
        info["efficiency"] = per / ref if ref and per else None


def lockstep_policy(samples: int):
    """A timing policy with a fixed call count (5 warm-up, ``samples`` timed,
    one call per round): every process of a multi-process job must make the
    same collective calls, so nothing adaptive may decide when to stop."""
    from nnbench.measure.timing import TimingPolicy

    return TimingPolicy(
        min_samples=samples,
        max_samples=samples,
        budget_s=1e9,
        target_ci=1e-12,
        warmup_budget_s=0.0,
        settle_s=0.0,
        block_s=1e-12,
        burst_s=0.0,
    )
