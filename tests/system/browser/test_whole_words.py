"""With a desktop's room (1,280 px) a table column is never squeezed so narrow that a plain word splits
across two lines: the cluster list showed "Topi / cs", "Partitio / ns", "Payme / nts", "Developm / ent",
the request list "Reques / ter", "Flagge / d" (the screenshot tour, every role). A long unbroken name
still wraps inside its cell (test_cost_tables_fit)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser

from tests.system.browser.test_tour import demo, sign_in  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser

# Every word (of letters), share ("11 %") or account number in these cells whose text lies on more than one line.
SPLIT_WORDS_JS = r"""(cells) => {
  const split = [];
  for (const cell of document.querySelectorAll(cells)) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const match of node.data.matchAll(/[A-Za-z]{2,}|\d+ ?%|\d{3,}/g)) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const lines = new Set([...range.getClientRects()].map((rect) => Math.round(rect.top)));
        if (lines.size > 1) split.push(match[0]);
      }
    }
  }
  return split;
}"""

EVERY_CELL = "main table th, main table td"
# The approval queue's ten columns share 1,104 px (test_approval_queue_width): its Decision column's notes
# may wrap anywhere, but the headings, the kind, the summary ("search.queri / es" once) and the short
# columns keep their words.
PAGES = {
    "/clusters/": EVERY_CELL,
    "/requests/": EVERY_CELL,
    "/drift/": EVERY_CELL,
    "/approvals/": "main table th, main table td:not(.decision)",
}


def test_table_words_stay_whole_at_desktop_width(browser: Browser, live_server, demo):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        sign_in(page, live_server.url, "ada")
        split = {}
        for path, cells in PAGES.items():
            page.goto(live_server.url + path)
            assert page.locator("main table").count() >= 1, path
            if words := page.evaluate(SPLIT_WORDS_JS, cells):
                split[path] = words
        assert not split, split
    finally:
        context.close()
