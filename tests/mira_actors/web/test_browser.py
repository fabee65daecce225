"""The pages in a real browser: Debian's Chromium, driven by Selenium through chromedriver.

Needs the apt packages chromium and chromium-driver (.ci/run installs them). Without
them these tests are skipped, loudly, except under CI, where they fail.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio

from mira_actors.web import serve
from supervisors import MemoryStore, StepRecord
from tests.mira_actors.web.systems import gated_system, mixed_system, start_gated_run

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1200,1000",
)
ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = Path(os.environ.get("MIRA_TEST_ARTIFACTS", ROOT / "test-artifacts"))
WAIT = 15.0  # seconds: the bound on every wait, in the browser and around it

if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    reason = (
        "the browser tests need Debian's chromium and chromium-driver: "
        "apt-get install -y chromium chromium-driver"
    )
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason, allow_module_level=True)

from selenium import webdriver  # noqa: E402  (only once the browser is known to be there)
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def driver() -> Iterator[webdriver.Chrome]:
    """One headless Chromium for the module, with a fresh profile; quit at the end."""
    os.environ.setdefault("SE_OFFLINE", "true")  # selenium-manager must not download
    profile = tempfile.TemporaryDirectory(prefix="mira-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={profile.name}"):
        options.add_argument(flag)
    chrome = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    chrome.set_page_load_timeout(WAIT)
    try:
        yield chrome
    finally:
        chrome.quit()
        profile.cleanup()


class Browser:
    """Drives the browser from a trio test: each blocking call runs in its own thread."""

    def __init__(self, chrome: webdriver.Chrome) -> None:
        self.chrome = chrome
        self.limiter = trio.CapacityLimiter(1)  # one browser call at a time, its own thread

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await trio.to_thread.run_sync(partial(fn, *args), limiter=self.limiter)

    async def get(self, url: str) -> None:
        await self.call(self.chrome.get, url)

    async def until(self, condition: Callable[[webdriver.Chrome], Any]) -> Any:
        return await self.call(WebDriverWait(self.chrome, WAIT).until, condition)

    def find_all(self, css: str) -> list[Any]:
        return self.chrome.find_elements(By.CSS_SELECTOR, css)


@pytest.fixture
def browser(driver: webdriver.Chrome) -> Browser:
    """The module's browser, for one test."""
    return Browser(driver)


async def test_the_runs_page_lists_runs_and_filters_by_status(browser: Browser) -> None:
    """The runs page shows each run's status and steps; the status filter narrows it."""
    store = MemoryStore(clock=lambda: time.time() - 7200)  # created two hours ago
    for i, outcome in enumerate(["success", "error", "success"]):
        await store.create_run(f"run-{i}", "nightly", {}, 5.0)
        record = StepRecord(step="one", agent="a", status="success", started_at=0.0, ended_at=1.0)
        await store.record_step(f"run-{i}", record)
        await store.finish_run(f"run-{i}", outcome=outcome, response={})
    with trio.fail_after(WAIT * 3):
        async with serve(store, port=0) as server:
            await browser.get(server.url + "/")
            rows = await browser.call(browser.find_all, "table#runs tr.run")
            texts = [await browser.call(lambda r=row: r.text) for row in rows]
            assert [t.split()[0] for t in texts] == ["run-2", "run-1", "run-0"]
            assert texts[1].split()[1:6] == ["nightly", "error", "2h", "1", "0"]

            def pick_errors(chrome: webdriver.Chrome) -> None:
                Select(chrome.find_element(By.ID, "status-filter")).select_by_value("error")
                chrome.find_element(By.CSS_SELECTOR, "form.filter button").click()

            await browser.call(pick_errors, browser.chrome)
            await browser.until(lambda c: "status=error" in c.current_url)
            rows = await browser.call(browser.find_all, "table#runs tr.run")
            assert [await browser.call(lambda r=row: r.text.split()[0]) for row in rows] == [
                "run-1"
            ]


async def test_a_run_page_draws_each_step_as_a_bar_with_the_deadline(browser: Browser) -> None:
    """A run's timeline has a bar per step, retries and the timeout marked, and a deadline line."""
    with trio.fail_after(WAIT * 3):
        async with mixed_system() as system, serve(system, port=0) as server:
            report = await system.run("mixed", {"project": "demo"}, timeout=1.0)
            assert report.outcome == "timeout"
            await browser.get(f"{server.url}/")
            await browser.call(
                lambda: browser.chrome.find_element(By.CSS_SELECTOR, "a.run-link").click()
            )
            await browser.until(lambda c: c.find_elements(By.CSS_SELECTOR, "svg rect.bar"))
            bars = await browser.call(browser.find_all, "svg rect.bar")
            steps = [await browser.call(bar.get_attribute, "data-step") for bar in bars]
            assert steps == ["plan", "assess", "report"]
            classes = [await browser.call(bar.get_attribute, "class") for bar in bars]
            assert "mark-retried" in classes[1]
            assert "bar-timeout" in classes[2]
            assert await browser.call(browser.find_all, "svg line.deadline")
            svg = await browser.call(browser.chrome.find_element, By.TAG_NAME, "svg")
            labels = await browser.call(lambda: svg.text)
            assert "↻ 3 attempts" in labels
            assert "left at start" in labels
            shot = ARTIFACTS / "run-page.png"
            await browser.call(partial(shot.parent.mkdir, parents=True, exist_ok=True))
            assert await browser.call(browser.chrome.save_screenshot, str(shot))
    assert await browser.call(lambda: shot.stat().st_size) > 10_000


async def test_a_run_page_shows_a_finished_step_without_a_reload(browser: Browser) -> None:
    """While a run goes on, a step that finishes appears on its open page, with no reload."""
    gate = trio.Event()
    with trio.fail_after(WAIT * 3):
        async with (
            gated_system(gate) as system,
            serve(system, port=0) as server,
            trio.open_nursery() as nursery,
        ):
            workflow_id = await start_gated_run(system, nursery)
            await browser.get(f"{server.url}/runs/{workflow_id}")
            assert len(await browser.call(browser.find_all, "svg rect.bar")) == 1
            await browser.call(browser.chrome.execute_script, "window.__same_page = 42;")
            gate.set()  # 'review' finishes while the page is open
            await browser.until(
                lambda c: len(c.find_elements(By.CSS_SELECTOR, "svg rect.bar")) == 2
            )
            await browser.until(lambda c: c.find_element(By.ID, "run-status").text == "success")
            same = await browser.call(browser.chrome.execute_script, "return window.__same_page;")
            assert same == 42  # the page was not reloaded
            await browser.until(
                lambda c: c.find_element(By.ID, "live").get_attribute("data-done") == "true"
            )


async def test_a_step_result_with_script_and_html_is_shown_as_text(browser: Browser) -> None:
    """A result holding <script> and HTML tags is shown as its text: nothing runs or renders."""
    gate = trio.Event()
    gate.set()
    with trio.fail_after(WAIT * 3):
        async with gated_system(gate) as system, serve(system, port=0) as server:
            report = await system.run("gated", {}, timeout=5.0)
            await browser.get(f"{server.url}/runs/{report.workflow_id}")

            def open_result(chrome: webdriver.Chrome) -> str:
                row = chrome.find_element(By.CSS_SELECTOR, 'tr.step[data-step="plan"]')
                row.find_element(By.TAG_NAME, "summary").click()
                return str(row.find_element(By.CSS_SELECTOR, "pre.result").text)

            shown = await browser.call(open_result, browser.chrome)
            owned = await browser.call(browser.chrome.execute_script, "return window.__owned;")
            injected = await browser.call(browser.find_all, "#bold, #img, pre.result script")
    assert '<script>window.__owned = 1</script><b id=\\"bold\\">bold</b>' in shown
    assert owned is None
    assert injected == []
