"""XLA profiles: capture a fenced N-step trace, summarise it, diff two.

A capture runs *apart from* the timing samples (the profiler perturbs
timing): a few untimed warm-up calls, then ``steps`` calls inside
``jax.profiler.trace``, each in a ``StepTraceAnnotation`` and blocked on its
whole output. Beside the ``.xplane.pb`` the session folder gets the step's
optimized HLO (``hlo.txt``), its jaxpr (``jaxpr.txt``) and the summary
(``summary.json``), so a later diff needs nothing but the folder.

Summaries come from JAX's ``ProfileData`` reader (per-op events: self time,
occurrences, FLOPs/bytes where the backend attaches them) and from xprof's
own converter (``overview_page``: step time, idle share).
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import os
import re
import statistics
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import jax

from nnbench.measure.timing import Carry, fenced_call

DEFAULT_STEPS = 5
DEFAULT_WARMUP = 2
TOP_K = 12
SUMMARY_FILE = "summary.json"

CATEGORIES = ("matmul/conv", "fusion", "collective", "copy", "other")
_COLLECTIVES = (
    "all-reduce",
    "all-gather",
    "reduce-scatter",
    "all-to-all",
    "collective-permute",
    "collective-broadcast",
    "send",
    "recv",
)
_MATMUL = ("dot", "convolution")

# "  [ROOT] %name = <shape> opcode(...)..., calls=%comp" and "[ENTRY] %comp (...) -> ... {"
_INSTR = re.compile(r"^\s*(?:ROOT\s+)?%?([\w.\-]+)\s*=\s*(.*?)\s([a-z][a-z0-9\-]*)\((.*)$")
_LAYOUT = re.compile(r"\{[^{}]*\}")
_COMP = re.compile(r"^(?:ENTRY\s+)?%?([\w.\-]+)\s.*\{\s*$")
_CALLS = re.compile(r"(?:calls|to_apply|body|condition)=%?([\w.\-]+)")


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


# --- summary ---------------------------------------------------------------


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence fd 2 (xprof's C++ logging) for the duration."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def hlo_op_info(hlo_text: str) -> dict[str, tuple[str, str]]:
    """Instruction name → ``(category, result shape)``, from an HLO module's text.

    A fusion (or call) whose called computations hold a ``dot`` or
    ``convolution`` is ``matmul/conv``; other fusions are ``fusion``. The
    shape is printed without layouts, e.g. ``f32[64,512]``.
    """
    opcode: dict[str, str] = {}
    shape: dict[str, str] = {}
    calls: dict[str, list[str]] = {}
    comp_ops: dict[str, list[str]] = collections.defaultdict(list)
    current = ""
    for line in hlo_text.splitlines():
        m = _COMP.match(line)
        if m and "=" not in line.split("(")[0]:
            current = m.group(1)
            continue
        m = _INSTR.match(line)
        if not m:
            continue
        name, result, op, rest = m.groups()
        opcode[name], shape[name] = op, _LAYOUT.sub("", result).strip()
        calls[name] = _CALLS.findall(rest)
        comp_ops[current].append(name)

    def has_matmul(comp: str, seen: set[str]) -> bool:
        if comp in seen:
            return False
        seen.add(comp)
        return any(opcode[i] in _MATMUL or any(has_matmul(c, seen) for c in calls[i]) for i in comp_ops.get(comp, ()))

    return {
        name: (_category(op, any(has_matmul(c, set()) for c in calls[name])), shape[name])
        for name, op in opcode.items()
    }


def hlo_categories(hlo_text: str) -> dict[str, str]:
    """Instruction name → category (see ``hlo_op_info``)."""
    return {name: cat for name, (cat, _) in hlo_op_info(hlo_text).items()}


def _category(opcode: str, calls_matmul: bool = False) -> str:
    base = opcode.removesuffix("-start").removesuffix("-done")
    if base in _MATMUL or calls_matmul:
        return "matmul/conv"
    if base in _COLLECTIVES:
        return "collective"
    if base == "copy":
        return "copy"
    if base == "fusion" or opcode == "fusion":
        return "fusion"
    return "other"


def _guess_category(op_name: str) -> str:
    """Category from an op's name alone (no HLO text): ``copy.3`` → copy."""
    stem = op_name.split(".")[0]
    if stem.endswith("fusion"):
        return "fusion"
    return _category(stem)


def _self_times(
    events: list[tuple[int, int, str, dict[str, Any]]],
) -> Iterator[tuple[str, float, float, float, dict[str, Any]]]:
    """``(op, start_ns, dur_ns, self_ns, stats)`` for one thread's op events;
    an op's self time excludes ops nested inside it on the same thread."""
    events = sorted(events, key=lambda e: (e[0], -e[1]))
    stack: list[list[Any]] = []  # [end, op, start, dur, child_ns, stats]
    out = []
    for start, dur, op, stats in events:
        while stack and stack[-1][0] <= start:
            end, o, s, d, child, st = stack.pop()
            out.append((o, s, d, d - child, st))
        if stack:
            stack[-1][4] += dur
        stack.append([start + dur, op, start, dur, 0.0, stats])
    while stack:
        end, o, s, d, child, st = stack.pop()
        out.append((o, s, d, d - child, st))
    return iter(out)


def _union_ns(intervals: list[tuple[float, float]]) -> float:
    total, cur_s, cur_e = 0.0, None, None
    for s, e in sorted(intervals):
        if cur_e is None or s > cur_e:
            if cur_e is not None:
                total += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    if cur_e is not None:
        total += cur_e - cur_s
    return total


def _op_events(path: Path) -> tuple[list[tuple[str, float, float, float, dict[str, Any]]], list[tuple[float, float]]]:
    """XLA op events (with self time) and step windows from an xplane file.

    Device planes (``/device:*``, line ``XLA Ops``) are used where present;
    on CPU the ops sit on the ``/host:CPU`` worker threads, with an
    ``hlo_op`` stat. Step windows are the ``StepTraceAnnotation`` events.
    """
    from jax.profiler import ProfileData

    data = ProfileData.from_file(str(path))
    ops: list[tuple[str, float, float, float, dict[str, Any]]] = []
    windows: list[tuple[float, float]] = []
    device_ops = False
    for plane in data.planes:
        if plane.name.startswith("/device:"):
            for line in plane.lines:
                if line.name == "XLA Ops":
                    device_ops = True
                    evs = [(e.start_ns, e.duration_ns, e.name, dict(e.stats)) for e in line.events]
                    ops.extend(_self_times(evs))
    host = data.find_plane_with_name("/host:CPU")
    if host is not None:
        for line in host.lines:
            evs = []
            for e in line.events:
                stats = dict(e.stats)
                if "step_num" in stats:
                    windows.append((e.start_ns, e.start_ns + e.duration_ns))
                elif "hlo_op" in stats and not device_ops:
                    evs.append((e.start_ns, e.duration_ns, str(stats["hlo_op"]), stats))
            ops.extend(_self_times(evs))
    if windows and not device_ops:  # host clock: keep the ops of captured steps
        ops = [o for o in ops if any(s <= o[1] < e for s, e in windows)]
    return ops, windows


def _overview(path: Path) -> dict[str, Any]:
    """Step time and idle share from xprof's ``overview_page`` converter.

    A converter that fails leaves the figures ``None`` and says why in
    ``error``: the per-op summary does not depend on it.
    """
    try:
        from xprof.convert import raw_to_tool_data

        with _quiet_stderr():
            raw, _ = raw_to_tool_data.xspace_to_tool_data([str(path)], "overview_page", {})
        tables = json.loads(raw)
        error = None
    except Exception as e:  # noqa: BLE001 - e.g. xprof missing or a format it cannot read
        tables, error = [], f"{type(e).__name__}: {e}"

    def num(table: int, key: str) -> float | None:
        try:
            return float(str(tables[table]["p"][key]).rstrip("%"))
        except (IndexError, KeyError, ValueError):
            return None

    return {
        "step_time_ms_avg": num(1, "steptime_ms_average"),
        "step_time_ms_min": num(1, "steptime_ms_minimum"),
        "step_time_ms_max": num(1, "steptime_ms_maximum"),
        "step_time_ms_sd": num(1, "steptime_ms_standard_deviation"),
        "device_idle_pct": num(0, "device_idle_time_percent"),
        "host_idle_pct": num(0, "host_idle_time_percent"),
        "hardware_type": tables[1].get("p", {}).get("hardware_type") if len(tables) > 1 else None,
        "error": error,
    }


def summarize(xplane: str | os.PathLike, hlo_text: str | None = None) -> dict[str, Any]:
    """Per-op and per-category summary of one capture.

    Returns ``{"steps", "ops", "categories", "overview"}``: ``ops`` is every
    XLA op sorted by self time (``op``, ``module``, ``category``,
    ``shape`` (from the HLO), ``occurrences``, ``self_s_per_step`` (mean
    over the captured steps), ``self_s_median`` (median over them: robust
    to a preempted step), ``share`` of all op self time,
    ``flops``/``bytes_accessed`` per step where the profile reports them,
    else ``None``); ``categories`` maps each category to its seconds per step
    and share; ``overview`` holds xprof's step time and idle figures plus
    ``op_busy_share``: the fraction of the captured steps' wall time in
    which at least one XLA op ran (measured from the events).

    Self times add up over threads and devices: an op that runs on 4
    devices counts 4 occurrences per step, and the op time per step can
    exceed the step's wall time when ops run in parallel.
    """
    path = Path(xplane)
    events, windows = _op_events(path)
    steps = max(len(windows), 1)
    info = hlo_op_info(hlo_text) if hlo_text else {}
    windows = sorted(windows)
    agg: dict[tuple[str, str], dict[str, Any]] = {}
    for op, start, _, self_ns, stats in events:
        module = str(stats.get("hlo_module", ""))
        step = next((i for i, (s, e) in enumerate(windows) if s <= start < e), 0)
        row = agg.setdefault(
            (module, op),
            {
                "op": op,
                "module": module,
                "category": info[op][0] if op in info else _guess_category(op),
                "shape": info[op][1] if op in info else None,
                "occurrences": 0,
                "self_ns": 0.0,
                "per_step_ns": [0.0] * steps,
                "flops": None,
                "bytes_accessed": None,
            },
        )
        row["occurrences"] += 1
        row["self_ns"] += self_ns
        row["per_step_ns"][step] += self_ns
        for key in ("flops", "bytes_accessed"):
            if key in stats:
                row[key] = (row[key] or 0.0) + float(stats[key])
    total_ns = sum(r["self_ns"] for r in agg.values())
    ops = []
    for r in sorted(agg.values(), key=lambda r: -r["self_ns"]):
        ops.append(
            {
                "op": r["op"],
                "module": r["module"],
                "category": r["category"],
                "shape": r["shape"],
                "occurrences": r["occurrences"],
                "self_s_per_step": r["self_ns"] / steps * 1e-9,
                "self_s_median": float(statistics.median(r["per_step_ns"])) * 1e-9,
                "share": r["self_ns"] / total_ns if total_ns else 0.0,
                "flops": r["flops"] / steps if r["flops"] is not None else None,
                "bytes_accessed": r["bytes_accessed"] / steps if r["bytes_accessed"] is not None else None,
            }
        )
    categories = {c: {"self_s_per_step": 0.0, "share": 0.0, "ops": 0} for c in CATEGORIES}
    for o in ops:
        c = categories[o["category"]]
        c["self_s_per_step"] += o["self_s_per_step"]
        c["share"] += o["share"]
        c["ops"] += 1
    overview = _overview(path)
    window_ns = sum(e - s for s, e in windows)
    busy = _union_ns([(s, s + d) for _, s, d, _, _ in events]) if events else 0.0
    overview["op_busy_share"] = busy / window_ns if window_ns else None
    overview["captured_steps"] = len(windows)
    overview["op_time_s_per_step"] = total_ns / steps * 1e-9
    digest = hashlib.sha256(hlo_text.encode()).hexdigest() if hlo_text else None
    return {"steps": len(windows), "hlo_sha256": digest, "ops": ops, "categories": categories, "overview": overview}


# --- text ------------------------------------------------------------------


def _fmt_s(s: float | None) -> str:
    if s is None:
        return "n/a"
    a = abs(s)
    if a >= 1:
        return f"{s:.3g} s"
    if a >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    return f"{s * 1e6:.3g} µs"


def _fmt_n(x: float | None) -> str:
    if x is None:
        return "n/a"
    for unit, f in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= f:
            return f"{x / f:.3g}{unit}"
    return f"{x:.3g}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if a == "<" else c.rjust(w) for c, w, a in zip(cells, widths, align, strict=True)
        ).rstrip()

    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def format_summary(profile: dict[str, Any], k: int = TOP_K, title: str = "") -> str:
    """A printable top-ops table, the categories and the overview figures of a
    ``profile`` record field (or a ``summarize`` result). Ops are ranked by
    mean self time per step, which their share is of; the median beside it
    shows whether a few slow (e.g. preempted) steps inflate the mean."""
    ops = (profile.get("top_ops") or profile.get("ops") or [])[:k]
    rows = [
        [
            str(i + 1),
            o["op"],
            o.get("shape") or "",
            o["category"],
            str(o["occurrences"]),
            _fmt_s(o["self_s_per_step"]),
            _fmt_s(o.get("self_s_median")),
            f"{o['share'] * 100:.1f} %",
            _fmt_n(o["flops"]),
            _fmt_n(o["bytes_accessed"]),
        ]
        for i, o in enumerate(ops)
    ]
    out = [title] if title else []
    header = ["#", "op", "shape", "category", "count", "mean/step", "median/step", "share", "flops/step", "bytes/step"]
    out += _table(header, rows, ">" + "<<<" + ">" * 6)
    cats = profile.get("categories", {})
    out.append(
        "categories: "
        + ", ".join(
            f"{c} {v['share'] * 100:.1f} % ({_fmt_s(v['self_s_per_step'])})" for c, v in cats.items() if v["ops"]
        )
    )
    ov = profile.get("overview", {})
    busy = ov.get("op_busy_share")
    out.append(
        f"steps captured: {ov.get('captured_steps')}; step time (xprof overview): avg {ov.get('step_time_ms_avg')} ms, "
        f"min {ov.get('step_time_ms_min')} ms, max {ov.get('step_time_ms_max')} ms; op time/step {_fmt_s(ov.get('op_time_s_per_step'))}; "
        f"idle (no XLA op running) {'n/a' if busy is None else f'{(1 - busy) * 100:.1f} %'}; "
        f"xprof idle: host {ov.get('host_idle_pct')} %, device {ov.get('device_idle_pct')} %"
    )
    return "\n".join(out)


def view_commands(logdir: str | os.PathLike, port: int = 8791) -> list[str]:
    """The commands that open ``logdir`` in the xprof server and in TensorBoard
    (the latter needs ``tensorboard`` installed beside the profile plugin)."""
    d = str(logdir)
    return [f"xprof --logdir {d} --port {port}", f"tensorboard --logdir {d} --port {port}"]


# --- diff ------------------------------------------------------------------


def _op_time(o: dict[str, Any]) -> float:
    """An op's self time per step: the median over steps where recorded."""
    return o.get("self_s_median", o["self_s_per_step"])


def _kind(op: str) -> str:
    """An op's name without XLA's numeric suffix (``ynn_fusion.5`` → ``ynn_fusion``)."""
    return re.sub(r"\.\d+$", "", op)


def _moved(ta: float, tb: float, rel: float, abs_s: float) -> bool:
    return abs(tb - ta) > abs_s and (ta <= 0 or abs(tb - ta) / ta > rel)


def diff(
    base: dict[str, Any], cand: dict[str, Any], rel_threshold: float = 0.10, abs_threshold_s: float = 1e-6
) -> dict[str, Any]:
    """Op-level difference of two summaries (``summarize`` results, or the
    ``profile`` record fields, which hold only the top ops).

    Ops are matched by ``(module, op name, result shape)``: an op whose
    shape changed is a different computation, so it is listed as
    disappeared and appeared. An op is ``slower``/``faster`` when its
    median self time per step moved by more than ``rel_threshold`` and
    ``abs_threshold_s``; categories, kinds and the total add up these
    medians too (a record's ``profile`` field holds the top ops only, so
    its totals are partial). XLA numbers ops in the order it creates them, so
    when the two programs differ (``same_program`` false) a name can denote
    different work on each side: ``kinds`` (names without their number) and
    ``categories`` are compared too, and do not depend on numbering.
    """

    def ops_of(s: dict[str, Any]) -> list[dict[str, Any]]:
        return s.get("ops") or s.get("top_ops") or []

    def index(s: dict[str, Any]) -> dict[tuple[str, str, str | None], dict[str, Any]]:
        return {(o["module"], o["op"], o.get("shape")): o for o in ops_of(s)}

    def row(o: dict[str, Any], **times: float) -> dict[str, Any]:
        return {"op": o["op"], "shape": o.get("shape"), "category": o["category"], **times}

    a, b = index(base), index(cand)
    slower, faster = [], []
    for key in a.keys() & b.keys():
        ta, tb = _op_time(a[key]), _op_time(b[key])
        if ta > 0 and _moved(ta, tb, rel_threshold, abs_threshold_s):
            (slower if tb > ta else faster).append(row(b[key], base_s=ta, cand_s=tb, ratio=tb / ta))
    kinds: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0.0])
    cats = {c: [0.0, 0.0] for c in CATEGORIES}
    for side, s in enumerate((base, cand)):
        for o in ops_of(s):
            kinds[_kind(o["op"])][side] += _op_time(o)
            cats[o["category"]][side] += _op_time(o)
    ha, hb = base.get("hlo_sha256"), cand.get("hlo_sha256")
    return {
        "same_program": None if ha is None or hb is None else ha == hb,
        "slower": sorted(slower, key=lambda d: d["base_s"] - d["cand_s"]),
        "faster": sorted(faster, key=lambda d: d["cand_s"] - d["base_s"]),
        "appeared": sorted((row(b[k], cand_s=_op_time(b[k])) for k in b.keys() - a.keys()), key=lambda d: -d["cand_s"]),
        "disappeared": sorted(
            (row(a[k], base_s=_op_time(a[k])) for k in a.keys() - b.keys()), key=lambda d: -d["base_s"]
        ),
        "kinds": {
            k: tuple(v)
            for k, v in sorted(kinds.items(), key=lambda kv: -abs(kv[1][1] - kv[1][0]))
            if _moved(v[0], v[1], rel_threshold, abs_threshold_s)
        },
        "categories": {c: tuple(v) for c, v in cats.items()},
        "op_time_s_per_step": (sum(v[0] for v in cats.values()), sum(v[1] for v in cats.values())),
    }


def _ratio(x: float | None, y: float | None) -> str:
    return f"×{y / x:.2f}" if x and y is not None else "new"


def format_diff(d: dict[str, Any], k: int = 10) -> str:
    """A printable block for a ``diff`` result."""
    ta, tb = d["op_time_s_per_step"]
    out = [
        f"XLA op time per step (sum of per-op medians): {_fmt_s(ta)} -> {_fmt_s(tb)}"
        + (f" ({_ratio(ta, tb)})" if ta and tb else "")
    ]
    if d.get("same_program") is False:
        out.append(
            "note: the optimized HLO differs, so a same-named op may be different work; trust categories and kinds first"
        )
    cat_rows = [[c, _fmt_s(x), _fmt_s(y), _ratio(x, y)] for c, (x, y) in d["categories"].items() if x or y]
    out += _table(["category", "base/step", "cand/step", "ratio"], cat_rows, "<>>>")
    if d.get("kinds"):
        out.append(f"op kinds that moved ({len(d['kinds'])}), median self time per step:")
        rows = [[kind, _fmt_s(x), _fmt_s(y), _ratio(x, y)] for kind, (x, y) in list(d["kinds"].items())[:k]]
        out += ["  " + r for r in _table(["kind", "base/step", "cand/step", "ratio"], rows, "<>>>")]
    for kind in ("slower", "faster"):
        if d[kind]:
            out.append(f"ops {kind} ({len(d[kind])}), median self time per step:")
            rows = [
                [
                    x["op"],
                    x["shape"] or "",
                    x["category"],
                    _fmt_s(x["base_s"]),
                    _fmt_s(x["cand_s"]),
                    f"×{x['ratio']:.2f}",
                ]
                for x in d[kind][:k]
            ]
            out += [
                "  " + r for r in _table(["op", "shape", "category", "base/step", "cand/step", "ratio"], rows, "<<<>>>")
            ]
    for kind, key in (("appeared", "cand_s"), ("disappeared", "base_s")):
        if d[kind]:
            out.append(f"ops {kind} ({len(d[kind])}):")
            rows = [[x["op"], x["shape"] or "", x["category"], _fmt_s(x[key])] for x in d[kind][:k]]
            out += ["  " + r for r in _table(["op", "shape", "category", "self/step"], rows, "<<<>")]
            if len(d[kind]) > k:
                out.append(f"  … {len(d[kind]) - k} more")
    if not any(d[kind] for kind in ("slower", "faster", "appeared", "disappeared")):
        out.append("no op moved past the thresholds")
    return "\n".join(out)


def _full_summary(run_path: str | os.PathLike, record: dict[str, Any]) -> dict[str, Any]:
    """The full ``summary.json`` of a record's profile, or the record's own
    (top ops only) when the file is not beside the run file any more."""
    prof = record["profile"]
    name = prof.get("summary")
    if not isinstance(name, str) or not name or os.path.isabs(name) or ".." in Path(name).parts:
        return prof  # a run file names its summaries relative to itself, never elsewhere
    try:
        return load_summary(Path(run_path).parent / name)
    except ProfileFileError:
        return prof


class ProfileFileError(ValueError):
    """A profile summary is missing or unreadable (a bad-input error: exit 2)."""


def load_summary(path: str | os.PathLike) -> dict[str, Any]:
    """A ``summary.json``: the file itself, a session folder holding it, or a
    case log folder (its newest session). Read as every input is
    (``_results.read_json``: regular files only, size-capped, strict JSON)
    and checked against the run schema's ``profile_summary``."""
    from nnbench.results import runfile as _results

    p = Path(path)
    if p.is_dir():
        sessions = sorted((p / "plugins" / "profile").glob("*/" + SUMMARY_FILE))
        p = p / SUMMARY_FILE if (p / SUMMARY_FILE).exists() else (sessions[-1] if sessions else p / SUMMARY_FILE)
    try:
        data = _results.read_json(p, "profile summary")
    except _results.RunFileError as e:
        raise ProfileFileError(f"{path}: no profile summary ({e})" if p != Path(path) else str(e)) from None
    if not isinstance(data, dict) or not isinstance(data.get("ops"), list):
        raise ProfileFileError(f"{path}: not a profile summary (no 'ops' list)")
    problem = _results.schema_problem(data, "profile_summary")
    if problem:
        raise ProfileFileError(f"{path}: not a profile summary ({problem})")
    return data


def diff_for_compare(
    base_run_path: str | os.PathLike,
    base_record: dict[str, Any],
    cand_run_path: str | os.PathLike,
    cand_record: dict[str, Any],
) -> str | None:
    """The op-level diff of two records' profiles as printable text, or
    ``None`` when either record has no ``profile``. Called by ``compare``."""
    if not isinstance(base_record.get("profile"), dict) or not isinstance(cand_record.get("profile"), dict):
        return None
    d = diff(_full_summary(base_run_path, base_record), _full_summary(cand_run_path, cand_record))
    return f"profile diff {base_record.get('id', '')}\n" + format_diff(d)
