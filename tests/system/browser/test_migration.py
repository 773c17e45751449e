"""The migration assistant walked through in a real browser: inventory from a file, applications found and
claimed, the claim approved by an admin, a plan computed, a move refused live (htmx), the plan accepted with
what the rules refuse listed, the team's requests filed, and the cutover board with its first gate blocked until the cluster is live."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from clusters.migration import filing, inventory, tasks
from clusters.migration.models import Monolith
from clusters.models import Request
from tests.system.browser.test_request_flow import sign_in, sign_out

pytestmark = pytest.mark.browser


def _keep(page: Page, name: str) -> None:
    """With PORTAL_SCREENSHOTS set (make screenshots), keep a full-page PNG of the step."""
    if folder := os.environ.get("PORTAL_SCREENSHOTS"):
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"migration-{name}.png"), full_page=True)


FILE = (
    "topic,partitions,retention_ms,peak_in_mbps,peak_out_mbps,application,team,consumer_groups\n"
    "orders.created,12,604800000,30,60,orders,team-a,billing;shipping\n"
    "clicks.raw,4,86400000,60,120,clicks,team-b,analytics\n"
)


def test_migration_from_inventory_to_cutover(
    page: Page, live_server, admin, member_a, member_b, team_a, team_b, network_profile, monkeypatch
):
    page.set_default_timeout(15_000)
    monolith = inventory.register_monolith(
        actor=admin, name="legacy", bootstrap="", security_protocol=Monolith.Security.PLAINTEXT
    )

    # 1. Inventory from a file, then applications found in it.
    sign_in(page, live_server, admin.username)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Migration").click()
    page.get_by_role("link", name="legacy").click()
    page.get_by_label("File").set_input_files(
        files=[{"name": "legacy.csv", "mimeType": "text/csv", "buffer": FILE.encode()}]
    )
    page.get_by_role("button", name="Upload CSV").click()
    expect(page.get_by_text("Imported 2 topics as inventory #1.")).to_be_visible()
    expect(page.get_by_role("table", name=re.compile("Topics"))).to_contain_text("orders.created")
    _keep(page, "inventory")
    page.get_by_role("link", name="2. Applications and requirements").click()
    page.get_by_role("button", name="Find applications in the newest inventory").click()
    expect(page.get_by_text("2 new applications found.")).to_be_visible()
    sign_out(page, live_server)

    # 2. A member claims the application the file says is theirs.
    sign_in(page, live_server, member_a.username)
    page.goto(f"{live_server.url}/migration/{monolith.pk}/applications/")
    page.get_by_role("button", name="Claim orders").click()
    expect(page.get_by_text("Claim for orders sent; a platform admin decides.")).to_be_visible()
    sign_out(page, live_server)
    clicks = monolith.applications.get(name="clicks")
    inventory.claim_application(actor=member_b, application_id=clicks.pk, team=team_b)

    # 3. An admin approves the claim and computes a plan.
    sign_in(page, live_server, admin.username)
    page.goto(f"{live_server.url}/migration/{monolith.pk}/applications/")
    page.get_by_role("button", name="Approve Team A for orders").click()
    expect(page.get_by_text("Claim approved.")).to_be_visible()
    page.get_by_role("button", name="Approve Team B for clicks").click()
    expect(page.get_by_text("Claim approved.")).to_be_visible()
    sign_out(page, live_server)

    # The owning team states its requirements: orders cannot take duplicates, so the plan names a stream job.
    sign_in(page, live_server, member_a.username)
    page.goto(f"{live_server.url}/migration/{monolith.pk}/applications/")
    page.get_by_role("link", name="Requirements of orders").click()
    page.get_by_label("Tolerates duplicates").uncheck()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Requirements of orders saved.")).to_be_visible()
    _keep(page, "requirements")
    sign_out(page, live_server)
    sign_in(page, live_server, admin.username)
    page.goto(f"{live_server.url}/migration/{monolith.pk}/applications/")
    page.get_by_role("link", name="3. Plans").click()
    page.get_by_role("button", name="Compute the plan").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Plan v1")
    expect(page.get_by_role("table", name="Planned clusters")).to_contain_text("orders")
    expect(page.get_by_text("exactly-once job: orders cannot tolerate duplicates")).to_be_visible()

    # A move across teams is refused as soon as it is chosen (htmx), before anything is saved.
    page.get_by_label("Application").select_option("orders")
    other = next(c for c in monolith.plans.get().result["clusters"] if "clicks" in c["applications"])
    page.get_by_label("To cluster").select_option(other["key"])
    expect(page.locator("#move-check")).to_contain_text("This move is not possible")
    expect(page.locator("#move-check")).to_contain_text("team team-a")
    _keep(page, "plan")
    page.get_by_role("button", name="Accept this version").click()
    expect(page.get_by_text("Version 1 is the accepted plan.")).to_be_visible()
    # Before anything is filed the admin sees what the rules refuse, team by team: clicks.raw is too hot
    # for its 4 partitions, and replication keeps partition counts.
    team_b_items = page.get_by_role("table", name="Requests of Team B from this plan")
    expect(team_b_items.get_by_role("row", name=re.compile("Topic clicks.raw"))).to_contain_text("Refused")
    expect(team_b_items).to_contain_text("needs 12 partitions, not 4")
    expect(page.get_by_role("button", name=re.compile("File .* requests"))).to_have_count(0)  # not in a team
    _keep(page, "plan-accepted")
    sign_out(page, live_server)

    # 4. The member files the team's share as ordinary requests: the cluster now, its topics once approved.
    sign_in(page, live_server, member_a.username)
    page.goto(f"{live_server.url}/migration/{monolith.pk}/plans/")
    page.get_by_role("link", name="v1").click()
    expect(page.get_by_role("table", name="Requests of Team B from this plan")).to_have_count(0)
    # The press only queues the filing (its task held here, as if no worker had taken it yet); the panel polls
    # until a worker has filed, then shows the result and the items as they now stand.
    held = []
    monkeypatch.setattr(tasks.run_filing, "apply_async", lambda args, **options: held.append(args))
    page.get_by_role("button", name="File Team A's requests").click()
    expect(page.get_by_text("Filing… queued, waiting for a worker.")).to_be_visible()
    expect(page.get_by_role("button", name="File Team A's requests")).to_have_count(0)
    assert not Request.objects.exists()
    _keep(page, "plan-filing")
    assert filing.run(*held[0]) == "done"
    expect(
        page.get_by_text(re.compile(r"1 request filed; a platform admin other than Alice approves it"))
    ).to_be_visible()
    expect(page.get_by_role("button", name="File Team A's requests")).to_be_visible()
    items = page.get_by_role("table", name="Requests of Team A from this plan")
    row = items.get_by_role("row", name=re.compile("Topic orders.created"))
    expect(row).to_contain_text("Waiting")
    expect(row).to_contain_text(
        re.compile(r"Waits for cluster legacy-team-a-1: request #\d+ waits for approval")
    )
    _keep(page, "plan-filed")
    assert Request.objects.filter(team=team_a, status="submitted").count() == 1
    sign_out(page, live_server)

    # 5. The admin starts the cutover: the first gate waits for the new cluster to be live.
    sign_in(page, live_server, admin.username)
    page.goto(f"{live_server.url}/migration/{monolith.pk}/plans/")
    page.get_by_role("link", name="v1").click()
    page.get_by_role("link", name="Cutover of this plan").click()
    page.get_by_role("button", name="Start cutovers for every application of this plan").click()
    table = page.get_by_role("table", name="Applications and their step")
    expect(table).to_contain_text("orders")
    expect(table).to_contain_text("is not active yet")
    expect(page.get_by_text(re.compile(r"Still on the monolith: 100\.0 %"))).to_be_visible()
    expect(table).to_contain_text("Needs an exactly-once stream job, not plain replication")
    _keep(page, "cutover")


def _owned_by_team_a(file: str, admin, member_a, team_a) -> Monolith:
    """A monolith inventoried from `file`, its applications found and all claimed by team A (approved)."""
    monolith = inventory.register_monolith(
        actor=admin, name="legacy", bootstrap="10.0.0.1:9096", security_protocol=Monolith.Security.PLAINTEXT
    )
    inventory.import_csv(actor=admin, monolith_id=monolith.pk, content=file.encode())
    inventory.discover_applications(actor=admin, monolith_id=monolith.pk)
    for application in monolith.applications.all():
        claim = inventory.claim_application(actor=member_a, application_id=application.pk, team=team_a)
        inventory.decide_claim(actor=admin, claim_id=claim.pk, approve=True)
    return monolith


def _admin_at(browser, live_server, admin, width: str):
    """A browser context at that width (CSP bypassed only to inject axe), signed in as `admin`."""
    from tests.system.browser.test_tour import WIDTHS

    context = browser.new_context(viewport=WIDTHS[width], bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    sign_in(page, live_server, admin.username)
    return context, page


EDIT_FILE = (
    "topic,partitions,retention_ms,peak_in_mbps,peak_out_mbps,application,team,consumer_groups\n"
    "orders.created,12,604800000,30,60,orders,team-a,billing;shipping\n"
    "payments.events,6,604800000,20,40,payments,team-a,ledger\n"
    "refunds.events,3,604800000,5,10,refunds,team-a,ledger\n"
    "customers.pii,6,604800000,5,10,customers,team-a,crm\n"
)


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_plan_edits_are_checked_live_and_the_monolith_settings_edited(
    browser, live_server, admin, member_a, team_a, width
):
    """Split a planned cluster and merge it back with the live check (htmx) at desktop and phone width, then
    compare the versions and edit the monolith's settings; every page fits the screen and passes axe."""
    from clusters.migration import planning
    from tests.system.browser.test_tour import Findings, check_page

    monolith = _owned_by_team_a(EDIT_FILE, admin, member_a, team_a)
    customers = monolith.applications.get(name="customers")
    inventory.update_requirements(actor=admin, application_id=customers.pk, contains_pii=True)
    plan = planning.create_plan(actor=admin, monolith_id=monolith.pk)
    shared = next(c for c in plan.result["clusters"] if "orders" in c["applications"])
    pii = next(c for c in plan.result["clusters"] if "customers" in c["applications"])
    assert sorted(shared["applications"]) == ["orders", "payments", "refunds"]

    findings = Findings()
    context, page = _admin_at(browser, live_server, admin, width)
    try:
        page.goto(f"{live_server.url}/migration/plans/{plan.pk}/")
        check_page(page, f"{width} plan", findings, None, "")
        page.get_by_role("link", name=f"Split {shared['name']}").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Split {shared['name']}")

        # Ticking an application answers at once with both clusters' loads; nothing is saved yet.
        page.get_by_label("payments").check()
        check = page.locator("#split-check")
        expect(check).to_contain_text("It fits.")
        expect(check).to_contain_text("Ingress: 20 of 200 MB/s (10.0 %)")
        expect(check).to_contain_text("was 27.5 %")
        page.get_by_label("orders").check()
        page.get_by_label("refunds").check()
        expect(check).to_contain_text("This split is not possible")
        expect(check).to_contain_text("Leave at least one application")
        page.get_by_label("orders").uncheck()
        page.get_by_label("refunds").uncheck()
        expect(check).to_contain_text("It fits.")
        check_page(page, f"{width} split", findings, None, "")
        _keep(page, f"{width}-split")
        assert monolith.plans.count() == 1
        page.get_by_role("button", name="Save as a new version").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Plan v2")
        expect(page.get_by_text(f"Version 2 saved: Split {shared['name']}: payments")).to_be_visible()

        # Merging the PII cluster is refused in words; merging the new cluster back fits.
        second = monolith.plans.get(version=2)
        new = next(c for c in second.result["clusters"] if "payments" in c["applications"])
        page.get_by_label("Cluster that goes away").select_option(pii["key"])
        page.get_by_label("Merge into").select_option(shared["key"])
        merge = page.locator("#merge-check")
        expect(merge).to_contain_text("This merge is not possible")
        expect(merge).to_contain_text("PII never shares a cluster with data that is not PII.")
        page.get_by_label("Cluster that goes away").select_option(new["key"])
        expect(merge).to_contain_text("It fits.")
        expect(merge).to_contain_text(f"{new['name']} goes away.")
        check_page(page, f"{width} merge", findings, None, "")
        _keep(page, f"{width}-merge")
        page.locator("#merge-check").locator("xpath=..").get_by_role(
            "button", name="Save as a new version"
        ).click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Plan v3")

        # Versions compare: v3 against v2 has the split-off cluster only in v2.
        page.get_by_label("Compare with").select_option("2")
        page.get_by_role("button", name="Compare").click()
        expect(page.get_by_text(f"Only in v2: {new['name']}")).to_be_visible()
        check_page(page, f"{width} compare", findings, None, "")
        _keep(page, f"{width}-compare")

        # The monolith's settings after registration.
        page.goto(f"{live_server.url}/migration/{monolith.pk}/")
        page.get_by_role("link", name="Edit the connection and replication settings").click()
        page.get_by_label("Security protocol").select_option("SASL_SSL")
        page.get_by_label("SASL mechanism").select_option("SCRAM-SHA-512")
        page.get_by_label("SASL user name").fill("portal")
        page.get_by_label("Password environment variable").fill("not a name!")
        page.get_by_role("button", name="Save the settings").click()
        expect(page.get_by_text("capital letters, digits and underscores")).to_be_visible()
        expect(page.get_by_label("Password environment variable")).to_have_value("")
        check_page(page, f"{width} settings", findings, None, "")
        _keep(page, f"{width}-settings")
        page.get_by_label("Password environment variable").fill("LEGACY_KAFKA_PASSWORD")
        page.get_by_role("button", name="Save the settings").click()
        expect(page.get_by_text("The settings of legacy are saved.")).to_be_visible()
        expect(page.get_by_text("SASL/SCRAM-SHA-512 over TLS")).to_be_visible()
        page.get_by_role("link", name="Migration", exact=True).first.click()
        check_page(page, f"{width} monoliths", findings, None, "")
        _keep(page, f"{width}-monoliths")
    finally:
        context.close()
    assert not findings.overflow, findings.report()
    assert not findings.axe_blocking, findings.report()


WRITE_READ_FILE = (
    "topic,partitions,retention_ms,peak_in_mbps,peak_out_mbps,application,team,consumer_groups\n"
    "orders.created,12,604800000,30,60,orders,team-a,billing;shipping\n"
    "payments.events,6,604800000,20,40,payments,team-a,ledger\n"
)


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_a_write_read_cutover_moves_consumers_to_the_read_cluster(
    browser, live_server, admin, member_a, team_a, network_profile, monkeypatch, width
):
    """Step 5 of a write/read plan in the browser: the board names where producers and consumers go, the
    consumer settings carry the read cluster's bootstrap, the gate reads the read cluster, a step is ticked
    and rolled back with its reason; the page fits the screen and passes axe."""
    from clusters.migration import adapters, cutover, planning
    from tests import builders
    from tests.system.browser.test_tour import Findings, check_page

    monolith = _owned_by_team_a(WRITE_READ_FILE, admin, member_a, team_a)
    payments = monolith.applications.get(name="payments")
    inventory.update_requirements(actor=member_a, application_id=payments.pk, tolerates_duplicates=False)
    plan = planning.create_plan(actor=admin, monolith_id=monolith.pk, strategy="write_read")
    plan = planning.accept_plan(actor=admin, plan_id=plan.pk)
    cutover.start_cutovers(actor=admin, plan_id=plan.pk)
    side = {c["side"]: c["name"] for c in plan.result["clusters"] if "orders" in c["applications"]}
    for kind, name in (("write", side["write"]), ("read", side["read"])):
        builders.cluster(
            team_a,
            network_profile,
            name,
            kind=kind,
            environment="prod",
            bootstrap_brokers=f"b-1.{kind}.example:9098",
        )
    # The two clusters answer at the adapter seam: the write cluster has caught up, the read cluster not yet.
    source = {"orders.created": ((0,) * 12, (1000,) * 12)}
    answers = {side["write"]: source, side["read"]: {"orders.created": ((0,) * 12, (700,) * 12)}}
    monkeypatch.setattr(adapters, "monolith_offsets", lambda monolith, topics: source)
    monkeypatch.setattr(adapters, "cluster_offsets", lambda cluster, topics: answers[cluster.name])
    monkeypatch.setattr(adapters, "cluster_group_offsets", lambda cluster, group: {})

    findings = Findings()
    context, page = _admin_at(browser, live_server, admin, width)
    try:
        page.goto(f"{live_server.url}/migration/plans/{plan.pk}/cutover/")
        table = page.get_by_role("table", name="Applications and their step")
        orders = table.get_by_role("row").filter(
            has=page.get_by_role("button", name="Tick the next step for orders")
        )
        expect(table).to_contain_text(f"producers: {side['write']}")
        expect(table).to_contain_text(f"consumers: {side['read']}")
        expect(table).to_contain_text("Needs an exactly-once stream job, not plain replication")
        expect(orders).to_contain_text("Ready for “Replication verified”")
        check_page(page, f"{width} cutover", findings, None, "")
        orders.get_by_role("button", name="Tick the next step for orders").click()
        expect(page.get_by_text("orders: step recorded.")).to_be_visible()

        # Consumers move to the read cluster: its settings, and a gate that reads it.
        orders.get_by_text(f"Consumer settings for {side['read']}").click()
        expect(orders).to_contain_text("bootstrap.servers=b-1.read.example:9098")
        expect(orders).to_contain_text("auto.offset.reset=earliest")
        expect(orders).to_contain_text("The consumer must tolerate duplicates.")
        expect(orders).to_contain_text(
            f"orders.created on the read cluster {side['read']}: partitions 0 (300)"
        )
        check_page(page, f"{width} cutover verified", findings, None, "")
        _keep(page, f"{width}-cutover-write-read")

        orders.get_by_label("Reason").fill("Read cluster still catching up")
        orders.get_by_role("button", name="Roll back one step").click()
        expect(page.get_by_text("orders: step recorded.")).to_be_visible()
        expect(orders).to_contain_text("admin, ")
        expect(orders).to_contain_text("“Read cluster still catching up”")
    finally:
        context.close()
    assert not findings.overflow, findings.report()
    assert not findings.axe_blocking, findings.report()
