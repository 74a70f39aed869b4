"""The same-compiled-program helper and the pinned matmul precision."""

import json
import os
import subprocess
import sys
from pathlib import Path

from nnbench.compare.same_program import diff_text, same_program
from nnbench.measure import env as _env
from nnbench.report import render
from nnbench.report import run as _report


def _record(style, hist, layer="dense", status="ok"):
    case = {"layer": layer, "style": style, "mode": "forward", "size": "tiny", "dtype": "float32"}
    return {"id": "/".join(case.values()), "case": case, "status": status, "compile": {"hlo_op_histogram": hist}}


def test_same_program_flags_differing_ops():
    ref = {"dot": 1, "add": 1, "parameter": 3}
    records = [
        _record("jax", ref),
        _record("linen", dict(ref)),
        _record("nnx", {"dot": 1, "add": 1, "parameter": 5, "copy": 2}),
        _record("haiku", None, status="failed"),
    ]
    table = same_program(records)
    row = table["dense/forward/tiny/float32"]
    assert "jax" not in row
    assert row["linen"] == {"same": True, "diff": {}}
    assert row["nnx"]["same"] is False
    assert row["nnx"]["diff"] == {"copy": (0, 2), "parameter": (3, 5)}
    assert row["haiku"]["same"] is None
    assert diff_text(row["nnx"]["diff"]) == "copy 0→2, parameter 3→5"


def test_markdown_has_same_program_section():
    records = [_record("jax", {"dot": 1}), _record("linen", {"dot": 2})]
    run = {"env": {}, "records": records}
    # Only the section's own lines: the timing tables need full records.
    text = render.markdown_body([_report.same_program_section(run["records"])])
    assert "Same compiled program" in text
    assert "| dense/forward/tiny/float32 | linen | no | dot 1→2 |" in text


_PRECISION_PROBE = """
import json, re
from nnbench import layers
from nnbench.measure import env as _env

def precisions():
    built = layers.build(layers.get("mlp"), "jax", "tiny", "forward")
    return sorted(set(re.findall(r"precision = \\[(\\w+), \\w+\\]", built.step.lower(*built.args).as_text())))

before = precisions()
_env.pin_matmul_precision()
print(json.dumps({"before": before, "after": precisions(), "recorded": _env.fingerprint()["matmul_precision"]}))
"""


def test_pinned_precision_reaches_the_compiled_program():
    """In a fresh process: the catalog's matmuls lower with the default
    precision until nnbench pins it, then with HIGHEST, as the env records."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "JAX_PLATFORMS": "cpu"}
    out = subprocess.run(
        [sys.executable, "-c", _PRECISION_PROBE], env=env, capture_output=True, text=True, check=True, timeout=120
    )
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen == {"before": ["DEFAULT"], "after": [_env.MATMUL_PRECISION.upper()], "recorded": _env.MATMUL_PRECISION}
