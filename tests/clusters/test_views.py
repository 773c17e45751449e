"""HTML pages for requests, approvals and the cluster inventory: roles, forms, live preview, decisions."""

from __future__ import annotations

import datetime as dt
import gc
import logging
import re
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.signals import template_rendered
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clusters import rules, selectors
from clusters.models import AccessGrant, Cluster, PlatformSettings, Request, Topic
from clusters.requests import services
from portal.models import Membership, User
from tests import builders
from tests.conftest import client_for, make_user

HTMX = {"HX-Request": "true"}
PRINCIPAL = "arn:aws:iam::123456789012:role/payments-service"


def topic_data(team, cluster, **overrides) -> dict:
    data = {
        "team": team.pk,
        "cluster": cluster.pk,
        "name": "payments",
        "expected_in_mbps": "10",
        "expected_out_mbps": "20",
        "partitions": "",
        "cleanup_policy": "delete",
        "retention_ms": "604800000",
        "retention_bytes": "-1",
        "max_message_bytes": "1048588",
        "compression_type": "producer",
        "message_timestamp_type": "CreateTime",
        "justification": "Payment events for the ledger.",
    }
    data.update(overrides)
    return data


def submit_topic(actor, team, cluster, name="events", **extra) -> Request:
    prepared = services.prepare_topic_create(
        actor=actor,
        team=team,
        cluster=cluster,
        name=name,
        partitions=None,
        expected_in_mbps=Decimal(1),
        expected_out_mbps=Decimal(2),
        justification="Because.",
        **extra,
    )
    return services.submit_request(actor=actor, prepared=prepared)


def flash(response) -> list[tuple[str, str]]:
    return [(message.level_tag, message.message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def request_a(member_a, team_a, cluster) -> Request:
    return submit_topic(member_a, team_a, cluster)


@pytest.fixture
def no_team(db) -> User:
    return make_user("loner")


# --- Who sees which page --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "clusters:request-new",
        "clusters:request-new-cluster",
        "clusters:request-new-topic",
        "clusters:request-new-access",
    ],
)
def test_new_request_pages_are_for_team_members_only(name, member_a, finance, no_team, admin, cluster):
    url = reverse(name)
    assert client_for(member_a).get(url).status_code == 200
    assert client_for(finance).get(url).status_code == 403
    assert client_for(no_team).get(url).status_code == 403
    assert client_for(admin).get(url).status_code == 403  # an admin in no team has nobody to file for
    anonymous = client_for(None).get(url)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith(reverse("login"))


def test_preview_refuses_finance_and_answers_405_to_get(member_a, finance):
    url = reverse("clusters:request-preview", args=["topic"])
    assert client_for(finance).post(url, {}).status_code == 403
    # htmx's refusal reloads the page, through the sign-in page (portal.htmx.SignInAgainMiddleware).
    assert client_for(finance).post(url, {}, headers=HTMX)["HX-Redirect"] == "/login/"
    assert client_for(member_a).get(url).status_code == 405
    assert client_for(member_a).post(reverse("clusters:request-preview", args=["nope"])).status_code == 404


def test_request_list_shows_own_teams_requests_only(request_a, member_a, member_b, admin, finance):
    url = reverse("clusters:request-list")
    mine = client_for(member_a).get(url)
    assert mine.status_code == 200
    assert f"#{request_a.pk}" in mine.content.decode() and request_a.summary in mine.content.decode()
    for other in (member_b, finance):
        response = client_for(other).get(url)
        assert response.status_code == 200
        assert request_a.summary not in response.content.decode()
    assert request_a.summary in client_for(admin).get(url).content.decode()


@pytest.mark.parametrize("name", ["clusters:request-list", "clusters:approval-queue"])
def test_list_rows_name_the_team_as_every_other_page_does(name, request_a, admin, team_a):
    """The Team column shows "Team A" (dashboard, costs, clusters), not its slug "team-a"."""
    body = client_for(admin).get(reverse(name)).content.decode()
    assert '<td data-label="Team">Team A</td>' in body
    assert '<td data-label="Team">team-a</td>' not in body


def test_cluster_list_writes_a_share_as_the_traffic_page_does(cluster_a, admin):
    """A share reads "0 % / 0 % / 0 %", as the traffic page ("11 %") and the budget ("5.3 %") write a share, not "0%"."""
    body = client_for(admin).get(reverse("clusters:cluster-list")).content.decode()
    cell = re.search(r'<td data-label="Quota used">(.*?)</td>', body)[1]
    assert re.sub(r"<[^>]+>", "", cell) == "0 % / 0 % / 0 %"
    assert cell.count('<span class="unit">') == 3  # "11 %" never splits into "11 / %"


def test_request_list_filters(request_a, member_a, team_a, cluster):
    client = client_for(member_a)
    services.cancel_request(
        request_id=submit_topic(member_a, team_a, cluster, name="gone").pk, actor=member_a
    )
    body = client.get(reverse("clusters:request-list"), {"status": "submitted"}).content.decode()
    assert "team-a.events" in body and "team-a.gone" not in body
    body = client.get(reverse("clusters:request-list"), {"kind": "cluster.create"}).content.decode()
    assert "No requests match" in body
    partial = client.get(reverse("clusters:request-list"), {"team": "team-a"}, headers=HTMX)
    assert partial.content.decode().lstrip().startswith('<div id="request-table">')


def test_request_list_names_a_filter_that_does_not_parse(request_a, member_a):
    body = client_for(member_a).get(reverse("clusters:request-list"), {"status": "nope"}).content.decode()
    assert "Status: Select a valid choice. nope is not one of the available choices." in body
    assert request_a.summary in body  # the filter is left out
    body = client_for(member_a).get(reverse("clusters:request-list"), {"mine": "maybe"}).content.decode()
    assert "Filed by me: Must be true or false." in body and request_a.summary in body


def test_filed_by_me_keeps_the_viewers_requests_of_their_teams(filed_by_several, member_a):
    client, url = client_for(member_a), reverse("clusters:request-list")
    shown = {
        query: {who for who, request in filed_by_several.items() if request.summary in page}
        for query in ("", "mine=on")
        for page in [client.get(f"{url}?{query}").content.decode()]
    }
    assert shown == {"": {"mine", "teammate's"}, "mine=on": {"mine"}}
    bar = client.get(url, {"mine": "on", "status": "submitted"}).content.decode()
    checkbox = '<label for="id_mine">Filed by me</label><input type="checkbox" name="mine" id="id_mine"'
    assert f"{checkbox} checked>" in bar
    assert f"{checkbox}>" in client.get(url).content.decode()  # unchecked


def test_request_detail_visibility(request_a, member_a, member_b, admin, finance):
    url = reverse("clusters:request-detail", args=[request_a.pk])
    assert client_for(member_a).get(url).status_code == 200
    assert client_for(admin).get(url).status_code == 200
    assert client_for(member_b).get(url).status_code == 404
    assert client_for(finance).get(url).status_code == 404
    assert client_for(member_a).get(reverse("clusters:request-detail", args=[99999])).status_code == 404


def test_approval_queue_is_for_admins_only(request_a, member_a, member_b, finance, admin):
    url = reverse("clusters:approval-queue")
    for user in (member_a, member_b, finance):
        assert client_for(user).get(url).status_code == 403
    response = client_for(admin).get(url)
    assert response.status_code == 200
    assert f'id="request-row-{request_a.pk}"' in response.content.decode()


def test_cluster_pages(cluster, topic, request_a, member_a, member_b, admin, finance):
    list_url, detail_url = (
        reverse("clusters:cluster-list"),
        reverse("clusters:cluster-detail", args=[cluster.pk]),
    )
    assert cluster.name in client_for(member_a).get(list_url).content.decode()
    assert cluster.name not in client_for(member_b).get(list_url).content.decode()
    assert client_for(member_b).get(detail_url).status_code == 404
    for user in (admin, finance):
        assert client_for(user).get(detail_url).status_code == 200
    body = client_for(member_a).get(detail_url).content.decode()
    assert topic.name in body
    assert reverse("clusters:request-detail", args=[request_a.pk]) in body and request_a.summary in body
    assert reverse("clusters:request-topic-update", args=[topic.pk]) in body
    assert reverse("clusters:request-topic-delete", args=[topic.pk]) in body
    assert reverse("clusters:request-decommission", args=[cluster.pk]) in body
    # Admins and finance see the cluster, but only the owning team's members get the change links.
    assert (
        reverse("clusters:request-topic-update", args=[topic.pk])
        not in client_for(admin).get(detail_url).content.decode()
    )


def test_change_forms_roles(cluster, topic, member_a, member_b, admin, finance):
    grant = AccessGrant.objects.create(
        cluster=cluster,
        team=cluster.team,
        topic=topic,
        principal_arn=PRINCIPAL,
        can_produce=True,
        status=AccessGrant.Status.APPLIED,
    )
    urls = [
        reverse("clusters:request-topic-update", args=[topic.pk]),
        reverse("clusters:request-topic-delete", args=[topic.pk]),
        reverse("clusters:request-access-revoke", args=[grant.pk]),
        reverse("clusters:request-decommission", args=[cluster.pk]),
    ]
    for url in urls:
        assert client_for(member_a).get(url).status_code == 200, url
        assert client_for(member_b).get(url).status_code == 404, url
        assert client_for(finance).get(url).status_code == 403, url
    Membership.objects.create(team=member_b.memberships.get().team, user=admin)
    for url in urls:  # an admin sees team A's objects but may not act for team A
        assert client_for(admin).get(url).status_code == 403, url


def test_an_expected_refusal_logs_one_line_without_a_traceback(request_a, member_a, token_for, caplog):
    approve = reverse("clusters:request-approve", args=[request_a.pk])
    api_approve = reverse("clusters-api:request-approve", args=[request_a.pk])
    refusals = [
        (client_for(member_a).get, reverse("clusters:approval-queue")),  # PermissionDenied in the view
        (client_for(member_a).post, approve),  # NotAllowed from the service, turned into PermissionDenied
    ]
    api = client_for(None)
    member_token = {"Authorization": f"Bearer {token_for(member_a)}"}
    for call, url in refusals:
        with caplog.at_level(logging.WARNING, logger="django.request"):
            caplog.clear()
            assert call(url).status_code == 403
        [record] = caplog.records
        line = logging.Formatter("%(levelname)s %(name)s: %(message)s").format(record)
        assert line.startswith(
            f"WARNING django.request: Forbidden (Permission denied): {url}: Only platform admins"
        )
        assert "\n" not in line and record.exc_info is None
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert api.post(api_approve, headers=member_token).status_code == 403  # the API's refusal
    [record] = caplog.records
    assert record.getMessage() == f"Forbidden: {api_approve}" and record.exc_info is None
    # Printed once: the root logger's handler is the only one (Django's own console handler, active with
    # DEBUG on under `make run`, printed every django.* line a second time).
    assert logging.getLogger("django").handlers == [] and logging.getLogger("django.request").handlers == []


def test_navigation_links_by_role(request_a, member_a, admin, finance):
    member_page = client_for(member_a).get(reverse("portal:dashboard")).content.decode()
    assert reverse("clusters:request-new") in member_page
    assert reverse("clusters:approval-queue") not in member_page
    admin_page = client_for(admin).get(reverse("portal:dashboard")).content.decode()
    assert reverse("clusters:approval-queue") in admin_page
    assert re.search(r'class="badge count">1<', admin_page)
    finance_page = client_for(finance).get(reverse("portal:dashboard")).content.decode()
    assert reverse("clusters:request-new") not in finance_page
    assert reverse("clusters:request-list") not in finance_page  # finance neither files nor sees requests
    assert reverse("clusters:cluster-list") in finance_page


def test_dashboard_and_team_page_show_clusters_and_open_requests(request_a, member_a, team_a, cluster):
    body = client_for(member_a).get(reverse("portal:dashboard")).content.decode()
    assert "1 waiting" in body
    assert re.search(r"<dt>Clusters</dt><dd><a [^>]+>1</a>", body)
    team_page = client_for(member_a).get(reverse("portal:team-detail", args=[team_a.slug])).content.decode()
    assert cluster.name in team_page and "no MSK Serverless clusters yet" not in team_page


def test_dashboard_empty_states(member_b):
    body = client_for(member_b).get(reverse("portal:dashboard")).content.decode()
    assert "none yet" in body and 'Open requests</dt><dd><span class="muted">none' in body


# --- Forms and the live preview -------------------------------------------------------------------


def test_topic_form_bad_name_is_a_field_error(member_a, team_a, cluster):
    response = client_for(member_a).post(
        reverse("clusters:request-new-topic"), topic_data(team_a, cluster, name="bad name!")
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert "name" in form.errors and "Not allowed here" in form.errors["name"][0]
    assert 'aria-invalid="true"' in response.content.decode()
    assert not Request.objects.exists()


def test_topic_form_fewer_partitions_than_suggested(member_a, team_a, cluster):
    response = client_for(member_a).post(
        reverse("clusters:request-new-topic"), topic_data(team_a, cluster, partitions="1")
    )
    assert "at least 2 partitions" in response.context["form"].errors["partitions"][0]


def test_topic_form_limits_choices_to_own_teams_and_clusters(member_a, member_b, team_b, cluster):
    response = client_for(member_b).post(reverse("clusters:request-new-topic"), topic_data(team_b, cluster))
    assert "cluster" in response.context["form"].errors  # not a cluster team B may use
    response = client_for(member_a).post(reverse("clusters:request-new-topic"), topic_data(team_b, cluster))
    assert response.context["form"].errors["team"] == ["Choose one of your teams."]


def test_preview_shows_headroom_cost_and_partition_suggestion(member_a, team_a, cluster):
    response = client_for(member_a).post(
        reverse("clusters:request-preview", args=["topic"]), topic_data(team_a, cluster), headers=HTMX
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body  # the panel only
    assert "Suggested partitions: <strong>2</strong>" in body
    assert "After this request: 5% of the cluster&#x27;s write throughput (10 of 200 MB/s)." in body
    assert "Estimated monthly cost" in body and "Partition hours" in body and "Total" in body
    assert not Request.objects.exists()


def test_preview_flags_warnings(member_a, team_a, cluster):
    PlatformSettings.objects.update_or_create(pk=1, defaults={"max_write_mbps": Decimal(12)})
    body = (
        client_for(member_a)
        .post(reverse("clusters:request-preview", args=["topic"]), topic_data(team_a, cluster), headers=HTMX)
        .content.decode()
    )
    assert 'class="warning"' in body and "flagged to approvers" in body


def test_preview_with_bad_input_answers_200_with_errors(member_a, team_a, cluster):
    client = client_for(member_a)
    url = reverse("clusters:request-preview", args=["topic"])
    response = client.post(url, topic_data(team_a, cluster, name="bad name!", max_message_bytes="99999999"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Fix these first" in body and 'href="#id_name"' in body and "8 MiB" in body
    for data in ({}, {"team": "x", "cluster": "<script>", "expected_in_mbps": "lots"}):
        response = client.post(url, data, headers=HTMX)
        assert response.status_code == 200 and "Fix these first" in response.content.decode()
        assert "<script>" not in response.content.decode()
    huge = topic_data(team_a, cluster, partitions="9" * 400, retention_ms="9" * 40, expected_in_mbps="1e400")
    response = client.post(url, huge, headers=HTMX)
    assert response.status_code == 200 and "Fix these first" in response.content.decode()
    for kind in ("cluster", "access"):
        response = client.post(reverse("clusters:request-preview", args=[kind]), {"team": team_a.pk})
        assert response.status_code == 200


def test_combined_request_preview_shows_policy_and_maps_row_errors(member_a, team_a, cluster):
    client = client_for(member_a)
    url = reverse("clusters:request-preview", args=["topic"])
    data = topic_data(
        team_a,
        cluster,
        access_1_principal_arn=PRINCIPAL,
        access_1_produce="on",
        access_2_principal_arn="not-an-arn",
        access_2_consume="on",
    )
    response = client.post(url, data, headers=HTMX)
    form = response.context["form"]
    assert form.errors["access_2_principal_arn"] == [rules.PRINCIPAL_ARN_RULE]
    # Each message under the field it is about, in its row (issue 11: all used to sit under the principal).
    assert form.errors["access_2_consumer_group_prefix"] == ["Consumers need a consumer-group prefix."]
    data.update(
        access_2_principal_arn=PRINCIPAL.replace("payments", "audit"), access_2_consumer_group_prefix="audit"
    )
    body = client.post(url, data, headers=HTMX).content.decode()
    assert "IAM policy documents" in body
    assert "&quot;kafka-cluster:WriteData&quot;" in body and "&quot;kafka-cluster:ReadData&quot;" in body
    assert '<pre tabindex="0">{\n  &quot;Version&quot;: &quot;2012-10-17&quot;' in body


def test_combined_request_refuses_one_role_in_two_rows(member_a, team_a, cluster):
    # Two rows for one role made two identical grants (two policies for one role on one topic).
    data = topic_data(
        team_a,
        cluster,
        access_1_principal_arn=PRINCIPAL,
        access_1_produce="on",
        access_3_principal_arn=f"  {PRINCIPAL} ",
        access_3_produce="on",
    )
    response = client_for(member_a).post(reverse("clusters:request-new-topic"), data)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors == {
        "access_3_principal_arn": [
            "This role is in another row already: give it produce and consume in one row."
        ]
    }
    assert not Request.objects.exists()


def test_access_form_puts_each_error_under_its_own_field(member_a, team_a, cluster, topic):
    response = client_for(member_a).post(
        reverse("clusters:request-new-access"),
        {
            "team": team_a.pk,
            "cluster": cluster.pk,
            "topic": topic.pk,
            "principal_arn": PRINCIPAL,
        },
    )
    errors = response.context["form"].errors
    assert errors["produce"] == ["Grant produce, consume or both."] and "principal_arn" not in errors
    response = client_for(member_a).post(
        reverse("clusters:request-new-access"),
        {
            "team": team_a.pk,
            "cluster": cluster.pk,
            "topic": topic.pk,
            "principal_arn": PRINCIPAL,
            "consume": "on",
        },
    )
    errors = response.context["form"].errors
    assert errors["consumer_group_prefix"] == ["Consumers need a consumer-group prefix."]
    assert "principal_arn" not in errors


@pytest.mark.parametrize(
    ("chosen", "message"),
    [
        ({}, "Choose a topic, or give a topic prefix."),  # it said "(not both)" when neither was given
        ({"topic_prefix": "team-a."}, "Choose a topic or give a topic prefix, not both."),
    ],
)
def test_access_form_says_which_of_topic_and_prefix_is_wrong(
    chosen, message, member_a, team_a, cluster, topic
):
    data = {"team": team_a.pk, "cluster": cluster.pk, "principal_arn": PRINCIPAL, "produce": "on", **chosen}
    if chosen:
        data["topic"] = topic.pk
    errors = client_for(member_a).post(reverse("clusters:request-new-access"), data).context["form"].errors
    assert errors == {"topic": [message]}


def test_access_form_previews_and_submits_policy(member_a, team_a, cluster, topic):
    client = client_for(member_a)
    data = {
        "team": team_a.pk,
        "cluster": cluster.pk,
        "topic": topic.pk,
        "principal_arn": PRINCIPAL,
        "consume": "on",
        "consumer_group_prefix": "payments",
        "justification": "Reads orders.",
    }
    preview = client.post(reverse("clusters:request-preview", args=["access"]), data, headers=HTMX)
    assert "kafka-cluster:AlterGroup" in preview.content.decode()
    response = client.post(reverse("clusters:request-new-access"), data)
    saved = Request.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "clusters:request-detail", args=[saved.pk]
    )
    detail = client.get(response["Location"]).content.decode()
    assert "Shown before approval" in detail and "kafka-cluster:AlterGroup" in detail
    both = client.post(reverse("clusters:request-new-access"), {**data, "topic_prefix": "team-a."})
    assert both.context["form"].errors["topic"] == ["Choose a topic or give a topic prefix, not both."]


def test_cluster_form_submits_and_limits_network_profiles(member_a, team_a, account, network_profile):
    client = client_for(member_a)
    data = builders.cluster_form(team_a, network_profile, account=account.pk)
    wrong_region = client.post(reverse("clusters:request-new-cluster"), {**data, "region": "eu-west-1"})
    assert wrong_region.context["form"].errors["network_profile"] == [
        "Choose a network profile of this account and region."
    ]
    # The choice is kept for the user to see what was wrong (it used to be cleared).
    assert f'<option value="{network_profile.pk}" selected>' in wrong_region.content.decode()
    preview = client.post(reverse("clusters:request-preview", args=["cluster"]), data, headers=HTMX)
    assert "Cluster hours" in preview.content.decode()
    response = client.post(reverse("clusters:request-new-cluster"), data)
    saved = Request.objects.get()
    assert response.status_code == 302 and saved.kind == Request.Kind.CLUSTER_CREATE
    detail = client.get(response["Location"]).content.decode()
    # One cluster-month: the traffic is priced on the topics' requests (test_cluster_estimates.py).
    assert saved.estimated_monthly_cost == Decimal("547.50")
    assert "Cluster hours" in detail and "$547.50 per month" in detail


def test_justification_is_escaped(member_a, team_a, cluster):
    response = client_for(member_a).post(
        reverse("clusters:request-new-topic"),
        topic_data(team_a, cluster, justification="<script>alert(1)</script>"),
    )
    body = client_for(member_a).get(response["Location"]).content.decode()
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_list_rows_escape_what_people_typed(member_a, admin, request_a):
    """The rows of the request list and the approval queue are Jinja2 templates (portal/jinja.py):
    a summary, requester name, next URL or refused reason with markup in it is shown as text."""
    Request.objects.filter(pk=request_a.pk).update(summary="<b>bold</b> & <script>alert(1)</script>")
    User.objects.filter(pk=member_a.pk).update(username='a"<i>')
    escaped = "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt;"
    for client, name in (
        (client_for(member_a), "clusters:request-list"),
        (client_for(admin), "clusters:approval-queue"),
    ):
        body = client.get(reverse(name), {"sort": "newest"} if "queue" in name else {}).content.decode()
        assert "<script>alert(1)</script>" not in body and escaped in body
        assert 'a"<i>' not in body and "a&#34;&lt;i&gt;" in body
    body = client_for(admin).get(reverse("clusters:approval-queue"), {"sort": "newest"}).content.decode()
    assert 'name="next" value="/approvals/?sort=newest"' in body
    reason = '"><script>alert(2)</script>'
    refused = client_for(builders.user("admin2", role=User.Role.PLATFORM_ADMIN)).post(
        reverse("clusters:request-reject", args=[request_a.pk]),
        {"fragment": "row", "next": '/approvals/?q="x"', "reason": reason * 200},
        headers=HTMX,
    )
    row = refused.content.decode()
    assert refused.status_code == 422 and 'aria-invalid="true"' in row
    assert "<script>alert(2)</script>" not in row and 'value="&#34;&gt;&lt;script&gt;alert(2)' in row
    assert 'name="next" value="/approvals/?q=&#34;x&#34;"' in row


def test_topic_change_and_delete_requests(member_a, topic):
    client = client_for(member_a)
    update_url = reverse("clusters:request-topic-update", args=[topic.pk])
    initial = client.get(update_url).context["form"].initial
    data = {**initial, "partitions": 2, "justification": ""}
    assert "only add partitions" in client.post(update_url, data).context["form"].errors["partitions"][0]
    response = client.post(update_url, {**data, "partitions": 6})
    saved = Request.objects.get(kind=Request.Kind.TOPIC_UPDATE)
    assert response.status_code == 302 and saved.topic_id == topic.pk
    detail = client.get(response["Location"]).content.decode()
    assert "<td><code>partitions</code></td><td>3</td><td>6</td>" in detail
    delete_url = reverse("clusters:request-topic-delete", args=[topic.pk])
    assert "Say why" in client.post(delete_url, {}).context["form"].errors["justification"][0]
    assert client.post(delete_url, {"justification": "Replaced."}).status_code == 302


# --- The whole flow: submit, approve from the queue, reject, cancel ------------------------------


def test_member_submits_topic_and_admin_approves_it_inline(member_a, admin, team_a, cluster):
    response = client_for(member_a).post(
        reverse("clusters:request-new-topic"),
        topic_data(team_a, cluster, access_1_principal_arn=PRINCIPAL, access_1_produce="on"),
    )
    saved = Request.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("clusters:request-detail", args=[saved.pk])
    assert ("success", f"Request #{saved.pk} submitted. A platform admin will review it.") in flash(response)
    assert saved.status == Request.Status.SUBMITTED and saved.requested_by == member_a

    admin_client = client_for(admin)
    queue = admin_client.get(reverse("clusters:approval-queue")).content.decode()
    assert f'hx-post="{reverse("clusters:request-approve", args=[saved.pk])}"' in queue
    row = admin_client.post(
        reverse("clusters:request-approve", args=[saved.pk]),
        {"fragment": "row", "next": reverse("clusters:approval-queue")},
        headers=HTMX,
    )
    assert row.status_code == 200
    body = row.content.decode()
    assert body.lstrip().startswith(f'<tr id="request-row-{saved.pk}">')
    assert "status-approved" in body and "by admin" in body and ">Approve</button>" not in body
    saved.refresh_from_db()
    assert saved.status == Request.Status.APPROVED and saved.decided_by == admin
    topic = Topic.objects.get(name="team-a.payments")
    assert AccessGrant.objects.get(topic=topic).principal_arn == PRINCIPAL
    detail = client_for(member_a).get(reverse("clusters:request-detail", args=[saved.pk])).content.decode()
    assert "Approved by <strong>admin</strong>" in detail
    assert "Submitted → Approved" in detail.replace("&nbsp;", " ").replace("—", "")


def test_approve_without_htmx_redirects_back_with_flash(request_a, admin, member_a, team_a, cluster):
    queue = reverse("clusters:approval-queue") + "?sort=newest"
    response = client_for(admin).post(
        reverse("clusters:request-approve", args=[request_a.pk]), {"next": queue}
    )
    assert response.status_code == 302 and response["Location"] == queue
    assert ("success", f"Request #{request_a.pk} approved.") in flash(response)
    other = submit_topic(member_a, team_a, cluster, name="other")
    offsite = client_for(member_a).post(
        reverse("clusters:request-cancel", args=[other.pk]), {"next": "https://evil.example/"}
    )
    assert offsite["Location"] == reverse("clusters:request-detail", args=[other.pk])


def test_an_inline_reject_without_a_reason_says_so_once_under_the_reason_box(request_a, admin):
    response = client_for(admin).post(
        reverse("clusters:request-reject", args=[request_a.pk]),
        {"fragment": "row", "reason": ""},
        headers=HTMX,
    )
    row = response.content.decode()
    assert response.status_code == 422 and f'id="id_reason_{request_a.pk}_error"' in row
    assert "notice-error" not in row  # not a second time as the row's notice
    request_a.refresh_from_db()
    assert request_a.status == Request.Status.SUBMITTED


def test_a_reject_without_a_reason_on_the_request_page_says_so_once_under_the_reason_box(request_a, admin):
    # The same as in a queue row, for the decision panel htmx swaps in on the request's page: the panel's
    # notice repeated the message the reason box's error list says.
    response = client_for(admin).post(
        reverse("clusters:request-reject", args=[request_a.pk]), {"reason": ""}, headers=HTMX
    )
    panel = response.content.decode()
    assert response.status_code == 422 and 'class="errorlist"' in panel
    assert panel.count(services.REASON_REQUIRED) == 1 and "notice-error" not in panel
    request_a.refresh_from_db()
    assert request_a.status == Request.Status.SUBMITTED


def test_double_approve_is_a_409_conflict(request_a, admin, make_admin):
    other_admin = make_admin("admin2")
    url = reverse("clusters:request-approve", args=[request_a.pk])
    assert client_for(admin).post(url, {"fragment": "row"}, headers=HTMX).status_code == 200
    second = client_for(other_admin).post(url, {"fragment": "row"}, headers=HTMX)
    assert second.status_code == 409
    body = second.content.decode()
    assert f"Request #{request_a.pk} is already approved." in body and 'role="alert"' in body
    assert f'<tr id="request-row-{request_a.pk}">' in body
    plain = client_for(other_admin).post(url)
    assert plain.status_code == 302
    messages = flash(plain)
    assert ("error", f"Request #{request_a.pk} is already approved.") in messages
    assert not [m for m in messages if m[0] == "success"]


def test_reject_requires_a_reason_and_the_requester_sees_it(request_a, admin, member_a):
    url = reverse("clusters:request-reject", args=[request_a.pk])
    client = client_for(admin)
    missing = client.post(url, {"fragment": "row", "reason": "  "}, headers=HTMX)
    assert missing.status_code == 422
    assert "the reason is shown to them" in missing.content.decode()
    assert 'aria-invalid="true"' in missing.content.decode()
    plain = client.post(url, {"reason": ""})
    assert plain.status_code == 302 and flash(plain)[0][0] == "error"
    request_a.refresh_from_db()
    assert request_a.status == Request.Status.SUBMITTED

    done = client.post(
        url, {"fragment": "row", "reason": "Use the shared events topic <instead>."}, headers=HTMX
    )
    assert done.status_code == 200 and "status-rejected" in done.content.decode()
    detail = (
        client_for(member_a).get(reverse("clusters:request-detail", args=[request_a.pk])).content.decode()
    )
    assert "Rejected by <strong>admin</strong>" in detail
    assert "Use the shared events topic &lt;instead&gt;." in detail


def test_cancel_only_by_the_requester(request_a, member_a, team_a, admin, member_b):
    teammate = make_user("teammate")
    Membership.objects.create(team=team_a, user=teammate)
    url = reverse("clusters:request-cancel", args=[request_a.pk])
    detail_url = reverse("clusters:request-detail", args=[request_a.pk])
    assert "Cancel this request" not in client_for(teammate).get(detail_url).content.decode()
    assert client_for(teammate).post(url).status_code == 403
    assert client_for(admin).post(url).status_code == 403
    assert client_for(member_b).post(url).status_code == 404
    assert "Cancel this request" in client_for(member_a).get(detail_url).content.decode()
    response = client_for(member_a).post(url)
    assert response.status_code == 302 and response["Location"] == detail_url
    request_a.refresh_from_db()
    assert request_a.status == Request.Status.CANCELLED
    again = client_for(member_a).post(url, headers=HTMX)
    assert again.status_code == 409 and "already cancelled" in again.content.decode()


def test_four_eyes_admin_cannot_approve_own_request(admin, team_a, cluster):
    Membership.objects.create(team=team_a, user=admin)
    own = submit_topic(admin, team_a, cluster)
    client = client_for(admin)
    assert client.post(reverse("clusters:request-approve", args=[own.pk])).status_code == 403
    assert client.post(reverse("clusters:request-approve", args=[own.pk]), headers=HTMX)["HX-Redirect"]
    reject = client.post(reverse("clusters:request-reject", args=[own.pk]), {"reason": "mine"})
    assert reject.status_code == 403
    queue = client.get(reverse("clusters:approval-queue")).content.decode()
    assert "Your request — another admin must decide." in queue
    assert reverse("clusters:request-approve", args=[own.pk]) not in queue
    detail = client.get(reverse("clusters:request-detail", args=[own.pk])).content.decode()
    assert "another admin must decide" in detail and ">Approve</button>" not in detail
    own.refresh_from_db()
    assert own.status == Request.Status.SUBMITTED


def test_decisions_on_invisible_requests_are_404(request_a, member_b, finance):
    for name in ("clusters:request-approve", "clusters:request-reject", "clusters:request-cancel"):
        url = reverse(name, args=[request_a.pk])
        assert client_for(member_b).post(url, {"reason": "x"}).status_code == 404
        assert client_for(finance).post(url, {"reason": "x"}).status_code == 404


def test_member_cannot_approve(request_a, member_a, team_a):
    teammate = make_user("teammate")
    Membership.objects.create(team=team_a, user=teammate)
    url = reverse("clusters:request-approve", args=[request_a.pk])
    assert client_for(teammate).post(url).status_code == 403
    assert (
        ">Approve</button>"
        not in client_for(teammate)
        .get(reverse("clusters:request-detail", args=[request_a.pk]))
        .content.decode()
    )


def test_auto_approved_request_shows_the_rule(member_a, team_a, cluster):
    from clusters.models import AutoApprovalRule

    AutoApprovalRule.objects.create(
        name="small dev topics", kind=Request.Kind.TOPIC_CREATE, environment="dev"
    )
    response = client_for(member_a).post(reverse("clusters:request-new-topic"), topic_data(team_a, cluster))
    assert "approved automatically" in flash(response)[0][1]
    detail = client_for(member_a).get(response["Location"]).content.decode()
    assert "Approved by rule “small dev topics”" in detail


def test_queue_filters_search_and_sort(admin, member_a, member_b, team_a, team_b, cluster):
    first = submit_topic(member_a, team_a, cluster, name="alpha")
    second = submit_topic(member_a, team_a, cluster, name="beta")
    client = client_for(admin)
    url = reverse("clusters:approval-queue")
    body = client.get(url).content.decode()
    assert body.index(f"request-row-{first.pk}") < body.index(f"request-row-{second.pk}")  # oldest first
    body = client.get(url, {"sort": "newest"}).content.decode()
    assert body.index(f"request-row-{second.pk}") < body.index(f"request-row-{first.pk}")
    body = client.get(url, {"q": "beta"}).content.decode()
    assert f"request-row-{second.pk}" in body and f"request-row-{first.pk}" not in body
    assert f"request-row-{first.pk}" in client.get(url, {"q": "member_a"}).content.decode()
    assert "No submitted request matches" in client.get(url, {"team": team_b.slug}).content.decode()
    assert "No submitted request matches" in client.get(url, {"flagged": "on"}).content.decode()
    not_only_flagged = client.get(url, {"flagged": "0"}).content.decode()
    assert f"request-row-{first.pk}" in not_only_flagged
    refused = client.get(url, {"flagged": "maybe"}).content.decode()
    assert "Flagged only: Must be true or false." in refused and f"request-row-{first.pk}" in refused
    assert "No submitted request matches" in client.get(url, {"environment": "prod"}).content.decode()
    partial = client.get(url, {"kind": "topic.create"}, headers=HTMX).content.decode()
    assert partial.lstrip().startswith('<div id="queue-table">')


# --- Query counts do not grow with the number of requests -----------------------------------------


def _bulk_requests(team, user, count: int, *, minutes_apart: int = 0) -> None:
    """`count` submitted topic requests, "Topic bulk-0" the newest when they are `minutes_apart`."""
    now = timezone.now()
    Request.objects.bulk_create(
        Request(
            kind=Request.Kind.TOPIC_CREATE,
            team=team,
            requested_by=user,
            environment="dev",
            summary=f"Topic bulk-{i}",
            payload={},
            has_warnings=i % 3 == 0,
            estimated_monthly_cost=Decimal(i),
            created_at=now - dt.timedelta(minutes=i * minutes_apart),
        )
        for i in range(count)
    )


def _queries(client, url) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return [query["sql"] for query in queries.captured_queries]


def _query_count(client, url) -> int:
    return len(_queries(client, url))


@pytest.mark.parametrize("name", ["clusters:request-list", "clusters:approval-queue"])
def test_query_count_is_constant(name, admin, member_a, team_a, member_b, team_b):
    client = client_for(admin)
    url = reverse(name)
    _bulk_requests(team_a, member_a, 5)
    client.get(url)  # warm the session and platform settings
    few = _query_count(client, url)
    _bulk_requests(team_a, member_a, 60)
    _bulk_requests(team_b, member_b, 60)
    assert _query_count(client, url) == few
    assert _query_count(client, url + "?page=2") == few


def test_member_request_list_query_count_is_constant(member_a, team_a):
    client = client_for(member_a)
    url = reverse("clusters:request-list")
    _bulk_requests(team_a, member_a, 3)
    client.get(url)
    few = _query_count(client, url)
    _bulk_requests(team_a, member_a, 120)
    assert _query_count(client, url) == few


@pytest.mark.parametrize("name", ["clusters:request-list", "clusters:approval-queue"])
def test_a_list_page_reads_its_rows_with_their_keys_in_one_query(name, admin, member_a, team_a):
    """The page's rows in one query: the sorted keys are a subquery of it, and so is the count of all when
    it is not known yet (the request list; the queue's is the count of the admin's menu). The rows keep the
    list's order on every page."""
    _bulk_requests(team_a, member_a, 60, minutes_apart=1)
    newest_first = name == "clusters:request-list"
    client = client_for(member_a if newest_first else admin)  # (an admin's menu counts open requests)
    url = reverse(name)
    client.get(url)
    on_requests = [sql for sql in _queries(client, url) if 'FROM "clusters_request"' in sql]
    if newest_first:
        assert len(on_requests) == 1 and "COUNT(" in on_requests[0] and "LIMIT 50" in on_requests[0]
    else:
        assert len(on_requests) == 2 and "COUNT(" in on_requests[0]
    # Nor who decided (a page does not show it): two joins fewer halve PostgreSQL's planning of the rows.
    assert "clusters_autoapprovalrule" not in on_requests[-1] and "decided_by_id" not in on_requests[-1]
    expected = [f"bulk-{i}" for i in (range(60) if newest_first else reversed(range(60)))]
    shown = []
    for page in (1, 2):
        body = client.get(url, {"page": page}).content.decode()
        shown += re.findall(r"Topic (bulk-\d+)<", body)
    assert shown == expected


@pytest.mark.parametrize("name", ["clusters:request-list", "clusters:approval-queue"])
def test_a_list_page_renders_its_rows_in_one_loop(name, admin, member_a, team_a):
    """No template per row: an include costs more than the rest of a row (see bench/pages.py)."""
    client = client_for(member_a if name == "clusters:request-list" else admin)
    url = reverse(name)

    def templates_rendered() -> list[str]:
        rendered = []
        template_rendered.connect(receiver := lambda sender, **kwargs: rendered.append(sender.name))
        try:
            assert client.get(url).status_code == 200
        finally:
            template_rendered.disconnect(receiver)
        return rendered

    _bulk_requests(team_a, member_a, 2)
    few = templates_rendered()
    _bulk_requests(team_a, member_a, 48)
    assert templates_rendered() == few


def test_the_request_list_pages_as_djangos_paginator_does(member_a, team_a, member_b):
    """One query reads a page and the count; a page number past the end or below 1 still answers the
    last page, one that is not a number the first, and an empty list says so."""
    _bulk_requests(team_a, member_a, 60, minutes_apart=1)
    client = client_for(member_a)
    url = reverse("clusters:request-list")

    def shown(page) -> tuple[list[str], str]:
        body = client.get(url, {"page": page}).content.decode()
        return re.findall(r"Topic (bulk-\d+)<", body), re.search(r"Page \d+ of \d+ \(\d+ in all\)", body)[0]

    assert shown(1) == ([f"bulk-{i}" for i in range(50)], "Page 1 of 2 (60 in all)")
    last = ([f"bulk-{i}" for i in range(50, 60)], "Page 2 of 2 (60 in all)")
    assert shown(2) == last and shown(9) == last and shown(0) == last and shown(-3) == last
    assert shown("x") == shown(1)
    assert "No requests yet." in client_for(member_b).get(url).content.decode()


@pytest.mark.parametrize("name", ["clusters:request-list", "clusters:approval-queue"])
def test_a_list_page_lets_its_rows_go_once_rendered(name, admin, member_a, team_a):
    """Not left to the cyclic garbage collector (a template's context is a reference cycle), whose
    collections they would slow down."""
    _bulk_requests(team_a, member_a, 5)
    client = client_for(member_a if name == "clusters:request-list" else admin)
    client.get(reverse(name))
    gc.collect()
    gc.disable()
    try:
        assert client.get(reverse(name)).status_code == 200
        # By exact type: isinstance() on a dead weakref.proxy (another test's) raises ReferenceError.
        alive = [row for row in gc.get_objects() if type(row) is selectors.RequestRow]
    finally:
        gc.enable()
    assert alive == []


def test_a_members_teams_are_read_once_per_page(member_a, team_a, team_b):
    """The access check, the navigation's cost links and the filter's team choices share one query."""
    Membership.objects.create(team=team_b, user=member_a)
    client = client_for(member_a)
    url = reverse("clusters:request-list")
    client.get(url)
    on_teams = [
        sql
        for sql in _queries(client, url)
        if 'FROM "portal_team"' in sql or 'FROM "portal_membership"' in sql
    ]
    assert len(on_teams) == 1
    body = client.get(url).content.decode()
    for team in (team_a, team_b):
        assert f'<option value="{team.slug}">{team.name}</option>' in body
        assert reverse("billing:team-costs", args=[team.slug]) in body


@pytest.fixture
def make_admin(db):
    def make(username: str) -> User:
        return make_user(username, role=User.Role.PLATFORM_ADMIN)

    return make


def test_decommission_request_for_deleted_cluster_is_refused(member_a, cluster):
    Cluster.objects.filter(pk=cluster.pk).update(status=Cluster.Status.DELETING)
    response = client_for(member_a).post(
        reverse("clusters:request-decommission", args=[cluster.pk]), {"justification": "Done with it."}
    )
    assert response.status_code == 200
    assert "already being deleted" in " ".join(response.context["form"].non_field_errors())
