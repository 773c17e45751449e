import re

import pytest
from django.urls import reverse

from portal.models import AuditEvent, Membership, Team, User
from tests.conftest import client_for, make_user

VALID = {"name": "Payments", "slug": "payments", "cost_center": "CC-1001", "contact_email": "pay@example.com"}


def test_admin_creates_a_team_and_it_is_audited(admin):
    response = client_for(admin).post(reverse("portal:team-create"), VALID)
    assert response.status_code == 302
    team = Team.objects.get(slug="payments")
    event = AuditEvent.objects.get(action="portal.team.created")
    assert event.team == team and event.actor == admin


def test_team_form_explains_bad_input(admin, team_a):
    bad = {"name": "", "slug": "Not A Slug!", "cost_center": "has spaces", "contact_email": "nope"}
    response = client_for(admin).post(reverse("portal:team-create"), bad)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) == {"name", "slug", "cost_center", "contact_email"}
    assert "letters, digits" in str(errors["cost_center"])
    duplicate = client_for(admin).post(reverse("portal:team-create"), {**VALID, "slug": team_a.slug})
    assert "already exists" in str(duplicate.context["form"].errors["slug"])
    assert not Team.objects.filter(slug="payments").exists()


def test_team_edit_records_what_changed(admin, team_a):
    client_for(admin).post(
        reverse("portal:team-edit", args=[team_a.slug]),
        {"name": "Team A", "cost_center": "CC-NEW", "contact_email": team_a.contact_email},
    )
    event = AuditEvent.objects.get(action="portal.team.updated")
    assert event.details == {"changes": {"cost_center": ["CC-A", "CC-NEW"]}}


def test_admin_adds_and_removes_members_with_htmx(admin, team_a, member_b):
    client = client_for(admin)
    url = reverse("portal:member-add", args=[team_a.slug])
    response = client.post(url, {"username": "member_b"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert 'id="member-panel"' in response.content.decode()
    membership = Membership.objects.get(team=team_a, user=member_b)

    again = client.post(url, {"username": "member_b"}, headers={"HX-Request": "true"})
    assert "already a member" in again.content.decode()
    unknown = client.post(url, {"username": "nobody"}, headers={"HX-Request": "true"})
    assert "There is no active user called" in unknown.content.decode()

    client.post(
        reverse("portal:member-remove", args=[team_a.slug, membership.pk]), headers={"HX-Request": "true"}
    )
    assert not Membership.objects.filter(pk=membership.pk).exists()
    actions = list(AuditEvent.objects.filter(team=team_a).values_list("action", flat=True))
    assert actions.count("portal.membership.added") == 1
    assert actions.count("portal.membership.removed") == 1


def test_member_panel_says_what_it_did_at_once_and_not_again_on_the_next_page(admin, team_a, member_b):
    # The panel is swapped in by htmx: the confirmation used to wait in the session and appear on whatever
    # page came next ("member_b added to Team A." on the dashboard).
    client = client_for(admin)
    htmx = {"HX-Request": "true"}
    added = client.post(
        reverse("portal:member-add", args=[team_a.slug]), {"username": "member_b"}, headers=htmx
    )
    messages = re.search(
        r'<div id="messages"[^>]*hx-swap-oob="true"[^>]*>(.*?)</div>', added.content.decode(), re.S
    )
    assert messages and "member_b added to Team A." in messages.group(1)
    assert "added to Team A" not in client.get(reverse("portal:dashboard")).content.decode()

    membership = Membership.objects.get(team=team_a, user=member_b)
    removed = client.post(reverse("portal:member-remove", args=[team_a.slug, membership.pk]), headers=htmx)
    assert "member_b removed from Team A." in removed.content.decode()
    assert "removed from Team A" not in client.get(reverse("portal:dashboard")).content.decode()
    # Without htmx the page itself shows it once (base.html), not a second time in the panel.
    client.post(reverse("portal:member-add", args=[team_a.slug]), {"username": "member_b"})
    page = client.get(reverse("portal:team-detail", args=[team_a.slug])).content.decode()
    assert page.count("member_b added to Team A.") == 1


def test_removing_a_membership_of_another_team_is_404(admin, team_a, team_b, member_b):
    membership_b = Membership.objects.get(team=team_b, user=member_b)
    response = client_for(admin).post(reverse("portal:member-remove", args=[team_a.slug, membership_b.pk]))
    assert response.status_code == 404
    assert Membership.objects.filter(pk=membership_b.pk).exists()


def test_team_page_of_other_team_is_not_found(member_b, team_a):
    response = client_for(member_b).get(reverse("portal:team-detail", args=[team_a.slug]))
    assert response.status_code == 404
    assert "Team A" not in response.content.decode()


def test_dashboard_has_honest_empty_state(db):
    from tests.conftest import make_user

    loner = make_user("loner")
    page = client_for(loner).get(reverse("portal:dashboard")).content.decode()
    assert "You are not a member of any team yet" in page


def test_dashboard_cards_count_members_live_clusters_and_open_requests_in_the_teams_query(
    admin, member_a, member_b, finance, team_a, team_b, network_profile
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from clusters.models import Cluster, Request
    from tests import builders

    Membership.objects.create(team=team_a, user=builders.user("second_a"))
    builders.cluster(team_a, network_profile, "team-a-live")
    builders.cluster(team_a, network_profile, "team-a-gone", status=Cluster.Status.DELETED)
    for team, status in [
        (team_a, "submitted"),
        (team_a, "submitted"),
        (team_a, "approved"),
        (team_b, "submitted"),
    ]:
        Request.objects.create(
            kind=Request.Kind.TOPIC_CREATE,
            team=team,
            requested_by=member_a if team == team_a else member_b,
            environment="dev",
            summary="Topic",
            payload={},
            status=status,
        )

    def card(page: str, team: Team) -> str:
        start = page.index(f">{team.name}</a></h3>")
        return re.sub(r"\s+", " ", page[start : page.index("</article>", start)])

    page = client_for(admin).get(reverse("portal:dashboard")).content.decode()
    a, b = card(page, team_a), card(page, team_b)
    assert "<dt>Members</dt><dd>2</dd>" in a and "<dt>Members</dt><dd>1</dd>" in b
    assert ">1</a></dd>" in a.split("<dt>Clusters</dt>")[1][:60]
    assert "none yet" in b.split("<dt>Clusters</dt>")[1][:60]
    assert "2 waiting" in a and "1 waiting" in b
    assert "Open requests" not in card(
        client_for(finance).get(reverse("portal:dashboard")).content.decode(), team_a
    )

    client = client_for(member_a)
    client.get(reverse("portal:dashboard"))
    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("portal:dashboard")).content.decode()
    assert team_b.name not in page and "2 waiting" in card(page, team_a)
    counting = [query["sql"] for query in queries.captured_queries if '"clusters_request"' in query["sql"]]
    assert len(counting) == 1 and '"portal_team"."cost_center"' in counting[0]


SLUG_RULE = (
    "Use lowercase letters, digits and hyphens, starting and ending with a letter or digit, at most 40 "
    "characters: the slug goes into topic names, AWS tags and IAM policies."
)


@pytest.mark.parametrize(
    ("slug", "suggestion"),
    [
        ("Ops_Team", "ops-team"),
        ("ops team", "ops-team"),
        ("ops_team", "ops-team"),
        ("-ops", "ops"),
        ("ops-", "ops"),
        ("-1", "1"),
        ("OPS", "ops"),
        ("ops.team", "ops-team"),
        ("öps", "ps"),
        ("😀", ""),
    ],
)
def test_a_slug_is_lowercase_letters_digits_and_hyphens_said_once_with_a_suggestion(admin, slug, suggestion):
    response = client_for(admin).post(reverse("portal:team-create"), {**VALID, "slug": slug})
    hint = f" Try “{suggestion}”." if suggestion else ""
    assert response.context["form"].errors["slug"] == [SLUG_RULE + hint]
    assert not Team.objects.filter(name="Payments").exists()


def test_good_slugs_are_taken_and_their_look_alikes_are_not(admin):
    client = client_for(admin)
    for number, slug in enumerate(["payments", "team-a2", "a", "9lives", "x" * 40]):
        data = {**VALID, "name": f"Team {number}", "slug": slug}
        assert client.post(reverse("portal:team-create"), data).status_code == 302, slug
    look_alike = client.post(reverse("portal:team-create"), {**VALID, "name": "Other", "slug": "Payments"})
    assert look_alike.context["form"].errors["slug"] == [SLUG_RULE + " Try “payments”."]


def test_the_admin_site_holds_slugs_to_the_same_rule(db):
    root = make_user("root", role=User.Role.PLATFORM_ADMIN, is_staff=True, is_superuser=True)
    response = client_for(root).post(
        reverse("admin:portal_team_add"),
        {
            **VALID,
            "slug": "Ops_Team",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["slug"] == [SLUG_RULE + " Try “ops-team”."]
