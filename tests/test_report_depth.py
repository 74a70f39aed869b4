"""The compile-vs-depth section and plot, on records whose growth is known
by construction: unrolled stages linear (or quadratic) in depth, scanned
ones flat."""

import pytest

from nnbench.report import depth as _depth
from nnbench.report import render
from nnbench.report.document import Document


def _record(style, depth, scan, trace, lower, compile_, status="ok"):
    size = f"d{depth}_scan" if scan else f"d{depth}"
    return {
        "id": f"transformer_lm/train/{size}/float32/{style}",
        "case": {"layer": "transformer_lm", "mode": "train", "size": size, "dtype": "float32", "style": style},
        "status": status,
        "compile": {"trace_s": trace, "lower_s": lower, "compile_s": compile_, "total_s": trace + lower + compile_},
    }


def _records():
    out = []
    for d in (1, 2, 4, 8, 16, 32):
        # jax: every stage linear in depth; nnx: compile quadratic; scanned: flat
        out.append(_record("jax", d, False, 0.01 * d, 0.002 * d, 0.05 * d))
        out.append(_record("nnx", d, False, 0.01 * d, 0.002 * d, 0.05 * d * d))
        out.append(_record("jax", d, True, 0.02, 0.004, 0.3))
    out.append(_record("linen", 4, False, 1.0, 1.0, 1.0, status="failed"))  # not ok: left out
    out.append(
        {**_record("jax", 4, False, 1, 1, 1), "case": {**_record("jax", 4, False, 1, 1, 1)["case"], "size": "tiny"}}
    )
    return out


def test_growth_is_the_log_log_slope():
    pts = _depth.points(_records())
    assert set(pts) == {
        ("transformer_lm", "train", "unrolled", "jax"),
        ("transformer_lm", "train", "unrolled", "nnx"),
        ("transformer_lm", "train", "scan", "jax"),
    }
    assert _depth.growth(pts[("transformer_lm", "train", "unrolled", "jax")], "total_s") == pytest.approx(1.0)
    assert _depth.growth(pts[("transformer_lm", "train", "unrolled", "nnx")], "compile_s") == pytest.approx(2.0)
    assert _depth.growth(pts[("transformer_lm", "train", "unrolled", "nnx")], "trace_s") == pytest.approx(1.0)
    assert _depth.growth(pts[("transformer_lm", "train", "scan", "jax")], "total_s") == pytest.approx(0.0, abs=1e-9)


def test_section_tables_and_plot():
    records = _records()
    section = _depth.section(records)
    text = render.markdown(Document("t", [section]))
    assert "compile time vs depth" in text
    row = next(line for line in text.splitlines() if "| unrolled | nnx |" in line)
    assert row.rstrip().endswith("| 1.94 |")  # total 0.012d + 0.05d²: the fitted slope over d1-d32 is 1.94
    stage_row = [line for line in text.splitlines() if "| unrolled | nnx |" in line][1]
    assert "| 1.00 | 1.00 | 2.00 |" in stage_row  # trace, lower, compile growth
    scan_row = next(line for line in text.splitlines() if "| scan | jax |" in line)
    assert "| 0.00 |" in scan_row
    png = _depth.depth_png(records)
    assert png and png.startswith(b"\x89PNG")
    assert _depth.section([r for r in records if not r["case"]["size"].startswith("d")]) is None
