"""Measure one group of cases in this process: parity gate, build, compile,
time the styles interleaved, record. A *group* is the cases of one
layer/mode/size/dtype in several styles; its styles are compiled one by one
and then timed interleaved (see ``nnbench.measure.timing.run_rounds``).

A case's fault is data: it becomes the record's ``status`` (``failed``,
``invalid``, ``skipped``) and ``error``, never an exception out of here.
"""

from __future__ import annotations

import re
import time
import traceback
from collections.abc import Sequence
from typing import Any

from nnbench.measure.timing import Gate, TimingPolicy, Until, run_rounds
from nnbench.results.case import Case
from nnbench.run.cases import group_key as group_key
from nnbench.run.gate import group_parity, step_gate


def base_record(case: Case) -> dict[str, Any]:
    return {"id": case.id, "case": case.to_dict(), "status": "failed", "error": None}


def _fail(record: dict[str, Any], exc: BaseException) -> None:
    from nnbench.measure.step import NonFiniteOutput
    from nnbench.run.scaling import GateFailed, Unavailable

    if isinstance(exc, Unavailable):
        record.update(status="skipped", error=str(exc))
    elif isinstance(exc, (NonFiniteOutput, GateFailed)):
        record.update(status="invalid", error=str(exc))
        if hasattr(exc, "info"):
            record["scaling"] = exc.info
    else:
        fault = "oom" if _is_oom(exc) else "exception"
        record.update(status="failed", error=_one_line(exc), fault=fault, traceback=traceback.format_exc(limit=8))


_OOM_TEXT = re.compile(r"RESOURCE_EXHAUSTED|Out of memory|std::bad_alloc|^MemoryError\b", re.M)


def _is_oom(exc: BaseException) -> bool:
    """Memory ran out: a ``MemoryError`` (itself or behind it in the
    exception chain), XLA failing an allocation (``RESOURCE_EXHAUSTED``), or
    a ``MemoryError`` inside the step that XLA re-raised as its own error
    with the inner traceback in its message (a host callback)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, MemoryError) or _OOM_TEXT.search(str(exc)):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def _one_line(exc: BaseException) -> str:
    """A record's ``error``: the exception type and the first line of its
    message, plus its last line when there are more (an XLA error that
    wraps a callback's traceback ends with the inner exception); the whole
    text stays in the record's ``traceback``."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    first = lines[0].split("Traceback (most recent call last)")[0].rstrip(" :")  # the traceback is the record's
    text = lines[-1] if not first else first if len(lines) == 1 else f"{first} … {lines[-1]}"
    return f"{type(exc).__name__}: {text}"


def compile_pass(cases: Sequence[Case]) -> list[dict[str, Any]]:
    """Build and compile each case (stage API, JAX caches cleared), untimed
    steps: the warm-compile pass run in a fresh process over a persistent
    cache. Records hold ``compile`` only."""
    from nnbench import layers
    from nnbench.measure import stages as _compile

    records = [base_record(case) for case in cases]
    built = {}
    for i, case in enumerate(cases):  # every build before the first cache clear (see run_group)
        try:
            built[i] = layers.build(layers.get(case.layer), case.style, case.size, case.mode, case.dtype)
        except Exception as e:  # noqa: BLE001
            _fail(records[i], e)
    for i, b in built.items():
        try:
            _, info, _, _ = _compile.compile_stages(b.step, b.args)
            info.pop("hlo_op_histogram", None)
            records[i].update(status="ok", compile=info)
        except Exception as e:  # noqa: BLE001
            _fail(records[i], e)
    return records


def _param_summary(entry, case: Case) -> dict[str, int]:
    """Parameter leaves and scalars of the case's model (shapes only, no compute)."""
    import jax

    from nnbench.layers import styles as _styles

    config = entry.config(case.size)

    def weights():
        k_data, k_init = jax.random.split(jax.random.key(0))
        batch = _styles.batch_for(entry, config, case.dtype, k_data)
        return _styles.canonical_weights(entry, config, case.dtype, k_init, batch["x"])

    leaves = jax.tree_util.tree_leaves(jax.eval_shape(weights)["params"])
    return {"param_leaves": len(leaves), "params": int(sum(leaf.size for leaf in leaves))}


def run_groups(
    cases: Sequence[Case],
    policy: TimingPolicy | None = None,
    lower_for: Sequence[str] = (),
    profile_dir: str | None = None,
    until: Until | None = None,
    gate: Gate | None = None,
) -> list[dict[str, Any]]:
    """``run_group`` for each group in ``cases`` (in order), one after the other."""
    groups: dict[str, list[Case]] = {}
    for case in cases:
        groups.setdefault(group_key(case), []).append(case)
    return [r for members in groups.values() for r in run_group(members, policy, lower_for, profile_dir, until, gate)]


def run_group(
    cases: Sequence[Case],
    policy: TimingPolicy | None = None,
    lower_for: Sequence[str] = (),
    profile_dir: str | None = None,
    until: Until | None = None,
    gate: Gate | None = None,
) -> list[dict[str, Any]]:
    """Measure ``cases`` in this process; never raises for a case's fault.

    ``lower_for``: platforms (``tpu``, ``gpu``, ...) to also lower each case
    for, recorded under ``lower_for``. With ``profile_dir``, each ok case is
    then profiled in a separate pass (``_profile.profile_records``), after
    its timing. ``until``: who ends sampling, round by round (see
    ``_timing.run_rounds``; default: the policy). ``gate(phase)``: called
    before the cold compiles (``"compile"``) and by ``run_rounds`` before
    settling and warming up, where an ``nnbench ab`` worker waits for its
    parent (what is measured runs one side at a time).
    """
    from nnbench import layers
    from nnbench.measure import env as _env
    from nnbench.measure import keep as _keep
    from nnbench.measure import stages as _compile
    from nnbench.measure import step as _measure
    from nnbench.run import scaling as _scaling

    _env.pin_matmul_precision()
    policy = policy or TimingPolicy()
    records = [base_record(c) for c in cases]
    ready: list[tuple[dict[str, Any], _measure.Prepared, Any]] = []
    t0 = time.perf_counter()
    parity = group_parity(cases)
    # Phase 1: build every case (weights, batches, gates: eager JAX work).
    # Phase 2: prepare each (caches cleared for a cold trace, compile, first
    # call). Building first matters: each prepare clears JAX's caches, and
    # eager ops (random init, batch makers) run after a clear recompile —
    # interleaving builds with prepares cost ~40 s of XLA compiles per group.
    built_cases: list[tuple[dict[str, Any], Any, Any, float | None, int | None]] = []
    for case, record in zip(cases, records, strict=True):
        try:
            if case.source is not None:
                step, args, carry, uc = _user_step(case, record)
                built_cases.append((record, (step, args, carry), None, uc.model_flops, uc.items_per_step))
                continue
            entry = layers.get(case.layer)
            config = entry.config(case.size)
            if case.mode == "init":
                record["parity"] = None  # styles initialise differently by design
            else:
                result = parity[case.style]
                if isinstance(result, BaseException):
                    raise result
                record["parity"] = result
                if not result["ok"]:
                    record.update(status="invalid", error=f"parity: {result['message']}")
                    continue
            record["model"] = _param_summary(entry, case)
            if case.sharded:  # laid out on a mesh, gated against one device
                built, model_flops, items, record["scaling"] = _scaling.build(case)
            else:
                built = layers.build(entry, case.style, case.size, case.mode, case.dtype)
                model_flops, items = entry.flops(config, case.mode), entry.items(config)
            if lower_for:
                record["lower_for"] = _compile.lower_for(built.step, built.args, tuple(lower_for))
            record["donated"] = built.donated
            built_cases.append((record, (built.step, built.args, built.carry), built, model_flops, items))
        except Exception as e:  # noqa: BLE001 - a failing case is data, not a crash
            _fail(record, e)
    if gate is not None:
        gate("compile")
    keeper = _keep.Keeper()  # each cold compile's executable, served again at the reprime
    for record, (step, args, carry), built, model_flops, items in built_cases:
        try:
            _measure.reset_peak_rss()  # this case's own peak from here
            with keeper.record():
                prepared = _measure.prepare(
                    step,
                    args,
                    carry,
                    model_flops=model_flops,
                    items_per_step=items,
                    dtype=record["case"]["dtype"],
                    rss_before=_measure.current_rss_bytes(),
                )
            ready.append((record, prepared, built))
        except Exception as e:  # noqa: BLE001
            _fail(record, e)
    if ready:
        try:
            _keep.reprime([p for _, p, _ in ready], keeper)
            ready = step_gate(ready)
            stop = run_rounds([p.lane for _, p, _ in ready], policy, until, gate) if ready else None
        except Exception as e:  # noqa: BLE001
            for record, _, _ in ready:
                _fail(record, e)
        else:
            for record, p, _ in ready:
                try:
                    record.update(_measure.finish(p, stop, policy), error=None)
                    record["interleaved_with"] = len(ready)
                    if "scaling" in record:
                        _scaling.finish_record(record)
                except Exception as e:  # noqa: BLE001
                    _fail(record, e)
    if profile_dir is not None and ready:
        from nnbench.profile.capture import profile_records

        profile_records([(r, p.lane) for r, p, _ in ready], profile_dir)
    wall = time.perf_counter() - t0
    for record in records:
        record["group_wall_s"] = wall
    return records


def _user_step(case: Case, record: dict[str, Any]):
    """A user's case built: ``(step, args, carry, UserCase)`` (no parity:
    there is no reference)."""
    from nnbench.run import usercases as _usercases

    record["parity"] = None
    return _usercases.built(case)
