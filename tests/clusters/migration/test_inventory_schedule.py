"""Beat reads the monoliths again on a schedule: a beat-level fan-out enqueues one reading per monolith the
portal reads from the cluster (ids and the newest snapshot number, so a duplicate reads nothing twice), and
the monolith's page says what each reading changed. The monolith's answers are faked at the adapter seam
(the real broker runs in tests/clusters/integrations/kafka/test_migration_inventory.py)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clusters.migration import inventory, selectors, tasks
from clusters.migration.models import InventorySnapshot, MigrationEvent, Monolith
from clusters.providers.base import AccessDenied
from portal.celery import app
from tests.conftest import client_for


@pytest.fixture
def read_once(monolith, admin, readings):
    """`legacy` (the conftest's monolith) read once from the cluster by an admin."""
    readings.topics = {"orders.created": (3, 100), "orders.audit": (1, 10)}
    readings.groups = {"billing": ["orders.created"]}
    inventory.take_inventory(monolith_id=monolith.pk, actor=admin)
    return monolith


def test_beat_schedules_the_fan_out_task_every_interval():
    entry = settings.CELERY_BEAT_SCHEDULE["migration-read-inventories"]
    assert entry["task"] == "clusters.migration.tasks.read_inventories" and entry["task"] in app.tasks
    assert entry["schedule"] == float(settings.MIGRATION_INVENTORY_INTERVAL_SECONDS) == 3600.0


def test_the_fan_out_reads_only_monoliths_read_from_the_cluster_before(read_once, admin, readings):
    from_file = inventory.register_monolith(
        actor=admin, name="files", bootstrap="10.0.0.9:9092", security_protocol=Monolith.Security.PLAINTEXT
    )
    inventory.import_csv(
        actor=admin,
        monolith_id=from_file.pk,
        content=b"topic,partitions,retention_ms,peak_in_mbps,peak_out_mbps,application,team,consumer_groups\n"
        b"x.y,1,1000,1,1,x,,\n",
    )
    inventory.register_monolith(
        actor=admin, name="unread", bootstrap="10.0.0.8:9092", security_protocol="PLAINTEXT"
    )
    assert selectors.monoliths_to_reread() == [(read_once.pk, 1)]

    readings.topics = {"orders.created": (6, 400), "orders.refunds": (2, 5)}
    readings.groups = {"billing": ["orders.created"], "refunds": ["orders.refunds"]}
    assert tasks.read_inventories.apply().get() == 1  # eager: the reading ran inline
    assert readings.calls == 2
    second = read_once.snapshots.get(number=2)
    assert second.source == "cluster" and second.taken_by is None
    assert MigrationEvent.objects.filter(action="inventory.read", actor=None).count() == 1


def test_a_duplicate_reading_writes_one_snapshot(read_once, readings):
    # Two deliveries of the same request ("newer than #1"), the second starting before the first wrote.
    first = inventory.take_inventory(monolith_id=read_once.pk, after_number=1)
    again = inventory.take_inventory(monolith_id=read_once.pk, after_number=1)
    assert again.pk == first.pk and read_once.snapshots.count() == 2
    # A redelivered task, or a second fan-out before the reading landed, reads nothing at all.
    calls = readings.calls
    assert tasks.read_monolith_inventory.apply(args=[read_once.pk, None, 1]).get() is None
    assert readings.calls == calls


def test_a_failed_scheduled_reading_is_on_the_page_until_one_succeeds(read_once, readings, personas):
    readings.fail = AccessDenied("The cluster refused the login of msk-portal-reader.")
    assert tasks.read_inventories.apply().get() == 1
    assert read_once.snapshots.count() == 1
    event = MigrationEvent.objects.get(action="inventory.read_failed")
    assert event.actor_label == "system" and "refused the login" in event.reason
    url = reverse("migration:monolith-detail", args=[read_once.pk])
    page = client_for(personas["member_a"]).get(url).content.decode()
    assert "Reading the cluster failed" in page and "scheduled" in page and "refused the login" in page

    readings.fail = None
    tasks.read_inventories.apply()
    assert read_once.snapshots.count() == 2
    assert "Reading the cluster failed" not in client_for(personas["member_a"]).get(url).content.decode()


def test_the_page_shows_what_each_reading_changed(read_once, readings, personas):
    readings.topics = {"orders.created": (6, 400), "orders.refunds": (2, 5)}
    readings.groups = {"billing": ["orders.created"], "refunds": ["orders.refunds"]}
    tasks.read_inventories.apply()
    readings.topics["orders.dlq"] = (1, 0)
    tasks.read_inventories.apply()
    assert list(read_once.snapshots.values_list("number", flat=True)) == [3, 2, 1]

    for persona in ("member_a", "member_b", "admin", "finance"):
        page = client_for(personas[persona]).get(reverse("migration:monolith-detail", args=[read_once.pk]))
        text = page.content.decode()
        assert page.status_code == 200
        assert "Since inventory #2" in text and "New topics: orders.dlq" in text and "scheduled" in text
        assert "Earlier readings" in text
        assert "against #1: 1 new topic, 1 topic gone, 1 topic changed, 1 new consumer group" in text
        assert "orders.created: partitions 3 → 6" in text and "Topics gone: orders.audit" in text
        assert "New consumer groups: refunds" in text
        assert "#1 (read from the cluster" in text and "by admin): 2 new topics, 1 new consumer group" in text


def test_each_readings_changes_are_the_existing_diff_kept_when_written(read_once, readings):
    readings.topics["orders.refunds"] = (2, 5)
    tasks.read_inventories.apply()
    second = read_once.snapshots.get(number=2)
    assert second.changes == selectors.inventory_changes(second).as_record()
    assert second.changes["before"] == 1 and second.changes["topics_added"] == ["orders.refunds"]
    with CaptureQueriesContext(connection) as queries:
        newest, oldest = selectors.recent_changes(read_once)
    assert not [q for q in queries.captured_queries if "inventorytopic" in q["sql"]]  # nothing compared again
    assert (newest.after.number, newest.before.number, newest.topics_added) == (2, 1, ["orders.refunds"])
    assert (oldest.after.number, oldest.before, oldest.summary) == (
        1,
        None,
        "2 new topics, 1 new consumer group",
    )
    assert InventorySnapshot.objects.count() == 2


def test_a_consumer_group_reading_other_topics_is_a_change(read_once, readings, personas):
    """Which topics a group reads decides which application it moves with: a reading says when that changed."""
    readings.topics["orders.refunds"] = (2, 5)
    readings.groups = {"billing": ["orders.created", "orders.refunds"]}
    tasks.read_inventories.apply()
    readings.groups = {"billing": ["orders.refunds"]}
    tasks.read_inventories.apply()
    newest, second = selectors.recent_changes(read_once)[:2]
    assert second.groups_changed == [("billing", ["now reads orders.refunds"])]
    assert newest.groups_changed == [("billing", ["no longer reads orders.created"])]
    assert newest.summary == "1 consumer group changed" and not newest.nothing
    page = client_for(personas["member_a"]).get(reverse("migration:monolith-detail", args=[read_once.pk]))
    text = page.content.decode()
    assert "Consumer group billing: no longer reads orders.created" in text
    assert "Since inventory #2" in text
    assert "against #1: 1 new topic, 1 consumer group changed" in text
