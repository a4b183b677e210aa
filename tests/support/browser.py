"""A real browser for the web page's tests and bench: Debian's headless Chromium driven by
Selenium through the system ``chromedriver`` (``apt-get install chromium
chromium-driver``, ``pip install selenium``; a browser download at test time does not
work here).

:func:`missing` says what is not installed; a test skips with it locally and fails under
``CI=true`` (:func:`require`), as the house rules ask of tests needing a browser.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from tests.support.needs import skip_or_fail

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

#: The browsers and drivers looked for, in order (Debian names them so).
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
DRIVERS = ("chromedriver",)
#: Where CI keeps test artifacts (screenshots), when it sets one.
ARTIFACTS_ENV = "SDN_TEST_ARTIFACTS"


def _which(names: tuple[str, ...]) -> str | None:
    return next((found for found in map(shutil.which, names) if found), None)


def missing() -> str | None:
    """What is missing for a browser test (None: everything is there)."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install selenium)"
    if _which(BROWSERS) is None:
        return "no Chromium (apt-get install chromium)"
    if _which(DRIVERS) is None:
        return "no chromedriver (apt-get install chromium-driver)"
    return None


def require() -> None:
    """Skip (locally) or fail (under ``CI=true``) when the browser is missing."""
    skip_or_fail(missing(), "the browser tests")


@contextmanager
def chromium(width: int = 1400, height: int = 1000) -> Iterator[WebDriver]:
    """A headless Chromium session, quit (and its driver process waited for) at the end."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--disable-gpu", f"--window-size={width},{height}"):
        options.add_argument(arg)
    browser = _which(BROWSERS)
    if browser is not None:
        options.binary_location = browser
    driver = webdriver.Chrome(options=options, service=Service(_which(DRIVERS)))
    try:
        yield driver
    finally:
        driver.quit()


def keep_artifact(path: Path) -> Path | None:
    """Copy ``path`` into ``$SDN_TEST_ARTIFACTS`` (when CI sets it); the copy's path."""
    folder = os.environ.get(ARTIFACTS_ENV)
    if not folder:
        return None
    target = Path(folder) / path.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, target)
    return target
