"""End-to-end: the real dashboard in a real (headless) Chromium, as a user would use it.

Starts ``streamlit run dashboard/app.py`` on a free local port, uploads a profile written from the bundle's
example cell lines (test data, not user data), waits for the prediction bars, then opens Explain and the drug
map through the app's own navigation (a fresh URL would start a new session without the upload).
Screenshots go to ``test-output/`` for a human to look at. Needs Debian's ``chromium`` and
``chromium-driver``; skipped with a reason when they are missing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[1]
OUTPUT = REPO_ROOT / "test-output"
CHROMIUM = os.environ.get("NEURIX_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("NEURIX_CHROMEDRIVER", "/usr/bin/chromedriver")
START_TIMEOUT = 120
PAGE_TIMEOUT = 60
WINDOW = os.environ.get("NEURIX_E2E_WINDOW", "1600,2200")  # tall: Streamlit scrolls inside the page


def _missing_browser() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install selenium)"
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not (Path(path).is_file() or shutil.which(Path(path).name)):
            return (
                f"{path} not found: install it with `apt-get install -y chromium chromium-driver` ({package})"
            )
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    reason = _missing_browser()
    if reason:
        pytest.skip(reason)
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": f"{REPO_ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    command = [
        sys.executable, "-m", "streamlit", "run", "dashboard/app.py",
        "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    OUTPUT.mkdir(exist_ok=True)
    log = open(OUTPUT / "e2e_streamlit.log", "wb")  # noqa: SIM115 - closed in the finally below
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"streamlit exited with {process.returncode}; see {OUTPUT / 'e2e_streamlit.log'}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply,
            ):
                if reply.status == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit did not answer within {START_TIMEOUT} s")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="module")
def browser(server: str, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201 - selenium is optional
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-dev-shm-usage", f"--window-size={WINDOW}", "--hide-scrollbars",
    ):  # fmt: skip
        options.add_argument(flag)
    options.add_argument(
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"
    )  # no leftovers in /tmp
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(PAGE_TIMEOUT)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def profile_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two example cell lines as a genes × samples CSV (within-sample z: detected as z-scores); the ones with
    the most repurposing candidates first, so the drug-map screenshot shows highlighted drugs."""
    from neurix_core.api import Neurix

    neurix = Neurix.load(os.environ.get("NEURIX_BUNDLE") or None)
    examples = neurix.example_profiles()
    predictions = neurix.predict(neurix.prepare(examples))
    lineage = {s: str(neurix.example_responses(str(s))["lineage"].iloc[0]) for s in examples.index}
    counts = {
        s: len(neurix.repurposing_candidates(predictions, str(s), suggested_lineage=lineage[s]))
        for s in examples.index
    }
    chosen = sorted(examples.index, key=lambda s: -counts[s])[:2]
    path = tmp_path_factory.mktemp("e2e") / "tumour_profile.csv"
    examples.loc[chosen].T.rename_axis("gene").to_csv(path, float_format="%.4f")
    return path


def _wait(driver, condition, timeout: float = PAGE_TIMEOUT, what: str = "") -> object:  # noqa: ANN001
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.25).until(condition)
    except TimeoutException:
        driver.save_screenshot(str(OUTPUT / f"e2e_timeout_{what or 'page'}.png"))
        raise


def _plotly_count(driver) -> int:  # noqa: ANN001
    return len(driver.find_elements("css selector", "div.js-plotly-plot"))


def _idle(driver) -> bool:  # noqa: ANN001
    """Streamlit is idle (no script running) and no spinner is showing."""
    running = driver.find_elements("css selector", '[data-testid="stStatusWidget"]')
    spinners = driver.find_elements("css selector", '[data-testid="stSpinner"]')
    return not running and not spinners


def _assert_no_errors(driver) -> None:  # noqa: ANN001
    exceptions = driver.find_elements("css selector", '[data-testid="stException"]')
    assert not exceptions, "a traceback is shown on the page"
    errors = [e.text for e in driver.find_elements("css selector", '[data-testid="stAlertContentError"]')]
    assert not errors, f"error messages on the page: {errors}"


def _navigate(driver, title: str) -> None:  # noqa: ANN001
    """Click the app's own navigation link, keeping the browser session (and the upload) alive."""
    links = [
        a
        for a in driver.find_elements("css selector", "a")
        if a.text.strip().endswith(title) and a.is_displayed()
    ]
    assert links, f"no navigation link {title!r}"
    links[0].click()


def _screenshot(driver, name: str) -> Path:  # noqa: ANN001
    time.sleep(1.0)  # let plotly finish its transitions
    path = OUTPUT / f"e2e_{name}.png"
    driver.save_screenshot(str(path))
    return path


def test_upload_predict_explain_and_drug_map(server: str, browser, profile_csv: Path) -> None:  # noqa: ANN001
    from selenium.webdriver.common.by import By

    driver = browser
    started = time.monotonic()
    driver.get(server)
    _wait(driver, lambda d: "Model card" in d.page_source and "Try an example" in d.page_source, what="home")
    _wait(driver, _idle, what="home_idle")
    _assert_no_errors(driver)
    assert "Research use only" in driver.page_source
    _screenshot(driver, "home")

    _navigate(driver, "Predict")
    upload = _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, 'input[type="file"]'), what="uploader")
    assert "Predict drug sensitivity" in driver.page_source
    upload[0].send_keys(str(profile_csv))
    uploaded_at = time.monotonic()
    _wait(driver, lambda d: "Predicted sensitivity" in d.page_source and _plotly_count(d) >= 1, what="bars")
    _wait(
        driver, lambda d: d.find_elements(By.CSS_SELECTOR, "div.js-plotly-plot g.barlayer path"), what="bar"
    )
    bars_seconds = time.monotonic() - uploaded_at
    _wait(driver, _idle, what="predict_idle")
    _assert_no_errors(driver)
    page = driver.page_source
    assert "Detected:" in page and "of model genes measured" in page
    assert "z-scores" in page  # detected value scale is shown
    _screenshot(driver, "predict")

    _navigate(driver, "Explain")
    _wait(driver, lambda d: "Relevance heatmap" in d.page_source and _plotly_count(d) >= 2, what="explain")
    _wait(driver, _idle, what="explain_idle")
    _assert_no_errors(driver)
    assert driver.find_elements(By.CSS_SELECTOR, "div.js-plotly-plot g.heatmaplayer")
    _screenshot(driver, "explain")

    _navigate(driver, "Drug map")
    _wait(driver, lambda d: "Repurposing candidates" in d.page_source and _plotly_count(d) >= 1, what="map")
    _wait(driver, _idle, what="map_idle")
    _assert_no_errors(driver)
    _screenshot(driver, "drug_map")

    _navigate(driver, "Report")
    _wait(driver, lambda d: "Download the HTML report" in d.page_source, what="report")
    _wait(driver, _idle, what="report_idle")
    _assert_no_errors(driver)
    _screenshot(driver, "report")

    _navigate(driver, "Model")
    _wait(driver, lambda d: "Model card and validation" in d.page_source, what="model")
    _wait(driver, _idle, what="model_idle")
    _assert_no_errors(driver)
    _screenshot(driver, "model")
    print(f"upload → bars {bars_seconds:.2f} s; whole journey {time.monotonic() - started:.1f} s")
    assert bars_seconds < 15, "the bars took far longer than the 2 s target (browser overhead included)"


def test_bad_upload_shows_message_not_traceback(server: str, browser, tmp_path: Path) -> None:  # noqa: ANN001
    from selenium.webdriver.common.by import By

    driver = browser
    bad = tmp_path / "notes.txt"
    bad.write_text("this is a note, not an expression table\nsecond line without numbers\n")
    driver.get(f"{server}/predict")
    upload = _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, 'input[type="file"]'), what="uploader2")
    upload[0].send_keys(str(bad))
    error = _wait(
        driver,
        lambda d: d.find_elements(By.CSS_SELECTOR, '[data-testid="stAlertContentError"]'),
        what="error",
    )
    assert "could not be used" in error[0].text
    assert not driver.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]')
    assert "Traceback" not in driver.page_source
    _screenshot(driver, "bad_upload")


# --- layout at laptop and desktop sizes, and the screen-sharing mode -----------------------------------------

SIZES = ((1280, 800), (1920, 1080))
PAGES = ("Home", "Predict", "Explain", "Discover", "Drug map", "Model", "Report")
PAGE_READY = {
    "Home": "Model card",
    "Predict": "Predicted sensitivity",
    "Explain": "Relevance heatmap",
    "Discover": "Relevance against expression",
    "Drug map": "Repurposing candidates",
    "Model": "External validation across labs",
    "Report": "Download the PDF report",
}
# A maximised browser on a 1280×800 laptop loses about this much height to its tab strip, address bar and the
# operating system's bar: the part of the page a user sees without scrolling ends this far above the screen's edge.
BROWSER_CHROME = 110
FIRST_BARS = 3  # this many bars (not just the top of the first) must be visible without scrolling
LAYOUT_PROBLEMS_JS = """
const problems = [];
const width = window.innerWidth;
const main = document.querySelector('[data-testid="stMain"]') || document.documentElement;
if (main.scrollWidth > main.clientWidth + 1) problems.push(`page scrolls sideways (${main.scrollWidth}px)`);
const shown = (e) => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
document.querySelectorAll('[data-testid="stMetric"]').forEach((metric) => {
  metric.querySelectorAll('*').forEach((e) => {
    if (e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1 && e.textContent.trim())
      problems.push(`cut metric text: ${e.textContent.trim().slice(0, 40)}`);
  });
  if (metric.querySelector('[data-testid="stMetricDelta"] svg'))
    problems.push(`arrow on a metric: ${metric.textContent.trim().slice(0, 40)}`);
});
// widget and toggle labels cut with an ellipsis
document.querySelectorAll('[data-testid="stMain"] label *').forEach((e) => {
  if (e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1 && e.textContent.trim())
    problems.push(`cut label: ${e.textContent.trim().slice(0, 50)}`);
});
// the chosen value of a select box wider than its box (an input clips it without an ellipsis)
const pen = document.createElement('canvas').getContext('2d');
document.querySelectorAll('[data-testid="stMain"] [data-testid="stSelectbox"] input').forEach((e) => {
  const style = getComputedStyle(e);
  pen.font = style.font;
  const room = e.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  if (e.value && e.clientWidth > 0 && pen.measureText(e.value).width > room + 1)
    problems.push(`cut value: ${e.value.slice(0, 50)}`);
});
// chart text (tick labels, axis titles, legend, annotations) must lie inside the chart
document.querySelectorAll('div.js-plotly-plot').forEach((plot) => {
  if (!shown(plot)) return;
  const box = plot.getBoundingClientRect();
  plot.querySelectorAll('.xtick text, .ytick text, .g-xtitle text, .g-ytitle text, .legendtext, .annotation-text')
    .forEach((t) => {
      const r = t.getBoundingClientRect();
      if (r.width === 0 || !t.textContent.trim()) return;
      if (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 || r.bottom > box.bottom + 1)
        problems.push(`chart text cut: ${t.textContent.trim().slice(0, 50)}`);
    });
});
document.querySelectorAll('[data-testid="stDataFrame"]').forEach((table) => {
  const box = table.getBoundingClientRect();
  if (box.width > 0 && box.right > width + 1) problems.push(`table runs off the screen (${box.right}px)`);
});
return problems;
"""
# Tables that need sideways scrolling, other than those placed deliberately in a ``wide_*`` container (which pin
# their identifying columns).
TABLES_CUT_JS = """
return [...document.querySelectorAll('[data-testid="stDataFrame"] .dvn-scroller')]
  .filter((s) => !s.closest('[class*="st-key-wide_"]'))
  .filter((s) => s.clientWidth > 0 && s.scrollWidth > s.clientWidth + 2).length;
"""


NOTES_JS = """
const line = [...document.querySelectorAll('[data-testid="stExpander"] summary')]
  .find((e) => e.textContent.includes('of model genes measured') && e.textContent.includes('imputed'));
return line ? line.getBoundingClientRect().bottom : null;
"""
BARS_JS = """
const boxes = [...document.querySelectorAll('div.js-plotly-plot g.barlayer path')]
  .map((b) => b.getBoundingClientRect()).filter((r) => r.height > 0).sort((a, b) => a.top - b.top);
const last = boxes[Math.min(arguments[0], boxes.length) - 1];
return [boxes.length, boxes.length ? boxes[0].top : NaN, last ? last.bottom : NaN];
"""


def _viewport(driver, width: int, height: int) -> None:  # noqa: ANN001
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )


def _open(driver, title: str) -> None:  # noqa: ANN001
    _navigate(driver, title)
    _wait(driver, lambda d: PAGE_READY[title] in d.page_source, what=title)
    _wait(driver, _idle, what=f"{title}_idle")
    if title in ("Predict", "Explain", "Discover", "Drug map"):
        _wait(driver, lambda d: _plotly_count(d) >= 1, what=f"{title}_chart")
    time.sleep(0.5)  # let the layout settle after the script finished
    _assert_no_errors(driver)


def test_every_page_fits_laptop_and_desktop_screens(server: str, browser, profile_csv: Path) -> None:  # noqa: ANN001
    from selenium.webdriver.common.by import By

    driver = browser
    driver.get(f"{server}/predict")
    upload = _wait(
        driver,
        lambda d: d.find_elements(By.CSS_SELECTOR, 'input[type="file"]'),
        timeout=START_TIMEOUT,  # the first page of a run also loads the model
        what="uploader3",
    )
    upload[0].send_keys(str(profile_csv))
    _wait(driver, lambda d: "Predicted sensitivity" in d.page_source and _plotly_count(d) >= 1, what="bars3")
    _wait(driver, _idle, what="predict3_idle")
    problems = []
    try:
        for width, height in SIZES:
            _viewport(driver, width, height)
            for title in PAGES:
                _open(driver, title)
                name = f"{width}x{height}_{title.lower().replace(' ', '_')}"
                problems += [f"{name}: {p}" for p in driver.execute_script(LAYOUT_PROBLEMS_JS)]
                cut = driver.execute_script(TABLES_CUT_JS)
                problems += [f"{name}: {cut} table(s) need sideways scrolling"] if cut else []
                if title == "Predict":
                    count, top, bottom = driver.execute_script(BARS_JS, FIRST_BARS)
                    assert count >= FIRST_BARS, "the prediction bars are drawn"
                    print(f"{name}: bar 1 starts at {top:.0f}px; bar {FIRST_BARS} ends at {bottom:.0f}px")
                    notes = driver.execute_script(NOTES_JS)  # compact, not hidden: coverage and imputation
                    assert notes and notes < top, (
                        "the detection line (coverage, imputed genes) is above the bars"
                    )
                    if bottom > height - BROWSER_CHROME:
                        problems.append(
                            f"{name}: the first {FIRST_BARS} bars end at {bottom:.0f}px, below the fold "
                            f"({height - BROWSER_CHROME}px)"
                        )
                _screenshot(driver, name)
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    assert not problems, "\n".join(problems)


def test_screen_sharing_mode_is_readable_at_720p(server: str, browser, profile_csv: Path) -> None:  # noqa: ANN001
    from selenium.webdriver.common.by import By

    driver = browser
    _viewport(driver, 1280, 720)
    try:
        driver.get(f"{server}/predict")
        upload = _wait(
            driver, lambda d: d.find_elements(By.CSS_SELECTOR, 'input[type="file"]'), what="uploader4"
        )
        upload[0].send_keys(str(profile_csv))
        _wait(
            driver, lambda d: "Predicted sensitivity" in d.page_source and _plotly_count(d) >= 1, what="bars4"
        )
        _wait(driver, _idle, what="predict4_idle")
        switch = [
            e for e in driver.find_elements(By.CSS_SELECTOR, "label") if "Screen-sharing mode" in e.text
        ]
        assert switch, "the screen-sharing switch is in the sidebar"
        switch[0].click()
        _wait(
            driver,
            lambda d: d.find_elements(By.CSS_SELECTOR, "table.neurix-genes") and _plotly_count(d) >= 1,
            what="present",
        )
        _wait(driver, _idle, what="present_idle")
        time.sleep(0.5)
        _assert_no_errors(driver)
        sidebar = driver.find_elements(By.CSS_SELECTOR, '[data-testid="stSidebar"]')
        assert not any(s.is_displayed() for s in sidebar), "no sidebar in screen-sharing mode"
        assert not [a for a in driver.find_elements(By.CSS_SELECTOR, "a") if a.text.strip() == "Explain"], (
            "no navigation in screen-sharing mode"
        )
        assert (
            driver.execute_script("return parseFloat(getComputedStyle(document.documentElement).fontSize)")
            >= 20
        )
        chart = driver.find_element(By.CSS_SELECTOR, "div.js-plotly-plot")
        bottom = driver.execute_script("return arguments[0].getBoundingClientRect().bottom", chart)
        assert bottom <= 720 + 1, f"the drug chart ends at {bottom:.0f}px: not fully on a 720p screen"
        genes = driver.find_element(By.CSS_SELECTOR, "table.neurix-genes")
        assert driver.execute_script("return arguments[0].getBoundingClientRect().bottom", genes) <= 720 + 1
        assert not driver.execute_script(LAYOUT_PROBLEMS_JS)
        _screenshot(driver, "1280x720_screen_sharing")
        toggle = [e for e in driver.find_elements(By.CSS_SELECTOR, "label") if "Screen-sharing" in e.text]
        toggle[0].click()
        _wait(
            driver,
            lambda d: any(
                s.is_displayed() for s in d.find_elements(By.CSS_SELECTOR, '[data-testid="stSidebar"]')
            ),
            what="present_off",
        )
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
