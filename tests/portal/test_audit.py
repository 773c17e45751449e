import csv
import io

import pytest
from django.urls import reverse

from portal import audit
from portal.models import AppendOnlyError, AuditEvent
from tests.conftest import client_for


def test_events_are_append_only(team_a, admin):
    event = audit.record("portal.test.thing", actor=admin, obj=team_a)
    event.details = {"tampered": True}
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="portal.test.other")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    event.refresh_from_db()
    assert event.details == {}


def test_record_fills_who_what_which_and_team(team_a, admin):
    event = audit.record("portal.team.updated", actor=admin, obj=team_a, details={"why": "rename"})
    assert event.actor == admin
    assert event.actor_label == "admin"
    assert event.object_type == "portal.team"
    assert event.object_id == str(team_a.pk)
    assert event.object_repr == "Team A"
    assert event.team == team_a
    assert event.details == {"why": "rename"}


def test_system_actor_and_secret_redaction(team_a):
    event = audit.record("portal.test.secret", actor=None, team=team_a, details={"password": "x", "ok": 1})
    assert event.actor is None and event.actor_label == "system"
    assert event.details == {"password": "[redacted]", "ok": 1}


def test_action_codes_must_be_dotted(team_a):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        audit.record("Not A Code", actor=None, team=team_a)


def test_audit_page_filters_and_scopes(member_a, team_a, team_b):
    audit.record("portal.alpha.done", actor=None, team=team_a, details={"n": "first"})
    audit.record("portal.beta.done", actor=None, team=team_a, details={"n": "second"})
    audit.record("portal.alpha.done", actor=None, team=team_b, details={"n": "other-team"})
    client = client_for(member_a)
    page = client.get(reverse("portal:audit-list")).content.decode()
    assert "first" in page and "second" in page and "other-team" not in page
    filtered = client.get(reverse("portal:audit-list"), {"action": "portal.alpha"}).content.decode()
    assert "first" in filtered and "second" not in filtered


def test_audit_page_filters_by_team_and_actor(admin, member_a, team_a, team_b):
    audit.record("portal.alpha.done", actor=admin, team=team_a, details={"n": "by-admin"})
    audit.record("portal.alpha.done", actor=None, team=team_a, details={"n": "by-system"})
    audit.record("portal.alpha.done", actor=admin, team=team_b, details={"n": "other-team"})
    client = client_for(admin)
    page = client.get(reverse("portal:audit-list"), {"team": "team-a", "actor": "admin"}).content.decode()
    assert "by-admin" in page and "by-system" not in page and "other-team" not in page
    assert 'role="alert"' not in page


def test_a_filter_that_does_not_parse_is_named_and_left_out(member_a, team_a):
    """The other filters still narrow the list; the page and its htmx table both say what was wrong."""
    audit.record("portal.alpha.done", actor=None, team=team_a, details={"n": "first"})
    audit.record("portal.beta.done", actor=None, team=team_a, details={"n": "second"})
    client = client_for(member_a)
    query = {"team": "not a slug!", "action": "portal.alpha"}
    for headers in ({}, {"HX-Request": "true"}):
        response = client.get(reverse("portal:audit-list"), query, headers=headers)
        body = response.content.decode()
        assert response.status_code == 200
        assert (
            '<ul class="errorlist" role="alert"><li>Team: Use only letters, digits, hyphens and underscores. '
            "This filter is left out.</li></ul>"
        ) in body
        assert "first" in body and "second" not in body


def test_csv_export_keeps_the_page_filters(member_a, team_a):
    audit.record("portal.alpha.done", actor=None, team=team_a, details={"n": 1})
    audit.record("portal.beta.done", actor=None, team=team_a, details={"n": 2})
    response = client_for(member_a).get(
        reverse("portal:audit-export"), {"action": "portal.beta", "team": "team-a"}
    )
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["action"] for row in rows] == ["portal.beta.done"]


def test_audit_page_answers_htmx_with_the_table_only(member_a, team_a):
    audit.record("portal.alpha.done", actor=None, team=team_a)
    response = client_for(member_a).get(reverse("portal:audit-list"), headers={"HX-Request": "true"})
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="audit-table">')
    assert "<html" not in body


def test_csv_export_streams_visible_events_and_defuses_formulas(member_a, team_a, team_b):
    audit.record("portal.alpha.done", actor=None, team=team_a, details={"n": 1})
    audit.record("portal.alpha.done", actor=None, team=team_b, details={"n": 2})
    response = client_for(member_a).get(reverse("portal:audit-export"))
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["team"] for row in rows] == ["team-a"]
    assert rows[0]["action"] == "portal.alpha.done"


def test_spreadsheet_formulas_are_neutralised():
    from portal.csv_export import csv_lines

    lines = list(csv_lines(["a", "b"], [["=1+1", "+cmd"], ["plain", 5]]))
    assert lines[1] == "'=1+1,'+cmd\n"
    assert lines[2] == "plain,5\n"
