from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _default_alert_rules(sender, using, **kwargs):
    """The three alert rules exist whenever the schema does: after `migrate` (migration 0014 made them) and
    after `flush`, which empties every table and then sends post_migrate (a flushed portal, or a test
    database after a transactional test, would otherwise alert on nothing and have no rule to tune)."""
    from django.db import connections

    from clusters.observability.models import AlertRule

    if AlertRule._meta.db_table in connections[using].introspection.table_names():
        AlertRule.ensure_defaults(using=using)


class ClustersConfig(AppConfig):
    name = "clusters"
    verbose_name = "Clusters"

    def ready(self):
        post_migrate.connect(_default_alert_rules, sender=self, dispatch_uid="clusters.default_alert_rules")
