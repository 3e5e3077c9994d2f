"""The status page in a real headless Chromium (Debian's `chromium` driven by
Selenium through Debian's `chromium-driver`; nothing is downloaded): the
page shows a submission made through the API change to its verdict without
a reload, and the submission's page has one chart bar per test. Screenshots
of both pages are saved (the test's temporary directory, or
$SERVE_SCREENSHOTS). Needs root (a real worker grades). Box id: 622."""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from .serve_helpers import ADD_TESTS, http

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="workers need root")

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
# Slow enough on purpose (wall time, not CPU) that the page sees it pending first.
SLOW_OK = "import time\ntime.sleep(0.4)\na, b = map(int, input().split())\nprint(a + b)\n"


@pytest.fixture
def browser(tmp_path):
    missing = [p for p in (CHROMIUM, DRIVER) if not shutil.which(p)]
    assert not missing, f"{', '.join(missing)} missing: ./setup.sh installs Debian's chromium and chromium-driver"
    os.environ.setdefault("SE_OFFLINE", "true")           # Selenium Manager must fetch nothing
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1100,900", f"--user-data-dir={tmp_path / 'chromium'}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def test_status_page_follows_a_submission_live(start_server, browser, tmp_path):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    server = start_server("sqlite", "--workers", "1", "--boxes", "622", "--calibration", "off")
    shots = Path(os.environ.get("SERVE_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    browser.get(server.url + "/")
    assert "rustbox judge" in browser.title
    browser.execute_script("window.sameDocument = 'yes'")    # gone if the page reloads

    sub_id = http("POST", server.url + "/submissions",
                  {"problem": "add", "language": "python3", "source": SLOW_OK}).json()["id"]
    seen, deadline = [], time.monotonic() + 90
    while time.monotonic() < deadline:
        # One read in the page: the live part may be swapped between two calls.
        text = browser.execute_script(
            "var e = document.querySelector(arguments[0]); return e ? e.textContent : null",
            f"tr[data-id='{sub_id}'] .verdict")
        if text and (not seen or seen[-1] != text):
            seen.append(text)
        if text == "AC":
            break
        time.sleep(0.1)
    assert seen and seen[-1] == "AC", f"the row showed {seen}"
    assert seen[0] in ("queued", "running"), f"never seen pending: {seen}"
    assert browser.execute_script("return window.sameDocument") == "yes"   # no reload
    browser.save_screenshot(str(shots / "status-page.png"))

    for _ in range(10):             # the row is redrawn every second: a click may miss it
        try:
            browser.find_element(By.CSS_SELECTOR, f"tr[data-id='{sub_id}'] a").click()
            break
        except StaleElementReferenceException:
            time.sleep(0.1)
    assert browser.current_url.endswith(f"/ui/submissions/{sub_id}")
    bars = browser.find_elements(By.CSS_SELECTOR, "svg#cpu-chart rect.bar")
    assert len(bars) == len(ADD_TESTS)
    assert [b.get_attribute("data-test") for b in bars] == [name for name, _, _ in ADD_TESTS]
    assert len(browser.find_elements(By.CSS_SELECTOR, "svg#memory-chart rect.bar")) == len(ADD_TESTS)
    assert len(browser.find_elements(By.CSS_SELECTOR, "table#tests tr")) == len(ADD_TESTS) + 1
    browser.save_screenshot(str(shots / "submission-page.png"))
    assert (shots / "status-page.png").stat().st_size > 10_000
