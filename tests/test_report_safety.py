"""Reports are inert: strings from run files, file names and a user's error
messages cannot inject markup or script into HTML, Markdown or the terminal,
nor reach a terminal as control sequences (colour, OSC set-title, clear
screen, C1 CSI, a bidi override); invalid and failed records are never
shown as timings."""

import copy
import json
import re
from pathlib import Path

import pytest

from nnbench.cli import main
from nnbench.report import run as _report
from nnbench.results import escape as _escape
from nnbench.results import runfile as _results

CORPUS = Path(__file__).parent / "bad_inputs"
NNBENCH = Path(__file__).resolve().parents[1] / "nnbench"
EVIL = "<script>alert('x')</script>[bold red]boom[/][/link]**b**|`c`<img src=x onerror=alert(1)>"
# Control sequences a hostile string carries; none may reach any output raw.
PAYLOADS = ("\x1b[38;5;201m", "\x1b]0;pwned\x07", "\x1b[2J", "\x9b31m", "\u202e", "\x07", "\r")
ESC = "".join(PAYLOADS) + "x\ny"
RAW_CONTROL = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)  # any but the line break
STALE_S = 0.0123456  # the stale median of an invalid record: shown as a timing it would read "12.3 ms"


@pytest.fixture
def evil_run(tmp_path):
    """A valid run file whose names, errors and environment strings carry markup and script."""
    data = json.loads((CORPUS / "disjoint" / "a.json").read_text())
    ok = data["records"][0]
    ok["case"]["layer"] = EVIL
    ok["id"] = "/".join(ok["case"].values())
    invalid = copy.deepcopy(ok)
    invalid["case"]["style"] = "nnx"
    invalid["id"] = "/".join(invalid["case"].values())
    invalid.update(status="invalid", error=f"parity: {EVIL}")
    invalid["time"].update(
        median=STALE_S, ci_low=STALE_S, ci_high=STALE_S, samples_s=[STALE_S] * 5
    )  # a stale timing: never shown
    failed = {"id": EVIL, "case": dict(ok["case"], style=EVIL), "status": "failed", "error": EVIL, "fault": "exception"}
    data["records"] = [ok, invalid, failed]
    data["env"].update(device_kind=EVIL, cpu_model=EVIL, git_commit=EVIL, versions={"jax": EVIL})
    path = tmp_path / "evil[1].json"
    path.write_text(json.dumps(data))
    _results.read_run(path)
    return path


def _render(path, fmt, tmp_path, capsys, tag=""):
    out = tmp_path / f"report{tag}.{fmt}"
    assert main(["report", str(path), "--format", fmt, "--out", str(out)]) == 0
    capsys.readouterr()
    return out.read_text()


def test_html_is_inert(evil_run, tmp_path, capsys):
    text = _render(evil_run, "html", tmp_path, capsys)
    assert not re.search(r"<\s*(script|img\s+src=x)", text, re.I)
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in text
    assert "invalid" in text


def test_markdown_is_inert(evil_run, tmp_path, capsys):
    text = _render(evil_run, "md", tmp_path, capsys)
    assert "<script" not in text.lower() and "<img" not in text.lower()
    assert "&lt;script&gt;" in text and "\\*\\*b\\*\\*" in text and "\\|" in text
    assert "|`c`" not in text  # an injected '|' never adds a table column


def test_terminal_prints_names_literally(evil_run, tmp_path, capsys):
    text = _render(evil_run, "text", tmp_path, capsys)
    assert "[bold red]boom[/][/link]" in text.replace("\n", "")  # shown, not interpreted


def _stale_shown(text: str) -> bool:
    return _report.fmt_time(STALE_S) in text


def test_invalid_and_failed_never_reported_as_timings(evil_run, tmp_path, capsys):
    assert _report.fmt_time(STALE_S) == "12.3 ms"  # the needle, worked out by hand
    run = _results.read_run(evil_run)
    styles, rows = _report.side_by_side(run["records"])
    cells = [c for row in rows for c in row["cells"].values()]
    assert sorted(c.get("status", "ok") for c in cells) == ["failed", "invalid", "ok"]
    assert all("median" not in c for c in cells if c.get("status") in ("invalid", "failed"))
    details = _report.detail_rows(run["records"])
    assert [d["status"] for d in details] == ["ok", "invalid", "failed"]
    assert all("step (median)" not in d for d in details if d["status"] != "ok")
    for fmt in ("text", "md", "html"):
        assert not _stale_shown(_render(evil_run, fmt, tmp_path, capsys, "-evil")), fmt
    # The control: the same record marked ok shows its timing, so the needle is what a shown timing looks like.
    data = json.loads(evil_run.read_text())
    data["records"][1].update(status="ok", error=None)
    shown = tmp_path / "shown.json"
    shown.write_text(json.dumps(data))
    for fmt in ("text", "md", "html"):
        assert _stale_shown(_render(shown, fmt, tmp_path, capsys, "-shown")), fmt


# --- control sequences, in every string a report shows ---


def _hostile(tmp_path: Path, name: str = "run" + "\x1b[2J" + ".json", device: str = "cpu") -> Path:
    """A valid run whose every shown string carries ``ESC``: case labels and
    ids (a jax and a hostile style in one group, so the plots draw them),
    error messages, a sharded record's strategy, environment values, start
    time, suite, and the file name."""
    data = json.loads((CORPUS / "disjoint" / "a.json").read_text())
    ok = data["records"][0]
    ok["case"].update(layer=f"L{ESC}", size=f"S{ESC}")
    ok["id"] = "/".join(ok["case"].values())
    other = copy.deepcopy(ok)
    other["case"]["style"] = f"style{ESC}"
    other["id"] = "/".join(other["case"].values())
    failed = {
        "id": f"failed{ESC}",
        "case": dict(ok["case"], style="haiku"),
        "status": "failed",
        "error": f"boom{ESC}",
        "fault": "exception",
    }
    invalid = {
        "id": f"invalid{ESC}",
        "case": dict(ok["case"], style="linen"),
        "status": "invalid",
        "error": f"parity{ESC}",
    }
    sharded = {
        "id": f"sharded{ESC}",
        "case": dict(ok["case"], style="nnx", mode="train", devices=2, strategy=f"dp{ESC}", scaling="strong"),
        "status": "failed",
        "error": f"mesh{ESC}",
    }
    data["records"] = [ok, other, failed, invalid, sharded]
    data["env"].update(
        device_kind=device + ESC,
        cpu_model=ESC,
        git_commit=ESC,
        host=ESC,
        backend=ESC,
        platform=ESC,
        versions={"jax": ESC, "flax": ESC},
    )
    data.update(started=f"2026{ESC}", suite=f"ci{ESC}")
    path = tmp_path / name
    path.write_text(json.dumps(data))
    _results.read_run(path)  # valid: strings may hold anything
    return path


def _assert_inert(text: str, where: str, coloured: bool = False) -> None:
    for p in PAYLOADS if not coloured else PAYLOADS[:5]:  # a live progress display writes its own \r
        assert p not in text, (where, repr(p))
    if not coloured:  # a colour terminal gets rich's own styles; anything else, no control character at all
        found = RAW_CONTROL.search(text)
        assert found is None, (where, repr(text[max(found.start() - 40, 0) : found.end() + 40]))
    assert "\\x1b[2J" in text or "\\\\x1b\\[2J" in text or "\\x1b\\[2J" in text, (where, "shown visibly")


@pytest.mark.parametrize("fmt", ["text", "md", "html"])
def test_report_files_hold_no_control_sequences(tmp_path, capsys, fmt):
    runs = [
        _hostile(tmp_path),
        _hostile(tmp_path, f"gpu{ESC[:6]}.json", device="gpu"),
    ]  # two device kinds: the cross-device section too
    out = tmp_path / f"r.{fmt}"
    assert (
        main(["report", *map(str, runs), "--format", fmt, "--out", str(out)]) == 0
    )  # plots drawn without a glyph warning (an error here)
    capsys.readouterr()
    _assert_inert(out.read_text(), fmt)


@pytest.mark.parametrize("fmt", ["text", "md", "html"])
def test_report_to_a_colour_terminal(tmp_path, capsys, monkeypatch, fmt):
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich writes styles as to a terminal
    monkeypatch.setenv("COLUMNS", "400")
    runs = [_hostile(tmp_path), _hostile(tmp_path, "gpu.json", device="gpu")]
    assert main(["report", *map(str, runs), "--format", fmt]) == 0
    out = capsys.readouterr().out
    assert "\x1b[" in out or fmt != "text"  # the check below would be empty if rich wrote no styles at all
    _assert_inert(out, fmt, coloured=fmt == "text")


@pytest.mark.parametrize("fmt", ["text", "md", "html", "json"])
def test_compare_and_history(tmp_path, capsys, monkeypatch, fmt):
    monkeypatch.setenv("FORCE_COLOR", "1")
    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()
    a = _hostile(runs_dir, f"a{ESC[:6]}.json")
    b = _hostile(runs_dir, f"b{ESC[:6]}.json")
    assert main(["compare", str(a), str(b), "--format", fmt]) in (0, 1)
    out = capsys.readouterr().out
    if fmt == "json":
        result = json.loads(out)  # escaped by the encoder, and the data kept as it was
        assert any(c["id"] == f"failed{ESC}" for c in result["cases"])
        assert RAW_CONTROL.search(out) is None
    else:
        _assert_inert(out, f"compare {fmt}", coloured=fmt == "text")
        for kind in ("md", "html") if fmt != "text" else ():
            target = tmp_path / f"c.{kind}"
            assert main(["compare", str(a), str(b), "--format", kind, "--out", str(target)]) in (0, 1)
            capsys.readouterr()
            _assert_inert(target.read_text(), f"compare --out {kind}")
    assert main(["history", str(runs_dir), "--format", fmt, "--no-fail"]) == 0
    out = capsys.readouterr().out
    if fmt == "json":
        assert RAW_CONTROL.search(out) is None and json.loads(out)["runs"]
    else:
        assert "\x1b[2J" not in out and "\x1b]0;" not in out and "\x9b" not in out, out
        if fmt != "text":
            assert RAW_CONTROL.search(out) is None
        target = tmp_path / f"h.{fmt if fmt != 'text' else 'txt'}"
        assert main(["history", str(runs_dir), "--format", fmt, "--no-fail", "--out", str(target)]) == 0
        capsys.readouterr()
        assert RAW_CONTROL.search(target.read_text()) is None


def test_error_messages_show_control_characters(tmp_path, capsys):
    missing = tmp_path / f"no{ESC}.json"
    assert main(["report", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and RAW_CONTROL.search(err) is None and "\\x1b]0;pwned\\x07" in err


def test_a_user_cases_error_during_run(tmp_path, capsys, monkeypatch):
    """A case failing with control sequences in its message: the console line,
    the final tables and the Markdown report written beside the run file."""
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "300")
    out = tmp_path / "run.json"
    code = main(["run", "--cases", f"{CORPUS / 'cases_hostile_error.py'}:CASES", "--in-process", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 1, captured.err
    for where, text in (("stderr", captured.err), ("stdout", captured.out)):
        _assert_inert(text, where, coloured=True)
    failure_lines = [line for line in captured.err.splitlines() if "RuntimeError: hostile" in line]
    assert len(failure_lines) == 1, captured.err  # one line; the message's second line stays in the record
    (rec,) = _results.read_run(out)["records"]
    assert (
        rec["error"].startswith("RuntimeError: hostile \x1b[38;5;201m") and "second line" in rec["error"]
    )  # the data is kept
    _assert_inert(out.with_suffix(".md").read_text(), "run report")


def test_every_renderer_escapes_through_one_module():
    """Renderers call ``nnbench.results.escape``, never ``html.escape`` or rich's
    ``escape`` themselves (those keep control characters): a new renderer
    that reaches for them fails here."""
    offenders = []
    for path in sorted(NNBENCH.rglob("*.py")):
        if path == NNBENCH / "results" / "escape.py":
            continue
        text = path.read_text()
        if re.search(r"\bhtml\.escape\(|from rich\.markup import escape|markup\.escape\(", text):
            offenders.append(str(path.relative_to(NNBENCH)))
    assert offenders == []


@pytest.mark.parametrize(
    "text, shown",
    [
        ("a\x1b[31mb", "a\\x1b[31mb"),
        ("t\x1b]0;x\x07", "t\\x1b]0;x\\x07"),
        ("\x9b2J", "\\x9b2J"),
        ("l1\nl2\r\t", "l1\\nl2\\r\\t"),
        ("\u202eevil", "\\u202eevil"),
        ("\ud800", "\\ud800"),
        ("plain µs ×1.0 – ok", "plain µs ×1.0 – ok"),
    ],
)
def test_visible(text, shown):
    assert _escape.visible(text) == shown
    assert _escape.visible(shown) == shown  # idempotent: escaping twice shows the same
