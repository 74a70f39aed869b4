"""Environment fingerprint stored with every run."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

# Every case runs with this matmul precision, so styles (and machines) are
# compared at the same numerics; the run file's env records it.
MATMUL_PRECISION = "highest"


def pin_matmul_precision() -> None:
    """Set ``jax_default_matmul_precision`` to ``MATMUL_PRECISION``."""
    import jax

    jax.config.update("jax_default_matmul_precision", MATMUL_PRECISION)


PACKAGES = ("jax", "jaxlib", "flax", "dm-haiku", "optax", "numpy", "scipy", "nnbench")


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def cache_root() -> Path:
    """nnbench's folder under the user cache: ``$XDG_CACHE_HOME/nnbench``,
    else ``~/.cache/nnbench`` (calibrations, ``git:`` and ``pip:`` sides)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "nnbench"


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git_commit() -> str | None:
    """Commit of the working directory's repository, else of nnbench's own."""
    for where in (Path.cwd(), Path(__file__).resolve().parent):
        try:
            out = subprocess.run(
                ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=5, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        if out.returncode == 0:
            dirty = subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=where,
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            )
            return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    return None


def fingerprint() -> dict[str, Any]:
    """Library versions, platform, devices, CPU, XLA flags, git commit, host,
    and this machine's stored calibration (``nnbench calibrate``; None when
    it has none)."""
    import jax

    from nnbench.measure import calibration as _calibration

    devices = jax.devices()
    return {
        "python": platform.python_version(),
        "executable": sys.executable,
        "versions": {name: _version(name) for name in PACKAGES},
        "platform": platform.platform(),
        "backend": jax.default_backend(),
        "device_kind": devices[0].device_kind,
        "device_count": len(devices),
        "process_count": jax.process_count(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "matmul_precision": str(jax.config.jax_default_matmul_precision),
        "x64": bool(jax.config.jax_enable_x64),
        "git_commit": _git_commit(),
        "host": socket.gethostname(),
        "calibration": _calibration.current(),
    }
