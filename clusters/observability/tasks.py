"""Beat and worker tasks of observability: they take ids, are idempotent, and call one service each."""

from celery import shared_task

from portal.messages_once import MAIL_TASK_OPTIONS


@shared_task(name="clusters.observability.tasks.collect_all", acks_late=True, ignore_result=True)
def collect_all() -> int:
    """Beat: one collection task per AWS account and region, so one account's trouble blocks no other."""
    from clusters.observability.collect import targets

    pairs = targets()
    for account_pk, region in pairs:
        collect.delay(account_pk, region)
    return len(pairs)


@shared_task(name="clusters.observability.tasks.collect", acks_late=True, ignore_result=True)
def collect(account_pk: int, region: str) -> dict:
    """Read the account and region's recent points, then evaluate the alert rules on what is stored."""
    from clusters.observability import alerts
    from clusters.observability import collect as collection

    result = collection.collect(account_pk, region)
    evaluation = alerts.evaluate()
    return {
        "series": result.series,
        "rows": result.rows,
        "failures": result.failures,
        "opened": len(evaluation.opened),
        "resolved": len(evaluation.resolved),
    }


@shared_task(name="clusters.observability.tasks.downsample", acks_late=True, ignore_result=True)
def downsample() -> dict:
    from clusters.observability.retention import downsample

    return vars(downsample())


@shared_task(
    name="clusters.observability.tasks.notify_episode",
    **MAIL_TASK_OPTIONS,
)
def notify_episode(episode_id: int, event: str) -> None:
    from clusters.observability.notify import notify

    notify(episode_id=episode_id, event=event)
