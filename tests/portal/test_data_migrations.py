"""Data migrations (RunPython) work on the database being migrated, never on the one the router picks: the
test run migrates a second database ("twin") while the first is already at the latest schema, and a
production deploy with more than one database does the same. CI once failed because 0010 read the
default database's Filing table, whose column it had already dropped."""

import inspect

import pytest
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations import RunPython

from tests import twin_database


def data_migration_functions():
    loader = MigrationLoader(None, ignore_no_migrations=True)
    for (app, name), migration in sorted(loader.disk_migrations.items()):
        for operation in migration.operations:
            nested = getattr(operation, "database_operations", None) or [operation]
            for step in nested:
                if isinstance(step, RunPython):
                    for function in (step.code, step.reverse_code):
                        if function and function is not RunPython.noop:
                            yield f"{app}.{name}.{function.__name__}", function


@pytest.mark.parametrize(("label", "function"), list(data_migration_functions()))
def test_a_data_migration_queries_the_database_it_migrates(label, function):
    source = inspect.getsource(function)
    if ".objects" in source:
        assert "using(" in source and "schema_editor.connection.alias" in source, (
            f"{label} uses a manager without .using(schema_editor.connection.alias)"
        )


def test_there_are_data_migrations_to_check():
    labels = [label for label, _ in data_migration_functions()]
    assert "migration_assistant.0010_filing_result_holds_filed_ids.ids_into_result" in labels, labels
    assert "clusters.0014_observability_samples_and_alerts.create_default_rules" in labels, labels


@pytest.mark.django_db(databases=["default", "twin"])
@pytest.mark.usefixtures("twin_test_database")
def test_the_second_database_gets_its_own_default_alert_rules():
    from clusters.observability.models import AlertRule

    if not twin_database.available():
        pytest.skip("no second database engine on this machine")
    kinds = sorted(AlertRule.objects.using("twin").values_list("kind", flat=True))
    assert kinds == ["cluster_throughput", "group_lag", "topic_throughput"]
