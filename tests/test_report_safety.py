"""Reports are inert: names and strings from run files cannot inject markup
or script into HTML, Markdown or the terminal; invalid and failed records are
never shown as timings."""

import json
import re
from pathlib import Path

import pytest

from nnbench import _report, _results
from nnbench.cli import main

CORPUS = Path(__file__).parent / "bad_inputs"
EVIL = "<script>alert('x')</script>[bold red]boom[/][/link]**b**|`c`<img src=x onerror=alert(1)>"


@pytest.fixture
def evil_run(tmp_path):
    """A valid run file whose names, errors and environment strings carry markup and script."""
    data = json.loads((CORPUS / "disjoint" / "a.json").read_text())
    ok = data["records"][0]
    ok["case"]["layer"] = EVIL
    ok["id"] = "/".join(ok["case"].values())
    invalid = json.loads(json.dumps(ok))
    invalid["case"]["style"] = "nnx"
    invalid["id"] = "/".join(invalid["case"].values())
    invalid.update(status="invalid", error=f"parity: {EVIL}")
    invalid["time"]["median"] = 123.456  # a stale timing on an invalid record must never be shown
    failed = {"id": EVIL, "case": dict(ok["case"], style=EVIL), "status": "failed", "error": EVIL, "fault": "exception"}
    data["records"] = [ok, invalid, failed]
    data["env"].update(device_kind=EVIL, cpu_model=EVIL, git_commit=EVIL, versions={"jax": EVIL})
    path = tmp_path / "evil[1].json"
    path.write_text(json.dumps(data))
    _results.read_run(path)
    return path


def _render(path, fmt, tmp_path, capsys):
    out = tmp_path / f"report.{fmt}"
    assert main(["report", str(path), "--format", fmt, "--out", str(out)]) == 0
    capsys.readouterr()
    return out.read_text()


def test_html_is_inert(evil_run, tmp_path, capsys):
    text = _render(evil_run, "html", tmp_path, capsys)
    assert not re.search(r"<\s*(script|img\s+src=x)", text, re.I)
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text
    assert "123" not in text.split("<h3>cases</h3>")[1].split("</table>")[0].replace("123.456", "")  # no stray timing
    assert "2.06 min" not in text and "invalid" in text


def test_markdown_is_inert(evil_run, tmp_path, capsys):
    text = _render(evil_run, "md", tmp_path, capsys)
    assert "<script" not in text.lower() and "<img" not in text.lower()
    assert "&lt;script&gt;" in text and "\\*\\*b\\*\\*" in text and "\\|" in text
    assert "|`c`" not in text  # an injected '|' never adds a table column


def test_terminal_prints_names_literally(evil_run, tmp_path, capsys):
    text = _render(evil_run, "text", tmp_path, capsys)
    assert "[bold red]boom[/][/link]" in text.replace("\n", "")  # shown, not interpreted
    assert "\x1b" not in text


def test_invalid_and_failed_never_reported_as_timings(evil_run):
    run = _results.read_run(evil_run)
    styles, rows = _report.side_by_side(run["records"])
    cells = [c for row in rows for c in row["cells"].values()]
    assert sorted(c.get("status", "ok") for c in cells) == ["failed", "invalid", "ok"]
    assert all("median" not in c for c in cells if c.get("status") in ("invalid", "failed"))
    details = _report.detail_rows(run["records"])
    assert [d["status"] for d in details] == ["ok", "invalid", "failed"]
    assert all("step (median)" not in d for d in details if d["status"] != "ok")
    assert "2.06 min" not in _report.markdown([("r", run)])
