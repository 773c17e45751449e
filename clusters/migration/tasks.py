from celery import shared_task

from clusters.providers.base import TransientError


@shared_task(
    name="clusters.migration.tasks.read_monolith_inventory",
    acks_late=True,
    autoretry_for=(TransientError,),
    retry_backoff=2,
    max_retries=5,
)
def read_monolith_inventory(monolith_id: int, actor_id: int | None, after_number: int) -> int | None:
    """Read the monolith once for a click on "Read the inventory now". Idempotent: a redelivered task finds
    a snapshot newer than `after_number` (the newest when the click happened) and reads nothing."""
    from clusters.migration import inventory
    from clusters.migration.models import InventorySnapshot
    from portal.models import User

    if InventorySnapshot.objects.filter(monolith_id=monolith_id, number__gt=after_number).exists():
        return None
    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    return inventory.take_inventory(monolith_id=monolith_id, actor=actor).pk
