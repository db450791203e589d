"""The built site in a real headless browser (Debian's chromium through selenium): sorting a
column, following an entry's link, and markup from a submission shown as text, never run.

Skipped only where chromium is absent and R2REC_BENCH_REQUIRE_BROWSER is unset; CI installs
chromium and sets it, so there the test cannot be skipped silently.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.leaderboard.conftest import DATASET, EVIL, file_submission, make_evil

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")

if not (CHROMIUM.exists() and CHROMEDRIVER.exists()) and not os.environ.get(
    "R2REC_BENCH_REQUIRE_BROWSER"
):
    pytest.skip(
        "no /usr/bin/chromium and chromedriver (apt-get install chromium chromium-driver)",
        allow_module_level=True,
    )


@pytest.fixture
def served(submissions, evaluated, ml100k_build, tmp_path):
    """The site of three entries (one named with markup), served on a free localhost port."""
    make_evil(file_submission(evaluated["hallucinator"], submissions, "evil"), ml100k_build)
    site = tmp_path / "site"
    result = run_cli(
        "leaderboard", "build", "--submissions", str(submissions), "--out", str(site),
        "--dataset", str(ml100k_build),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join()


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)


def column(driver, title: str) -> list[str]:
    from selenium.webdriver.common.by import By

    table = driver.find_element(By.CSS_SELECTOR, "table.board")
    headers = [h.text.rstrip(" ▾▴") for h in table.find_elements(By.CSS_SELECTOR, "thead th")]
    index = headers.index(title) + 1
    cells = table.find_elements(By.CSS_SELECTOR, f"tbody tr td:nth-child({index})")
    return [cell.text.split("\n")[0] for cell in cells]


def click_header(driver, title: str) -> None:
    from selenium.webdriver.common.by import By

    xpath = f"//table[@class='board']//th/button[normalize-space()='{title}']"
    driver.find_element(By.XPATH, xpath).click()


def test_sort_open_entry_and_markup_stays_text(served, browser, evaluated):
    import json

    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    pop = json.loads((evaluated["pop"] / "results.json").read_text())["metrics"]
    browser.get(f"{served}/index.html")
    assert browser.title == "r2rec-bench leaderboard"
    models = column(browser, "Model")
    assert models[0] == "baseline:pop" and sorted(models) == sorted(
        ["baseline:pop", "baseline:random", EVIL]
    )  # the markup is a model name, shown as its text

    # Sorting: HR@1 descending, then ascending; numbers by value, not as text.
    click_header(browser, "HR@1")
    descending = column(browser, "HR@1")
    assert descending == sorted(descending, key=float, reverse=True)
    click_header(browser, "HR@1")
    ascending = column(browser, "HR@1")
    assert ascending == descending[::-1]
    assert column(browser, "Model")[-1] == "baseline:pop"
    click_header(browser, "Model")
    assert column(browser, "Model") == sorted(models, reverse=True)

    # Nothing the submission carried ran or became an element.
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018 (reading it is the check)
    assert browser.find_elements(By.CSS_SELECTOR, "table img, table script") == []
    assert browser.execute_script("return document.querySelectorAll('script').length") == 1

    # The entry page a reader opens from the table.
    browser.find_element(By.LINK_TEXT, "baseline:pop").click()
    assert browser.current_url.endswith(f"/entries/{DATASET}/test/baseline--pop.html")
    assert browser.find_element(By.TAG_NAME, "h1").text == "baseline:pop"
    text = browser.find_element(By.TAG_NAME, "body").text
    hr1 = pop["hr@1"]
    assert f"{hr1['value']:.4f}" in text and f"[{hr1['ci_low']:.4f}, {hr1['ci_high']:.4f}]" in text
    assert "Reasoning samples" in text and "User 1" in text
    assert len(browser.find_elements(By.CSS_SELECTOR, "article.sample pre")) == 3

    # The evil entry's page: the name and the reasoning are visible text.
    browser.get(f"{served}/entries/{DATASET}/test/evil.html")
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018
    assert browser.find_element(By.TAG_NAME, "h1").text == EVIL
    assert EVIL in browser.find_element(By.CSS_SELECTOR, "article.sample pre").text
    assert browser.find_elements(By.CSS_SELECTOR, "img, script") == []
