from django.urls import reverse

from portal.models import AuditEvent, Membership, Team
from tests.conftest import client_for

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
