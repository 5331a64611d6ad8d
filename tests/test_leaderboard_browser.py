"""The built HTML page in a real headless Chromium (selenium): every entry listed, header clicks re-sort."""

from __future__ import annotations

import tempfile

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from test_leaderboard import make_entry
from vjepa_bench.leaderboard.board import board_data, write_board

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    with tempfile.TemporaryDirectory() as profile:
        options.add_argument(f"--user-data-dir={profile}")
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        driver.set_page_load_timeout(20)
        try:
            yield driver
        finally:
            driver.quit()


def _column(driver, table_id: str, index: int) -> list[str]:
    return [row.find_elements(By.TAG_NAME, "td")[index].get_attribute("data-sort")
            for row in driver.find_elements(By.CSS_SELECTOR, f"#{table_id} tbody tr")]


def test_page_lists_every_entry_and_sorts_on_click(browser, tmp_path):
    rates = {"alpha": 0.3, "bravo": 0.9, "charlie": 0.6, "delta": 0.1}
    entries = [(make_entry(tmp_path, name, rate), name == "bravo") for name, rate in rates.items()]
    write_board(board_data(entries, "e" * 64), tmp_path / "site")
    browser.get((tmp_path / "site" / "index.html").as_uri())

    rows = browser.find_elements(By.CSS_SELECTOR, "#track-reach tbody tr")
    assert sorted(r.find_element(By.CSS_SELECTOR, "td:nth-child(2) .note").text for r in rows) == \
        [f"by {n}" for n in sorted(rates)]
    assert [float(x) for x in _column(browser, "track-reach", 3)] == [0.9, 0.6, 0.3, 0.1]  # built order: rate
    assert len(browser.find_elements(By.CSS_SELECTOR, "#track-reach .badge")) == 1

    header = browser.find_elements(By.CSS_SELECTOR, "#track-reach th")[3]
    header.click()
    assert [float(x) for x in _column(browser, "track-reach", 3)] == [0.1, 0.3, 0.6, 0.9]
    assert "asc" in header.get_attribute("class")
    header.click()
    assert [float(x) for x in _column(browser, "track-reach", 3)] == [0.9, 0.6, 0.3, 0.1]
    browser.find_elements(By.CSS_SELECTOR, "#track-reach th")[6].click()  # final distance, ascending
    distances = [float(x) for x in _column(browser, "track-reach", 6)]
    assert distances == sorted(distances) and len(set(distances)) == 4
