"""The request page follows its request live: the requester, looking at it, sees an admin's approval (status,
decision, provisioning) appear within the polling interval without reloading; a failed step an admin can
retry keeps it following at a slower pace, so the retry shows too (it stops once final: django-htmx's 286,
tests/clusters/provisioning/test_request_progress.py)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tests import builders
from tests.conftest import PASSWORD
from tests.system.browser.test_request_flow import sign_in, sign_out

pytestmark = pytest.mark.browser

POLL_MS = 3_000  # hx-trigger="every 3s" in clusters/_request_progress.html


def wait_until(page: Page, condition, timeout_ms: int) -> None:
    """Let the page run until `condition()` holds (the page's own requests are what it waits for)."""
    for _ in range(timeout_ms // 100):
        if condition():
            return
        page.wait_for_timeout(100)
    assert condition(), f"not within {timeout_ms} ms"


def test_requester_sees_the_approval_appear_without_reloading(
    browser: Browser, live_server, member_a, admin, cluster_a
):
    request = builders.topic_request(member_a, cluster_a, "live-orders")
    url = f"{live_server.url}/requests/{request.pk}/"
    requester, approver = browser.new_context(), browser.new_context()
    try:
        mine = requester.new_page()
        mine.set_default_timeout(10_000)
        polls: list[int] = []
        mine.on("response", lambda r: polls.append(r.status) if r.url.endswith("/progress/") else None)
        sign_in(mine, live_server, member_a.username)
        mine.goto(url)
        # The facts' first line is the status; the decision panel says it too.
        facts, decision = mine.locator("dl.facts").first, mine.get_by_role("region", name="Decision")
        expect(facts.locator("dd").first).to_have_text("Submitted")
        expect(decision).to_contain_text("Status: Submitted")
        expect(decision.get_by_role("button", name="Cancel this request")).to_be_visible()
        mine.evaluate("window.__noFullReload = true")  # a page load would drop it; htmx swaps keep it
        wait_until(mine, lambda: polls, POLL_MS + 2_000)  # it is polling

        theirs = approver.new_page()
        theirs.set_default_timeout(10_000)
        sign_in(theirs, live_server, admin.username)
        theirs.goto(url)
        theirs.get_by_role("region", name="Decision").get_by_role("button", name="Approve").click()
        expect(theirs.get_by_role("region", name="Decision")).to_contain_text(f"Approved by {admin.username}")

        # Within one polling interval (plus the answer's time), on the page the requester never reloaded.
        expect(decision).to_contain_text("Status: Approved", timeout=POLL_MS + 1_500)
        expect(decision).to_contain_text(f"Approved by {admin.username}")
        expect(facts.locator("dd").first).to_have_text("Approved")
        expect(decision.get_by_role("button", name="Cancel this request")).to_have_count(0)
        progress = mine.get_by_role("region", name="Provisioning")
        expect(progress).to_contain_text("Topic team-a.live-orders")
        expect(mine.get_by_role("region", name="History")).to_contain_text("Submitted → Approved")
        assert mine.evaluate("window.__noFullReload") is True

        # The eager worker has tried the topic and it failed (the cluster is not reachable): an admin can
        # retry it, so the page keeps asking, every 15 s instead of 3, and never gets htmx's stop-polling.
        expect(progress).to_contain_text("can retry what failed", timeout=POLL_MS + 1_500)
        asked = len(polls)
        mine.wait_for_timeout(POLL_MS * 2)
        assert len(polls) <= asked + 1 and 286 not in polls, polls  # the slow pace (one already on its way)

        # The admin retries from the cluster's page; the requester's page shows the retry without a reload.
        theirs.goto(f"{live_server.url}/clusters/{cluster_a.pk}/")
        theirs.get_by_role("button", name="Retry team-a.live-orders").click()
        expect(theirs.get_by_role("status").filter(has_text="Retrying creating the topic")).to_be_visible()
        expect(progress).to_contain_text(
            f"retry by {admin.username}: creating the topic", timeout=POLL_MS * 6
        )
        assert mine.evaluate("window.__noFullReload") is True and 286 not in polls
    finally:
        requester.close()
        approver.close()


def test_a_page_polling_after_signing_out_elsewhere_goes_to_sign_in_and_comes_back(
    browser: Browser, live_server, member_a, cluster_a
):
    """Signed out in another tab while the request's page polls: the page goes to the sign-in page (htmx's
    HX-Redirect), it does not show the sign-in form inside its Provisioning panel; signing in returns to it."""
    request = builders.topic_request(member_a, cluster_a, "signed-out")
    url = f"{live_server.url}/requests/{request.pk}/"
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        sign_in(page, live_server, member_a.username)
        page.goto(url)
        expect(page.get_by_role("region", name="Provisioning")).to_contain_text(
            "Waiting for a platform admin"
        )

        other_tab = context.new_page()
        other_tab.goto(f"{live_server.url}/")
        sign_out(other_tab, live_server)

        # The next poll (every 3 s) moves the whole page.
        signed_out = f"{live_server.url}/login/?next=/requests/{request.pk}/"
        expect(page).to_have_url(signed_out, timeout=POLL_MS + 3_000)
        expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
        page.get_by_label("Username").fill(member_a.username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(url)
        expect(page.get_by_role("region", name="Provisioning")).to_contain_text(
            "Waiting for a platform admin"
        )
    finally:
        context.close()
