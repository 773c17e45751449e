"""The approval queue fits a 1,280 px screen: its table stays inside the page's 1,104 px content column with
the demo's queue (a flagged decommission, with what it takes down, among topic and access requests); where
ten columns cannot fit (a tablet's width), the table scrolls in its own box and the page does not."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser

from tests.system.browser.test_tour import demo, sign_in  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser

WIDTHS_JS = """() => {
  const main = document.querySelector('main'), style = getComputedStyle(main);
  return {
    table: document.querySelector('table.queue').getBoundingClientRect().width,
    column: main.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight),
    page: document.documentElement.scrollWidth,
  };
}"""


@pytest.mark.parametrize("width", [1280, 1024])
def test_the_approval_queue_fits_the_content_column(browser: Browser, live_server, demo, width):  # noqa: F811
    context = browser.new_context(viewport={"width": width, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        sign_in(page, live_server.url, "ada")
        page.goto(f"{live_server.url}/approvals/")
        assert page.locator("table.queue .flag").count() >= 1  # the decommission's row is there
        measured = page.evaluate(WIDTHS_JS)
        assert measured["page"] <= width, measured  # the page never scrolls sideways
        if width == 1280:
            assert measured["column"] == 1104 and measured["table"] <= measured["column"], measured
    finally:
        context.close()
