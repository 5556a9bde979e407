"""What the browser tests share: Debian's chromium driven by Playwright (never a downloaded
browser), a page for one test, and signing in through the login form."""

import contextlib
import os
from pathlib import Path

import pytest
from django.db import connections

from .conftest import DEMO_PASSWORD, PROJECT_DIR

playwright_sync = pytest.importorskip("playwright.sync_api")

# Where the browser tests keep their screenshots (git-ignored).
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", PROJECT_DIR / "var" / "screenshots"))

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextlib.contextmanager
def launched(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the ORM calls of the tests are plain sync code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with playwright_sync.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
            # ORM calls made while Playwright's loop runs open a connection in that context;
            # close it here, or PostgreSQL cannot drop the test database at the end.
            connections.close_all()


# Both fixtures depend on transactional_db so that the browser closes before the test's cleanup
# (conftest.SessionSnapshot, or the flush): nothing it still asks of the live server meets it.


@pytest.fixture
def chromium(monkeypatch, transactional_db):
    """A Chromium for one test."""
    with launched(monkeypatch) as browser:
        yield browser


@pytest.fixture
def browser_page(monkeypatch, transactional_db):
    """One page of a Chromium for one test, 1400×1000, in the browser's default locale (en-US:
    pages must still open in Chinese); downloads are kept (a payment file)."""
    with launched(monkeypatch) as browser:
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(20_000)
        try:
            yield page
        finally:
            context.close()


def sign_in(page, url: str, username: str, *, by_keyboard: bool = False) -> None:
    """Open ``url`` signed out (the login page, or a page that sends a visitor there) and sign in
    with the demo password; ``by_keyboard``: Enter in the password field submits the form."""
    page.goto(url)
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    if by_keyboard:
        page.press("#id_password", "Enter")
    else:
        page.click("button[type=submit].primary")


def select_that_submits(page, selector: str, value: str) -> None:
    """Choose ``value`` in a control marked data-autosubmit (static/js/autosubmit.js), as a person
    does once the page has loaded: the script is deferred, and a change made before it runs
    submits nothing (a race the test clock made likely: when the server's clock is behind the
    browser's, every static file is asked again before it runs)."""
    page.wait_for_load_state("load")
    page.select_option(selector, value)
