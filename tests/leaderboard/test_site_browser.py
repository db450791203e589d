"""The built site in a real headless browser (Debian's chromium through selenium): sorting a
column, following an entry's link, markup from a submission shown as text, never run; and,
opened from disk, the dataset tabs, the search box, the filters and a table that fits a page
1400 and 1920 px wide.

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
from tests.leaderboard.conftest import DATASET, EVIL, SYNTHETIC_ENTRIES, file_submission, make_evil

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


def visible_models(driver) -> list[str]:
    """The model names of the rows shown in the shown tab, both of its tables."""
    from selenium.webdriver.common.by import By

    cells = driver.find_elements(By.CSS_SELECTOR, "section:not([hidden]) tbody tr td.model a")
    return [cell.text for cell in cells if cell.is_displayed() and cell.text != "Hub page"]


def assert_tables_fit(driver) -> None:
    """Neither the page nor any shown table is wider than the window: no column is cut off
    and none is left to a scroll bar."""
    width = driver.execute_script("return window.innerWidth")
    assert driver.execute_script("return document.documentElement.scrollWidth") <= width
    tables = driver.execute_script(
        "return Array.from(document.querySelectorAll('section:not([hidden]) .table-wrap'))"
        ".map(function (wrap) { return [wrap.scrollWidth, wrap.clientWidth]; })"
    )
    assert tables and all(scroll <= client for scroll, client in tables), tables


@pytest.mark.parametrize("width", [1400, 1920])
def test_tables_fit_the_page(width, served, two_board_site, browser):
    from selenium.webdriver.common.by import By

    browser.set_window_size(width, 1000)
    browser.get(f"{served}/index.html")  # a long model name full of markup
    assert browser.execute_script("return window.innerWidth") == width
    assert_tables_fit(browser)
    browser.get(two_board_site.joinpath("index.html").as_uri())
    for tab in browser.find_elements(By.CSS_SELECTOR, '[role="tab"]'):
        tab.click()
        assert_tables_fit(browser)


def test_tabs_search_and_filters_from_disk(two_board_site, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    synthetic = [spec for _, spec, _, _ in SYNTHETIC_ENTRIES]
    browser.get(two_board_site.joinpath("index.html").as_uri())  # no server: from disk
    tabs = browser.find_elements(By.CSS_SELECTOR, '[role="tab"]')
    assert [tab.text for tab in tabs] == [f"{DATASET} · test", "synthetic-iot · test"]
    assert [tab.get_attribute("aria-selected") for tab in tabs] == ["true", "false"]
    first = ["baseline:pop", "baseline:random", "ref:hallucinator"]
    assert visible_models(browser) == first

    tabs[1].click()
    assert [tab.get_attribute("aria-selected") for tab in tabs] == ["false", "true"]
    assert visible_models(browser) == synthetic  # best HR@1 first
    ranks = browser.find_elements(By.CSS_SELECTOR, "section:not([hidden]) td.rank")
    assert [rank.text for rank in ranks] == ["1", "1–2", "3"]  # the two LLMs overlap

    # The kind filter: only the classical baseline stays.
    kind = Select(browser.find_element(By.ID, "filter-kind"))
    kind.select_by_visible_text("classical baseline")
    assert visible_models(browser) == ["baseline:cooccurrence"]
    tabs[0].click()
    assert visible_models(browser) == ["baseline:pop", "baseline:random"]
    notes = browser.find_elements(By.CSS_SELECTOR, "section:not([hidden]) .none-match")
    assert [note.is_displayed() for note in notes] == [False, True]  # no reference row left
    kind.select_by_visible_text("all kinds")

    # The size filter keeps LLMs of that size, and the baselines as points of reference.
    tabs[1].click()
    Select(browser.find_element(By.ID, "filter-size")).select_by_visible_text("4B to 10B")
    assert visible_models(browser) == ["org-a/chat-7b", "baseline:cooccurrence"]
    Select(browser.find_element(By.ID, "filter-size")).select_by_visible_text("size unknown")
    assert visible_models(browser) == ["openai:served-model", "baseline:cooccurrence"]
    Select(browser.find_element(By.ID, "filter-size")).select_by_visible_text("all sizes")

    # Typing narrows the rows at each key, on every tab.
    search = browser.find_element(By.ID, "search")
    search.send_keys("c")
    assert visible_models(browser) == ["org-a/chat-7b", "baseline:cooccurrence"]
    search.send_keys("hat")
    assert visible_models(browser) == ["org-a/chat-7b"]
    tabs[0].click()
    assert visible_models(browser) == []
    search.clear()
    search.send_keys("POP")
    assert visible_models(browser) == ["baseline:pop"]
    Select(browser.find_element(By.ID, "filter-mode")).select_by_visible_text("generate")
    assert visible_models(browser) == []

    # An entry page's link back opens its own tab.
    browser.get(two_board_site.joinpath("entries/synthetic-iot/test/served.html").as_uri())
    browser.find_element(By.LINK_TEXT, "← leaderboard").click()
    assert browser.current_url.endswith("index.html#synthetic-iot-test")
    assert visible_models(browser) == synthetic
    link = browser.find_element(By.LINK_TEXT, "Hub page")
    assert link.get_attribute("href") == "https://huggingface.co/org-a/chat-7b"
