"""Step 1 from a file: every bad row is reported with its line, and nothing of a bad file is imported."""

from __future__ import annotations

from decimal import Decimal

import pytest

from clusters.migration import inventory
from clusters.migration.models import Application, InventorySnapshot, InventoryTopic, MigrationEvent
from portal.errors import NotAllowed

HEADER = "topic,partitions,retention_ms,peak_in_mbps,peak_out_mbps,application,team,consumer_groups\n"
GOOD = (
    HEADER
    + "orders.created,12,604800000,8.5,17,orders,team-a,billing;shipping\n"
    + "orders.audit,3,-1,0.2,0.2,orders,Team A,audit\n"
    + "clicks,48,86400000,60,120,web,team-b,\n"
)


def test_good_file_becomes_a_snapshot_with_topics_groups_and_owners(monolith, admin, team_a, team_b):
    snapshot = inventory.import_csv(
        actor=admin, monolith_id=monolith.pk, content=GOOD.encode(), filename="m.csv"
    )
    assert snapshot.source == InventorySnapshot.Source.CSV and snapshot.number == 1
    topics = {topic.name: topic for topic in snapshot.topics.all()}
    assert topics["orders.created"].partitions == 12
    assert topics["orders.created"].peak_out_mbps == Decimal("17")
    assert topics["orders.audit"].retention_ms == -1
    assert topics["orders.audit"].owner_team == "team-a"  # by name, stored as slug
    groups = {group.group_id: group.topics for group in snapshot.groups.all()}
    assert groups == {
        "audit": ["orders.audit"],
        "billing": ["orders.created"],
        "shipping": ["orders.created"],
    }

    found = inventory.discover_applications(actor=admin, monolith_id=monolith.pk)
    assert sorted(app.name for app in found) == ["orders", "web"]
    orders = Application.objects.get(name="orders")
    assert orders.suggested_team == team_a and orders.team is None  # a suggestion until a claim is approved
    assert sorted(orders.topic_links.values_list("topic", flat=True)) == ["orders.audit", "orders.created"]
    # Running it again finds nothing new.
    assert inventory.discover_applications(actor=admin, monolith_id=monolith.pk) == []


def test_bad_rows_are_listed_by_line_and_nothing_is_imported(monolith, admin, team_a):
    bad = (
        HEADER
        + "ok.topic,3,1000,1,1,app,team-a,\n"
        + "bad topic!,0,forever,-1,x,,team-zzz,\n"
        + "ok.topic,3,1000,1,1,app,team-a,\n"
        + "too.many,3,1000,1,1,app,team-a,g,extra\n"
    )
    with pytest.raises(inventory.CsvRejected) as caught:
        inventory.import_csv(actor=admin, monolith_id=monolith.pk, content=bad.encode())
    errors = dict(caught.value.row_errors)
    assert set(errors) == {3, 4, 5}
    for words in (
        "not a Kafka topic name",
        "partitions must be",
        "retention_ms must be",
        "peak_in_mbps must be 0",
        "peak_out_mbps must be a number",
        "application must name",
        "no team “team-zzz”",
    ):
        assert words in errors[3], words
    assert "already on line 2" in errors[4]
    assert "more values than columns" in errors[5]
    assert not InventorySnapshot.objects.exists() and not InventoryTopic.objects.exists()
    assert not MigrationEvent.objects.filter(action="inventory.imported").exists()


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"topic,partitions\norders,3\n", "The header lacks the columns retention_ms"),
        (HEADER.encode(), "no topics"),
        (b"\xff\xfe\x00bad", "not UTF-8"),
    ],
)
def test_unusable_files_say_why(monolith, admin, content, words):
    with pytest.raises(inventory.CsvRejected) as caught:
        inventory.import_csv(actor=admin, monolith_id=monolith.pk, content=content)
    assert words in str(caught.value)


def test_only_admins_import(monolith, member_a):
    with pytest.raises(NotAllowed):
        inventory.import_csv(actor=member_a, monolith_id=monolith.pk, content=GOOD.encode())
