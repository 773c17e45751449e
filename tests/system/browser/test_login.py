"""Sign-in and API tokens through a real browser: the login form, htmx partial swaps and CSRF."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from portal.models import ApiToken
from portal.services import api_token_authenticate
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def sign_in(page: Page, live_server, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def open_account_menu(page: Page) -> None:
    """The header's account menu (a <details>): API tokens, API documentation, Sign out."""
    page.get_by_role("banner").locator(".account-menu > summary").click()


def test_member_signs_in_and_sees_only_their_team(page: Page, live_server, member_a, member_b):
    sign_in(page, live_server, member_a.username)

    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Alice")
    teams = page.locator("section[aria-labelledby=teams-heading]")
    expect(teams.get_by_role("heading", name="Your teams")).to_be_visible()
    expect(teams.get_by_role("link", name="Team A")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("Team B")


def test_wrong_password_shows_an_error(page: Page, live_server, member_a):
    sign_in(page, live_server, member_a.username, password="not-the-password")

    expect(page).to_have_url(re.compile(r"/login/$"))
    expect(page.locator(".errorlist")).to_contain_text("Please enter a correct username and password")
    expect(page.get_by_role("link", name="API tokens")).to_have_count(0)  # still signed out


def test_create_and_revoke_an_api_token_with_htmx(page: Page, live_server, member_a):
    sign_in(page, live_server, member_a.username)
    expect(page).to_have_url(f"{live_server.url}/")
    open_account_menu(page)
    page.get_by_role("link", name="API tokens").click()
    expect(page).to_have_url(f"{live_server.url}/account/tokens/")
    expect(page.locator("#token-panel")).to_contain_text("You have no API tokens.")

    # A full page load would drop this marker; an htmx swap keeps it.
    page.evaluate("window.__noFullReload = true")

    # Create: an htmx POST (HX-Request header, CSRF token from hx-headers/the form), not a form submit.
    page.get_by_label("Name").fill("CI pipeline")
    with page.expect_response(
        lambda r: r.url == f"{live_server.url}/account/tokens/" and r.request.method == "POST"
    ) as created:
        page.get_by_role("button", name="Create token").click()
    request = created.value.request
    assert created.value.status == 200
    assert request.header_value("HX-Request") == "true"
    assert request.header_value("X-CSRFToken")

    new_token = page.locator("[data-testid=new-token]")
    expect(new_token).to_be_visible()
    raw_key = new_token.inner_text().strip()
    assert page.evaluate("window.__noFullReload") is True
    expect(page).to_have_url(f"{live_server.url}/account/tokens/")
    row = page.get_by_role("row").filter(has_text="CI pipeline")
    expect(row).to_contain_text("active")

    # The key shown once is the real one.
    token = api_token_authenticate(raw_key)
    assert token is not None
    assert token.user == member_a
    assert token.name == "CI pipeline"

    # Revoke: hx-confirm asks first; accept the dialog.
    dialogs: list[str] = []

    def accept(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    with page.expect_response(
        lambda r: r.url == f"{live_server.url}/account/tokens/{token.pk}/revoke/"
    ) as revoked:
        row.get_by_role("button", name="Revoke").click()
    assert revoked.value.status == 200
    assert revoked.value.request.header_value("HX-Request") == "true"
    assert dialogs and "CI pipeline" in dialogs[0]

    expect(row).to_contain_text("revoked")
    expect(row.get_by_role("button", name="Revoke")).to_have_count(0)
    expect(page.locator("[data-testid=new-token]")).to_have_count(0)
    assert page.evaluate("window.__noFullReload") is True

    token.refresh_from_db()
    assert token.revoked_at is not None
    assert api_token_authenticate(raw_key) is None
    assert ApiToken.objects.filter(user=member_a).count() == 1
