# The local MSK simulator's tables moved to their own app (clusters.providers.local, label local_msk,
# installed only with MSK_PROVIDER=local). Here they leave the clusters app's state. Where the simulator
# is installed, its own first migration copies their rows and drops them (in whichever order the two
# run); elsewhere (a production schema, MSK_PROVIDER=aws) they are dropped here. No dependency between the
# two apps, so a database may switch providers either way.

from django.apps import apps as installed_apps
from django.db import migrations

OLD_TABLES = [
    'clusters_localmskcluster',
    'clusters_localmsktopic',
    'clusters_localmskgrant',
    'clusters_localmskreplicator',
]


def drop_unless_the_simulator_takes_them(apps, schema_editor):
    if installed_apps.is_installed('clusters.providers.local'):
        return  # local_msk 0001 copies the rows, then drops these tables
    for table in OLD_TABLES:
        schema_editor.execute(f'DROP TABLE IF EXISTS {schema_editor.quote_name(table)}')


class Migration(migrations.Migration):

    dependencies = [
        ('clusters', '0012_idempotency_claim_before_validation'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name='LocalMskCluster'),
                migrations.DeleteModel(name='LocalMskGrant'),
                migrations.DeleteModel(name='LocalMskReplicator'),
                migrations.DeleteModel(name='LocalMskTopic'),
            ],
            database_operations=[
                migrations.RunPython(drop_unless_the_simulator_takes_them, migrations.RunPython.noop),
            ],
        ),
    ]
