"""What a monolith answers when the portal reads it, set by a test: the seam is the assistant's adapter
(`adapters.read_monolith`, `adapters.sample_record_bytes`); the real broker runs in
tests/clusters/integrations/kafka/test_migration_inventory.py."""

from __future__ import annotations

from django.utils import timezone

from clusters.integrations.kafka_admin import ClusterInventory, GroupInventory, TopicInventory


class Readings:
    """`topics`: name -> (partitions, records per partition so far); `groups`: group -> topics it reads.
    `fail`: an exception the next reading raises instead. `record_bytes`: bytes per sampled record."""

    def __init__(self):
        self.topics: dict[str, tuple[int, int]] = {}
        self.groups: dict[str, list[str]] = {}
        self.fail: Exception | None = None
        self.record_bytes = 200
        self.calls = 0

    def read(self, monolith) -> ClusterInventory:
        self.calls += 1
        if self.fail is not None:
            raise self.fail
        return ClusterInventory(
            read_at=timezone.now(),
            cluster_id="legacy-cluster",
            brokers=3,
            topics=tuple(
                TopicInventory(
                    name, partitions, {"cleanup.policy": "delete"}, (0,) * partitions, (records,) * partitions
                )
                for name, (partitions, records) in sorted(self.topics.items())
            ),
            groups=tuple(
                GroupInventory(group, "Stable", 1, ("app",), {topic: {0: 0} for topic in topics})
                for group, topics in sorted(self.groups.items())
            ),
        )

    def sample(self, monolith, ranges) -> dict[str, tuple[int, int]]:
        return {name: (10, 10 * self.record_bytes) for name in ranges}
