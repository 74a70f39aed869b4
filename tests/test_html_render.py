"""HTML reports render in a real browser: headless Chromium (through Selenium
and the system chromedriver) opens each page from a file:// URL, with the
network unused, and finds no console errors, every plot decoded, the heading
there and a screenshot that is not blank.

Skipped when Chromium or its driver is missing, unless
``NNBENCH_REQUIRE_BROWSER=1`` (CI sets it once it has installed them): then
a missing browser fails the test.
"""

import io
import json
import os
from pathlib import Path

import pytest

from nnbench.cli import main
from nnbench.report import plots as _run_plots  # noqa: F401 - registers the run plots
from nnbench.report.plotting import specs

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# No sandbox (containers, root), no GPU, and nothing that reaches the network on its own.
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)  # fmt: skip
REAL = Path(__file__).parent / "data" / "run-mlp-tiny.json"  # mlp tiny, jax and linen, forward and train
# Two groups: the bar chart too, and every record has compile and memory data
# (no roofline: recorded before it; no depth plot: no d<N> sizes).
RUN_PLOTS = [s.title for s in specs("run") if s.key not in ("roofline", "depth")]


def _need_browser() -> None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package (pip install -e '.[test]')")
    if not missing:
        return
    reason = f"no headless browser: missing {', '.join(missing)} (apt-get install chromium chromium-driver)"
    if os.environ.get("NNBENCH_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}; NNBENCH_REQUIRE_BROWSER=1 requires it")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser(request, tmp_path_factory):
    _need_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)  # with the driver's path given too, Selenium Manager never runs
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.add_argument("--window-size=1280,1024")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    request.addfinalizer(driver.quit)
    driver.set_page_load_timeout(60)
    return driver


def _variant(tmp_path, name, **env):
    data = json.loads(REAL.read_text())
    data["env"].update(env)
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def _run_report(tmp_path):
    return ["report", str(REAL)], "nnbench report", RUN_PLOTS


def _compare_report(tmp_path):
    return ["compare", str(REAL), str(REAL)], "nnbench compare", ["step time ratios"]


def _cross_device_report(tmp_path):
    gpu = _variant(tmp_path, "gpu.json", device_kind="NVIDIA H100")
    return ["report", str(REAL), gpu], "nnbench report", RUN_PLOTS * 2 + ["step time across devices"]


@pytest.mark.parametrize(
    "build", [_run_report, _compare_report, _cross_device_report], ids=["run", "compare", "cross-device"]
)
def test_html_report_renders(browser, build, tmp_path, capsys):
    from PIL import Image
    from selenium.webdriver.common.by import By

    argv, heading, plots = build(tmp_path)
    page = tmp_path / "report.html"
    assert main([*argv, "--format", "html", "--out", str(page)]) == 0
    capsys.readouterr()
    browser.get(page.as_uri())

    assert browser.title == heading and browser.find_element(By.TAG_NAME, "h1").text == heading
    images = browser.execute_script(
        "return Array.from(document.images, i => [i.alt, i.complete, i.naturalWidth, i.src.slice(0, 22)])"
    )
    assert [alt for alt, *_ in images] == plots
    for alt, complete, width, src in images:
        assert complete and width > 0, f"plot {alt!r} did not decode"
        assert src == "data:image/png;base64,", f"plot {alt!r} is not embedded"
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe

    # Not blank: some pixel differs from another (min != max in a colour band), on the page and in a plot.
    shot = Image.open(io.BytesIO(browser.get_screenshot_as_png())).convert("RGB")
    assert any(lo != hi for lo, hi in shot.getextrema()), "blank page"
    plot = Image.open(io.BytesIO(browser.find_elements(By.TAG_NAME, "img")[0].screenshot_as_png)).convert("RGB")
    assert any(lo != hi for lo, hi in plot.getextrema()), f"plot {plots[0]!r} shows nothing"
