"""API input parsing (types and ranges) and output shapes. Business rules live in clusters.requests.services."""

from __future__ import annotations

import json

from django.core.validators import slug_re
from rest_framework import serializers

from clusters import rules, selectors
from clusters.models import (
    MSK_SERVERLESS_REGIONS,
    AccessGrant,
    AwsAccount,
    Cluster,
    Environment,
    NetworkProfile,
    Request,
    RequestEvent,
    Topic,
)
from clusters.requests import services
from portal import access
from portal.api.input import DecimalInput, InputSerializer, IntegerInput
from portal.models import Team

MBPS = rules.MBPS_FIELD  # the HTML forms' too


class _VisibleQuerysets(InputSerializer):
    """Related-object fields accept only objects the caller may see, by the rules the HTML pages use: any
    other id answers exactly as an id that does not exist (no existence leak)."""

    def get_fields(self):
        fields = super().get_fields()
        user = self.context["request"].user
        querysets = {
            "team": access.teams_visible_to(user),
            "account": access.accounts_visible_to(user),
            "network_profile": access.network_profiles_visible_to(user),
            "cluster": access.clusters_visible_to(user),
            "source_cluster": access.clusters_visible_to(user),
            "topic": selectors.topics_visible_to(user),
            "grant": selectors.grants_visible_to(user),
        }
        for name, queryset in querysets.items():
            if name in fields:
                fields[name].queryset = queryset
        return fields


class TeamField(serializers.SlugRelatedField):
    def __init__(self, **kwargs):
        super().__init__(slug_field="slug", queryset=Team.objects.none(), **kwargs)

    def to_internal_value(self, data):
        # Never send a value that cannot be a slug (e.g. with NUL bytes) to the database.
        if not isinstance(data, str) or not slug_re.fullmatch(data):
            self.fail("does_not_exist", slug_name=self.slug_field, value=str(data)[:40])
        return super().to_internal_value(data)


class ClusterRequestInput(_VisibleQuerysets):
    team = TeamField(help_text="Slug of the team the cluster is for.")
    name = serializers.CharField(max_length=64, help_text=rules.CLUSTER_NAME_RULE)
    kind = serializers.ChoiceField(choices=Cluster.Kind.choices)
    environment = serializers.ChoiceField(choices=Environment.choices)
    account = serializers.PrimaryKeyRelatedField(queryset=AwsAccount.objects.none())
    region = serializers.ChoiceField(choices=MSK_SERVERLESS_REGIONS)
    network_profile = serializers.PrimaryKeyRelatedField(queryset=NetworkProfile.objects.none())
    expected_write_mbps = DecimalInput(**MBPS)
    expected_read_mbps = DecimalInput(**MBPS)
    contains_pii = serializers.BooleanField()
    latency_class = serializers.ChoiceField(choices=Cluster.LatencyClass.choices)
    justification = serializers.CharField(max_length=4000)
    source_cluster = serializers.PrimaryKeyRelatedField(
        queryset=Cluster.objects.none(), required=False, allow_null=True, help_text="Read clusters only."
    )
    replicate_topics = serializers.ListField(
        child=serializers.CharField(max_length=249),
        required=False,
        max_length=500,
        help_text="Read clusters only.",
    )


class AccessEntryInput(InputSerializer):
    principal_arn = serializers.CharField(max_length=2048, help_text=rules.PRINCIPAL_ARN_RULE)
    produce = serializers.BooleanField(default=False)
    consume = serializers.BooleanField(default=False)
    consumer_group_prefix = serializers.CharField(
        max_length=200, required=False, default="", allow_blank=True
    )


class _TopicConfigInput(InputSerializer):
    # Unbounded here as in the forms: the service says what Kafka and MSK allow, in the same words for both.
    retention_ms = IntegerInput(default=rules.DEFAULT_RETENTION_MS, **rules.RETENTION_MS_FIELD)
    retention_bytes = IntegerInput(default=rules.DEFAULT_RETENTION_BYTES, **rules.RETENTION_BYTES_FIELD)
    max_message_bytes = IntegerInput(default=rules.DEFAULT_MAX_MESSAGE_BYTES, **rules.MAX_MESSAGE_BYTES_FIELD)
    compression_type = serializers.ChoiceField(choices=rules.COMPRESSION_TYPES, default="producer")
    message_timestamp_type = serializers.ChoiceField(choices=rules.TIMESTAMP_TYPES, default="CreateTime")


class TopicRequestInput(_TopicConfigInput, _VisibleQuerysets):
    team = TeamField()
    cluster = serializers.PrimaryKeyRelatedField(queryset=Cluster.objects.none())
    name = serializers.CharField(
        max_length=249,
        help_text="Short name; the naming convention adds the team prefix (a name that starts with it already "
        "is taken as the full name: the prefix is never doubled).",
    )
    partitions = IntegerInput(
        **rules.PARTITIONS_FIELD,
        required=False,
        allow_null=True,
        help_text="Default and minimum: max(⌈in/5⌉, ⌈out/10⌉).",
    )
    expected_in_mbps = DecimalInput(**MBPS)
    expected_out_mbps = DecimalInput(**MBPS)
    cleanup_policy = serializers.ChoiceField(
        choices=rules.CLEANUP_POLICY_CHOICES, default="delete", help_text="Cannot be changed later."
    )
    justification = serializers.CharField(max_length=4000, required=False, default="", allow_blank=True)
    access = AccessEntryInput(
        many=True, required=False, help_text="Combined request: access for producers/consumers."
    )

    def validate_access(self, value):
        if len(value) > 20:
            raise serializers.ValidationError("At most 20 access entries per request.")
        return value


class TopicUpdateInput(_TopicConfigInput, _VisibleQuerysets):
    fixed_fields = {
        "cleanup_policy": "A topic's cleanup policy is fixed when it is created; request a new topic instead.",
        "name": "A topic's name cannot change; request a new topic instead.",
        "cluster": "A topic cannot move to another cluster; request a new topic there instead.",
        "team": "A topic's team cannot change here; ask a platform admin.",
    }
    topic = serializers.PrimaryKeyRelatedField(queryset=Topic.objects.none())
    partitions = IntegerInput(**rules.PARTITIONS_FIELD)
    expected_in_mbps = DecimalInput(**MBPS, required=False, allow_null=True)
    expected_out_mbps = DecimalInput(**MBPS, required=False, allow_null=True)
    justification = serializers.CharField(max_length=4000, required=False, default="", allow_blank=True)


class TopicDeleteInput(_VisibleQuerysets):
    topic = serializers.PrimaryKeyRelatedField(queryset=Topic.objects.none())
    justification = serializers.CharField(max_length=4000)


class AccessRequestInput(AccessEntryInput, _VisibleQuerysets):
    team = TeamField()
    cluster = serializers.PrimaryKeyRelatedField(queryset=Cluster.objects.none())
    topic = serializers.PrimaryKeyRelatedField(queryset=Topic.objects.none(), required=False, allow_null=True)
    topic_prefix = serializers.CharField(max_length=249, required=False, default="", allow_blank=True)
    justification = serializers.CharField(max_length=4000, required=False, default="", allow_blank=True)


class AccessRevokeInput(_VisibleQuerysets):
    grant = serializers.PrimaryKeyRelatedField(queryset=AccessGrant.objects.none())
    justification = serializers.CharField(max_length=4000, required=False, default="", allow_blank=True)


class DecommissionInput(_VisibleQuerysets):
    cluster = serializers.PrimaryKeyRelatedField(queryset=Cluster.objects.none())
    justification = serializers.CharField(max_length=4000)


class ApproveInput(InputSerializer):
    override_reason = serializers.CharField(
        max_length=4000,
        required=False,
        default="",
        allow_blank=True,
        help_text="Decommissions only: why the cluster may take other teams' live topics down with it "
        "(approval is refused while they remain, unless this is given; it is recorded in the history).",
    )


class RejectInput(InputSerializer):
    reason = serializers.CharField(max_length=4000, help_text="Shown to the requester.")


MAX_REQUEST_ID = 2_147_483_647  # the largest id a request can have (a 32-bit primary key)


class RequestIdsField(serializers.ListField):
    """A list of request ids, as JSON numbers. Its length is checked before its entries, and every wrong
    entry is named in one message, so 10,000 of them are one short answer; "12" (text), 12.0 and true are
    not ids. A repeated id is kept here; `services.decide_many` decides it once."""

    def __init__(self, **kwargs):
        super().__init__(
            child=serializers.IntegerField(min_value=1, max_value=MAX_REQUEST_ID),
            min_length=1,
            max_length=services.BULK_DECISION_LIMIT,
            **kwargs,
        )

    def to_internal_value(self, data):
        if not isinstance(data, list):
            self.fail("not_a_list")
        if not data:
            self.fail("empty")
        if len(data) > services.BULK_DECISION_LIMIT:
            raise serializers.ValidationError(
                f"At most {services.BULK_DECISION_LIMIT} request ids at a time (one page of the approval "
                f"queue); this list has {len(data):,}."
            )
        wrong = [
            f"{json.dumps(value, ensure_ascii=False)[:20]} (entry {position})"
            for position, value in enumerate(data, 1)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_REQUEST_ID
        ]
        if wrong:
            more = f" and {len(wrong) - 5} more" if len(wrong) > 5 else ""
            raise serializers.ValidationError(
                f"Not a request id: {', '.join(wrong[:5])}{more}. Give ids as whole numbers from 1 to "
                f"{MAX_REQUEST_ID:,}, such as 12."
            )
        return list(data)


class BulkDecisionInput(InputSerializer):
    """Approve the requests `ids`, or reject them with one `reason` (required to reject, refused to approve)."""

    ids = RequestIdsField(
        help_text=f"The requests to decide: 1 to {services.BULK_DECISION_LIMIT} ids, each decided in the "
        "order given; a repeated id is decided once and listed once in the answer."
    )
    decision = serializers.ChoiceField(choices=["approve", "reject"])
    reason = serializers.CharField(
        max_length=4000,
        required=False,
        default="",
        allow_blank=True,
        help_text="Rejections only, and required for them: one reason for all, shown to each requester.",
    )

    def to_internal_value(self, data):
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            # A rejection's missing reason is reported with the other fields' errors, not after them.
            if isinstance(exc.detail, dict) and isinstance(data, dict) and "reason" not in exc.detail:
                exc.detail.update(self._reason_errors(data.get("decision"), data.get("reason")))
            raise
        errors = self._reason_errors(value["decision"], value["reason"])
        if errors:
            raise serializers.ValidationError(errors)
        return value

    @staticmethod
    def _reason_errors(decision, reason) -> dict[str, list[str]]:
        given = isinstance(reason, str) and reason.strip()
        if decision == "reject" and not given:
            return {"reason": [services.REASON_REQUIRED]}
        if decision == "approve" and given:
            return {
                "reason": [
                    "Only a rejection takes a reason; an approval records none. (An override reason for a "
                    "decommission is given one request at a time, on its approve endpoint.)"
                ]
            }
        return {}


class SkippedOutput(serializers.Serializer):
    id = serializers.IntegerField(source="request_id", help_text="The request left as it was.")
    reason = serializers.CharField(help_text="Why: what a single decision would have answered.")


class BulkDecisionOutput(serializers.Serializer):
    approved = serializers.ListField(child=serializers.IntegerField(), help_text="Ids approved, in order.")
    rejected = serializers.ListField(child=serializers.IntegerField(), help_text="Ids rejected, in order.")
    skipped = SkippedOutput(many=True, help_text="Requests not decided, each with the reason.")


class RequestEventOutput(serializers.ModelSerializer):
    class Meta:
        model = RequestEvent
        fields = ["created_at", "actor_label", "from_status", "to_status", "note"]


class RequestOutput(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    requested_by = serializers.CharField(source="requested_by.username", read_only=True)
    decided_by = serializers.CharField(
        source="decided_by.username", read_only=True, allow_null=True, default=None
    )
    approved_by_rule = serializers.CharField(
        source="approved_by_rule.name", read_only=True, allow_null=True, default=None
    )
    payload = serializers.JSONField(read_only=True)
    assessment = serializers.JSONField(read_only=True)

    class Meta:
        model = Request
        fields = [
            "id",
            "kind",
            "status",
            "team",
            "requested_by",
            "environment",
            "summary",
            "justification",
            "payload",
            "assessment",
            "has_warnings",
            "estimated_monthly_cost",
            "cluster",
            "topic",
            "grant",
            "decided_by",
            "decided_at",
            "decision_reason",
            "approved_by_rule",
            "created_at",
        ]


class RequestDetailOutput(RequestOutput):
    events = RequestEventOutput(many=True, read_only=True)

    class Meta(RequestOutput.Meta):
        fields = [*RequestOutput.Meta.fields, "events"]


class ClusterOutput(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    account = serializers.CharField(source="account.account_id", read_only=True)

    class Meta:
        model = Cluster
        fields = [
            "id",
            "name",
            "team",
            "kind",
            "source_cluster",
            "environment",
            "account",
            "region",
            "status",
            "arn",
            "bootstrap_brokers",
            "expected_write_mbps",
            "expected_read_mbps",
            "contains_pii",
            "latency_class",
            "created_at",
        ]
