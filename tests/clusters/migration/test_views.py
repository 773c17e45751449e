"""The migration pages per role: who sees what, who may act, and that nobody decides their own claim."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from clusters.migration import inventory, planning
from clusters.migration.models import Application, ApplicationClaim, MigrationPlan, Monolith
from tests.clusters.migration.test_planning import FILE, owned  # noqa: F401  (fixture)
from tests.conftest import client_for

VIEWERS = ["member_a", "member_b", "admin", "finance"]


@pytest.fixture
def world(monolith, admin, member_a, member_b, team_a, team_b):
    inventory.import_csv(actor=admin, monolith_id=monolith.pk, content=FILE.encode())
    inventory.discover_applications(actor=admin, monolith_id=monolith.pk)
    orders = Application.objects.get(name="orders")
    claim = inventory.claim_application(actor=member_a, application_id=orders.pk, team=team_a)
    inventory.decide_claim(actor=admin, claim_id=claim.pk, approve=True)
    clicks = Application.objects.get(name="clicks")
    claim = inventory.claim_application(actor=member_b, application_id=clicks.pk, team=team_b)
    inventory.decide_claim(actor=admin, claim_id=claim.pk, approve=True)
    inventory.set_monolith_cost(actor=admin, monolith_id=monolith.pk, monthly_cost_usd=Decimal("9000"))
    plan = planning.create_plan(actor=admin, monolith_id=monolith.pk)
    return {"monolith": monolith, "plan": plan, "orders": orders, "clicks": clicks}


def _pages(world):
    monolith, plan = world["monolith"], world["plan"]
    return [
        reverse("migration:monolith-list"),
        reverse("migration:monolith-detail", args=[monolith.pk]),
        reverse("migration:applications", args=[monolith.pk]),
        reverse("migration:plans", args=[monolith.pk]),
        reverse("migration:plan-detail", args=[plan.pk]),
    ]


@pytest.mark.parametrize("persona", ["anonymous", *VIEWERS])
def test_every_signed_in_role_reads_the_pages_and_anonymous_is_sent_to_sign_in(world, personas, persona):
    client = client_for(personas[persona])
    for url in _pages(world):
        response = client.get(url)
        if persona == "anonymous":
            assert response.status_code == 302 and "/login/" in response["Location"]
        else:
            assert response.status_code == 200, url


@pytest.mark.parametrize("persona", ["member_a", "member_b", "finance"])
def test_only_admins_register_read_upload_plan_move_and_accept(world, personas, persona):
    monolith, plan = world["monolith"], world["plan"]
    client = client_for(personas[persona])
    posts = [
        (
            reverse("migration:monolith-register"),
            {"name": "x", "security_protocol": "PLAINTEXT", "region": "us-east-1"},
        ),
        (reverse("migration:inventory-read", args=[monolith.pk]), {}),
        (reverse("migration:inventory-upload", args=[monolith.pk]), {}),
        (reverse("migration:monolith-cost", args=[monolith.pk]), {"monthly_cost_usd": "1"}),
        (reverse("migration:applications-discover", args=[monolith.pk]), {}),
        (
            reverse("migration:plans", args=[monolith.pk]),
            {"strategy": "segregated", "headroom_percent": "70"},
        ),
        (reverse("migration:plan-move", args=[plan.pk]), {"application": "orders", "to_cluster": "c1"}),
        (reverse("migration:plan-accept", args=[plan.pk]), {}),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == 403, url
    assert client.get(reverse("migration:monolith-register")).status_code == 403
    assert MigrationPlan.objects.count() == 1 and Monolith.objects.count() == 1


def test_admin_registers_uploads_and_plans_through_the_pages(world, admin, team_a):
    client = client_for(admin)
    response = client.post(
        reverse("migration:monolith-register"),
        {
            "name": "second",
            "bootstrap": "10.0.0.1:9096",
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_username": "portal",
            "password_env": "SECOND_KAFKA_PASSWORD",
            "region": "eu-west-1",
        },
    )
    second = Monolith.objects.get(name="second")
    assert response.status_code == 302 and second.password_env == "SECOND_KAFKA_PASSWORD"

    bad = SimpleUploadedFile("bad.csv", FILE.replace("orders.audit,3", "orders.audit,0").encode())
    response = client.post(reverse("migration:inventory-upload", args=[second.pk]), {"file": bad})
    assert response.status_code == 400 and "partitions must be a whole number" in response.content.decode()
    assert not second.snapshots.exists()
    good = SimpleUploadedFile("good.csv", FILE.encode())
    assert (
        client.post(reverse("migration:inventory-upload", args=[second.pk]), {"file": good}).status_code
        == 302
    )
    assert second.snapshots.count() == 1

    response = client.post(
        reverse("migration:plans", args=[second.pk]),
        {"strategy": "write_read", "headroom_percent": "70", "backup_region": "us-west-2"},
    )
    plan = second.plans.get()
    assert response.status_code == 302 and plan.strategy == "write_read" and plan.backup_region == "us-west-2"
    page = client.get(reverse("migration:plan-detail", args=[plan.pk])).content.decode()
    assert "Backup region us-west-2" in page and "$" in page


def test_live_move_check_shows_why_a_move_is_refused_and_saving_makes_a_version(world, admin):
    plan = world["plan"]
    client = client_for(admin)
    where = {name: c["key"] for c in plan.result["clusters"] for name in c["applications"]}
    url = reverse("migration:plan-move", args=[plan.pk])
    response = client.post(
        url, {"application": "orders", "to_cluster": where["clicks"]}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert "not possible" in response.content.decode() and "team team-b" in response.content.decode()
    assert MigrationPlan.objects.count() == 1
    response = client.post(url, {"application": "orders", "to_cluster": where["clicks"]})
    assert response.status_code == 302 and MigrationPlan.objects.count() == 1  # refused: no version


def test_members_see_their_teams_money_only(world, member_b, finance):
    plan = world["plan"]
    page = client_for(member_b).get(reverse("migration:plan-detail", args=[plan.pk])).content.decode()
    team_a_row = next(row for row in plan.result["teams"] if row["team"] == "team-a")
    from billing.pricing import usd

    assert usd(team_a_row["after_usd"]) not in page
    assert "All planned clusters" not in page
    page = client_for(finance).get(reverse("migration:plan-detail", args=[plan.pk])).content.decode()
    assert usd(team_a_row["after_usd"]) in page and "All planned clusters" in page


def test_the_plan_page_names_flags_hot_topics_team_costs_and_the_backup_region_apart(owned, admin):  # noqa: F811
    """Issue 13 §2-3 on the page: the stream jobs plain replication cannot replace, topics needing more
    partitions, each team's cost after the split beside its share of the monolith's, the backup apart."""
    from billing.pricing import usd

    plan = planning.create_plan(
        actor=admin, monolith_id=owned.pk, strategy="write_read", backup_region="us-west-2"
    )
    result = plan.result
    page = client_for(admin).get(reverse("migration:plan-detail", args=[plan.pk])).content.decode()
    assert "<h2>Not plain replication</h2>" in page
    assert "<strong>exactly-once job:</strong> payments cannot tolerate duplicates" in page
    assert "<strong>masking job:</strong> customers carries PII" in page
    assert "<code>clicks.raw</code> (clicks): 4 → 12. Topic clicks.raw (clicks) has 4 partitions" in page
    # The backup region holds replicas of the write clusters only, and is not in the total.
    writes = sum(1 for cluster in result["clusters"] if cluster["side"] == "write")
    assert result["backup"]["clusters"] == writes
    assert (
        f"Backup region us-west-2 ({writes} replicas of the write clusters): "
        f"{usd(result['backup']['monthly_usd'])} a month, apart." in page
    )
    assert Decimal(result["total_usd"]) == sum(Decimal(c["monthly_usd"]) for c in result["clusters"])
    assert f"<strong>{usd(result['total_usd'])}</strong> a month, against $12,000.00 for the monolith" in page
    for row in result["teams"]:
        assert (
            f'<td data-label="After the split">{usd(row["after_usd"])}</td>'
            f'<td data-label="Share of the monolith">{usd(row["monolith_share_usd"])}</td>'
        ) in page


def test_the_plan_page_names_the_tool_feeding_each_planned_cluster(owned, admin, team_a, platform_account):  # noqa: F811
    """An MSK monolith in the platform's account: team-a's clusters sit in team-a's own account, where
    MirrorMaker 2 feeds them; the others, in the platform's account, get MSK Replicator."""
    import re

    from tests import builders

    builders.aws_account("210987654321", name="Team A", ownership="team", team=team_a)
    Monolith.objects.filter(pk=owned.pk).update(
        msk_cluster_arn="arn:aws:kafka:us-east-1:123456789012:cluster/legacy/abc",
        aws_account=platform_account,
    )
    plan = planning.create_plan(actor=admin, monolith_id=owned.pk)
    page = client_for(admin).get(reverse("migration:plan-detail", args=[plan.pk])).content.decode()
    assert '<th scope="col">Fed by</th>' in page
    for cluster in plan.result["clusters"]:
        row = re.search(rf"<td data-label=\"Cluster\">{cluster['name']}</td>.*?</tr>", page, re.S).group(0)
        team_a_account = cluster["group"]["account"] == "210987654321"
        expected = "MirrorMaker 2 on MSK Connect" if team_a_account else "MSK Replicator"
        assert f'<td data-label="Fed by">{expected}, from the monolith</td>' in row, cluster["name"]
        assert (", 31 for replication" if team_a_account else ", 83 for replication") in row
    assert "MirrorMaker 2 on MSK Connect copies it to clusters in other accounts" in page


def test_the_applications_page_lists_the_topics_to_chase(world, member_b, personas):
    search = Application.objects.get(name="search")
    inventory.claim_application(actor=member_b, application_id=search.pk, team=search.suggested_team)
    url = reverse("migration:applications", args=[world["monolith"].pk])
    for persona in VIEWERS:
        page = client_for(personas[persona]).get(url).content.decode()
        assert "<h2>Unclaimed topics (4)</h2>" in page
        assert "<li><code>search.index</code> in search (claim by Team B waiting)</li>" in page
        assert "<code>orders.created</code> in" not in page  # claimed and approved


def _action_cell(page: str, application: str) -> str:
    import re

    table = page[page.index("<h2>Applications") :]
    row = re.search(rf'<td data-label="Application">{application}</td>.*?</tr>', table, re.S).group(0)
    return row[row.rindex("<td") :]


def test_the_applications_page_offers_a_claim_only_where_one_can_be_made(
    world, member_a, member_b, team_a, team_b, admin, finance
):
    """orders is team-a's, clicks team-b's (world); search gets team-b's pending claim; tiny is free.
    Nobody is offered a plain "Claim" on an owned application or one with a claim waiting: another team is
    offered to ask to take it over, naming the owner; the owner's members and a waiting claim get words."""
    search = Application.objects.get(name="search")
    inventory.claim_application(actor=member_b, application_id=search.pk, team=team_b)
    url = reverse("migration:applications", args=[world["monolith"].pk])

    page = client_for(member_b).get(url).content.decode()
    orders = _action_cell(page, "orders")
    assert 'Ask to take over<span class="visually-hidden"> orders</span> from Team A</button>' in orders
    assert '<label>Why <input name="note" maxlength="500"></label>' in orders
    assert f'<option value="{team_b.pk}"' in orders and f'<option value="{team_a.pk}"' not in orders
    assert "Claim<span" not in orders
    assert "<button" not in _action_cell(page, "clicks")  # its own team's: nothing to claim
    search_cell = _action_cell(page, "search")
    assert '<div class="muted">Claim by Team B waiting for an admin</div>' in search_cell
    assert "<button" not in search_cell
    assert 'Claim<span class="visually-hidden"> tiny</span></button>' in _action_cell(page, "tiny")

    page = client_for(member_a).get(url).content.decode()
    assert "<button" not in _action_cell(page, "orders")
    assert "from Team B</button>" in _action_cell(page, "clicks")
    assert "Claim by Team B waiting for an admin" in _action_cell(page, "search")
    for persona in (admin, finance):  # members of no team: nothing to claim for, nothing offered
        page = client_for(persona).get(url).content.decode()
        assert "Ask to take over" not in page and "Claim<span" not in page

    # Through the page: a claim on search while team-b's waits is refused in words; a takeover is asked.
    claim_url = reverse("migration:application-claim", args=[search.pk])
    response = client_for(member_a).post(claim_url, {"team": team_a.pk}, follow=True)
    assert "search already has a claim waiting for an admin by Team B" in response.content.decode()
    assert ApplicationClaim.objects.filter(application=search).count() == 1
    orders_url = reverse("migration:application-claim", args=[world["orders"].pk])
    response = client_for(member_b).post(orders_url, {"team": team_b.pk, "note": "ours now"}, follow=True)
    page = response.content.decode()
    assert "Request to take over orders from Team A sent; a platform admin decides." in page
    assert 'Team B <span class="muted">(taking over from Team A)</span>' in page
    assert "Claim by Team B waiting for an admin" in _action_cell(page, "orders")


def test_claims_through_the_pages_follow_four_eyes(world, member_a, member_b, team_a, admin, finance):
    search = Application.objects.get(name="search")
    url = reverse("migration:application-claim", args=[search.pk])
    assert client_for(member_b).post(url, {"team": team_a.pk}).status_code == 403  # not b's team
    assert client_for(finance).post(url, {"team": team_a.pk}).status_code == 403
    assert client_for(member_a).post(url, {"team": team_a.pk}).status_code == 302
    claim = ApplicationClaim.objects.get(application=search, status="pending")
    decide = reverse("migration:claim-decide", args=[claim.pk, "approve"])
    assert client_for(member_a).post(decide).status_code == 403
    assert client_for(admin).post(decide).status_code == 302
    search.refresh_from_db()
    assert search.team == team_a


def test_requirements_are_edited_by_the_owning_team_only(world, member_a, member_b):
    url = reverse("migration:application-requirements", args=[world["orders"].pk])
    assert client_for(member_b).get(url).status_code == 403
    assert client_for(member_b).post(url, {"latency_class": "time_sensitive"}).status_code == 403
    response = client_for(member_a).post(
        url,
        {
            "latency_class": "time_sensitive",
            "contains_pii": "on",
            "client_connections": "40",
            "peak_in_mbps": "",
        },
    )
    assert response.status_code == 302
    orders = Application.objects.get(pk=world["orders"].pk)
    assert (
        orders.contains_pii
        and orders.client_connections == 40
        and orders.tolerates_duplicates is False  # unticked
    )
    bad = {
        "latency_class": "time_insensitive",
        "client_connections": "1",
        "consumer_roles": "arn:aws:iam::1:role/x",
    }
    response = client_for(member_a).post(url, bad)
    assert response.status_code == 200
    assert "Line 1: an IAM role ARN, a space, then its consumer group." in response.content.decode()
    good = {**bad, "consumer_roles": "arn:aws:iam::123456789012:role/billing billing"}
    assert client_for(member_a).post(url, good).status_code == 302
    assert Application.objects.get(pk=world["orders"].pk).consumer_roles.endswith("role/billing billing")


def test_filing_from_the_accepted_plan_page_is_for_the_teams_members(
    world, member_a, member_b, finance, team_a, admin, network_profile, django_capture_on_commit_callbacks
):
    """The press only records the filing and enqueues its task on commit: no request is filed in the web
    request. The task files them; a second press while the filing is queued is refused in words."""
    from clusters.migration.models import Filing
    from clusters.models import Request

    plan = world["plan"]
    url = reverse("migration:plan-file-requests", args=[plan.pk])
    planning.accept_plan(actor=admin, plan_id=plan.pk)
    assert client_for(member_b).post(url, {"team": team_a.pk}).status_code == 403
    assert client_for(finance).post(url, {"team": team_a.pk}).status_code == 403
    assert not Request.objects.exists() and not Filing.objects.exists()
    with django_capture_on_commit_callbacks(execute=False) as enqueued:
        response = client_for(member_a).post(url, {"team": team_a.pk})
    assert response.status_code == 302
    assert response["Location"] == f"/migration/plans/{plan.pk}/#filing-{team_a.pk}"
    job = Filing.objects.get()
    assert (job.status, job.team, job.requested_by, len(enqueued)) == ("queued", team_a, member_a, 1)
    assert not Request.objects.exists()  # nothing filed in the web request

    again = client_for(member_a).post(url, {"team": team_a.pk}, follow=True)
    assert (
        "Team A&#x27;s requests from this plan are being filed already: wait for that filing to finish"
        in (again.content.decode())
    )
    assert Filing.objects.count() == 1

    enqueued[0]()  # the worker runs the task
    job.refresh_from_db()
    assert job.status == "done" and Request.objects.filter(team=team_a, requested_by=member_a).exists()


def test_the_filing_panel_polls_while_it_runs_and_is_for_the_team_and_admins(
    world, personas, member_a, team_a, admin, network_profile, django_capture_on_commit_callbacks
):
    from clusters.migration.models import Filing

    plan = planning.accept_plan(actor=admin, plan_id=world["plan"].pk)
    with django_capture_on_commit_callbacks(execute=False) as enqueued:
        client_for(member_a).post(
            reverse("migration:plan-file-requests", args=[plan.pk]), {"team": team_a.pk}
        )
    job = Filing.objects.get()
    url = reverse("migration:filing-status", args=[job.pk])
    for persona in ("member_b", "finance"):  # may not file for team A: the panel is not theirs to see
        assert client_for(personas[persona]).get(url, HTTP_HX_REQUEST="true").status_code == 404
    assert client_for(None).get(url).status_code == 302  # to sign in

    panel = client_for(member_a).get(url, HTTP_HX_REQUEST="true")
    assert panel.status_code == 200 and 'hx-trigger="every 2s"' in panel.content.decode()
    assert "Filing… queued, waiting for a worker." in panel.content.decode()
    Filing.objects.filter(pk=job.pk).update(status="running", done_count=3, total=7)
    for persona in (member_a, admin):
        panel = client_for(persona).get(url, HTTP_HX_REQUEST="true").content.decode()
        assert "Filing… 3 of 7" in panel and 'value="3"' in panel and "File Team A" not in panel
    page = client_for(member_a).get(reverse("migration:plan-detail", args=[plan.pk])).content.decode()
    assert "Filing… 3 of 7" in page  # without JavaScript: the state on reload
    assert client_for(member_a).get(url).status_code == 302  # not htmx: to the plan page

    Filing.objects.filter(pk=job.pk).update(status="queued")
    enqueued[0]()
    done = client_for(member_a).get(url, HTTP_HX_REQUEST="true")
    assert done.status_code == 286  # htmx stops polling
    text = done.content.decode()
    assert (
        "hx-trigger" not in text and "1 request filed; a platform admin other than Alice approves it." in text
    )
    request = Filing.objects.get().result[0]["request"]
    assert (
        f'<a href="/requests/{request}/">Request #{request}</a>: Dedicated team cluster legacy-team-a-1'
        in text
    )
    assert "File Team A's requests</button>" in text  # the button is back


@pytest.mark.parametrize("persona", ["anonymous", *VIEWERS])
def test_next_stages_are_opted_in_on_the_filing_form_shown_and_turned_off_per_role(
    world, personas, persona, member_a, team_a, admin, network_profile
):
    """The filing form's box opts its filer in (members of the team only: the press's own rule); the plan page
    says so to those who may file for the team and to admins, who turn it off there."""
    from clusters.migration.models import AutoFiling, Filing

    plan = planning.accept_plan(actor=admin, plan_id=world["plan"].pk)
    page_url = reverse("migration:plan-detail", args=[plan.pk])
    box = "File the next stages by themselves as they become possible"
    assert box in client_for(member_a).get(page_url).content.decode()
    press = reverse("migration:plan-file-requests", args=[plan.pk])
    off = reverse("migration:plan-next-stages-off", args=[plan.pk])
    client = client_for(personas[persona])
    if persona != "member_a":  # nobody else opts team A in
        response = client.post(press, {"team": team_a.pk, "next_stages": "on"})
        assert response.status_code == (302 if persona == "anonymous" else 403)
        assert not AutoFiling.objects.exists()
    response = client_for(member_a).post(press, {"team": team_a.pk, "next_stages": "on"}, follow=True)
    assert "The next stages are filed by themselves as they become possible." in response.content.decode()
    auto = AutoFiling.objects.get(status="on")
    assert (auto.requested_by, auto.team, auto.plan) == (member_a, team_a, plan)
    Filing.objects.update(status="done")  # its worker ran it: the form is back

    page = client.get(page_url).content.decode() if persona != "anonymous" else ""
    shown = "Next stages are filed automatically for Alice since " in page
    assert shown == (persona in ("member_a", "admin"))
    if shown:
        assert box not in page and f'action="{off}"' in page  # on already: no box, but "Turn off"
        assert ("File Team A's requests</button>" in page) == (persona == "member_a")

    response = client.post(off, {"team": team_a.pk})
    if persona == "anonymous":
        assert response.status_code == 302 and "/login/" in response["Location"]
    elif persona in ("member_b", "finance"):
        assert response.status_code == 403
    else:
        assert response.status_code == 302 and response["Location"] == f"{page_url}#filing-{team_a.pk}"
    auto.refresh_from_db()
    assert auto.status == ("off" if persona in ("member_a", "admin") else "on")
    if auto.status == "off":
        who = "Alice" if persona == "member_a" else "admin"
        assert auto.stopped_by == personas[persona] and auto.reason == f"Turned off by {who}."
        page = client_for(member_a).get(page_url).content.decode()
        assert "Next stages were filed automatically for Alice until " in page and box in page


def test_cutover_page_per_role(world, personas, admin, member_a, finance):
    from clusters.migration.models import Cutover

    plan = world["plan"]
    planning.accept_plan(actor=admin, plan_id=plan.pk)
    url = reverse("migration:cutovers", args=[plan.pk])
    for persona in ("member_a", "member_b", "finance"):
        assert client_for(personas[persona]).post(url).status_code == 403
    assert not Cutover.objects.exists()
    assert client_for(admin).post(url).status_code == 302
    item = Cutover.objects.order_by("position").first()
    for persona in VIEWERS:
        assert client_for(personas[persona]).get(url).status_code == 200
    step = reverse("migration:cutover-step", args=[item.pk, "advance"])
    assert client_for(member_a).post(step, {"expected_step": "replicating"}).status_code == 403
    assert client_for(member_a).get(reverse("migration:cutover-gate", args=[item.pk])).status_code == 403
    gate = client_for(admin).get(reverse("migration:cutover-gate", args=[item.pk]), HTTP_HX_REQUEST="true")
    assert "is not active yet" in gate.content.decode()  # no target cluster exists: blocked, with the reason
    assert client_for(admin).post(step, {"expected_step": "replicating"}).status_code == 302
    item.refresh_from_db()
    assert item.step == "replicating"
    page = client_for(admin).get(url).content.decode()
    assert "Still on the monolith" in page and "100.0 %" in page


def test_mm2_configuration_download_is_for_admins_and_parses_back(world, admin, member_a):
    from clusters.migration import cutover as cutover_service
    from clusters.migration import replication
    from clusters.migration.models import Cutover

    plan = planning.accept_plan(actor=admin, plan_id=world["plan"].pk)
    cutover_service.start_cutovers(actor=admin, plan_id=plan.pk)
    item = Cutover.objects.get(application__name="orders")
    url = reverse("migration:cutover-mm2", args=[item.pk])
    assert client_for(member_a).get(url).status_code == 403
    response = client_for(admin).get(url)
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    props = replication.parse_properties(response.content.decode())
    assert props["monolith->serverless.topics"] == r"orders\.audit,orders\.created"
    assert props["monolith->serverless.groups"] == "audit,billing,shipping"


# Every URL name of the migration pages and the test above that checks it per role (the authorization matrix
# in tests/test_authz_matrix.py exempts the namespace and points here).
COVERED = {
    "monolith-list": "test_every_signed_in_role_reads_the_pages_and_anonymous_is_sent_to_sign_in",
    "monolith-detail": "test_every_signed_in_role_reads_the_pages_and_anonymous_is_sent_to_sign_in",
    "applications": "test_every_signed_in_role_reads_the_pages_and_anonymous_is_sent_to_sign_in",
    "plans": "test_only_admins_register_read_upload_plan_move_and_accept",
    "plan-detail": "test_every_signed_in_role_reads_the_pages_and_anonymous_is_sent_to_sign_in",
    "monolith-register": "test_only_admins_register_read_upload_plan_move_and_accept",
    "monolith-edit": "test_only_admins_edit_the_monolith_settings",
    "inventory-read": "test_only_admins_register_read_upload_plan_move_and_accept",
    "inventory-upload": "test_only_admins_register_read_upload_plan_move_and_accept",
    "monolith-cost": "test_only_admins_register_read_upload_plan_move_and_accept",
    "applications-discover": "test_only_admins_register_read_upload_plan_move_and_accept",
    "plan-move": "test_only_admins_register_read_upload_plan_move_and_accept",
    "plan-split": "test_only_admins_split_and_merge_planned_clusters",
    "plan-merge": "test_only_admins_split_and_merge_planned_clusters",
    "plan-accept": "test_only_admins_register_read_upload_plan_move_and_accept",
    "application-claim": "test_claims_through_the_pages_follow_four_eyes",
    "claim-decide": "test_claims_through_the_pages_follow_four_eyes",
    "application-requirements": "test_requirements_are_edited_by_the_owning_team_only",
    "plan-file-requests": "test_filing_from_the_accepted_plan_page_is_for_the_teams_members",
    "filing-status": "test_the_filing_panel_polls_while_it_runs_and_is_for_the_team_and_admins",
    "plan-next-stages-off": "test_next_stages_are_opted_in_on_the_filing_form_shown_and_turned_off_per_role",
    "cutovers": "test_cutover_page_per_role",
    "cutover-gate": "test_cutover_page_per_role",
    "cutover-step": "test_cutover_page_per_role",
    "cutover-mm2": "test_mm2_configuration_download_is_for_admins_and_parses_back",
    "plan-compare": "test_plan_compare_per_role",
    "cutover-replicate": "test_start_replication_button_per_role",
}


def test_every_migration_url_is_covered_per_role():
    from clusters.migration import urls

    assert {pattern.name for pattern in urls.urlpatterns} == set(COVERED)
    from tests.clusters.migration import test_replication_launch

    tests_here = {*globals(), *vars(test_replication_launch)}
    assert all(name in tests_here for name in COVERED.values())


@pytest.mark.parametrize("persona", ["anonymous", *VIEWERS])
def test_plan_compare_per_role(world, personas, persona, admin):
    first = world["plan"]
    second = planning.create_plan(actor=admin, monolith_id=world["monolith"].pk, headroom_percent=50)
    response = client_for(personas[persona]).get(
        reverse("migration:plan-compare", args=[second.pk]), {"with": first.version}
    )
    if persona == "anonymous":
        assert response.status_code == 302
        return
    assert response.status_code == 200
    page = response.content.decode()
    assert "v1 and v2" in page
    assert ("Monthly cost: $" in page) == (persona in ("admin", "finance"))
    bad = client_for(personas[persona]).get(
        reverse("migration:plan-compare", args=[second.pk]), {"with": "x"}
    )
    assert bad.status_code == 404


def test_reject_claim_needs_a_reason_on_the_page(world, member_a, team_a, admin):
    search = Application.objects.get(name="search")
    inventory.claim_application(actor=member_a, application_id=search.pk, team=team_a)
    claim = ApplicationClaim.objects.get(application=search, status="pending")
    url = reverse("migration:claim-decide", args=[claim.pk, "reject"])
    response = client_for(admin).post(url, {"reason": ""}, follow=True)
    assert "Say why the claim is rejected" in response.content.decode()
    assert client_for(admin).post(url, {"reason": "It is search's"}).status_code == 302
    claim.refresh_from_db()
    assert claim.status == "rejected" and claim.reason == "It is search's"
    assert (
        client_for(admin).post(reverse("migration:claim-decide", args=[claim.pk, "maybe"])).status_code == 404
    )


@pytest.mark.parametrize(
    ("security", "mechanism", "shown"),
    [
        ("SASL_SSL", "SCRAM-SHA-512", "SASL/SCRAM-SHA-512 over TLS"),
        ("SASL_PLAINTEXT", "PLAIN", "SASL/PLAIN without TLS"),
        ("SSL", "", "TLS, no login"),
    ],
)
def test_the_login_reads_as_one_plain_phrase(admin, member_a, security, mechanism, shown):
    sasl = {"sasl_username": "portal", "password_env": "LEGACY_PASSWORD"} if mechanism else {}
    monolith = inventory.register_monolith(
        actor=admin,
        name="old",
        bootstrap="10.0.0.1:9096",
        security_protocol=security,
        sasl_mechanism=mechanism,
        **sasl,
    )
    for url in (reverse("migration:monolith-list"), reverse("migration:monolith-detail", args=[monolith.pk])):
        page = client_for(member_a).get(url).content.decode()
        assert shown in page and "((" not in page and ") (" not in page, url


SETTINGS = {
    "bootstrap": "10.0.0.9:9096",
    "security_protocol": "SASL_SSL",
    "sasl_mechanism": "SCRAM-SHA-512",
    "sasl_username": "portal",
    "password_env": "LEGACY_KAFKA_PASSWORD",
    "region": "eu-west-1",
    "mm2_plugin_arn": "arn:aws:kafkaconnect:eu-west-1:123456789012:custom-plugin/mm2/abcd",
    "mm2_plugin_revision": "3",
    "connect_role_arn": "arn:aws:iam::123456789012:role/msk-connect-mm2",
}


@pytest.mark.parametrize("persona", ["anonymous", "member_a", "member_b", "finance", "admin"])
def test_only_admins_edit_the_monolith_settings(monolith, personas, persona):
    url = reverse("migration:monolith-edit", args=[monolith.pk])
    client = client_for(personas[persona])
    get, post = client.get(url), client.post(url, SETTINGS)
    monolith.refresh_from_db()
    if persona == "admin":
        assert get.status_code == 200 and "Save the settings" in get.content.decode()
        assert post.status_code == 302 and monolith.bootstrap == "10.0.0.9:9096"
        assert client.get(reverse("migration:monolith-edit", args=[monolith.pk + 99])).status_code == 404
        detail = client.get(reverse("migration:monolith-detail", args=[monolith.pk])).content.decode()
        assert url in detail
        return
    expected = 302 if persona == "anonymous" else 403
    assert (get.status_code, post.status_code) == (expected, expected)
    assert monolith.bootstrap == "127.0.0.1:1" and not monolith.events.filter(action="monolith.updated")
    if persona != "anonymous":
        detail = client.get(reverse("migration:monolith-detail", args=[monolith.pk])).content.decode()
        assert url not in detail


def test_settings_set_only_at_registration_can_be_changed_later_and_each_change_is_recorded(monolith, admin):
    from portal.models import AuditEvent

    client = client_for(admin)
    response = client.post(reverse("migration:monolith-edit", args=[monolith.pk]), SETTINGS)
    assert response.status_code == 302
    monolith.refresh_from_db()
    assert (monolith.login_label, monolith.password_env, monolith.region) == (
        "SASL/SCRAM-SHA-512 over TLS",
        "LEGACY_KAFKA_PASSWORD",
        "eu-west-1",
    )
    assert (monolith.mm2_plugin_arn, monolith.mm2_plugin_revision) == (SETTINGS["mm2_plugin_arn"], 3)
    event = monolith.events.get(action="monolith.updated")
    changes = event.details["changes"]
    assert event.actor == admin
    assert changes["bootstrap"] == ["127.0.0.1:1", "10.0.0.9:9096"]
    assert changes["security_protocol"] == ["PLAINTEXT", "SASL_SSL"]
    assert changes["sasl_mechanism"] == ["(none)", "SCRAM-SHA-512"]
    assert "name" not in changes and "monthly_cost_usd" not in changes
    audit = AuditEvent.objects.get(action="migration.monolith.updated", actor=admin)
    from portal.audit_wording import action_label, detail_phrases

    assert action_label(audit.action) == "Monolith settings changed"
    (words,) = detail_phrases(audit)  # key order is the database's (PostgreSQL's jsonb sorts them)
    assert "bootstrap 127.0.0.1:1 → 10.0.0.9:9096" in words.lower()
    assert "security_protocol PLAINTEXT → SASL_SSL" in words
    # Saving the same settings again changes nothing and records nothing.
    client.post(reverse("migration:monolith-edit", args=[monolith.pk]), SETTINGS)
    assert monolith.events.filter(action="monolith.updated").count() == 1


def test_refused_settings_say_why_and_a_password_typed_by_mistake_is_not_shown_back(monolith, admin):
    url = reverse("migration:monolith-edit", args=[monolith.pk])
    response = client_for(admin).post(
        url, {**SETTINGS, "sasl_mechanism": "", "password_env": "hunter2-Secret!", "subnet_ids": "subnet-1"}
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "capital letters, digits and underscores" in page and "hunter2" not in page
    response = client_for(admin).post(url, {**SETTINGS, "sasl_mechanism": ""})
    assert "SASL needs a mechanism" in response.content.decode()
    assert 'value="LEGACY_KAFKA_PASSWORD"' in response.content.decode()  # a valid name is kept
    response = client_for(admin).post(
        url, {**SETTINGS, "msk_cluster_arn": "cluster/x", "subnet_ids": "subnet-1"}
    )
    page = response.content.decode()
    assert "An MSK cluster ARN starts with arn:aws:kafka:." in page and "Not subnet ids: subnet-1" in page
    monolith.refresh_from_db()
    assert monolith.security_protocol == "PLAINTEXT" and not monolith.events.filter(action="monolith.updated")


def _shared(plan) -> dict:
    """The world's planned cluster of the applications no team claimed: customers, payments, search, tiny."""
    return next(c for c in plan.result["clusters"] if "search" in c["applications"])


@pytest.mark.parametrize("persona", ["anonymous", "member_a", "member_b", "finance", "admin"])
def test_only_admins_split_and_merge_planned_clusters(world, personas, persona):
    plan = world["plan"]
    shared = _shared(plan)
    split = reverse("migration:plan-split", args=[plan.pk, shared["key"]])
    merge = reverse("migration:plan-merge", args=[plan.pk])
    client = client_for(personas[persona])
    detail = client.get(reverse("migration:plan-detail", args=[plan.pk])).content.decode()
    answers = [
        client.get(split),
        client.post(split, {"applications": ["tiny"]}),
        client.post(split, {"applications": ["tiny"]}, HTTP_HX_REQUEST="true"),
        client.post(merge, {"cluster": shared["key"], "into": shared["key"]}, HTTP_HX_REQUEST="true"),
    ]
    # htmx is sent to the sign-in page (HX-Redirect), which sends a signed-in user back: a reload.
    if persona == "anonymous":
        assert all(a.status_code == 302 and "/login/" in a["Location"] for a in answers[:2])
        assert all(a["HX-Redirect"] == "/login/" for a in answers[2:])
    elif persona != "admin":
        assert [a.status_code for a in answers[:2]] == [403] * 2
        assert all(a["HX-Redirect"] == "/login/" for a in answers[2:])
        assert split not in detail and merge not in detail
    else:
        assert split in detail and merge in detail
        assert answers[0].status_code == 200 and "Split legacy-unclaimed-" in answers[0].content.decode()
        assert answers[1].status_code == 302
        assert [a.status_code for a in answers[2:]] == [200, 200]
        missing = reverse("migration:plan-split", args=[plan.pk, "c99"])
        assert client.get(missing).status_code == 404
        assert client.get(reverse("migration:plan-split", args=[plan.pk + 99, "c1"])).status_code == 404
    assert MigrationPlan.objects.count() == (2 if persona == "admin" else 1)


def test_the_split_form_answers_live_with_the_loads_per_quota_and_saves_only_when_asked(world, admin):
    plan = world["plan"]
    shared = _shared(plan)
    url = reverse("migration:plan-split", args=[plan.pk, shared["key"]])
    client = client_for(admin)
    page = client.get(url).content.decode()
    assert 'hx-post="' + url + '"' in page and 'value="search"' in page and 'value="orders"' not in page

    live = client.post(url, {"applications": ["search"]}, HTTP_HX_REQUEST="true")
    fragment = live.content.decode()
    assert live.status_code == 200 and "<html" not in fragment
    assert "It fits." in fragment and '<span class="badge">new</span>' in fragment
    assert "Ingress: 40 of 200 MB/s (20.0&nbsp;%)" in fragment  # search alone on the new cluster
    assert "Ingress: 26 of 200 MB/s (13.0&nbsp;%, was 33.0&nbsp;%)" in fragment  # the others stay
    assert "After it: 4 clusters" in fragment and "a month (now 3, $" in fragment
    everything = {"applications": ["customers", "payments", "search", "tiny"]}
    refused = client.post(url, everything, HTTP_HX_REQUEST="true")
    assert (
        "not possible" in refused.content.decode()
        and "Leave at least one application" in refused.content.decode()
    )
    nothing = client.post(url, {}, HTTP_HX_REQUEST="true")
    assert "Choose the applications that go to the new cluster." in nothing.content.decode()
    # Without JavaScript, "Check without saving" shows the same answer in the page.
    checked = client.post(url, {"applications": ["search"], "check": "1"})
    assert checked.status_code == 200 and "It fits." in checked.content.decode()
    assert MigrationPlan.objects.count() == 1

    saved = client.post(url, {"applications": ["search"], "note": "search grows fast"})
    new = MigrationPlan.objects.get(version=2)
    assert saved.status_code == 302 and saved["Location"] == reverse("migration:plan-detail", args=[new.pk])
    assert new.change_note == "search grows fast" and new.based_on == plan
    compare = client.get(reverse("migration:plan-compare", args=[new.pk]), {"with": 1}).content.decode()
    assert "Only in v2: legacy-unclaimed-" in compare and "search: legacy-unclaimed-" in compare


def test_the_merge_form_answers_live_and_names_the_rule_a_merge_would_break(world, admin):
    customers = Application.objects.get(name="customers")
    inventory.update_requirements(actor=admin, application_id=customers.pk, contains_pii=True)
    plan = planning.create_plan(actor=admin, monolith_id=world["monolith"].pk)
    client = client_for(admin)
    where = {name: c["key"] for c in plan.result["clusters"] for name in c["applications"]}
    split = planning.split_cluster(
        actor=admin, plan_id=plan.pk, cluster=where["search"], applications=["tiny"]
    )
    url = reverse("migration:plan-merge", args=[split.pk])
    where_now = {name: c["key"] for c in split.result["clusters"] for name in c["applications"]}

    refused = client.post(
        url, {"cluster": where["customers"], "into": where["search"]}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "not possible" in refused and "PII never shares a cluster" in refused
    refused = client.post(url, {"cluster": where["clicks"], "into": where["search"]}, HTTP_HX_REQUEST="true")
    assert "keeps teams apart (team-b, unclaimed)" in refused.content.decode()
    half = client.post(url, {"cluster": where["clicks"]}, HTTP_HX_REQUEST="true").content.decode()
    assert "Merge into: Choose the cluster that takes its applications." in half

    live = client.post(
        url, {"cluster": where_now["tiny"], "into": where_now["search"]}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert (
        "It fits." in live
        and "goes away" in live
        and "Ingress: 61 of 200 MB/s (30.5&nbsp;%, was 30.0&nbsp;%)" in live
    )
    versions = MigrationPlan.objects.count()
    saved = client.post(url, {"cluster": where_now["tiny"], "into": where_now["search"]})
    merged = MigrationPlan.objects.get(version=versions + 1)
    assert saved.status_code == 302 and merged.change_note.startswith("Merged legacy-unclaimed-")
    assert len(merged.result["clusters"]) == len(plan.result["clusters"])
    # A refused merge without htmx goes back to the plan with the reasons, and saves nothing.
    back = client.post(url, {"cluster": where["customers"], "into": where["search"]}, follow=True)
    assert "PII never shares a cluster" in back.content.decode()
    assert MigrationPlan.objects.count() == versions + 1
