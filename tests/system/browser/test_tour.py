"""The demo toured as every role at desktop (1,366 px) and phone (390 px) width.

On every page of the tour: the page loads (200), nothing overflows the viewport sideways (the document
does not scroll horizontally and no visible element reaches past the right edge unless it sits in a box
that scrolls by itself), and axe-core finds no serious or critical accessibility violation.

`make screenshots` runs this same tour with PORTAL_SCREENSHOTS=var/screenshots and keeps a full-page PNG
of every page there (`<width>-<role>-<nn>-<page>.png`), so anyone can look at the whole product in a
minute. axe-core is vendored under tests/system/browser/vendor/ (see the README there).
"""

from __future__ import annotations

import io
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import Browser, Page, expect

from clusters.models import Cluster, Request, Topic
from clusters.requests import services
from portal.management.commands.seed_demo import DEFAULT_PASSWORD
from portal.models import Team, User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

REPO_ROOT = Path(__file__).resolve().parents[3]
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
WIDTHS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
ROLES = ("anonymous", "alice", "ada", "fred")  # member of Payments, platform admin, finance
BLOCKING_IMPACTS = ("serious", "critical")
# Not the portal's own pages: Django's admin and the Swagger UI bring their own styles.
FOREIGN = ("/admin/", "/api/")


@dataclass
class Findings:
    pages: int = 0
    overflow: list[str] = field(default_factory=list)
    axe: Counter = field(default_factory=Counter)  # impact -> violations (rule × page)
    axe_blocking: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def report(self) -> str:
        impacts = ", ".join(f"{impact} {count}" for impact, count in sorted(self.axe.items())) or "none"
        lines = [
            f"{self.pages} pages toured; overflow {len(self.overflow)}; axe violations by impact: {impacts}",
            *(f"overflow: {line}" for line in self.overflow),
            *(f"axe: {line}" for line in self.axe_blocking),
            *(f"error: {line}" for line in self.errors),
        ]
        return "\n".join(lines)


# --- The demo world ----------------------------------------------------------------------------------


@pytest.fixture
def demo(live_server) -> dict:
    """`make run`'s demo data, plus the requests a day of use leaves: approved and provisioned, waiting,
    rejected."""
    call_command("seed_demo", force=True, stdout=io.StringIO())
    teams = {team.slug: team for team in Team.objects.all()}
    users = {user.username: user for user in User.objects.all()}
    clusters = {cluster.name: cluster for cluster in Cluster.objects.all()}
    alice, carol, ada = users["alice"], users["carol"], users["ada"]

    def file_topic(actor, team, cluster, name, mbps, why):
        prepared = services.prepare_topic_create(
            actor=actor,
            team=teams[team],
            cluster=clusters[cluster],
            name=name,
            expected_in_mbps=Decimal(mbps),
            expected_out_mbps=Decimal(mbps),
            justification=why,
        )
        return services.submit_request(actor=actor, prepared=prepared)

    # Auto-approved by the demo's "Small dev topics" rule, then provisioned by the (eager) worker.
    file_topic(alice, "payments", "payments-dev", "refunds", 1, "Refund events")
    # Waiting for an admin: access for an application's role.
    services.submit_request(
        actor=alice,
        prepared=services.prepare_access_grant(
            actor=alice,
            team=teams["payments"],
            cluster=clusters["events-write"],
            topic=Topic.objects.get(name="payments.orders"),
            entry=services.AccessInput(
                "arn:aws:iam::111122223333:role/orders-consumer", False, True, "payments.orders-"
            ),
            justification="The orders dashboard reads them",
        ),
    )
    # Rejected, with the reason the requester reads.
    rejected = file_topic(carol, "analytics", "events-write", "raw-logs", 40, "Everything, raw")
    services.reject_request(
        request_id=rejected.pk, actor=ada, reason="Send the logs to S3; Kafka is for events people read."
    )
    # Search files a topic of its monolith application, indexer: the applications page tells alice why no
    # takeover of indexer can be approved instead of offering one.
    file_topic(
        users["bob"], "search", "events-write", "documents", 6, "indexer's documents, off legacy-kafka"
    )
    # Payments retires events-write, which carries Search's and Analytics' topics: the approval queue sends ada
    # to the request's page for an override instead of offering a one-click approval.
    services.submit_request(
        actor=alice,
        prepared=services.prepare_cluster_decommission(
            actor=alice, cluster=clusters["events-write"], justification="Moving to per-team clusters"
        ),
    )
    return {"teams": teams, "users": users, "clusters": clusters}


def tour_pages(role: str, demo: dict) -> list[str]:
    """Pages beyond the navigation's own links (which the tour follows for every role)."""
    clusters, payments = demo["clusters"], demo["teams"]["payments"]
    dedicated, shared = clusters["payments-dev"].pk, clusters["events-write"].pk
    if role == "anonymous":
        return ["/login/"]
    detail = [
        f"/teams/{payments.slug}/",
        f"/clusters/{dedicated}/",
        f"/clusters/{shared}/",
        *_migration(role),
    ]
    if role == "fred":
        return [*detail, f"/billing/teams/{payments.slug}/"]
    requests = [
        f"/requests/{pk}/"
        for pk in Request.objects.filter(team__in=_teams_of(role, demo))
        .order_by("pk")
        .values_list("pk", flat=True)
    ]
    if role == "alice":
        forms = ["/requests/new/cluster/", "/requests/new/topic/", "/requests/new/access/"]
        return [*detail, *requests, *forms]
    return [*detail, *requests, "/teams/new/", f"/billing/teams/{payments.slug}/"]


def _migration(role: str) -> list[str]:
    """The demo monolith's pages (issue 13): inventory, applications, plans, the accepted plan with its costs
    and what each team files, its cutover page, and for alice (Payments) the requirements of payments-core;
    every signed-in role reads them."""
    from clusters.migration import demo as migration_demo
    from clusters.migration.models import Monolith

    monolith = Monolith.objects.get(name=migration_demo.NAME)
    plan = monolith.plans.order_by("-version").first()
    pages = [f"/migration/{monolith.pk}/{page}" for page in ("", "applications/", "plans/")]
    pages += [f"/migration/plans/{plan.pk}/", f"/migration/plans/{plan.pk}/cutover/"]
    if role == "alice":
        core = monolith.applications.get(name="payments-core")
        pages.append(f"/migration/applications/{core.pk}/requirements/")
    return pages


def _teams_of(role: str, demo: dict):
    if role == "ada":
        return list(demo["teams"].values())
    return [team for team in demo["teams"].values() if team.memberships.filter(user__username=role).exists()]


# --- Checks on one page --------------------------------------------------------------------------------

OVERFLOW_JS = """() => {
  const edge = window.innerWidth + 0.5;
  const scrollsItself = (el) => {
    for (let box = el.parentElement; box && box !== document.body; box = box.parentElement) {
      if (/(auto|scroll|hidden|clip)/.test(getComputedStyle(box).overflowX)) return true;
    }
    return false;
  };
  const describe = (el, right) => {
    const id = el.id ? '#' + el.id : '';
    const cls = typeof el.className === 'string' && el.className ? '.' + el.className.trim().split(/\\s+/).join('.') : '';
    const text = (el.innerText || el.textContent || '').trim().replace(/\\s+/g, ' ').slice(0, 50);
    return `${el.tagName.toLowerCase()}${id}${cls} right edge ${Math.round(right)} px: "${text}"`;
  };
  const found = [];
  for (const el of document.body.querySelectorAll('*')) {
    const rect = el.getBoundingClientRect();
    if (rect.width === 0 || rect.height === 0 || rect.right <= edge) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.display === 'none') continue;
    if (scrollsItself(el)) continue;
    if (found.some((outer) => outer.el.contains(el))) continue;  // the outermost offender says it all
    found.push({el, text: describe(el, rect.right)});
  }
  return {
    documentScrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    elements: found.slice(0, 10).map((f) => f.text),
  };
}"""

# How many rows the header's own links take (at desktop width they must fit one): their vertical centres,
# grouped where they are more than 12 px apart (the account drop-down's links are not in the bar).
NAV_ROWS_JS = """() => {
  const centres = [...document.querySelectorAll('header a, header summary, header button')]
    .filter((el) => el.getClientRects().length && !el.closest('.account-links'))
    .map((el) => { const r = el.getBoundingClientRect(); return (r.top + r.bottom) / 2; })
    .sort((a, b) => a - b);
  return centres.filter((c, i) => i === 0 || c - centres[i - 1] > 12).length;
}"""

AXE_JS = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')),
  }));
}"""


def check_page(page: Page, label: str, findings: Findings, shots: Path | None, shot_name: str) -> None:
    findings.pages += 1
    page.wait_for_load_state("networkidle")
    overflow = page.evaluate(OVERFLOW_JS)
    if overflow["documentScrollWidth"] > overflow["innerWidth"]:
        findings.overflow.append(
            f"{label}: the page is {overflow['documentScrollWidth']} px wide in a {overflow['innerWidth']} px viewport"
        )
    findings.overflow.extend(f"{label}: {element}" for element in overflow["elements"])
    rows = page.evaluate(NAV_ROWS_JS)
    if page.viewport_size["width"] >= 1280 and rows > 1:
        findings.overflow.append(f"{label}: the header takes {rows} rows at desktop width")
    page.add_script_tag(path=str(AXE))
    for violation in page.evaluate(AXE_JS):
        findings.axe[violation["impact"]] += 1
        if violation["impact"] in BLOCKING_IMPACTS:
            findings.axe_blocking.append(
                f"{label}: {violation['impact']} {violation['id']} ({violation['help']}) at {violation['nodes']}"
            )
    if shots is not None:
        page.screenshot(path=str(shots / f"{shot_name}.png"), full_page=True)


def _slug(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "dashboard"


def nav_links(page: Page) -> list[str]:
    """The portal's own pages the header links to (what this role can reach from the navigation)."""
    hrefs = page.locator("header a[href^='/']").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))"
    )
    return [href for href in hrefs if not href.startswith(FOREIGN)]


def sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base}/")


def tour(
    browser: Browser, base: str, role: str, width: str, demo: dict, findings: Findings, shots: Path | None
):
    context = browser.new_context(viewport=WIDTHS[width], bypass_csp=True)  # bypass: to inject axe only
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        if role != "anonymous":
            sign_in(page, base, role)
        paths = ([] if role == "anonymous" else ["/", *nav_links(page)]) + tour_pages(role, demo)
        for number, path in enumerate(dict.fromkeys(paths), start=1):
            label = f"{role} {width} {path}"
            response = page.goto(base + path)
            if response is None or response.status != 200:
                findings.errors.append(f"{label}: HTTP {response.status if response else 'no response'}")
                continue
            check_page(page, label, findings, shots, f"{width}-{role}-{number:02d}-{_slug(path)}")
        if role != "anonymous":
            open_menu(page, base, role, width, findings, shots)
    finally:
        context.close()


def open_menu(page: Page, base: str, role: str, width: str, findings: Findings, shots: Path | None) -> None:
    """The header's menu, opened: on a phone the whole navigation (behind "Menu"), on a desktop the
    account menu; each must fit the screen and pass axe like any page."""
    page.goto(f"{base}/")
    summary = ".site-menu > summary" if width == "phone" else ".account-menu > summary"
    page.locator(summary).click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    if width == "phone":
        expect(
            page.get_by_role("navigation", name="Main").get_by_role("link", name="Clusters")
        ).to_be_visible()
    check_page(page, f"{role} {width} menu", findings, shots, f"{width}-{role}-00-menu-open")


def screenshot_dir() -> Path | None:
    folder = os.environ.get("PORTAL_SCREENSHOTS")
    if not folder:
        return None
    path = Path(folder) if Path(folder).is_absolute() else REPO_ROOT / folder
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.png"):
        old.unlink()
    return path


def test_tour_every_role_at_desktop_and_phone_width(browser: Browser, live_server, demo):
    findings = Findings()
    shots = screenshot_dir()
    for width in WIDTHS:
        for role in ROLES:
            tour(browser, live_server.url, role, width, demo, findings, shots)
    print(findings.report())
    if shots is not None:
        (shots / "REPORT.txt").write_text(findings.report() + "\n", encoding="utf-8")
    assert findings.pages >= 40, findings.report()
    assert not findings.errors, findings.report()
    assert not findings.overflow, findings.report()
    assert not findings.axe_blocking, findings.report()


@pytest.mark.parametrize("width", WIDTHS)
def test_navigation_works_without_javascript(browser: Browser, live_server, admin, width):
    """The header's menus are plain <details>: with scripts off, the phone's Menu button still opens the
    navigation, the desktop shows it inline, and the account menu opens to Sign out."""
    context = browser.new_context(viewport=WIDTHS[width], java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("Username").fill(admin.username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(f"{live_server.url}/")
        clusters = page.get_by_role("navigation", name="Main").get_by_role("link", name="Clusters")
        if width == "phone":
            expect(clusters).to_be_hidden()
            page.locator(".site-menu > summary").click()
        expect(clusters).to_be_visible()
        if width == "desktop":
            expect(page.locator(".site-menu > summary")).to_be_hidden()
            page.locator(".account-menu > summary").click()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        clusters.click()
        expect(page).to_have_url(f"{live_server.url}/clusters/")
    finally:
        context.close()
