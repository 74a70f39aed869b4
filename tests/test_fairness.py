"""The same-compiled-program helper and the pinned matmul precision."""

import jax

from nnbench import _env, _report
from nnbench._fairness import diff_text, same_program


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
    text = "\n".join(_report._same_program_md(run["records"]))
    assert "Same compiled program" in text
    assert "| dense/forward/tiny/float32 | linen | no | dot 1→2 |" in text


def test_matmul_precision_is_pinned_and_recorded():
    _env.pin_matmul_precision()
    assert jax.config.jax_default_matmul_precision == _env.MATMUL_PRECISION
    assert _env.fingerprint()["matmul_precision"] == _env.MATMUL_PRECISION
