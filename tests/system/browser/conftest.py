"""Playwright (headless Debian Chromium) against pytest-django's live_server.

Two things make Playwright's sync API and Django share one process:

- `sync_playwright()` keeps an asyncio loop "running" in the main thread for as long as it is
  started, so Django refuses ORM calls there (SynchronousOnlyOperation) unless
  DJANGO_ALLOW_ASYNC_UNSAFE is set. Test code here only does plain synchronous ORM work on
  fixtures, so it is set, but only while this package runs (the `_allow_async_unsafe` fixture);
- pytest-playwright starts Playwright once per *session*, which would leave that loop running
  for every test collected after this package (and break `async_to_sync` there). So
  `playwright`, `browser_type`, `browser` and `browser_context_args` are overridden with
  package scope: Chromium and the loop are gone before the rest of the suite runs.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Generator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserType, Playwright, sync_playwright

CHROMIUM = Path("/usr/lib/chromium/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # No request may leave the machine: every host but the live server fails to resolve.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]
REQUIRE_BROWSER = (
    os.environ.get("CI", "").lower() == "true" or os.environ.get("PORTAL_REQUIRE_SERVICES") == "1"
)
REPO_ROOT = Path(__file__).resolve().parents[3]
SCREENSHOT_DIR = REPO_ROOT / "test-results"


@pytest.fixture(scope="package", autouse=True)
def _allow_async_unsafe() -> Generator[None]:
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict:
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        reason = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
        if REQUIRE_BROWSER:
            pytest.fail(f"{reason}; browser tests are required when CI=true or PORTAL_REQUIRE_SERVICES=1")
        pytest.skip(reason)
    return {"executable_path": str(CHROMIUM), "headless": True, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="package")
def playwright() -> Generator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="package")
def browser_type(playwright: Playwright, browser_name: str) -> BrowserType:
    return getattr(playwright, browser_name)


@pytest.fixture(scope="package")
def browser(browser_type: BrowserType, browser_type_launch_args: dict) -> Generator[Browser]:
    browser = browser_type.launch(**browser_type_launch_args)
    yield browser
    browser.close()


@pytest.fixture(scope="package")
def browser_context_args(
    pytestconfig: pytest.Config,
    playwright: Playwright,
    device: str | None,
    _pw_artifacts_folder: tempfile.TemporaryDirectory,
) -> dict:
    """pytest-playwright's own at package scope, minus base_url: tests here use live_server.url.

    (Requesting pytest-playwright's `base_url` fixture raises PytestRemovedIn10Warning on pytest 9.)
    """
    context_args: dict = {}
    if device:
        context_args.update(playwright.devices[device])
    if pytestconfig.getoption("--video") in ("on", "retain-on-failure"):
        context_args["record_video_dir"] = _pw_artifacts_folder.name
    return context_args


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item):
    """Keep a screenshot of the page of a failed test as test-results/<test name>.png."""
    report = yield
    if report.when == "call" and report.failed:
        page = getattr(item, "funcargs", {}).get("page")
        if page is not None and not page.is_closed():
            name = re.sub(r"[^\w.-]+", "_", item.name).strip("_")
            path = SCREENSHOT_DIR / f"{name}.png"
            try:
                SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(path), full_page=True)
            except Exception as exc:  # a dead browser must not hide the real failure
                report.sections.append(("screenshot", f"could not save {path}: {exc!r}"))
            else:
                report.sections.append(("screenshot", f"saved {path}"))
    return report
