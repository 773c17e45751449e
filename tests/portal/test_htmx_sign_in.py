"""htmx requests of someone whose session ended (it expired, or they signed out in another tab) or who is
refused (403) move the whole page to the sign-in page (HX-Redirect), with the page they were on as `next`:
htmx would otherwise follow the redirect and swap the sign-in form into the panel it polls. Every page
endpoint is checked by the authorization matrix (tests/test_authz_matrix.py); these are the details."""

from __future__ import annotations

from django.urls import reverse

from tests import builders
from tests.conftest import client_for

PAGE = "http://testserver/requests/7/"
POLL = {"HX-Request": "true", "HX-Current-URL": PAGE}


def test_a_poll_after_signing_out_sends_the_page_to_sign_in_and_back(member_a, cluster_a):
    request_obj = builders.topic_request(member_a, cluster_a, "orders")
    page = reverse("clusters:request-detail", args=[request_obj.pk])
    poll = reverse("clusters:request-progress", args=[request_obj.pk])
    client = client_for(member_a)
    headers = {"HX-Request": "true", "HX-Current-URL": f"http://testserver{page}"}
    assert client.get(poll, headers=headers).status_code == 200
    client.post(reverse("logout"))  # as another tab would

    response = client.get(poll, headers=headers)

    assert response.status_code == 200 and response["HX-Redirect"] == f"/login/?next={page}"
    assert not response.content and "Location" not in response
    # Without htmx, Django's own redirect: a page is not a fragment.
    assert client.get(page)["Location"] == f"/login/?next={page}"


def test_a_refusal_sends_the_page_to_sign_in_which_sends_a_signed_in_user_back(member_a):
    client = client_for(member_a)
    response = client.get(reverse("portal:team-create"), headers=POLL)  # admins only: 403
    assert response.status_code == 200 and response["HX-Redirect"] == "/login/?next=/requests/7/"
    # The sign-in page sends who is signed in straight back, where the page loads afresh.
    back = client.get(response["HX-Redirect"])
    assert back.status_code == 302 and back["Location"] == "/requests/7/"
    # Other answers are htmx's to handle: a 404 stays a 404, a panel a panel.
    missing = client.get(reverse("clusters:request-progress", args=[999_999]), headers=POLL)
    assert missing.status_code == 404 and "HX-Redirect" not in missing
    panel = client.get(reverse("clusters:request-list"), headers=POLL)
    assert panel.status_code == 200 and "HX-Redirect" not in panel


def test_without_the_page_address_the_sign_in_page_gets_no_fragment_as_next(db):
    response = client_for(None).get(reverse("clusters:request-list"), headers={"HX-Request": "true"})
    assert response["HX-Redirect"] == "/login/"


def test_boosted_navigation_comes_back_to_the_page_it_asked_for(db):
    response = client_for(None).get(
        reverse("clusters:cluster-list"), headers={"HX-Request": "true", "HX-Boosted": "true"}
    )
    assert response["HX-Redirect"] == "/login/?next=/clusters/"


def test_another_sites_address_is_not_a_next(db):
    headers = {"HX-Request": "true", "HX-Current-URL": "https://evil.example/phish"}
    response = client_for(None).get(reverse("clusters:request-list"), headers=headers)
    assert response["HX-Redirect"] == "/login/"
