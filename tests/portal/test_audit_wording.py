"""The audit log and a request's page read in names and sentences; the CSV export keeps the raw codes."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from clusters.models import Cluster, Request
from clusters.requests import services
from portal import audit
from portal.audit_wording import action_label, detail_phrases
from portal.models import AuditEvent
from tests.clusters.test_views import submit_topic
from tests.conftest import client_for


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("clusters.request.rejected", "Request rejected"),
        ("portal.membership.added", "Member added"),
        ("clusters.topic.active", "Topic: Active"),  # a status change, worded from the model's labels
        ("clusters.accessgrant.pending", "Access grant: Approved, waiting to be applied"),
        ("clusters.cluster.provisioning", "Cluster: Provisioning"),
        ("clusters.request.", "Requests"),  # a group of the filter
        ("portal.something_new.happened", "Something new happened"),  # not worded yet: still readable
    ],
)
def test_action_codes_read_as_words(code, words):
    assert action_label(code) == words


def test_rejected_request_event_reads_as_a_sentence(member_a, admin, team_a, cluster_a):
    request = submit_topic(member_a, team_a, cluster_a, name="raw")
    services.reject_request(request_id=request.pk, actor=admin, reason="Use S3 for logs.")
    event = AuditEvent.objects.get(action="clusters.request.rejected")
    # kind and summary repeat the object ("#1 New topic: Topic …"): left out; the note is the reason.
    assert detail_phrases(event) == ["Reason: “Use S3 for logs.”"]

    page = client_for(admin).get(reverse("portal:audit-list")).content.decode()
    assert "Request rejected" in page and "Request submitted" in page
    assert "Reason: “Use S3 for logs.”" in page
    assert (
        "clusters.request.rejected" not in page and "{&#x27;kind&#x27;" not in page and "{'kind'" not in page
    )

    export = client_for(admin).get(reverse("portal:audit-export"))
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    rejected = next(row for row in rows if row["action"] == "clusters.request.rejected")
    assert (
        "'note': 'Use S3 for logs.'" in rejected["details"]
        and "'kind': 'topic.create'" in rejected["details"]
    )


def test_details_drop_ids_and_word_money_counts_and_sources(team_a):
    run_like = audit.record(
        "portal.test.computed",
        actor=None,
        team=team_a,
        details={
            "month": "2026-11",
            "lines": 1,
            "total_usd": "1285.5",
            "threshold_percent": 80,
            "topic_id": 5,
            "grant_ids": [],
            "source": "seed_demo",
        },
    )
    assert detail_phrases(run_like) == [
        "Month 2026-11",
        "1 line",
        "Total $1,285.50",
        "Threshold 80 %",
        "From the demo data",
    ]
    status_change = audit.record(
        "clusters.cluster.active",
        actor=None,
        obj=Cluster(pk=7, name="x"),
        team=team_a,
        details={"from": "provisioning", "note": "MSK reports ACTIVE"},
    )
    assert detail_phrases(status_change) == ["Was Provisioning", "MSK reports ACTIVE"]


def test_a_moment_in_the_details_reads_as_the_log_writes_its_times(team_a):
    """A chargeback run's "Metered until 2026-12-02T01:00:00+00:00" (the audit log, fred, 1,366 px) reads as
    the When column does; a month, a date or a word that is not a moment stays as written."""
    event = audit.record(
        "portal.test.computed",
        actor=None,
        team=team_a,
        details={"month": "2026-12", "metered_until": "2026-12-02T01:00:00+00:00", "note": "T-shirt"},
    )
    assert detail_phrases(event) == ["Month 2026-12", "Metered until 2026-12-02 01:00 UTC", "T-shirt"]


def test_audit_filter_offers_groups_in_words_and_keeps_exact_codes(admin, team_a):
    audit.record("portal.team.updated", actor=admin, obj=team_a, details={"changes": {"name": ["A", "B"]}})
    audit.record("portal.membership.added", actor=admin, team=team_a, details={"user": "carol"})
    client = client_for(admin)
    page = client.get(reverse("portal:audit-list"), {"action": "portal.team."}).content.decode()
    assert '<option value="portal.team." selected>Teams</option>' in page
    assert "Team changed" in page and "Name A → B" in page and "Member added" not in page
    exact = client.get(reverse("portal:audit-list"), {"action": "portal.membership.added"}).content.decode()
    assert '<option value="portal.membership.added" selected>Member added</option>' in exact
    assert "User carol" in exact and "Team changed" not in exact


def test_what_was_asked_shows_names_not_ids(member_a, team_a, platform_account, network_profile):
    prepared = services.prepare_cluster_create(
        actor=member_a,
        team=team_a,
        name="team-a-prod",
        kind="dedicated",
        environment="prod",
        account=platform_account,
        region="us-east-1",
        network_profile=network_profile,
        expected_write_mbps=Decimal(20),
        expected_read_mbps=Decimal(40),
        contains_pii=True,
        latency_class=Cluster.LatencyClass.SENSITIVE,
        justification="Production traffic.",
    )
    request = services.submit_request(actor=member_a, prepared=prepared)
    page = client_for(member_a).get(reverse("clusters:request-detail", args=[request.pk])).content.decode()
    section = page[page.index('id="payload-heading"') : page.index('id="assessment-heading"')]
    assert '<dt class="depth-0">Network profile</dt><dd>shared-vpc (vpc-0123456789abcdef0)</dd>' in section
    assert "<dd>Platform shared (123456789012)</dd>" in section
    assert "<dd>Time-sensitive</dd>" in section and "<dd>Dedicated team cluster</dd>" in section
    assert "<dd>Production</dd>" in section
    for raw in ("Cluster id", "Network profile id", "Portal account id", "time_sensitive", "Aws account"):
        assert raw not in section


def test_topic_request_names_its_cluster_and_explains_settings(member_a, team_a, cluster_a):
    request = submit_topic(member_a, team_a, cluster_a, name="orders")
    assert request.summary.endswith("(1 partition)")  # not "1 partitions"
    page = client_for(member_a).get(reverse("clusters:request-detail", args=[request.pk])).content.decode()
    assert '<dt class="depth-0">Cluster</dt><dd>team-a-dev</dd>' in page
    assert "<code>604800000 (7 days)</code>" in page and "<code>-1 (unlimited)</code>" in page
    assert "<code>1048588 (about 1 MiB)</code>" in page
    assert "Short name" not in page and Request.objects.count() == 1
