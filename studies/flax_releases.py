"""The same cases across flax and jax releases: which release changed
``nnx.jit``'s dispatch most?

Every API style and NNX jit mode the release offers (``jax``, ``linen``,
``haiku``, ``nnx``, ``nnx_split`` and, where detected, ``nnx_tree``,
``nnx_cached``, ``nnx_partial``), forward and train, MLP at tiny, float32:
dispatch (host time per call) and step time, one ``nnbench run`` per release
environment (a ``pip:`` side's cached environment: nnbench editable from
this checkout, the release pinned over its dependencies).

    python studies/flax_releases.py build     # the environments (network, disk; little CPU)
    python studies/flax_releases.py measure   # one nnbench run per environment (quiet machine!)
    python studies/flax_releases.py table     # studies/results/flax-releases.md, and the bisect command

``build`` pins jax and jaxlib to this interpreter's for the flax releases
(falling back to older jax releases, ``OLDER_JAX``, when a release does not
import with it) and, for the jax releases, flax to this interpreter's
(falling back to ``OLDER_FLAX`` likewise);
``studies/results/flax-releases-envs.json`` records what resolved and what
did not install or import, and why. ``measure`` skips environments already
measured (``studies/results/flax-releases/<label>.json``); ``--budget``
(default 1 s per case) is ``nnbench run``'s.

The release where ``nnx.jit`` (style ``nnx``) dispatch changed most is then
found by ``nnbench bisect --package flax`` between the releases around it and
confirmed by ``nnbench ab``: ``table`` prints both commands.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import nnbench.run.envs as envs
from nnbench.run.sides import Side, SideError

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
ENVS_FILE = RESULTS / "flax-releases-envs.json"
RUNS = RESULTS / "flax-releases"
TABLE = RESULTS / "flax-releases.md"
NNX_JIT = ("nnx", "nnx_tree", "nnx_cached", "nnx_partial")
SELECTION = ["--layer", "mlp", "--size", "tiny", "--mode", "forward,train", "--dtype", "float32"]
FLAX_FROM, JAX_FROM = "0.10.0", "0.6.0"
# Tried in turn when a release does not import with this interpreter's jax
# (flax 0.10.7 to 0.12.x import jax._src.core.mutable_array, which jax 0.10
# dropped) or flax: the last patch of each older minor.
OLDER_JAX = ("0.9.2", "0.8.3", "0.7.2", "0.6.2", "0.5.3")
OLDER_FLAX = ("0.11.2", "0.10.7", "0.10.6")


def _installed(name: str) -> str:
    from importlib.metadata import version

    return version(name)


def plan() -> list[dict]:
    """Every environment: ``label``, ``package``, ``version``, the pinned spec and its fallback."""
    from packaging.version import Version

    jax_v, flax_v = _installed("jax"), _installed("flax")
    out = []
    for package, start in (("flax", FLAX_FROM), ("jax", JAX_FROM)):
        offered = [v for v in envs.index_versions(package) if not Version(v).is_prerelease]
        for v in sorted((v for v in offered if Version(v) >= Version(start)), key=Version):
            if package == "flax":
                specs = [f"flax=={v},jax=={j},jaxlib=={j}" for j in (jax_v, *OLDER_JAX)]
            else:
                specs = [f"jax=={v},jaxlib=={v},flax=={f}" for f in (flax_v, *OLDER_FLAX)]
            out.append({"label": f"{package}-{v}", "package": package, "version": v, "specs": specs})
    return out


def build(args) -> None:
    """Make (or reuse) each environment and prove it by the handshake."""
    RESULTS.mkdir(exist_ok=True)
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])  # its uv
    done = json.loads(ENVS_FILE.read_text()) if ENVS_FILE.exists() else {}
    for item in plan():
        if done.get(item["label"], {}).get("ok"):
            continue
        tries = []
        for spec in item["specs"]:
            started = time.monotonic()
            try:
                side = Side.parse("candidate", f"pip:{spec}")
            except SideError as e:
                tries.append({"spec": spec, "error": str(e), "s": round(time.monotonic() - started)})
                print(f"{item['label']}: {spec}: {e}", flush=True)
                continue
            versions = envs.installed_versions(side.python)
            keep = {k: versions.get(k) for k in envs.KEY_PACKAGES}
            tries.append(
                {"spec": spec, "python": side.python, "versions": keep, "s": round(time.monotonic() - started)}
            )
            print(f"{item['label']}: {spec}: ok {keep}", flush=True)
            break
        done[item["label"]] = {**item, "ok": "python" in tries[-1], "tries": tries}
        ENVS_FILE.write_text(json.dumps(done, indent=1))


def measure(args) -> None:
    """One ``nnbench run`` of the selection in each environment built."""
    RUNS.mkdir(parents=True, exist_ok=True)
    done = json.loads(ENVS_FILE.read_text())
    for label, item in done.items():
        out = RUNS / f"{label}.json"
        if not item["ok"] or _run_path(label).exists():
            continue
        python = item["tries"][-1]["python"]
        argv = [python, "-m", "nnbench", "run", *SELECTION, "--budget", str(args.budget), "--out", str(out)]
        print(" ".join(argv), flush=True)
        started = time.monotonic()
        code = subprocess.run(argv).returncode
        print(f"{label}: exit {code}, {time.monotonic() - started:.0f} s", flush=True)


def _run_path(label: str) -> Path:
    """A release's run file: as ``measure`` wrote it, or gzipped as committed."""
    path = RUNS / f"{label}.json"
    return path if path.exists() else path.with_name(path.name + ".gz")


def _records(path: Path) -> dict[tuple[str, str], dict]:
    import gzip

    run = json.loads(gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_text())
    return {(r["case"]["style"], r["case"]["mode"]): r for r in run["records"] if r["status"] == "ok"}


def table(args) -> None:
    """The table (dispatch and step time per release) and the bisect command."""
    from packaging.version import Version

    done = json.loads(ENVS_FILE.read_text())
    styles = ["jax", "linen", "haiku", "nnx_split", "nnx", "nnx_tree", "nnx_cached", "nnx_partial"]
    lines = ["# MLP tiny float32 across releases: dispatch / step time (µs, median)", ""]
    biggest = None
    flax_order = sorted((v["version"] for v in done.values() if v["package"] == "flax" and v["ok"]), key=Version)
    for package in ("flax", "jax"):
        labels = sorted(
            (k for k, v in done.items() if v["package"] == package), key=lambda k: Version(done[k]["version"])
        )
        for mode in ("forward", "train"):
            lines += [f"## {package} releases, {mode}", "", "| release | resolved | " + " | ".join(styles) + " |"]
            lines.append("|---" * (len(styles) + 2) + "|")
            prev: dict = {}  # style -> (item, dispatch, jax, first release of its same-jax run)
            for label in labels:
                item, path = done[label], _run_path(label)
                if not item["ok"]:
                    lines.append(f"| {label} | did not install: {item['tries'][-1]['error'][-120:]} |")
                    continue
                if not path.exists():
                    lines.append(f"| {label} | not measured |")
                    continue
                recs, v = _records(path), item["tries"][-1]["versions"]
                cells = []
                for s in styles:
                    r = recs.get((s, mode))
                    cells.append(
                        f"{r['dispatch']['median'] * 1e6:.1f} / {r['time']['median'] * 1e6:.1f}"
                        if r and r.get("dispatch") and r.get("time")
                        else "–"
                    )
                resolved = f"flax {v.get('flax')}, jax {v.get('jax')}"
                lines.append(f"| {label} | {resolved} | " + " | ".join(cells) + " |")
                if package == "flax" and mode == "forward":
                    for s in NNX_JIT:  # neighbours on the same jax only: a jax change is not flax's
                        r = recs.get((s, "forward"))
                        if not (r and r.get("dispatch")):
                            prev.pop(s, None)
                            continue
                        d, jax_v = r["dispatch"]["median"], v.get("jax")
                        p = prev.get(s)
                        if p and p[2] == jax_v and (biggest is None or abs(math.log(d / p[1])) > biggest[0]):
                            biggest = (abs(math.log(d / p[1])), p[0], item, d / p[1], v, s, p[3])
                        prev[s] = (item, d, jax_v, prev[s][3] if p and p[2] == jax_v else item["version"])
            lines.append("")
    if biggest:
        lines += bisect_lines(biggest, flax_order)
    TABLE.write_text("\n".join(lines) + "\n")
    print("\n".join(lines[-6:]))
    print(f"wrote {TABLE}")


def bisect_lines(biggest, order: list[str]) -> list[str]:
    """The bisect and ab commands for the largest change in an NNX jit mode's
    forward dispatch between neighbouring measured releases on the same jax:
    the bisection spans one release more on each side where that mode runs
    on that jax, so it has to find the release, not just confirm a pair."""
    _, before, after, ratio, resolved, style, first = biggest
    i, j = order.index(before["version"]), order.index(after["version"])
    good = order[max(i - 1, order.index(first))]
    bad = order[min(j + 1, len(order) - 1)]
    pins = f"jax=={resolved.get('jax')},jaxlib=={resolved.get('jaxlib')}"
    direction = "" if ratio > 1 else " --direction faster"
    selection = f"--layer mlp --size tiny --style {style} --mode forward"
    out = [
        f"Largest change in an NNX jit mode's forward dispatch between neighbouring flax releases on the same jax "
        f"({resolved.get('jax')}): `{style}`, {before['version']} -> {after['version']} (x{ratio:.2f}).",
        "",
        "```",
    ]
    if order.index(bad) - order.index(good) > 1:
        out.append(
            f"nnbench bisect --package flax {good} {bad} --with {pins} {selection} --metric dispatch{direction} "
            "--out reports/flax-bisect"
        )
    out += [
        f"nnbench ab --baseline pip:flax=={before['version']},{pins} --candidate pip:flax=={after['version']},{pins} "
        f"{selection} --out reports/flax-ab",
        "```",
    ]
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("step", choices=("build", "measure", "table"))
    p.add_argument("--budget", type=float, default=1.0, help="measure: nnbench run's budget per case (s)")
    args = p.parse_args()
    {"build": build, "measure": measure, "table": table}[args.step](args)


if __name__ == "__main__":
    main()
