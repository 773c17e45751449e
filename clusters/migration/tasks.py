from celery import shared_task

from clusters.providers.base import ProviderError, TransientError
from clusters.provisioning.tasks import AWS_TASK_OPTIONS
from portal.messages_once import MAIL_TASK_OPTIONS


@shared_task(
    name="clusters.migration.tasks.read_monolith_inventory",
    acks_late=True,
    autoretry_for=(TransientError,),
    retry_backoff=2,
    max_retries=5,
)
def read_monolith_inventory(monolith_id: int, actor_id: int | None, after_number: int) -> int | None:
    """Read the monolith once for a click on "Read the inventory now" (or for the schedule: no actor).
    Idempotent: a redelivered task finds a snapshot newer than `after_number` (the newest when the reading
    was asked for) and reads nothing; two deliveries running at once write one snapshot. A refusal that
    retrying cannot fix is recorded in the monolith's log for its page."""
    from clusters.migration import inventory
    from clusters.migration.models import InventorySnapshot
    from portal.models import User

    if InventorySnapshot.objects.filter(monolith_id=monolith_id, number__gt=after_number).exists():
        return None
    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    try:
        return inventory.take_inventory(monolith_id=monolith_id, actor=actor, after_number=after_number).pk
    except TransientError:
        raise
    except ProviderError as exc:
        inventory.record_read_failure(monolith_id=monolith_id, actor=actor, reason=str(exc))
        return None


@shared_task(
    name="clusters.migration.tasks.mail_filing_digest",
    **MAIL_TASK_OPTIONS,
)
def mail_filing_digest(event_id: int) -> int:
    """One "Approval needed" mail to the platform admins per filing from a plan (idempotent: the mail claims
    each request's notification; see clusters/migration/execution.py)."""
    from clusters.migration import execution

    return execution.mail_filing_digest(event_id)


@shared_task(name="clusters.migration.tasks.run_filing", acks_late=True, ignore_result=True)
def run_filing(filing_id: int) -> str:
    """File a team's requests from the accepted plan for one press, writing progress and the result on the
    filing (idempotent: a filing not queued is left alone, a rerun files only what is still ready; see
    clusters/migration/filing.py)."""
    from clusters.migration import filing

    return filing.run(filing_id)


@shared_task(name="clusters.migration.tasks.requeue_lost_filings", acks_late=True, ignore_result=True)
def requeue_lost_filings() -> int:
    """Beat: run again the filings queued or running with no progress for PROVISIONING_REDISPATCH_SECONDS
    (their task was lost or their worker died)."""
    from django.conf import settings

    from clusters.migration import filing

    return len(filing.requeue_lost(lost_after_seconds=settings.PROVISIONING_REDISPATCH_SECONDS))


@shared_task(name="clusters.migration.tasks.file_next_stages", acks_late=True, ignore_result=True)
def file_next_stages() -> int:
    """Beat: for the teams that opted in to a plan's next stages, start a filing where items became ready to
    file, and stop the opt-ins with nothing left (see clusters/migration/autofiling.py)."""
    from clusters.migration import autofiling

    return len(autofiling.file_next_stages())


@shared_task(name="clusters.migration.tasks.read_inventories", acks_late=True, ignore_result=True)
def read_inventories() -> int:
    """Beat: one reading task per monolith the portal reads from the cluster, each asked for "newer than
    the newest snapshot now", so a second fan-out before the readings land reads nothing twice."""
    from clusters.migration import selectors

    due = selectors.monoliths_to_reread()
    for monolith_id, newest in due:
        read_monolith_inventory.delay(monolith_id, None, newest)
    return len(due)


# The provisioning tasks' policy: late ack, backoff on transient AWS errors.
@shared_task(name="clusters.migration.tasks.start_replication", **AWS_TASK_OPTIONS)
def start_replication(replication_id: int) -> str:
    """Adopt or create the replication's parts by name, then reconcile once (idempotent; see
    clusters/migration/replication_launch.py)."""
    from clusters.migration import replication_launch

    return replication_launch.start(replication_id).status


@shared_task(name="clusters.migration.tasks.stop_replication", **AWS_TASK_OPTIONS)
def stop_replication(replication_id: int) -> str:
    """Delete the replication's parts and record it stopped (idempotent; see
    clusters/migration/replication_launch.py)."""
    from clusters.migration import replication_launch

    return replication_launch.stop(replication_id).status


@shared_task(name="clusters.migration.tasks.resume_replications")
def resume_replications() -> int:
    """Beat: look again at replications AWS is still creating, start those whose task was lost, and stop
    again those whose stop was lost or refused."""
    from django.conf import settings

    from clusters.migration import replication_launch

    lost_after = settings.PROVISIONING_REDISPATCH_SECONDS
    ids = replication_launch.replications_to_resume(lost_after_seconds=lost_after)
    for replication_id in ids:
        start_replication.delay(replication_id)
    stopping = replication_launch.replications_to_stop(lost_after_seconds=lost_after)
    for replication_id in stopping:
        stop_replication.delay(replication_id)
    return len(ids) + len(stopping)
