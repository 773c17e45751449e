"""The header is one line on a laptop's 1,280 px and a tablet's 1,024 px, for every role: a member, a platform
admin (with both counts), finance, an admin who is also in a team, and a member of every team (whose cost pages
are one "Costs" drop-down); on a phone (390 px) it is one line too, the navigation behind "Menu", which opens
and fits the screen.

"One line" is measured: the header is as tall as its tallest visible item plus its padding, and the centres
of its visible links and buttons (the drop-downs' contents aside) make one row."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from portal.management.commands.seed_demo import DEFAULT_PASSWORD
from portal.models import Membership, Team, User
from tests.system.browser.test_tour import demo, sign_in  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser

WIDTHS = (1280, 1024, 390)
# The demo's member, admin and finance, and the two users whose header holds the most: an admin in a team
# (New request as well as Approvals and Drift with their counts) and a member of all four teams.
ROLES = ("alice", "ada", "fred", "admin-member", "member-of-all")

HEADER_JS = """() => {
  const header = document.querySelector('header'), style = getComputedStyle(header);
  const items = [...header.querySelectorAll('a, summary, button')]
    .filter((el) => el.checkVisibility() && !el.closest('.account-links, .nav-group > ul'))
    .map((el) => el.getBoundingClientRect());
  const centres = items.map((r) => (r.top + r.bottom) / 2).sort((a, b) => a - b);
  return {
    height: header.getBoundingClientRect().height,
    oneLine: Math.max(...items.map((r) => r.height)) + parseFloat(style.paddingTop) + parseFloat(style.paddingBottom),
    rows: centres.filter((c, i) => i === 0 || c - centres[i - 1] > 12).length,
    pageWidth: document.documentElement.scrollWidth,
  };
}"""


def _users_with_the_longest_rows() -> None:
    teams = list(Team.objects.order_by("name"))
    admin = User.objects.create_user(
        "admin-member", password=DEFAULT_PASSWORD, role=User.Role.PLATFORM_ADMIN, email="am@example.com"
    )
    Membership.objects.create(team=teams[0], user=admin)
    member = User.objects.create_user("member-of-all", password=DEFAULT_PASSWORD, email="all@example.com")
    for team in teams:
        Membership.objects.create(team=team, user=member)


def test_the_header_is_one_line_for_every_role(browser: Browser, live_server, demo):  # noqa: F811
    _users_with_the_longest_rows()
    measured, wrapped = [], []
    for width in WIDTHS:
        context = browser.new_context(viewport={"width": width, "height": 900})
        try:
            page = context.new_page()
            page.set_default_timeout(15_000)
            for role in ROLES:
                sign_in(page, live_server.url, role)
                for path in ("/", "/clusters/"):
                    page.goto(live_server.url + path)
                    header = page.evaluate(HEADER_JS)
                    line = f"{width} px {role} {path}: {header['height']:.1f} px, one line {header['oneLine']:.1f}, {header['rows']} row(s)"
                    measured.append(line)
                    if abs(header["height"] - header["oneLine"]) > 0.5 or header["rows"] != 1:
                        wrapped.append(line)
                    if header["pageWidth"] > width:
                        wrapped.append(f"{line}; the page is {header['pageWidth']} px wide")
                main_nav = page.get_by_role("navigation", name="Main")
                if width < 1280:  # the navigation is behind "Menu", which opens it
                    page.locator(".site-menu > summary").click()
                    expect(main_nav.get_by_role("link", name="Clusters")).to_be_visible()
                    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
                if role == "member-of-all":  # "Costs" opens a link to each team's costs, on the screen
                    main_nav.locator(".nav-group > summary").click()
                    search = main_nav.get_by_role("link", name="Costs: Search")
                    expect(search).to_be_visible()
                    box = search.bounding_box()
                    assert box["x"] >= 0 and box["x"] + box["width"] <= width, (width, box)
                    search.click()
                    expect(page).to_have_url(f"{live_server.url}/billing/teams/search/")
                context.clear_cookies()
        finally:
            context.close()
    print("\n".join(measured))
    assert not wrapped, "\n".join(wrapped)
