"""Applications are claimed by teams and the claims decided by an admin other than the claimer."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clusters.migration import cutover, execution, filing, inventory, planning, selectors, takeover
from clusters.migration.models import (
    Application,
    ApplicationClaim,
    Cutover,
    Filing,
    MigrationEvent,
    Replication,
)
from clusters.models import Request, Topic
from clusters.requests import services
from portal.errors import NotAllowed
from portal.models import AuditEvent, Membership
from tests import builders
from tests.clusters.migration.test_cutover import fake, started  # noqa: F401  (fixtures)
from tests.clusters.migration.test_execution import accepted_plan
from tests.clusters.migration.test_inventory_csv import GOOD
from tests.clusters.migration.test_planning import owned  # noqa: F401  (fixture)
from tests.clusters.migration.test_views import _action_cell
from tests.conftest import client_for


@pytest.fixture
def orders(monolith, admin, team_a, team_b):
    inventory.import_csv(actor=admin, monolith_id=monolith.pk, content=GOOD.encode())
    inventory.discover_applications(actor=admin, monolith_id=monolith.pk)
    return monolith.applications.get(name="orders")


def test_member_claims_admin_approves_and_the_team_owns_it(orders, member_a, team_a, admin):
    claim = inventory.claim_application(actor=member_a, application_id=orders.pk, team=team_a, note="ours")
    assert claim.status == ApplicationClaim.Status.PENDING
    inventory.decide_claim(actor=admin, claim_id=claim.pk, approve=True)
    orders.refresh_from_db()
    assert orders.team == team_a
    actions = list(MigrationEvent.objects.order_by("id").values_list("action", "from_status", "to_status"))
    assert ("claim.approved", "pending", "approved") in actions
    assert AuditEvent.objects.filter(action="migration.claim.approved", team=team_a).exists()


def test_nobody_decides_their_own_claim(orders, admin, team_a):
    Membership.objects.create(team=team_a, user=admin)
    claim = inventory.claim_application(actor=admin, application_id=orders.pk, team=team_a)
    with pytest.raises(NotAllowed):
        inventory.decide_claim(actor=admin, claim_id=claim.pk, approve=True)


def test_members_cannot_decide_nor_claim_for_other_teams(orders, member_a, member_b, team_a, team_b):
    with pytest.raises(NotAllowed):
        inventory.claim_application(actor=member_b, application_id=orders.pk, team=team_a)
    claim = inventory.claim_application(actor=member_a, application_id=orders.pk, team=team_a)
    with pytest.raises(NotAllowed):
        inventory.decide_claim(actor=member_b, claim_id=claim.pk, approve=True)


def test_one_pending_claim_at_a_time_and_a_decision_happens_once(
    orders, member_a, member_b, team_a, team_b, admin, second_admin
):
    claim = inventory.claim_application(actor=member_a, application_id=orders.pk, team=team_a)
    with pytest.raises(ValidationError, match="already has a claim waiting"):
        inventory.claim_application(actor=member_b, application_id=orders.pk, team=team_b)
    inventory.decide_claim(actor=admin, claim_id=claim.pk, approve=False, reason="It is team B's")
    with pytest.raises(ValidationError, match="already rejected"):
        inventory.decide_claim(actor=second_admin, claim_id=claim.pk, approve=True)
    orders.refresh_from_db()
    assert orders.team is None


def test_a_second_claim_is_refused_naming_the_team_whose_claim_waits(
    orders, member_a, member_b, team_a, team_b
):
    inventory.claim_application(actor=member_a, application_id=orders.pk, team=team_a)
    with pytest.raises(ValidationError) as refused:
        inventory.claim_application(actor=member_b, application_id=orders.pk, team=team_b)
    assert refused.value.message_dict == {
        "team": [
            "orders already has a claim waiting for an admin by Team A: a new claim can be made once it is "
            "decided."
        ]
    }
    assert ApplicationClaim.objects.filter(application=orders).count() == 1


def test_another_team_asks_to_take_over_an_owned_application_and_an_admin_decides(
    orders, member_a, member_b, team_a, team_b, admin
):
    """Claiming an application another team owns is a takeover request: it waits for an admin like any claim,
    its event names the current owner, and approved it changes owner (the decision keeps the previous one)."""
    claim = inventory.claim_application(actor=member_a, application_id=orders.pk, team=team_a)
    inventory.decide_claim(actor=admin, claim_id=claim.pk, approve=True)
    with pytest.raises(ValidationError, match="Team A already owns orders"):
        inventory.claim_application(actor=member_a, application_id=orders.pk, team=team_a)
    takeover = inventory.claim_application(
        actor=member_b, application_id=orders.pk, team=team_b, note="We run it since March"
    )
    submitted = MigrationEvent.objects.filter(action="claim.submitted", object_id=str(takeover.pk)).get()
    assert submitted.details == {"application": "orders", "team": "team-b", "owner": "team-a"}
    orders.refresh_from_db()
    assert orders.team == team_a  # until an admin decides
    inventory.decide_claim(actor=admin, claim_id=takeover.pk, approve=True)
    orders.refresh_from_db()
    assert orders.team == team_b
    approved = MigrationEvent.objects.filter(action="claim.approved", object_id=str(takeover.pk)).get()
    assert approved.details["previous_team"] == "team-a"


def test_rejection_needs_a_reason(orders, member_a, team_a, admin):
    claim = inventory.claim_application(actor=member_a, application_id=orders.pk, team=team_a)
    with pytest.raises(ValidationError, match="Say why"):
        inventory.decide_claim(actor=admin, claim_id=claim.pk, approve=False, reason=" ")


def test_unclaimed_topics_are_listed_until_their_application_is_owned(
    orders, monolith, member_a, team_a, admin
):
    assert [row.topic for row in selectors.unclaimed_topics(monolith)] == [
        "clicks",
        "orders.audit",
        "orders.created",
    ]
    claim = inventory.claim_application(actor=member_a, application_id=orders.pk, team=team_a)
    inventory.decide_claim(actor=admin, claim_id=claim.pk, approve=True)
    assert [row.topic for row in selectors.unclaimed_topics(monolith)] == ["clicks"]


def test_migration_events_read_as_words_in_the_audit_trail(orders, member_a, team_a, admin):
    from portal.audit_wording import action_label

    claim = inventory.claim_application(actor=member_a, application_id=orders.pk, team=team_a)
    inventory.decide_claim(actor=admin, claim_id=claim.pk, approve=True)
    codes = set(AuditEvent.objects.filter(action__startswith="migration.").values_list("action", flat=True))
    assert {"migration.claim.submitted", "migration.claim.approved", "migration.inventory.imported"} <= codes
    assert action_label("migration.claim.approved") == "Application claim approved"
    assert action_label("migration.") == "Migration"


# --- A takeover against where the application's migration is (clusters/migration/takeover.py) -------------


def _ask_to_take_over(member, team, name="orders"):
    application = Application.objects.get(name=name)
    return inventory.claim_application(
        actor=member, application_id=application.pk, team=team, note="ours now"
    )


def test_a_takeover_mid_cutover_is_refused_in_words_and_the_queue_says_why_before_anyone_clicks(
    started,  # noqa: F811
    fake,  # noqa: F811
    admin,
    member_b,
    team_a,
    team_b,
):
    """orders' cutover is past its first step and its replication runs: approving a takeover is refused, naming
    the step and the replication; nothing changes and nothing is logged. The queue shows why instead of Approve."""
    orders = started["orders"]
    fake.target = fake.source
    cutover.advance(actor=admin, cutover_id=orders.pk, expected_step="replicating")
    Replication.objects.create(
        cutover=orders,
        tool=Replication.Tool.MM2,
        name="mig-legacy-orders",
        status="running",
        requested_by=admin,
    )
    claim = _ask_to_take_over(member_b, team_b)
    events_before = MigrationEvent.objects.count()

    with pytest.raises(ValidationError) as refused:
        inventory.decide_claim(actor=admin, claim_id=claim.pk, approve=True)
    assert refused.value.messages == [
        "Team B cannot take over orders from Team A now.",
        f"Its cutover from plan v{started['plan'].version} is at step “Replication verified” (target "
        f"{orders.target_cluster}, MirrorMaker 2 on MSK Connect mig-legacy-orders running): it moves Team A's "
        "clients onto what was filed for Team A, so its owner cannot change mid-way.",
    ]
    claim.refresh_from_db()
    assert claim.status == ApplicationClaim.Status.PENDING and claim.decided_by is None
    assert Application.objects.get(name="orders").team == team_a
    assert MigrationEvent.objects.count() == events_before

    page = client_for(admin).get(reverse("migration:applications", args=[claim.application.monolith_id]))
    html = page.content.decode()
    assert "Cannot be approved now: the migration of orders is under way for Team A." in html
    assert "is at step “Replication verified”" in html
    assert reverse("migration:claim-decide", args=[claim.pk, "approve"]) not in html
    assert reverse("migration:claim-decide", args=[claim.pk, "reject"]) in html  # rejecting stays possible

    response = client_for(admin).post(
        reverse("migration:claim-decide", args=[claim.pk, "approve"]), follow=True
    )
    assert response.status_code == 200
    assert "Team B cannot take over orders from Team A now." in response.content.decode()
    inventory.decide_claim(actor=admin, claim_id=claim.pk, approve=False, reason="Mid-cutover")


def test_a_takeover_is_refused_once_requests_were_filed_for_the_owner_naming_them(
    owned,  # noqa: F811
    admin,
    second_admin,
    member_a,
    member_b,
    team_a,
    team_b,
    network_profile,
):
    plan = accepted_plan(admin, owned)
    execution.file_requests(actor=member_a, plan_id=plan.pk, team=team_a)  # clusters
    for request in Request.objects.filter(status=Request.Status.SUBMITTED):
        services.approve_request(request_id=request.pk, actor=second_admin)
    execution.file_requests(actor=member_a, plan_id=plan.pk, team=team_a)  # topics
    filed = sorted(
        Request.objects.filter(
            kind=Request.Kind.TOPIC_CREATE, payload__name__startswith="orders."
        ).values_list("pk", flat=True)
    )
    claim = _ask_to_take_over(member_b, team_b)
    with pytest.raises(ValidationError) as refused:
        inventory.decide_claim(actor=admin, claim_id=claim.pk, approve=True)
    assert refused.value.messages[1].startswith(
        f"Requests #{filed[0]}, #{filed[1]} were filed for Team A (its topics and access to them): they stay "
        "Team A's whoever owns orders."
    )
    assert Application.objects.get(name="orders").team == team_a


def test_a_takeover_waits_while_the_owners_filing_runs(
    owned,  # noqa: F811
    admin,
    member_a,
    member_b,
    team_a,
    team_b,
    network_profile,
    django_capture_on_commit_callbacks,
):
    plan = accepted_plan(admin, owned)
    with django_capture_on_commit_callbacks():  # queued: no worker has run it yet
        job = filing.start(actor=member_a, plan_id=plan.pk, team=team_a)
    claim = _ask_to_take_over(member_b, team_b)
    with pytest.raises(ValidationError) as refused:
        inventory.decide_claim(actor=admin, claim_id=claim.pk, approve=True)
    assert f"Team A's requests from plan v{plan.version} are being filed now" in " ".join(
        refused.value.messages
    )
    assert Application.objects.get(name="orders").team == team_a
    filing.run(job.pk)  # it ends having filed the clusters, which do not stand in the way (topics would)
    inventory.decide_claim(actor=admin, claim_id=claim.pk, approve=True)
    assert Application.objects.get(name="orders").team == team_b


def test_a_takeover_before_anything_was_filed_is_approved_and_the_accepted_plan_needs_a_new_version(
    owned,  # noqa: F811
    admin,
    member_b,
    team_a,
    team_b,
    network_profile,
):
    """Approved while nothing was filed for orders: its event names the plan it outdates; that plan files and
    cuts over nothing of orders, a draft computed before cannot be accepted, and a new version puts it right."""
    accepted = accepted_plan(admin, owned)
    earlier_draft = planning.create_plan(actor=admin, monolith_id=owned.pk)
    claim = _ask_to_take_over(member_b, team_b)

    page = client_for(admin).get(reverse("migration:applications", args=[owned.pk])).content.decode()
    assert (
        f"Accepted plan v{accepted.version} places orders with Team A: approving leaves it needing a new "
        f"version, and nothing of orders is filed or cut over from v{accepted.version}."
    ) in page
    assert reverse("migration:claim-decide", args=[claim.pk, "approve"]) in page

    inventory.decide_claim(actor=admin, claim_id=claim.pk, approve=True)
    assert Application.objects.get(name="orders").team == team_b
    event = MigrationEvent.objects.get(action="claim.approved", object_id=str(claim.pk))
    assert event.details["previous_team"] == "team-a" and event.details["outdates_plan"] == accepted.version

    assert list(takeover.taken_over_since(accepted)) == ["orders"]
    mine = execution.plan_items(accepted, team_b)
    orders_items = [item for item in mine if "orders" in item.label]
    assert [(item.label, item.state) for item in orders_items] == [("Topics and access of orders", "waiting")]
    assert "Waits for a new plan version: orders was taken over by Team B from Team A" in orders_items[0].note
    assert not any("orders" in item.label for item in execution.plan_items(accepted, team_a))
    cutovers = cutover.start_cutovers(actor=admin, plan_id=accepted.pk)
    assert "orders" not in {item.application.name for item in cutovers} and cutovers
    plan_page = client_for(admin).get(reverse("migration:plan-detail", args=[accepted.pk])).content.decode()
    assert f"Plan v{accepted.version} needs a new version:" in plan_page

    with pytest.raises(
        ValidationError, match=f"Version {earlier_draft.version} was computed before orders was"
    ):
        planning.accept_plan(actor=admin, plan_id=earlier_draft.pk)
    fresh = planning.create_plan(actor=admin, monolith_id=owned.pk)
    assert takeover.taken_over_since(fresh) == {}
    fresh = planning.accept_plan(actor=admin, plan_id=fresh.pk)
    assert any(item.label == "Topic orders.created" for item in execution.plan_items(fresh, team_b))


def test_a_takeover_given_back_leaves_the_plan_as_it_was(owned, admin, member_a, member_b, team_a, team_b):  # noqa: F811
    """Taken over after the plan was computed, then given back to the owner the plan has: nothing to redo."""
    plan = planning.create_plan(actor=admin, monolith_id=owned.pk)
    inventory.decide_claim(actor=admin, claim_id=_ask_to_take_over(member_b, team_b).pk, approve=True)
    assert [taken.sentence.split(" (")[0] for taken in takeover.taken_over_since(plan).values()] == [
        "orders was taken over by Team B from Team A"
    ]
    inventory.decide_claim(actor=admin, claim_id=_ask_to_take_over(member_a, team_a).pk, approve=True)
    assert takeover.taken_over_since(plan) == {}
    assert planning.accept_plan(actor=admin, plan_id=plan.pk).status == "accepted"


# --- The page offers a takeover only where its approval would not be refused -----------------------------


@pytest.fixture
def orders_filed(owned, cluster_a):  # noqa: F811
    """orders.created is live as Team A's on team-a-dev, in the monolith's region: orders cannot change owner.
    payments and customers, Team A's too, have nothing filed; clicks, search and tiny are Team B's."""
    builders.topic(cluster_a, "orders.created")
    return owned


@pytest.mark.parametrize("persona", ["anonymous", "member_a", "member_b", "admin", "finance"])
def test_the_page_offers_a_takeover_only_where_its_approval_would_not_be_refused(
    orders_filed, personas, persona
):
    """Another team's member sees, where "Ask to take over" would be, why no takeover of orders can be
    approved (the rule the approval applies, `takeover.blockers`), and the button where it can; the owner's
    members, admins and finance are offered no takeover of it, nor told why; anonymous signs in first."""
    url = reverse("migration:applications", args=[orders_filed.pk])
    response = client_for(personas[persona]).get(url)
    if persona == "anonymous":
        assert response.status_code == 302 and "/login/" in response["Location"]
        return
    page = response.content.decode()
    orders = _action_cell(page, "orders")
    reason = (
        "1 of its topics is on team-a-dev as Team A's: they stay Team A's whoever owns orders. Until Team A "
        "cancels what waits (or an admin rejects it) and deletes what was created, orders cannot change owner."
    )
    assert takeover.blockers(Application.objects.get(name="orders")) == [reason]
    if persona == "member_b":
        assert "<button" not in orders and "<form" not in orders
        assert "No takeover of orders from Team A can be approved now:" in orders
        assert f"<li>{reason.replace(chr(39), '&#x27;')}</li>" in orders
        payments = _action_cell(page, "payments")  # nothing filed: offered
        assert (
            'Ask to take over<span class="visually-hidden"> payments</span> from Team A</button>' in payments
        )
        assert "No takeover" not in payments
    else:
        assert "No takeover" not in page and "Ask to take over<span" not in _action_cell(page, "orders")
    if persona == "member_a":  # Team B's applications, with nothing filed, are offered to Team A
        assert 'Ask to take over<span class="visually-hidden"> clicks</span> from Team B</button>' in page
    if persona in ("admin", "finance"):
        assert "Ask to take over" not in page


def test_a_takeover_is_offered_again_once_what_stood_in_the_way_is_gone(orders_filed, member_b):
    """The page follows the rule: the topic deleted, the button is back, and the approval goes through."""
    url = reverse("migration:applications", args=[orders_filed.pk])
    assert "<button" not in _action_cell(client_for(member_b).get(url).content.decode(), "orders")
    Topic.objects.filter(name="orders.created").update(status=Topic.Status.DELETED)
    orders = _action_cell(client_for(member_b).get(url).content.decode(), "orders")
    assert 'Ask to take over<span class="visually-hidden"> orders</span> from Team A</button>' in orders


def test_every_reason_is_found_for_many_applications_in_the_same_few_queries(
    owned,  # noqa: F811
    admin,
    member_a,
    team_a,
    team_b,
    cluster_a,
    member_b,
    network_profile,
):
    """`blockers_of` asks one query per kind of reason for all the applications together (the applications
    page asks for every one it could offer), and each gets its own reasons: a topic and access to it (orders),
    a topic request (payments), a cutover done (search), a filing running (Team B's: clicks, search, tiny);
    customers is free. The approval refuses each with the same words."""
    topic = builders.topic(cluster_a, "orders.created")
    grant = services.submit_request(
        actor=member_a,
        prepared=services.prepare_access_grant(
            actor=member_a,
            team=team_a,
            cluster=cluster_a,
            topic=topic,
            entry=builders.produce_access()[0],
            justification="orders' producer",
        ),
    )
    create = builders.topic_request(member_a, cluster_a, "payments.events", name_as_is=True)
    plan = accepted_plan(admin, owned)
    search = Application.objects.get(name="search")
    Cutover.objects.create(
        plan=plan, application=search, target_cluster="legacy-team-b-1", position=1, step=Cutover.Step.DONE
    )
    Filing.objects.create(plan=plan, team=team_b, requested_by=admin)  # queued
    applications = list(
        owned.applications.select_related("team", "monolith").prefetch_related("topic_links").order_by("name")
    )

    with CaptureQueriesContext(connection) as every:
        found = takeover.blockers_of(applications)
    # cutovers, their replications, filings, topics, topic requests, access requests: one query each at most
    assert len(every) <= 6 < len(applications) * 3

    filing = (
        f"Team B's requests from plan v{plan.version} are being filed now: {{}} can change owner once that "
        "filing has finished."
    )
    assert {Application.objects.get(pk=pk).name: reasons for pk, reasons in found.items()} == {
        "clicks": [filing.format("clicks")],
        "customers": [],
        "orders": [
            f"Request #{grant.pk} was filed for Team A (its topics and access to them); 1 of its topics is on "
            "team-a-dev as Team A's: they stay Team A's whoever owns orders. Until Team A cancels what waits (or an "
            "admin rejects it) and deletes what was created, orders cannot change owner."
        ],
        "payments": [
            f"Request #{create.pk} was filed for Team A (its topics and access to them): they stay Team A's "
            "whoever owns payments. Until Team A cancels what waits (or an admin rejects it) and deletes what was "
            "created, payments cannot change owner."
        ],
        "search": [
            f"search is migrated: its cutover from plan v{plan.version} is done and its topics are on "
            "legacy-team-b-1 as Team B's topics. The migration is over for it; who owns those topics is not "
            "changed here.",
            filing.format("search"),
        ],
        "tiny": [filing.format("tiny")],
    }
    for application in applications:  # the approval refuses with the same words, one application at a time
        taker = team_b if application.team_id == team_a.pk else team_a
        member = member_a if taker == team_a else member_b
        claim = inventory.claim_application(actor=member, application_id=application.pk, team=taker)
        reasons = found[application.pk]
        if not reasons:
            continue
        with pytest.raises(ValidationError) as refused:
            inventory.decide_claim(actor=admin, claim_id=claim.pk, approve=True)
        assert refused.value.messages[1:] == reasons
