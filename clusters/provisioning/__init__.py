"""The provisioning engine: takes approved inventory to life through the MSK provider, exactly once.

It owns the status moves of clusters, topics, grants and replicators (`transitions`: compare-and-set
against each model's TRANSITIONS table, with an append-only event per move), the specs sent to the
provider (`specs`), one step per task (`steps`), starting work after an approval commits (`dispatch`),
admins' retries (`retry`), the reconcile loop that advances in-flight work and re-dispatches lost tasks
(`reconciler`), drift between the inventory and MSK (`drift`) and the Celery tasks (`tasks`). Rules that
make retries, crashes and lost dispatches harmless: the intent is persisted before any call out; AWS names
are deterministic, so a retry adopts what an earlier attempt created; no database transaction is held
across a provider call. The names below are what the rest of the portal calls.
"""

from clusters.providers import account_ref, account_region_ref
from clusters.provisioning.dispatch import dispatch_after_approval
from clusters.provisioning.drift import (
    ALREADY_RESOLVED,
    EXPECTED_TAGS,
    adopt_unknown_cluster,
    detect_drift,
    mark_deleted,
    provisioning_tags,
    reapply_portal_tags,
)
from clusters.provisioning.reconciler import REDISPATCH_NOTE, reconcile, redispatch_after
from clusters.provisioning.retry import (
    RETRYABLE_STEPS,
    can_be_retried,
    failed_step,
    retry_cluster,
    retry_step,
)
from clusters.provisioning.specs import cluster_spec, grant_spec, replicator_spec, topic_spec
from clusters.provisioning.steps import (
    activate_cluster,
    apply_grant,
    decommission_cluster,
    delete_topic,
    fail_cluster,
    provision_cluster,
    provision_replicator,
    provision_topic,
    revoke_grant,
    update_topic,
)

__all__ = [
    "ALREADY_RESOLVED",
    "EXPECTED_TAGS",
    "REDISPATCH_NOTE",
    "RETRYABLE_STEPS",
    "account_ref",
    "account_region_ref",
    "activate_cluster",
    "adopt_unknown_cluster",
    "apply_grant",
    "can_be_retried",
    "cluster_spec",
    "decommission_cluster",
    "delete_topic",
    "detect_drift",
    "dispatch_after_approval",
    "fail_cluster",
    "failed_step",
    "grant_spec",
    "mark_deleted",
    "provision_cluster",
    "provision_replicator",
    "provision_topic",
    "provisioning_tags",
    "reapply_portal_tags",
    "reconcile",
    "redispatch_after",
    "replicator_spec",
    "retry_cluster",
    "retry_step",
    "revoke_grant",
    "topic_spec",
    "update_topic",
]
