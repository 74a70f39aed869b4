"""The run report's plots: which are drawn, where a Markdown report puts them
(beside it, never over an existing file), and a heatmap that stays readable
for a suite-sized run."""

import io
import json
from pathlib import Path

from PIL import Image

from nnbench.cli import main
from nnbench.report import plots as _report_plots

REAL = Path(__file__).parent / "data" / "run-mlp-tiny.json"  # mlp tiny, jax and linen, forward and train
PNG = b"\x89PNG"


def _record(layer, style, mode, median=1e-3, status="ok", peak=1 << 20):
    case = {"layer": layer, "style": style, "mode": mode, "size": "tiny", "dtype": "float32"}
    rec = {
        "id": f"{layer}/{style}/{mode}/tiny/float32",
        "case": case,
        "status": status,
        "error": None if status == "ok" else "boom",
    }
    if status == "ok":
        rec.update(
            time={"median": median, "ci_low": 0.9 * median, "ci_high": 1.1 * median},
            compile={"trace_s": 0.1, "lower_s": 0.05, "compile_s": 0.4, "total_s": 0.55},
            memory={"compiled_peak_bytes": peak},
        )
    return rec


def test_markdown_writes_and_links_every_plot(tmp_path, capsys):
    md = tmp_path / "r.md"
    assert main(["report", str(REAL), "--format", "md", "--out", str(md)]) == 0
    written = capsys.readouterr().out.split()
    names = ["r.ratio.png", "r.png", "r.compile.png", "r.memory.png"]  # two groups: the bar chart is kept
    assert written == [str(md), *(str(tmp_path / n) for n in names)]
    text = md.read_text()
    for n in names:
        assert (tmp_path / n).read_bytes().startswith(PNG)
        assert f"]({n})" in text


def test_several_runs_number_their_plots(tmp_path, capsys):
    gpu = json.loads(REAL.read_text())
    gpu["env"]["device_kind"] = "NVIDIA H100"
    (tmp_path / "gpu.json").write_text(json.dumps(gpu))
    md = tmp_path / "r.md"
    assert main(["report", str(REAL), str(tmp_path / "gpu.json"), "--format", "md", "--out", str(md)]) == 0
    capsys.readouterr()
    for name in ("r.1.ratio.png", "r.2.ratio.png", "r.1.memory.png", "r.2.png", "r.devices.png"):
        assert (tmp_path / name).exists() and f"]({name})" in md.read_text()


def test_markdown_refuses_when_any_plot_file_exists(tmp_path, capsys):
    md = tmp_path / "r.md"
    (tmp_path / "r.memory.png").write_bytes(b"mine")
    assert main(["report", str(REAL), "--format", "md", "--out", str(md)]) == 2
    assert "r.memory.png already exists" in capsys.readouterr().err
    assert (
        sorted(p.name for p in tmp_path.iterdir()) == ["r.memory.png"]
        and (tmp_path / "r.memory.png").read_bytes() == b"mine"
    )


def test_suite_sized_run_gets_heatmaps_sized_by_rows():
    styles = ("jax", "linen", "nnx", "haiku")
    records = []
    for i in range(65):
        for j, style in enumerate(styles):
            status = "failed" if (i, style) == (3, "nnx") else "invalid" if (i, style) == (5, "haiku") else "ok"
            records.append(
                _record(
                    f"layer{i}",
                    style,
                    ("forward", "train")[i % 2],
                    median=1e-3 * (1 + 0.1 * j),
                    status=status,
                    peak=(1 + j) << 20,
                )
            )
    records.append(_record("nojax", "linen", "forward"))  # a group with no jax case to divide by
    records += [
        _record(r"x$\frac{$", style, "forward") for style in styles
    ]  # a '$' in a name is drawn, not parsed as mathtext
    plots = {p.key: p.png for p in _report_plots.run_plots(records)}
    assert sorted(plots) == ["compile", "memory", "ratio"]  # 67 groups: no bar chart
    small = Image.open(io.BytesIO(_report_plots.step_ratio_png(records[:8])))
    for key in ("ratio", "memory"):
        big = Image.open(io.BytesIO(plots[key]))
        assert big.height > 1500 and big.height > 5 * small.height  # ~0.26 in per row
    assert _report_plots.step_bars_png(records[:8]).startswith(PNG)


def test_nothing_to_draw_gives_no_plot():
    records = [_record("mlp", "linen", "forward", status="failed")]
    assert _report_plots.run_plots(records) == []
