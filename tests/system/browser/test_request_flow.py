"""A topic request from form to approval, through a real browser: the requester's form with its field
errors and htmx live preview, the admin's inline approval in the queue, the requester seeing the outcome;
and the queue's bulk bar deciding on several rows at once."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from clusters.models import Request, Topic
from tests import builders
from tests.conftest import PASSWORD
from tests.system.browser.test_login import open_account_menu

pytestmark = pytest.mark.browser

NAME_RULE = "Kafka topic names use letters, digits, '.', '_' and '-' (at most 249 characters)."


def sign_in(page: Page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server.url}/")


def sign_out(page: Page, live_server) -> None:
    # The header's Sign out is a POST form (Django's LogoutView refuses GET), in the account menu.
    open_account_menu(page)
    page.get_by_role("banner").get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login/$"))
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()


def test_topic_request_from_form_to_approval(page: Page, live_server, team_a, member_a, admin, cluster_a):
    page.set_default_timeout(10_000)  # fail fast rather than after Playwright's 30 s

    # 1. The requester fills in the new topic form with a name Kafka refuses.
    sign_in(page, live_server, member_a.username)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="New request").click()
    page.get_by_role("link", name="A topic").click()
    expect(page).to_have_url(f"{live_server.url}/requests/new/topic/")
    expect(page.get_by_role("heading", level=1)).to_have_text("New topic")

    page.get_by_label("Team").select_option(label="Team A")
    page.get_by_label("Cluster").select_option(label="team-a-dev (team-a, dev, us-east-1)")
    name = page.get_by_label("Name")  # Django labels end with ":" ("Name:")
    name.fill("bad name!")
    page.get_by_label("Expected write throughput in (MB/s)").fill("12")
    page.get_by_label("Expected read throughput out (MB/s)").fill("45")
    page.get_by_role("button", name="Submit request").click()

    # A full POST that re-renders the form: the error sits on the name field, nothing is saved.
    expect(name).to_have_attribute("aria-invalid", "true")
    expect(name).to_have_accessible_description(re.compile(r"Not allowed here: ' ' '!'\.$"))
    name_error = page.locator("#id_name_error")  # Django's id for the field's errorlist
    expect(name_error).to_contain_text(NAME_RULE)
    expect(name_error).to_contain_text("Not allowed here: ' ' '!'.")
    expect(name).to_have_value("bad name!")  # what the user typed is kept
    assert not Request.objects.exists()

    # 2. The fixed name: the htmx preview suggests partitions and shows headroom and cost.
    preview = page.get_by_role("complementary", name="Preview")
    with page.expect_response(
        lambda r: (
            r.url == f"{live_server.url}/requests/new/topic/preview/"
            and "orders" in (r.request.post_data or "")
        )
    ) as previewed:
        # Typed key by key: the preview listens to keyup (and change), which fill() does not send.
        name.clear()
        name.press_sequentially("orders")
    assert previewed.value.status == 200
    assert previewed.value.request.header_value("HX-Request") == "true"
    # max(⌈12 ÷ 5⌉, ⌈45 ÷ 10⌉) = max(3, 5) = 5
    expect(preview.locator(".suggestion")).to_contain_text("Suggested partitions: 5")
    expect(preview).not_to_contain_text("Fix these first")
    expect(preview.get_by_role("region", name="Quota assessment")).to_be_visible()
    expect(preview.get_by_role("region", name="Estimated monthly cost")).to_contain_text("Total")
    expect(preview).to_contain_text("Ready to submit")

    page.get_by_role("button", name="Submit request").click()
    expect(page).to_have_url(re.compile(r"/requests/\d+/$"))
    request = Request.objects.get()
    assert page.url == f"{live_server.url}/requests/{request.pk}/"
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Request #{request.pk}: {request.get_kind_display()}"
    )
    expect(page.get_by_role("status").filter(has_text="submitted")).to_contain_text(
        f"Request #{request.pk} submitted"
    )
    decision = page.get_by_role("region", name="Decision")
    expect(decision).to_contain_text("Status: Submitted")
    expect(decision).to_contain_text("Waiting for a platform admin.")
    assert request.status == Request.Status.SUBMITTED

    # 3. The admin approves it from the queue row, without leaving the page.
    sign_out(page, live_server)
    sign_in(page, live_server, admin.username)
    page.get_by_role("navigation", name="Main").get_by_role("link", name=re.compile(r"^Approvals")).click()
    expect(page).to_have_url(f"{live_server.url}/approvals/")
    row = page.locator(f"#request-row-{request.pk}")
    badge, menu_badge = page.locator("#approvals-count"), page.locator("#approvals-count-menu")
    expect(badge).to_have_text("1 waiting")
    expect(menu_badge).to_have_text("1 waiting")
    expect(row).to_contain_text("team-a")
    expect(row).to_contain_text("member_a")

    page.evaluate("window.__noFullReload = true")  # a page load would drop it; an htmx swap keeps it
    with page.expect_response(f"{live_server.url}/requests/{request.pk}/approve/") as approved:
        row.get_by_role("button", name=f"Approve request #{request.pk}").click()
    assert approved.value.status == 200
    assert approved.value.request.header_value("HX-Request") == "true"

    expect(row.get_by_role("status")).to_have_text(f"Request #{request.pk} approved.")
    expect(row.locator(".status-approved")).to_have_text("Approved")
    expect(row).to_contain_text("by admin")
    expect(row.get_by_role("button")).to_have_count(0)  # no Approve/Reject left
    # The navigation's count followed the decision (out-of-band swap), in the bar and in the phone menu.
    expect(badge.locator(".badge")).to_have_count(0)
    expect(menu_badge.locator(".badge")).to_have_count(0)
    expect(page).to_have_url(f"{live_server.url}/approvals/")
    assert page.evaluate("window.__noFullReload") is True

    # 4. The requester sees the outcome; the database agrees.
    sign_out(page, live_server)
    sign_in(page, live_server, member_a.username)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Requests", exact=True).click()
    page.get_by_role("link", name=f"#{request.pk}", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/requests/{request.pk}/")
    decision = page.get_by_role("region", name="Decision")
    expect(decision).to_contain_text("Status: Approved")
    expect(decision).to_contain_text("Approved by admin")

    request.refresh_from_db()
    assert request.status == Request.Status.APPROVED
    assert request.decided_by == admin
    topic = Topic.objects.get(name="team-a.orders")
    assert topic.cluster == cluster_a
    assert topic.team == team_a
    assert topic.partitions == 5


def test_admin_approves_two_queue_rows_at_once(page: Page, live_server, member_a, admin, cluster_a):
    """The queue's bulk bar: tick two rows, "Approve selected", back on the queue with the summary. Enter in
    the reason field submits nothing; "Select all on this page" ticks every row the admin may decide on."""
    page.set_default_timeout(10_000)
    first, second, third = (
        builders.topic_request(member_a, cluster_a, name) for name in ("bulk-one", "bulk-two", "bulk-three")
    )
    sign_in(page, live_server, admin.username)
    page.goto(f"{live_server.url}/approvals/?sort=newest")
    bar = page.get_by_role("form", name="Decide on the selected requests")

    page.get_by_label(f"Select request #{first.pk}").check()
    page.get_by_label(f"Select request #{second.pk}").check()
    page.evaluate("window.__stayed = true")  # a page load would drop it
    page.get_by_label("Reason for rejecting the selected requests").press("Enter")
    page.wait_for_timeout(500)
    assert page.evaluate("window.__stayed") is True
    assert not Request.objects.exclude(status="submitted").exists()
    bar.get_by_role("button", name="Approve selected").click()

    expect(page).to_have_url(f"{live_server.url}/approvals/?sort=newest")
    expect(page.locator("#messages")).to_have_text("Approved 2 of 2.")
    expect(page.locator("#approvals-count")).to_have_text("1 waiting")
    expect(page.locator(f"#request-row-{first.pk}")).to_have_count(0)
    expect(page.locator(f"#request-row-{second.pk}")).to_have_count(0)
    statuses = dict(Request.objects.values_list("pk", "status"))
    assert [statuses[r.pk] for r in (first, second, third)] == ["approved", "approved", "submitted"]

    page.get_by_label("Select all 1 on this page").check()
    expect(page.get_by_label(f"Select request #{third.pk}")).to_be_checked()
    bar.get_by_role("button", name="Reject selected").click()  # without a reason
    expect(page.locator("#messages")).to_have_text("Tell the requester why: the reason is shown to them.")
    assert Request.objects.get(pk=third.pk).status == "submitted"


def test_a_row_decided_inline_keeps_its_columns_at_desktop_width(
    page: Page, live_server, member_a, admin, cluster_a
):
    """A row the admin can no longer tick (decided inline; also their own requests) keeps its empty select
    cell in a table: its cells stay under their headings and the table does not grow past the page. Only
    the phone's cards drop that empty cell."""
    page.set_default_timeout(10_000)
    page.set_viewport_size({"width": 1366, "height": 900})
    request = builders.topic_request(member_a, cluster_a, "aligned")
    sign_in(page, live_server, admin.username)
    page.goto(f"{live_server.url}/approvals/")
    row = page.locator(f"#request-row-{request.pk}")
    row.get_by_role("button", name=f"Approve request #{request.pk}").click()
    expect(row.get_by_role("status")).to_have_text(f"Request #{request.pk} approved.")

    number_heading = page.get_by_role("columnheader", name="#", exact=True).bounding_box()
    number_cell = row.locator("td[data-label='Request']").bounding_box()
    assert abs(number_cell["x"] - number_heading["x"]) < 1, (number_cell, number_heading)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_back_and_submit_again_files_one_request(page: Page, live_server, team_a, member_a, network_profile):
    """The issue's Back + Submit in a real browser: Chromium fetches the form again (pages are no-store)
    with a new key and puts the typed values back; Submit files nothing more, and the form says which
    request is waiting."""
    page.set_default_timeout(10_000)
    sign_in(page, live_server, member_a.username)
    page.goto(f"{live_server.url}/requests/new/cluster/")
    key = page.locator("input[name=submission_key]")
    first_key = key.input_value()
    page.get_by_label("Team").select_option(label="Team A")
    name = page.get_by_label("Name")
    name.fill("team-a-prod")
    page.get_by_label("AWS account").select_option(index=1)
    page.get_by_label("Network profile").select_option(index=1)
    page.get_by_label("Justification").fill("Production traffic.")
    page.get_by_role("button", name="Submit request").click()
    expect(page).to_have_url(re.compile(r"/requests/\d+/$"))
    filed = Request.objects.get()

    page.go_back()
    expect(page).to_have_url(f"{live_server.url}/requests/new/cluster/")
    expect(name).to_have_value("team-a-prod")
    assert key.input_value() != first_key
    page.get_by_role("button", name="Submit request").click()
    expect(page.locator("#id_name_error")).to_have_text(
        f"A request for cluster “team-a-prod” in us-east-1 is already waiting for approval: #{filed.pk}."
    )
    assert Request.objects.count() == 1
