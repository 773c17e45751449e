from portal import access
from portal.models import AuditEvent, Team, User
from tests.conftest import make_user


def test_member_sees_only_their_teams(member_a, team_a, team_b):
    assert list(access.teams_visible_to(member_a)) == [team_a]
    assert access.can_view_team(member_a, team_a)
    assert not access.can_view_team(member_a, team_b)


def test_admin_and_finance_see_every_team(admin, finance, team_a, team_b):
    for user in (admin, finance):
        assert set(access.teams_visible_to(user)) == {team_a, team_b}


def test_only_members_act_for_a_team(member_a, member_b, admin, finance, team_a):
    assert access.can_act_for_team(member_a, team_a)
    assert not access.can_act_for_team(member_b, team_a)
    # Seeing everything does not mean acting for everyone.
    assert not access.can_act_for_team(admin, team_a)
    assert not access.can_act_for_team(finance, team_a)


def test_finance_cannot_act_even_as_a_team_member(team_a):
    from portal.models import Membership

    finance_member = make_user("fin_member", role=User.Role.FINANCE)
    Membership.objects.create(team=team_a, user=finance_member)
    assert not access.can_act_for_team(finance_member, team_a)


def test_superuser_counts_as_platform_admin(db):
    root = make_user("root", is_superuser=True)
    assert access.is_platform_admin(root)
    assert access.can_manage_teams(root)


def test_deactivated_users_have_no_rights(team_a):
    from portal.models import Membership

    gone = make_user("gone", role=User.Role.PLATFORM_ADMIN, is_active=False)
    Membership.objects.create(team=team_a, user=gone)
    assert not access.is_platform_admin(gone)
    assert not access.can_view_team(gone, team_a)


def test_audit_visibility(member_a, member_b, admin, finance, team_a, team_b):
    from portal import audit

    on_a = audit.record("portal.test.a", actor=None, team=team_a)
    on_b = audit.record("portal.test.b", actor=None, team=team_b)
    by_finance = audit.record("portal.test.finance", actor=finance)
    billing_run = audit.record("billing.chargeback.computed", actor=None)  # no team: finance's business
    budget_on_a = audit.record("billing.budget.alert", actor=None, team=team_a)
    assert set(access.audit_events_visible_to(member_a)) == {on_a, budget_on_a}
    assert set(access.audit_events_visible_to(member_b)) == {on_b}
    assert set(access.audit_events_visible_to(finance)) == {by_finance, billing_run, budget_on_a}
    assert set(access.audit_events_visible_to(admin)) == set(AuditEvent.objects.all())


def test_membership_visibility(member_a, member_b, finance):
    assert {m.user for m in access.memberships_visible_to(member_a)} == {member_a}
    assert {m.user for m in access.memberships_visible_to(finance)} == {member_a, member_b}
    assert Team.objects.count() == 2
