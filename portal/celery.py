"""The Celery application: configured from Django settings (CELERY_* names)."""

import os
from pathlib import Path

from celery import Celery, Task
from celery.signals import beat_init
from celery.utils.time import get_exponential_backoff_interval

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

# SQLite's answer when another connection held the write lock for longer than the busy timeout.
SQLITE_LOCKED = ("database is locked", "database table is locked")
LOCKED_MIN_RETRIES = 5


class PortalTask(Task):
    """Base of every task. One that meets a locked SQLite database (web, worker and beat share one file
    under `make run`) is retried with backoff, like a transient provider error: tasks take ids and are
    idempotent, and the failed attempt's transaction was rolled back."""

    def __call__(self, *args, **kwargs):
        from django.db import OperationalError

        try:
            return super().__call__(*args, **kwargs)
        except OperationalError as exc:
            if not any(message in str(exc) for message in SQLITE_LOCKED):
                raise
            countdown = get_exponential_backoff_interval(
                factor=1, retries=self.request.retries, maximum=30, full_jitter=True
            )
            limit = None if self.max_retries is None else max(self.max_retries, LOCKED_MIN_RETRIES)
            raise self.retry(exc=exc, countdown=countdown, max_retries=limit) from exc


app = Celery("portal", task_cls=PortalTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Task modules inside sub-packages of an app (autodiscovery alone finds only `<app>.tasks`).
app.autodiscover_tasks(["clusters.provisioning", "clusters.requests"])


@app.on_after_configure.connect
def _create_filesystem_broker_folders(sender: Celery, **kwargs) -> None:
    # The file-system transport expects its folders to exist before the first message.
    for key in ("data_folder_in", "data_folder_out", "control_folder"):
        folder = sender.conf.broker_transport_options.get(key)
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)


@beat_init.connect
def _send_start_tasks(sender, **kwargs) -> None:
    """Entries of BEAT_RUN_AT_START run when beat starts, not one whole interval later."""
    from django.conf import settings

    for name in settings.BEAT_RUN_AT_START:
        sender.app.send_task(settings.CELERY_BEAT_SCHEDULE[name]["task"])
