"""XLA profiles: capture a fenced N-step trace beside the step's programs.

A capture runs *apart from* the timing samples (the profiler perturbs
timing): a few untimed warm-up calls, then ``steps`` calls inside
``jax.profiler.trace``, each in a ``StepTraceAnnotation`` and blocked on its
whole output. Beside the ``.xplane.pb`` the session folder gets the step's
optimized HLO (``hlo.txt``), its jaxpr (``jaxpr.txt``) and the summary
(``summary.json``), so a later diff needs nothing but the folder.

The package's parts: ``capture`` (this module: capturing), ``summary``
(what one capture says: per-op times, categories, the top-ops table),
``diff`` (two summaries or two records' profiles, as data and as text).
The names below them stay importable from here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax

from nnbench.measure.timing import Carry, fenced_call
from nnbench.profile.diff import (  # noqa: F401 - re-exported
    SUMMARY_FILE,
    ProfileFileError,
    diff,
    diff_for_compare,
    diff_text_for_compare,
    format_diff,
    load_summary,
    records_diff,
)
from nnbench.profile.summary import TOP_K, format_summary, hlo_categories, hlo_op_info, summarize, view_commands  # noqa: F401 - re-exported
from nnbench.profile.text import CATEGORIES  # noqa: F401 - re-exported

DEFAULT_STEPS = 5
DEFAULT_WARMUP = 2

# --- capture ---------------------------------------------------------------


def capture(
    step: Callable[..., Any],
    args: tuple[Any, ...],
    carry: Carry | None,
    logdir: str | os.PathLike,
    steps: int = DEFAULT_STEPS,
    warmup: int = DEFAULT_WARMUP,
    name: str = "step",
) -> tuple[Path, tuple[Any, ...]]:
    """Trace ``steps`` fenced calls of ``step`` after ``warmup`` untimed ones.

    Args:
      step: a jitted callable (``jax.jit``, ``nnx.jit``).
      args: its arguments; donated ones are threaded on through ``carry``.
      carry: ``(args, out) -> next_args`` or ``None`` (same ``args`` again).
      logdir: the profile log folder; JAX adds ``plugins/profile/<session>/``.
      steps: calls captured, each in a ``StepTraceAnnotation(name, step_num=i)``.
      warmup: calls made before the trace starts, so no compile lands in it.

    Returns:
      ``(session_dir, next_args)``: the new session folder holding
      ``<host>.xplane.pb``, and the arguments for a further call.
    """
    if steps < 1 or warmup < 0:
        raise ValueError("need steps >= 1 and warmup >= 0")
    root = Path(logdir) / "plugins" / "profile"
    before = set(root.iterdir()) if root.is_dir() else set()
    for _ in range(warmup):
        _, args, _, _ = fenced_call(step, args, carry)
    with jax.profiler.trace(str(logdir)):
        for i in range(steps):
            with jax.profiler.StepTraceAnnotation(name, step_num=i):
                _, args, _, _ = fenced_call(step, args, carry)
    new = sorted(set(root.iterdir()) - before) if root.is_dir() else []
    if len(new) != 1:
        raise RuntimeError(f"expected one new profile session under {root}, found {len(new)}")
    return new[0], args


def save_programs(step: Callable[..., Any], args: tuple[Any, ...], folder: Path) -> dict[str, str]:
    """Write the jaxpr and optimized HLO of ``step(*args)`` into ``folder``.

    Tracing and lowering consume no buffers, so donated ``args`` stay valid.
    Returns ``{"jaxpr": path, "hlo": path}``.
    """
    from nnbench.measure.stages import jaxpr_of

    traced = step.trace(*args)
    compiled = traced.lower().compile()
    paths = {"jaxpr": folder / "jaxpr.txt", "hlo": folder / "hlo.txt"}
    paths["jaxpr"].write_text(str(jaxpr_of(traced)))
    paths["hlo"].write_text(compiled.as_text() or "")
    return {k: str(v) for k, v in paths.items()}


def xplane_file(session: str | os.PathLike) -> Path:
    """The ``*.xplane.pb`` of a session folder (one host: one file)."""
    found = sorted(Path(session).glob("*.xplane.pb"))
    if not found:
        raise FileNotFoundError(f"{session}: no *.xplane.pb in this profile session")
    return found[0]


def profile_step(
    step: Callable[..., Any],
    args: tuple[Any, ...],
    carry: Carry | None,
    logdir: str | os.PathLike,
    base: str | os.PathLike | None = None,
    steps: int = DEFAULT_STEPS,
    warmup: int = DEFAULT_WARMUP,
    name: str = "step",
) -> dict[str, Any]:
    """Capture, save the programs, summarise: the ``profile`` field of a record.

    Paths in the result are relative to ``base`` (the run file's folder) when
    given. The full summary is written to ``summary.json`` in the session
    folder; the record keeps the top ops, categories and overview.
    """
    session, next_args = capture(step, args, carry, logdir, steps, warmup, name)
    programs = save_programs(step, next_args, session)
    hlo_text = Path(programs["hlo"]).read_text()
    summary = summarize(xplane_file(session), hlo_text)
    (session / SUMMARY_FILE).write_text(json.dumps(summary, indent=1))

    def rel(p: str | os.PathLike) -> str:
        return os.path.relpath(p, base) if base is not None else str(p)

    return {
        "logdir": rel(logdir),
        "session": rel(session),
        "xplane": rel(xplane_file(session)),
        "hlo": rel(programs["hlo"]),
        "jaxpr": rel(programs["jaxpr"]),
        "summary": rel(session / SUMMARY_FILE),
        "steps": steps,
        "warmup": warmup,
        "top_ops": summary["ops"][:TOP_K],
        "categories": summary["categories"],
        "overview": summary["overview"],
    }


def case_slug(case_id: str) -> str:
    """A folder name for a case id (``mlp/jax/train/small/float32`` →
    ``mlp-jax-train-small-float32``)."""
    return case_id.replace("/", "-")


def profile_case(
    case, logdir: str | os.PathLike, base: str | os.PathLike | None = None, steps: int = DEFAULT_STEPS
) -> dict[str, Any]:
    """Build one catalog case (``layers.build``, canonical weights) and profile
    it in this process into ``logdir/<case slug>``."""
    from nnbench import layers

    built = layers.build(layers.get(case.layer), case.style, case.size, case.mode, case.dtype)
    return profile_step(
        built.step, built.args, built.carry, Path(logdir) / case_slug(case.id), base, steps=steps, name=case.mode
    )


def profile_records(
    lanes: Sequence[tuple[dict[str, Any], Any]], profile_dir: str | os.PathLike, steps: int = DEFAULT_STEPS
) -> None:
    """Profile the timed steps of a group, after their timing (``run --profile``).

    ``lanes``: ``(record, _timing.Lane)`` pairs; each ok record gets a
    ``profile`` field with paths relative to the run file's folder (the
    parent of ``profile_dir``), or ``profile_error`` when the capture failed.
    """
    root = Path(profile_dir)
    for record, lane in lanes:
        if record.get("status") != "ok":
            continue
        try:
            prof = profile_step(
                lane.step,
                lane.args,
                lane.carry,
                root / case_slug(record["id"]),
                root.parent,
                steps=steps,
                name=record["case"]["mode"],
            )
        except Exception as e:  # noqa: BLE001 - a failed capture must not lose the timing
            record["profile_error"] = f"{type(e).__name__}: {e}"
        else:
            record["profile"] = prof
