"""Every link in a mail or a Slack message starts with PORTAL_BASE_URL and opens the page it names.

(`make run` sets PORTAL_BASE_URL to the address devstack serves on: tests/system/test_sqlite_burst.py checks the
links of the mails a real worker prints.)"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.core import mail

from billing import budgets
from billing.models import BudgetAlert
from clusters.requests import services
from portal import slack
from tests.clusters.test_views import submit_topic
from tests.conftest import client_for

BASE = "https://msk.example.com:8443"
LINK = re.compile(r"https?://\S+")


@pytest.fixture
def slack_messages(settings, monkeypatch):
    """Slack on, and the webhook's HTTP call recorded instead of sent."""
    settings.SLACK_WEBHOOK_URL = "https://hooks.slack.example/services/T0/B0/x"
    sent = []

    class Answer:
        status = 200

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def urlopen(request, timeout):
        sent.append(json.loads(request.data)["text"])
        return Answer()

    monkeypatch.setattr(slack.urllib.request, "urlopen", urlopen)
    return sent


def test_mail_and_slack_links_use_the_portal_base_url(
    settings, slack_messages, member_a, admin, team_a, cluster_a, django_capture_on_commit_callbacks
):
    settings.PORTAL_BASE_URL = BASE
    with django_capture_on_commit_callbacks(execute=True):
        approved = submit_topic(member_a, team_a, cluster_a, "links-1")
        rejected = submit_topic(member_a, team_a, cluster_a, "links-2")
        services.approve_request(request_id=approved.pk, actor=admin)
        services.reject_request(request_id=rejected.pk, actor=admin, reason="Not this quarter")
    alert = BudgetAlert.objects.create(
        team=team_a, month=dt.date(2026, 11, 1), threshold_percent=80, spent_usd=Decimal(80), budget_usd=100
    )
    budgets.send(alert.pk)

    # Approval needed ×2, approved, rejected, budget alert: each as a mail and a Slack message.
    assert len(mail.outbox) == len(slack_messages) == 5
    texts = [message.body for message in mail.outbox] + slack_messages
    links = [link for text in texts for link in LINK.findall(text)]
    assert all(LINK.search(text) for text in texts)
    assert all(link.startswith(BASE + "/") for link in links), links
    # Each one opens a page (as a person allowed to see it).
    for link in set(links):
        path = urlsplit(link).path
        assert client_for(admin if "/requests/" in path else member_a).get(path).status_code == 200, link
    assert {urlsplit(link).path for link in links} == {
        f"/requests/{approved.pk}/",
        f"/requests/{rejected.pk}/",
        f"/billing/teams/{team_a.slug}/",
    }
