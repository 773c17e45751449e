"""The UI works under the Content-Security-Policy: the main pages as each role, the API docs and Django
admin, with no violation reported by the browser, and htmx actions still swapping their fragments."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from clusters.models import Topic
from clusters.requests import services
from tests.system.browser.test_login import sign_in

pytestmark = pytest.mark.browser

# Every violation the page reports, and the console's CSP messages (Chromium logs each refusal).
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI} ${event.sourceFile}:${event.lineNumber}`);
});
"""

PAGES = {
    "member_a": [
        "/",
        "/teams/",
        "/teams/team-a/",
        "/requests/",
        "/requests/new/",
        "/requests/new/topic/",
        "/requests/new/cluster/",
        "/requests/new/access/",
        "/requests/{request}/",
        "/clusters/",
        "/clusters/{cluster}/",
        "/requests/new/topic-update/{topic}/",
        "/billing/teams/team-a/",
        "/audit/",
        "/account/tokens/",
        "/api/docs/",
    ],
    "admin": [
        "/",
        "/teams/",
        "/teams/team-a/",
        "/requests/",
        "/requests/{request}/",
        "/approvals/",
        "/clusters/",
        "/clusters/{cluster}/",
        "/billing/finance/",
        "/audit/",
        "/account/tokens/",
        "/api/docs/",
        "/admin/",
        "/admin/clusters/autoapprovalrule/add/",
        "/admin/clusters/cluster/{cluster}/change/",
        "/admin/portal/team/",
        "/admin/portal/user/",
    ],
    "finance": [
        "/",
        "/teams/",
        "/clusters/",
        "/billing/finance/",
        "/audit/",
        "/account/tokens/",
        "/api/docs/",
    ],
}


@pytest.fixture
def world(member_a, admin, finance, team_a, cluster_a) -> dict:
    admin.is_staff = admin.is_superuser = True  # Django admin is for superusers
    admin.save()
    topic = Topic.objects.create(
        cluster=cluster_a, team=team_a, name="team-a.orders", partitions=2, status=Topic.Status.ACTIVE
    )
    prepared = services.prepare_topic_create(
        actor=member_a,
        team=team_a,
        cluster=cluster_a,
        name="payments",
        expected_in_mbps=Decimal(4),
        expected_out_mbps=Decimal(4),
    )
    request = services.submit_request(actor=member_a, prepared=prepared)
    return {"request": request.pk, "cluster": cluster_a.pk, "topic": topic.pk}


def _watch(page: Page) -> list[str]:
    console: list[str] = []
    page.on(
        "console",
        lambda message: console.append(message.text) if "Content Security Policy" in message.text else None,
    )
    page.add_init_script(RECORD_VIOLATIONS)
    return console


def _violations(page: Page, console: list[str]) -> list[str]:
    return [*page.evaluate("window.__cspViolations || []"), *console]


@pytest.mark.parametrize("role", sorted(PAGES))
def test_main_pages_have_no_csp_violations(page: Page, live_server, world, role, request):
    page.set_default_timeout(15_000)
    user = request.getfixturevalue(role)
    console = _watch(page)
    sign_in(page, live_server, user.username)
    expect(page).to_have_url(f"{live_server.url}/")
    found = {}
    for path in PAGES[role]:
        url = live_server.url + path.format(**world)
        response = page.goto(url)
        assert response is not None and response.status == 200, (path, response and response.status)
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert "no-store" in response.headers["cache-control"], path
        page.wait_for_load_state("networkidle")
        if problems := _violations(page, console):
            found[path] = problems
        console.clear()
    assert found == {}
    # The API docs really render under the policy (Swagger UI builds the page from the schema).
    page.goto(f"{live_server.url}/api/docs/")
    expect(page.get_by_text("MSK Serverless portal API").first).to_be_visible()


def test_the_policy_is_enforced_and_reported(page: Page, live_server, member_a):
    """The check above can fail: an inline script is refused and the refusal is seen."""
    console = _watch(page)
    sign_in(page, live_server, member_a.username)
    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.__inlineRan = true';"
        " document.body.appendChild(s); }"
    )
    page.wait_for_function("window.__cspViolations.length > 0")
    assert page.evaluate("window.__inlineRan") is None
    assert any("script-src" in violation for violation in _violations(page, console))


def test_htmx_actions_work_under_the_policy(page: Page, live_server, world, member_a):
    page.set_default_timeout(15_000)
    console = _watch(page)
    sign_in(page, live_server, member_a.username)

    # An htmx POST that swaps a panel: create an API token.
    page.goto(f"{live_server.url}/account/tokens/")
    page.evaluate("window.__noFullReload = true")
    page.get_by_label("Name").fill("CSP check")
    with page.expect_response(
        lambda r: r.url.endswith("/account/tokens/") and r.request.method == "POST"
    ) as done:
        page.get_by_role("button", name="Create token").click()
    assert done.value.request.header_value("HX-Request") == "true"
    expect(page.locator("[data-testid=new-token]")).to_be_visible()
    assert page.evaluate("window.__noFullReload") is True

    # The request form's live preview (hx-trigger on input, hx-post, swap into the aside).
    page.goto(f"{live_server.url}/requests/new/topic/")
    page.get_by_label("Team").select_option(label="Team A")
    page.get_by_label("Cluster").select_option(label="team-a-dev (team-a, dev, us-east-1)")
    page.get_by_label("Expected write throughput in (MB/s)").fill("12")
    page.get_by_label("Expected read throughput out (MB/s)").fill("45")
    with page.expect_response(lambda r: r.url.endswith("/requests/new/topic/preview/")) as previewed:
        page.get_by_label("Name").press_sequentially("orders2")
    assert previewed.value.status == 200
    expect(page.get_by_role("complementary", name="Preview").locator(".suggestion")).to_contain_text(
        "Suggested partitions: 5"
    )
    assert _violations(page, console) == []
