import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from portal.models import Membership, Team, User
from tests.conftest import client_for


@override_settings(DEBUG=True)
def test_seed_demo_is_idempotent_and_logins_work(db, capsys, django_capture_on_commit_callbacks):
    call_command("seed_demo")
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert "alice" in out and "kafka-demo-2026" in out
    assert Team.objects.count() == 4  # three product teams and the platform team
    assert Membership.objects.count() == 3
    from clusters.models import Cluster, Request

    # Two live clusters with topics, and two that drifted (see below).
    assert Cluster.objects.count() == 4
    assert list(Request.objects.values_list("status", flat=True)) == ["submitted"]  # one, for the queue
    # Billing has last month and this month to date, priced from the simulated traffic.
    from billing.models import ChargebackRun

    runs = list(ChargebackRun.objects.order_by("month"))
    assert len(runs) == 2 and all(run.total_usd > 0 and run.line_count > 0 for run in runs)
    # One drift finding of each kind, each once; the clusters with topics are in the local provider's MSK
    # too, so the pending topic can be made.
    from clusters import provisioning
    from clusters.models import DriftFinding

    findings = DriftFinding.objects.filter(resolved_at=None)
    assert sorted(findings.values_list("kind", flat=True)) == ["missing", "retagged", "unknown"]
    assert {f.cluster.name for f in findings if f.cluster} == {"analytics-dev", "search-dev"}
    assert provisioning.detect_drift() == {"list_calls": 1, "opened": 0, "resolved": 0}
    from clusters.models import Topic
    from clusters.requests import services

    with django_capture_on_commit_callbacks(execute=True):
        services.approve_request(request_id=Request.objects.get().pk, actor=User.objects.get(username="ada"))
    assert Topic.objects.get(name="search.queries").status == Topic.Status.ACTIVE
    assert User.objects.get(username="ada").role == User.Role.PLATFORM_ADMIN
    assert User.objects.get(username="fred").role == User.Role.FINANCE
    client = client_for(None)
    assert client.login(username="alice", password="kafka-demo-2026")
    assert "Payments" in client.get("/").content.decode()
    admin = client_for(None)
    assert admin.login(username="ada", password="kafka-demo-2026")
    drift_page = admin.get("/drift/").content.decode()
    assert "legacy-orders" in drift_page and "Adopt" in drift_page and "Mark deleted" in drift_page


def test_seed_demo_refuses_without_debug(db):
    with pytest.raises(CommandError, match="DEBUG off"):
        call_command("seed_demo")


def test_the_login_page_shows_the_demo_logins_in_demo_mode_only(
    db, settings, tmp_path, client, capsys, django_capture_on_commit_callbacks
):
    settings.VAR_DIR, settings.DEBUG = tmp_path, True
    assert "Demo logins" not in client.get("/login/").content.decode()  # no demo data made here
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", "--password", "another-demo-pass")
    page = client.get("/login/").content.decode()
    assert "Demo logins" in page and "<code>another-demo-pass</code>" in page
    for username in ("alice", "bob", "carol", "ada", "fred"):
        assert f"<code>{username}</code>" in page
    assert "<code>ada</code>: Ada Admin, platform admin" in page
    settings.DEBUG = False  # a production portal never shows them, whatever files lie around
    assert "Demo logins" not in client.get("/login/", secure=True).content.decode()
