from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _default_alert_rules(sender, using, **kwargs):
    """The three alert rules exist whenever the schema does: after `migrate` (migration 0014 made them) and
    after `flush`, which empties every table and then sends post_migrate (a flushed portal, or a test
    database after a transactional test, would otherwise alert on nothing and have no rule to tune)."""
    from clusters.observability.models import AlertRule

    if AlertRule._meta.db_table in _tables(using):
        AlertRule.ensure_defaults(using=using)


def _tables(using: str) -> set[str]:
    from django.db import connections

    with connections[using].cursor() as cursor:
        return set(connections[using].introspection.table_names(cursor))


class ClustersConfig(AppConfig):
    name = "clusters"
    verbose_name = "Clusters"

    def ready(self):
        post_migrate.connect(_default_alert_rules, sender=self, dispatch_uid="clusters.default_alert_rules")
