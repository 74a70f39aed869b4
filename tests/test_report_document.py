"""Reports as documents: the summary a run report opens with (checked
against ratios worked out by hand), every section in every format, the JSON
format, and the one plot registry."""

import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from nnbench.report import compare as _report_compare  # noqa: F401 - registers the compare plot
from nnbench.report import history as _report_history  # noqa: F401 - registers the history plot
from nnbench.report import plotting, render, summary
from nnbench.report import run as _report
from nnbench.report.document import Document, Figure, Section, Table
from nnbench.results import escape as _escape
from nnbench.results import runfile as _results

REAL = Path(__file__).parent / "data" / "run-mlp-tiny.json"  # mlp tiny, jax and linen, forward and train
T_975 = {3: 3.182446305284263}  # Student t, 97.5th percentile, by degrees of freedom (a printed table's value)


def _record(layer, style, median, compile_s, peak, status="ok"):
    case = {"layer": layer, "style": style, "mode": "forward", "size": "tiny", "dtype": "float32"}
    rec = {
        "id": f"{layer}/{style}/forward/tiny/float32",
        "case": case,
        "status": status,
        "error": None if status == "ok" else "boom",
    }
    if status == "ok":
        rec.update(
            time={"median": median, "ci_low": median, "ci_high": median, "cv": 0.01, "n": 50},
            dispatch={"median": median / 10, "ci_low": median / 10, "ci_high": median / 10},
            compile={
                "total_s": compile_s,
                "trace_s": compile_s / 4,
                "lower_s": compile_s / 4,
                "compile_s": compile_s / 2,
                "hlo_ops": 10,
            },
            memory={"compiled_peak_bytes": peak},
            work={},
            throughput={},
        )
    return rec


# linen's ratios to jax per group (step, compile, memory); haiku is 3x jax everywhere.
LINEN = {"g0": (0.5, 1.5, 1.0), "g1": (1.0, 1.5, 1.0), "g2": (2.0, 1.5, 2.0), "g3": (4.0, 1.5, 2.0)}


@pytest.fixture
def records():
    out = []
    for i, (group, (step, comp, mem)) in enumerate(LINEN.items()):
        base = (1e-3 * (i + 1), 0.1 * (i + 1), 1024 * (i + 1))
        out.append(_record(group, "jax", *base))
        out.append(_record(group, "linen", step * base[0], comp * base[1], mem * base[2]))
        out.append(_record(group, "haiku", 3 * base[0], 3 * base[1], 3 * base[2]))
    out.append(_record("nojax", "jax", 1e-3, 0.1, 1024, status="failed"))  # no jax to divide by: left out
    out.append(_record("nojax", "linen", 9e-3, 0.9, 9 * 1024))
    return out


def test_summary_against_hand_computed_geometric_means(records):
    by_style = {e["style"]: e for e in summary.summarize(records)}
    assert list(by_style) == ["linen", "haiku"]
    linen = by_style["linen"]
    logs = np.log([0.5, 1.0, 2.0, 4.0])
    half = T_975[3] * logs.std(ddof=1) / math.sqrt(4)
    assert linen["groups"] == 4
    assert linen["step time"]["ratio"] == pytest.approx(math.sqrt(2))  # (0.5 * 1 * 2 * 4) ** (1/4)
    assert linen["step time"]["ci_low"] == pytest.approx(math.exp(logs.mean() - half))
    assert linen["step time"]["ci_high"] == pytest.approx(math.exp(logs.mean() + half))
    assert linen["compile time"]["ratio"] == pytest.approx(1.5) and linen["compile time"]["ci_low"] == pytest.approx(
        1.5
    )
    assert linen["compiled memory"]["ratio"] == pytest.approx(math.sqrt(2))
    assert linen["fastest"] == ("g0/forward/tiny/float32", pytest.approx(0.5))
    assert linen["slowest"] == ("g3/forward/tiny/float32", pytest.approx(4.0))
    assert by_style["haiku"]["step time"]["ratio"] == pytest.approx(3.0)
    assert summary.geomean_ci([2.0])[1:] == (None, None)  # one group: no interval


def test_summary_opens_the_report_in_every_format(records):
    run = {"env": {"device_kind": "cpu"}, "started": "t", "suite": "s", "finished": "t", "records": records}
    runs = [("r.json", run)]
    md = _report.markdown(runs)
    assert md.index("summary: which style") < md.index("median step time per style")
    assert "linen ×1.41, haiku ×3.00" in md and "×1.41 \\[0.34–5.87\\]" in md
    page = _report.html_report(runs)
    assert page.index("summary: which style") < page.index("median step time per style")
    doc = json.loads(_report.json_report(runs))
    titles = [s["title"] for s in doc["sections"]]
    assert titles.index("summary: which style, relative to raw JAX") < titles.index("step time per style")
    table = next(b for s in doc["sections"] for b in s["blocks"] if b["type"] == "table" and b.get("data"))
    assert table["data"][0]["style"] == "linen" and table["data"][0]["step time"]["ratio"] == pytest.approx(
        math.sqrt(2)
    )
    console = Console(file=io.StringIO(), width=300)
    _report.print_run(run, console)
    text = console.file.getvalue()
    assert text.index("step time, fastest first: linen ×1.41") < text.index("median step time per style")


def test_every_section_in_every_format():
    """Each section title and each table (title and first row) of the real
    run's document appears in Markdown, HTML and JSON; each table's title
    and first cell in the terminal."""
    runs = [(REAL.name, _results.read_run(REAL))]
    doc = _report.document(runs)
    md, page, data = render.markdown(doc), render.html(doc), render.json_text(doc)
    console = Console(file=io.StringIO(), width=400)
    render.terminal(doc, console)
    term = console.file.getvalue()
    titles = [s.title for s in doc.sections if s.title]
    assert {"summary: which style, relative to raw JAX", "step time per style", "per case", "plots"} <= set(titles)
    for title in titles:
        assert title in md and title in page and json.dumps(title) in data, title
    tables = [b for s in doc.sections for b in s.blocks if isinstance(b, Table) and b.rows]
    assert len(tables) >= 3
    for t in tables:
        first = t.cells()[0][0].lines[0]
        for text in (md, page, term):
            assert any(e(first) in text for e in (_escape.md, _escape.html, str)), (t.title, first)
        assert _escape.html(t.title) in page and t.title in term and json.dumps(t.title) in data
    figures = [b for b in doc.figures()]
    assert [f.key for f in figures] == [s.key for s in plotting.specs("run")]  # no sharded records: no scaling plot
    assert all(f.title in page for f in figures if f.png())


def test_one_registry_for_every_plot():
    import nnbench.report.run  # noqa: F401 - registers run, scaling (records) and devices (runs) plots

    keys = {scope: [s.key for s in plotting.specs(scope)] for scope in plotting.SCOPES}
    assert keys == {
        "run": ["ratio", "bars", "compile", "memory", "depth", "roofline"],
        "records": ["scaling"],
        "runs": ["devices"],
        "compare": ["ratio"],
        "history": ["time"],
    }
    with pytest.raises(ValueError, match="registered twice"):
        plotting.register("run", "ratio", "again")(lambda records: None)
    figure = plotting.figures("run", [], run=2)[0]
    assert isinstance(figure, Figure) and figure.file == ".2.ratio.png" and figure.png() is None
    assert [p.name for p in _report.report_paths(Path("r.md"))] == [
        "r.md",
        "r.ratio.png",
        "r.png",
        "r.compile.png",
        "r.memory.png",
        "r.depth.png",
        "r.roofline.png",
        "r-scaling.png",
    ]


def test_compare_report_renders_the_profile_diff_data():
    """A compare result's ``profile_diff`` (plain data) becomes tables in every
    format: the op that went 2 ms → 3 ms reads ×1.50, the new op is listed."""
    d = {
        "same_program": False,
        "op_time_s_per_step": [2.1e-3, 3.5e-3],
        "categories": {"matmul/conv": [2e-3, 3e-3], "copy": [1e-4, 0.0], "fusion": [0.0, 5e-4]},
        "kinds": {},
        "slower": [
            {"op": "dot.1", "shape": "f32[8]", "category": "matmul/conv", "base_s": 2e-3, "cand_s": 3e-3, "ratio": 1.5}
        ],
        "faster": [],
        "appeared": [{"op": "fusion.3", "shape": "f32[8]", "category": "fusion", "cand_s": 5e-4}],
        "disappeared": [{"op": "copy.2", "shape": "f32[8]", "category": "copy", "base_s": 1e-4}],
    }
    blocks = _report_compare.profile_diff_blocks("mlp/jax/train/tiny/float32", d)
    doc = Document("t", [Section("cases", blocks)])
    md = render.markdown(doc)
    assert "2.1 ms → 3.5 ms (×1.67)" in md and "optimized HLO differs" in md
    row = next(line for line in md.splitlines() if "dot.1" in line)
    assert "2 ms" in row and "3 ms" in row and "×1.50" in row
    assert "fusion.3" in md and "copy.2" in md
    assert "dot.1" in render.html(doc) and "dot.1" in render.json_text(doc)
    error = _report_compare.profile_diff_blocks("x", {"error": "KeyError: 'ops'"})
    assert "could not be computed" in render.markdown(Document("t", [Section("", error)]))
