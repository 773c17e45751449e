"""Four eyes around Django admin: every admin change is in the portal's audit log (who, what, before →
after, secrets redacted), and nobody is auto-approved by a rule they created or last changed."""

from __future__ import annotations

import json
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.contrib import admin
from django.urls import reverse

from billing.models import RateCard
from clusters.models import AutoApprovalRule, PlatformSettings, Request, RequestEvent
from clusters.requests import services
from portal.admin_audit import AuditedAdmin
from portal.models import AuditEvent, Membership, User
from tests.conftest import client_for, make_user


class _FormFields(HTMLParser):
    """The values a browser would submit for the admin's main form, as they are on the page."""

    def __init__(self):
        super().__init__()
        self.data: dict[str, list[str]] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in ("submit", "button", "file"):
            if attrs.get("type") in ("checkbox", "radio") and "checked" not in attrs:
                return
            default = "on" if attrs.get("type") in ("checkbox", "radio") else ""
            self.data.setdefault(name, []).append(attrs.get("value", default))
        elif tag == "select" and name:
            self._select = name
            self.data.setdefault(name, [])
        elif tag == "option" and self._select and "selected" in attrs:
            self.data[self._select].append(attrs.get("value", ""))
        elif tag == "textarea" and name:
            self._textarea = name
            self.data[name] = [""]

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.data[self._textarea][0] += data.lstrip("\n") if not self.data[self._textarea][0] else data


def admin_form(client, url: str, **changes) -> dict:
    page = client.get(url)
    assert page.status_code == 200, url
    parser = _FormFields()
    parser.feed(page.content.decode())
    data = {name: values if len(values) != 1 else values[0] for name, values in parser.data.items()}
    data.pop("csrfmiddlewaretoken", None)
    data.update(changes)
    return {name: value for name, value in data.items() if value is not None}


def submit(client, url: str, **changes):
    response = client.post(url, admin_form(client, url, **changes))
    assert response.status_code == 302, response.content.decode()[:3000]
    return response


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("created_at", "id"))


@pytest.fixture
def root(team_a) -> User:
    """A platform admin who is also a member of team A (the issue's case)."""
    user = make_user("root", role=User.Role.PLATFORM_ADMIN, is_staff=True, is_superuser=True)
    Membership.objects.create(team=team_a, user=user)
    return user


@pytest.fixture
def other_admin(db) -> User:
    return make_user("other_admin", role=User.Role.PLATFORM_ADMIN, is_staff=True)


def test_every_admin_of_the_portal_is_audited():
    unaudited = [
        f"{model._meta.label}: {type(model_admin).__name__}"
        for model, model_admin in admin.site._registry.items()
        if not isinstance(model_admin, AuditedAdmin)
    ]
    assert unaudited == []


def _add_rule(client, **fields) -> AutoApprovalRule:
    values = {
        "name": "small topics",
        "enabled": "on",
        "kind": "topic.create",
        "environment": "",
        "max_partitions": "10",
        "require_headroom": "on",
    }
    submit(client, reverse("admin:clusters_autoapprovalrule_add"), **{**values, **fields})
    return AutoApprovalRule.objects.get(name=fields.get("name", values["name"]))


def test_rule_created_changed_and_deleted_in_admin_is_audited(root):
    client = client_for(root)
    rule = _add_rule(client)
    [created] = events("admin.clusters.autoapprovalrule.created")
    assert created.actor == root and created.object_id == str(rule.pk)
    assert created.details["changes"]["max_partitions"] == {"before": None, "after": 10}
    assert created.details["changes"]["kind"] == {"before": None, "after": "topic.create"}

    change_url = reverse("admin:clusters_autoapprovalrule_change", args=[rule.pk])
    submit(client, change_url, max_partitions="20", require_headroom=None)
    [changed] = events("admin.clusters.autoapprovalrule.changed")
    assert changed.details["changes"] == {
        "max_partitions": {"before": 10, "after": 20},
        "require_headroom": {"before": True, "after": False},
    }
    submit(client, change_url)  # saved without a change: nothing to record
    assert len(events("admin.clusters.autoapprovalrule.changed")) == 1

    client.post(reverse("admin:clusters_autoapprovalrule_delete", args=[rule.pk]), {"post": "yes"})
    [deleted] = events("admin.clusters.autoapprovalrule.deleted")
    assert deleted.details["changes"]["name"] == {"before": "small topics", "after": None}
    assert not AutoApprovalRule.objects.exists()


def test_bulk_delete_from_the_change_list_is_audited(root):
    client = client_for(root)
    rules = [_add_rule(client, name=f"rule {n}") for n in range(2)]
    client.post(
        reverse("admin:clusters_autoapprovalrule_changelist"),
        {"action": "delete_selected", "_selected_action": [rule.pk for rule in rules], "post": "yes"},
    )
    deleted = events("admin.clusters.autoapprovalrule.deleted")
    assert sorted(event.object_repr for event in deleted) == ["rule 0", "rule 1"]


def test_cluster_sharing_in_admin_is_audited_with_before_and_after(root, team_b, cluster_a):
    client = client_for(root)
    url = reverse("admin:clusters_cluster_change", args=[cluster_a.pk])
    submit(client, url, shared_with=[str(team_b.pk)])
    [event] = events("admin.clusters.cluster.changed")
    assert event.details["changes"] == {"shared_with": {"before": [], "after": ["Team B"]}}
    assert event.team == cluster_a.team  # team A's members see who opened their cluster to whom
    submit(client, url, shared_with=[])
    assert events("admin.clusters.cluster.changed")[-1].details["changes"] == {
        "shared_with": {"before": ["Team B"], "after": []}
    }


def test_team_memberships_edited_inline_are_audited(root, team_a, member_b):
    client = client_for(root)
    url = reverse("admin:portal_team_change", args=[team_a.pk])
    form = admin_form(client, url)
    total = int(form["memberships-TOTAL_FORMS"])
    new_row = {
        name.replace("__prefix__", str(total)): value for name, value in form.items() if "__prefix__" in name
    }
    form.update(
        {**new_row, "memberships-TOTAL_FORMS": str(total + 1), f"memberships-{total}-user": str(member_b.pk)}
    )
    assert client.post(url, form).status_code == 302
    [event] = events("admin.portal.team.changed")
    change = event.details["changes"]["memberships"]
    assert "Bob in Team A" in change["after"] and "Bob in Team A" not in change["before"]
    assert event.team == team_a


def test_secrets_changed_in_admin_are_listed_but_redacted(root, member_a, platform_account):
    client = client_for(root)
    submit(
        client,
        reverse("admin:clusters_awsaccount_change", args=[platform_account.pk]),
        external_id="s3cr3t-external-id",
    )
    [event] = events("admin.clusters.awsaccount.changed")
    assert event.details["changes"] == {"external_id": {"before": "", "after": "[redacted]"}}

    response = client.post(
        reverse("admin:auth_user_password_change", args=[member_a.pk]),
        {
            "password1": "a-new-long-passphrase-42",
            "password2": "a-new-long-passphrase-42",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302
    [event] = events("admin.portal.user.changed")
    assert event.details["changes"] == {"password": {"before": "[redacted]", "after": "[redacted]"}}
    member_a.refresh_from_db()
    text = json.dumps([e.details for e in AuditEvent.objects.all()])
    assert member_a.password not in text and "s3cr3t-external-id" not in text and "new-long" not in text


def test_quotas_rate_cards_and_users_edited_in_admin_are_audited(root, member_a):
    client = client_for(root)
    platform_settings = PlatformSettings.current()
    submit(
        client,
        reverse("admin:clusters_platformsettings_change", args=[platform_settings.pk]),
        max_partitions="2000",
    )
    [event] = events("admin.clusters.platformsettings.changed")
    assert event.details["changes"] == {"max_partitions": {"before": 2400, "after": 2000}}

    submit(
        client,
        reverse("admin:billing_ratecard_add"),
        region="us-east-1",
        effective_from="2026-01-01",
        cluster_hour="0.80",
        partition_hour="0.0015",
        gib_in="0.10",
        gib_out="0.05",
        gib_month="0.10",
    )
    [event] = events("admin.billing.ratecard.created")
    assert event.details["changes"]["cluster_hour"] == {"before": None, "after": "0.80"}
    assert RateCard.objects.get().cluster_hour == Decimal("0.80")

    submit(client, reverse("admin:portal_user_change", args=[member_a.pk]), role="platform_admin")
    [event] = events("admin.portal.user.changed")
    assert event.details["changes"] == {"role": {"before": "member", "after": "platform_admin"}}
    assert event.actor == root


# --- An auto-approval rule is not a second person for whoever wrote it ------------------------------


def _submit_topic(actor, team, cluster, name: str) -> Request:
    prepared = services.prepare_topic_create(
        actor=actor,
        team=team,
        cluster=cluster,
        name=name,
        expected_in_mbps=Decimal(1),
        expected_out_mbps=Decimal(1),
    )
    return services.submit_request(actor=actor, prepared=prepared)


def test_a_rule_does_not_approve_the_request_of_who_created_it(root, member_a, team_a, cluster_a):
    _add_rule(client_for(root))

    own = _submit_topic(root, team_a, cluster_a, "roots")
    assert own.status == Request.Status.SUBMITTED and own.approved_by_rule is None
    notes = list(RequestEvent.objects.filter(request=own).values_list("note", flat=True))
    assert (
        "not auto-approved: root created or last changed the rule “small topics”, so another admin decides"
        in notes
    )

    others = _submit_topic(member_a, team_a, cluster_a, "alices")
    assert others.status == Request.Status.APPROVED and others.approved_by_rule.name == "small topics"


def test_nor_the_request_of_who_changed_it_last(root, other_admin, member_a, team_a, cluster_a):
    rule = _add_rule(client_for(other_admin))
    Membership.objects.create(team=team_a, user=other_admin)
    submit(
        client_for(root),
        reverse("admin:clusters_autoapprovalrule_change", args=[rule.pk]),
        max_partitions="12",
    )

    # root changed it last, other_admin created it: neither is approved by it; member_a is.
    for author in (root, other_admin):
        request = _submit_topic(author, team_a, cluster_a, f"by-{author.username}")
        assert request.status == Request.Status.SUBMITTED, author
    assert _submit_topic(member_a, team_a, cluster_a, "alices").status == Request.Status.APPROVED


def test_another_admins_rule_still_approves(root, other_admin, team_a, cluster_a):
    _add_rule(client_for(root), name="a: root's rule")
    _add_rule(client_for(other_admin), name="b: other admin's rule")
    request = _submit_topic(root, team_a, cluster_a, "roots")
    assert request.status == Request.Status.APPROVED
    assert request.approved_by_rule.name == "b: other admin's rule"
