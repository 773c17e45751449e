"""Request forms: they parse and type the input, with choices limited to what the user may act on.

Each form turns its cleaned data into the keyword arguments of one `clusters.requests.services.prepare_*`
function (`service_kwargs`); the service does the real validation and its `ValidationError` is mapped back
onto the form's fields (`apply_service_errors`), unknown keys becoming non-field errors.
"""

from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.html import escape

from clusters import rules, selectors
from clusters.models import REGION_CHOICES, Cluster, Environment, PlatformSettings
from clusters.requests import services
from portal import numbers
from portal.models import Team, User

ACCESS_ROWS = 3
ACCESS_ROW_FIELDS = ("principal_arn", "produce", "consume", "consumer_group_prefix")
_ACCESS_MESSAGE = re.compile(r"^Access #(\d+): (.*)$", re.DOTALL)
_MBPS = rules.MBPS_FIELD  # the REST API's too
MAX_PARTITIONS = rules.MAX_PARTITIONS_PER_TOPIC


def _stripped(value: str | None) -> str | None:
    """A text field's value without surrounding blanks; None (it did not parse) stays None."""
    return value.strip() if isinstance(value, str) else value


def _justification(help_text: str, *, required: bool = False) -> forms.CharField:
    # Not required at the form level: the service says *why* it needs one, in its own words.
    return forms.CharField(
        required=required, max_length=4000, widget=forms.Textarea(attrs={"rows": 3}), help_text=help_text
    )


class ServiceForm(forms.Form):
    """A form whose cleaned data feeds one prepare_* service.

    A form that knows who files it (`user`) shows every error at once instead of one more on each submit:
    when some fields do not parse, the service still checks the others (`partial=True`, None for the
    fields in error)."""

    prepare = None  # the services function, set by subclasses
    user: User | None = None  # who files it; set by forms whose `prepare` takes `partial`

    def _post_clean(self):
        super()._post_clean()
        if self._errors and self.user is not None:
            kwargs = self.service_kwargs({name: self.cleaned_data.get(name) for name in self.fields})
            errors = services.partial_errors(lambda: self.prepare(actor=self.user, partial=True, **kwargs))
            if errors:
                self.apply_service_errors(ValidationError(errors), beside_parse_errors=True)

    def service_kwargs(self, data: dict | None = None) -> dict:
        """The service's keyword arguments from `data` (the cleaned data unless given)."""
        data = self.cleaned_data if data is None else data
        return {key: value for key, value in data.items() if key in self.fields}

    def field_for(self, key: str) -> str | None:
        """The form field a service error key belongs to (None: a non-field error)."""
        return key if key in self.fields else None

    def _add_service_error(self, field: str | None, message: str, *, beside_parse_errors: bool) -> None:
        """Add one service message; beside parse errors (partial input), a field that already has its own
        error keeps just that one."""
        already = self.errors.get(field, []) if field is not None else []
        if message in already or (already and beside_parse_errors):
            return
        self.add_error(field, message)

    def apply_service_errors(self, exc: ValidationError, *, beside_parse_errors: bool = False) -> None:
        if not hasattr(exc, "error_dict"):
            for message in exc.messages:
                self._add_service_error(None, message, beside_parse_errors=beside_parse_errors)
            return
        for key, messages in exc.message_dict.items():
            for message in messages:
                self._add_service_error(self.field_for(key), message, beside_parse_errors=beside_parse_errors)


class TeamScopedForm(ServiceForm):
    """Team choices are the teams the user may file requests for (who is also `user`, so every error
    shows at once: `ServiceForm`)."""

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.team_ids = selectors.acting_team_ids(user)
        teams = selectors.acting_teams(user)
        self.fields["team"] = forms.ModelChoiceField(
            queryset=teams,
            help_text="The team that owns (and pays for) what you ask for.",
            error_messages={"invalid_choice": "Choose one of your teams."},
        )
        # The team comes first in the form.
        self.order_fields(["team"])
        if len(self.team_ids) == 1 and "team" not in self.initial:
            self.initial["team"] = next(iter(self.team_ids))


def _cluster_label(cluster: Cluster) -> str:
    return f"{cluster.name} ({cluster.team.slug}, {cluster.environment}, {cluster.region})"


class ClusterChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Cluster) -> str:
        return _cluster_label(obj)


class NetworkProfileChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.name} — {obj.account.name}, {obj.region} ({obj.vpc_id})"


class TopicChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.name} on {obj.cluster.name}"


# --- New cluster ----------------------------------------------------------------------------------


class ClusterRequestForm(TeamScopedForm):
    prepare = staticmethod(services.prepare_cluster_create)

    name = forms.CharField(max_length=64, help_text=f"The MSK cluster name: {rules.CLUSTER_NAME_RULE}")
    kind = forms.ChoiceField(
        choices=Cluster.Kind.choices,
        initial=Cluster.Kind.DEDICATED,
        help_text="A read cluster is fed by MSK Replicator from a write cluster in the same region.",
    )
    environment = forms.ChoiceField(choices=Environment.choices, initial=Environment.DEV)
    account = forms.ModelChoiceField(
        queryset=None,
        label="AWS account",
        help_text="The platform's shared account, or your team's own account (your team then owns the cost).",
    )
    region = forms.ChoiceField(choices=REGION_CHOICES, initial="us-east-1")
    network_profile = NetworkProfileChoiceField(
        queryset=None,
        help_text="Subnets and security groups; only profiles of the chosen account and region are accepted.",
        error_messages={"invalid_choice": "Choose one of the network profiles listed."},
    )
    expected_write_mbps = numbers.DecimalField(
        label="Expected write throughput (MB/s)",
        initial=1,
        help_text=(
            "All of the cluster's traffic, checked against the quotas. Its cost is in the estimates of the topic "
            "requests that carry it, not in this one, except on a read cluster: MSK Replicator copies its "
            "topics in without a request."
        ),
        **_MBPS,
    )
    expected_read_mbps = numbers.DecimalField(label="Expected read throughput (MB/s)", initial=2, **_MBPS)
    contains_pii = forms.BooleanField(required=False, label="The data contains personal information (PII)")
    latency_class = forms.ChoiceField(
        choices=Cluster.LatencyClass.choices, initial=Cluster.LatencyClass.INSENSITIVE
    )
    source_cluster = ClusterChoiceField(
        queryset=None, required=False, help_text="Read clusters only: the write cluster to replicate from."
    )
    replicate_topics = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Read clusters only: full names of the source's topics to copy, one per line or comma-separated.",
    )
    justification = _justification("What the cluster is for. Approvers read this.")

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, user=user, **kwargs)
        self.fields["account"].queryset = selectors.usable_accounts(self.team_ids)
        # Every profile the team may use stays a choice (its label names account and region): a profile of
        # another region is the service's field error, shown with the others, and the choice is kept.
        self.fields["network_profile"].queryset = selectors.usable_network_profiles(self.team_ids)
        self.fields["source_cluster"].queryset = selectors.source_clusters(self.team_ids)

    def clean_name(self) -> str:
        return self.cleaned_data["name"].strip()

    def clean_replicate_topics(self) -> list[str]:
        text = self.cleaned_data.get("replicate_topics") or ""
        return [name for name in re.split(r"[\s,]+", text) if name]


# --- New topic (optionally with access: the combined request) -------------------------------------


class TopicRequestForm(TeamScopedForm):
    prepare = staticmethod(services.prepare_topic_create)

    cluster = ClusterChoiceField(
        queryset=None, help_text="A cluster your team owns or that has been opened to your team."
    )
    name = forms.CharField(max_length=249, help_text="")  # help text set per platform template below
    expected_in_mbps = numbers.DecimalField(label="Expected write throughput in (MB/s)", initial=1, **_MBPS)
    expected_out_mbps = numbers.DecimalField(label="Expected read throughput out (MB/s)", initial=2, **_MBPS)
    partitions = numbers.IntegerField(
        required=False,
        **rules.PARTITIONS_FIELD,
        help_text=(
            "Leave empty to take the suggestion: max(⌈in ÷ 5⌉, ⌈out ÷ 10⌉), because a Serverless partition "
            "takes 5 MB/s in and 10 MB/s out. You may ask for more, never fewer."
        ),
    )
    cleanup_policy = forms.ChoiceField(
        choices=rules.CLEANUP_POLICY_CHOICES,
        initial="delete",
        label="cleanup.policy",
        help_text="Cannot be changed after the topic is created. Compacted partitions have their own, lower quota.",
    )
    retention_ms = numbers.IntegerField(
        initial=rules.DEFAULT_RETENTION_MS,
        label="retention.ms",
        help_text="How long messages are kept, in milliseconds (7 days = 604800000); -1 = unlimited.",
        **rules.RETENTION_MS_FIELD,
    )
    retention_bytes = numbers.IntegerField(
        initial=rules.DEFAULT_RETENTION_BYTES,
        label="retention.bytes",
        help_text="Size kept per partition before the oldest data goes, in bytes; -1 = unlimited.",
        **rules.RETENTION_BYTES_FIELD,
    )
    max_message_bytes = numbers.IntegerField(
        initial=rules.DEFAULT_MAX_MESSAGE_BYTES,
        label="max.message.bytes",
        help_text=f"Largest message, in bytes: at most 8 MiB ({rules.MAX_MESSAGE_BYTES:,}) on MSK Serverless.",
        **rules.MAX_MESSAGE_BYTES_FIELD,
    )
    compression_type = forms.ChoiceField(
        choices=[(value, value) for value in rules.COMPRESSION_TYPES],
        initial="producer",
        label="compression.type",
        help_text="“producer” keeps whatever compression the producer used.",
    )
    message_timestamp_type = forms.ChoiceField(
        choices=[(value, value) for value in rules.TIMESTAMP_TYPES],
        initial="CreateTime",
        label="message.timestamp.type",
    )
    justification = _justification("What the topic carries, and who reads it. Optional.")

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, user=user, **kwargs)
        self.fields["cluster"].queryset = selectors.usable_clusters(self.team_ids)
        template = PlatformSettings.current().topic_name_template
        only_team = self.fields["team"].queryset.first() if len(self.team_ids) == 1 else None
        example = rules.full_topic_name(
            template, team_slug=only_team.slug if only_team else "<team>", name="<name>"
        )
        # Django renders help texts unescaped: escape what is built from data.
        self.fields["name"].help_text = escape(
            f"The short name; the full Kafka topic name is {example} (typing it in full works too: the team "
            f"prefix is never doubled). {rules.TOPIC_NAME_RULE}"
        )
        for row in range(1, ACCESS_ROWS + 1):
            self.fields[f"access_{row}_principal_arn"] = forms.CharField(
                required=False,
                max_length=2048,
                label=f"Access #{row}: principal (IAM role ARN)",
                help_text=rules.PRINCIPAL_ARN_RULE if row == 1 else "",
            )
            self.fields[f"access_{row}_produce"] = forms.BooleanField(
                required=False, label=f"Access #{row}: may produce"
            )
            self.fields[f"access_{row}_consume"] = forms.BooleanField(
                required=False, label=f"Access #{row}: may consume"
            )
            self.fields[f"access_{row}_consumer_group_prefix"] = forms.CharField(
                required=False,
                max_length=200,
                label=f"Access #{row}: consumer-group prefix",
                help_text="Consumers only: the group ids they may use start with this." if row == 1 else "",
            )
        self._access_rows_sent: list[int] = []

    @property
    def main_fields(self):
        return [field for field in self if not field.name.startswith("access_")]

    @property
    def access_rows(self):
        return [
            [self[f"access_{row}_{name}"] for name in ACCESS_ROW_FIELDS] for row in range(1, ACCESS_ROWS + 1)
        ]

    def clean_name(self) -> str:
        return self.cleaned_data["name"].strip()

    def access_entries(self, data: dict) -> list[services.AccessInput]:
        """The rows filled in (a value that did not parse stays None, for the service to skip)."""
        entries, self._access_rows_sent = [], []
        for row in range(1, ACCESS_ROWS + 1):
            arn = _stripped(data.get(f"access_{row}_principal_arn"))
            produce = bool(data.get(f"access_{row}_produce"))
            consume = bool(data.get(f"access_{row}_consume"))
            group = _stripped(data.get(f"access_{row}_consumer_group_prefix"))
            if arn != "" or produce or consume or group != "":
                entries.append(services.AccessInput(arn, produce, consume, group))
                self._access_rows_sent.append(row)
        return entries

    def service_kwargs(self, data: dict | None = None) -> dict:
        data = self.cleaned_data if data is None else data
        kwargs = {key: value for key, value in data.items() if not key.startswith("access_")}
        kwargs["access_entries"] = self.access_entries(data)
        return kwargs

    def apply_service_errors(self, exc: ValidationError, *, beside_parse_errors: bool = False) -> None:
        """Access messages ("Access #2: …", coded with the row's field) go under that field of that row."""
        if hasattr(exc, "error_dict") and "access" in exc.error_dict:
            rest = {key: value for key, value in exc.error_dict.items() if key != "access"}
            for error in exc.error_dict["access"]:
                message = " ".join(error.messages)
                match = _ACCESS_MESSAGE.match(message)
                index = int(match.group(1)) - 1 if match else -1
                if 0 <= index < len(self._access_rows_sent):
                    field = error.code if error.code in ACCESS_ROW_FIELDS else "principal_arn"
                    field, message = f"access_{self._access_rows_sent[index]}_{field}", match.group(2)
                else:
                    field = None
                self._add_service_error(field, message, beside_parse_errors=beside_parse_errors)
            exc = ValidationError(rest) if rest else None
        if exc is not None:
            super().apply_service_errors(exc, beside_parse_errors=beside_parse_errors)

    def suggested_partitions(self) -> int | None:
        in_mbps = self.cleaned_data.get("expected_in_mbps") if hasattr(self, "cleaned_data") else None
        out_mbps = self.cleaned_data.get("expected_out_mbps") if hasattr(self, "cleaned_data") else None
        if in_mbps is None or out_mbps is None:
            return None
        return rules.suggested_partitions(in_mbps, out_mbps)


# --- Access to a topic or a prefix ----------------------------------------------------------------


class AccessRequestForm(TeamScopedForm):
    prepare = staticmethod(services.prepare_access_grant)

    cluster = ClusterChoiceField(queryset=None, help_text="The cluster the principal connects to.")
    topic = TopicChoiceField(
        queryset=None, required=False, help_text="One topic your team owns on that cluster…"
    )
    topic_prefix = forms.CharField(
        required=False,
        max_length=249,
        help_text="…or every topic whose name starts with this; it must start with your team's namespace.",
    )
    principal_arn = forms.CharField(
        max_length=2048, label="Principal (IAM role ARN)", help_text=rules.PRINCIPAL_ARN_RULE
    )
    produce = forms.BooleanField(required=False, label="May produce (write)")
    consume = forms.BooleanField(required=False, label="May consume (read)")
    consumer_group_prefix = forms.CharField(
        required=False,
        max_length=200,
        help_text="Consumers only: the group ids they may use start with this.",
    )
    justification = _justification("Which application this is and why it needs the access. Optional.")

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, user=user, **kwargs)
        self.fields["cluster"].queryset = selectors.usable_clusters(self.team_ids)
        self.fields["topic"].queryset = selectors.team_topics(self.team_ids)
        initial_cluster = str(self.initial.get("cluster", ""))
        if not self.is_bound and initial_cluster.isdigit():
            self._narrow_topics_to_cluster(
                self.fields["cluster"].queryset.filter(pk=int(initial_cluster)).first()
            )
        if len(self.team_ids) == 1:
            team = self.fields["team"].queryset.first()
            namespace = rules.topic_namespace(
                PlatformSettings.current().topic_name_template, team_slug=team.slug
            )
            self.fields["topic_prefix"].help_text = escape(
                f"…or every topic whose name starts with this; it must start with your team's namespace “{namespace}”."
            )

    def full_clean(self):
        super().full_clean()
        self._narrow_topics_to_cluster(
            self.cleaned_data.get("cluster") if hasattr(self, "cleaned_data") else None
        )

    def topic_choices_swap(self) -> str:
        """The topic list again, for htmx to swap in place of the form's (out of band) after the preview;
        without error marks: the preview lists what is still missing, the field says so on submit."""
        topic = self["topic"]
        attrs = {"id": topic.auto_id, "hx-swap-oob": "true", "aria-describedby": f"{topic.auto_id}_helptext"}
        return topic.field.widget.render(topic.html_name, topic.value(), attrs=attrs)

    def _narrow_topics_to_cluster(self, cluster) -> None:
        """Once a cluster is chosen, the topic list offers only its topics (htmx swaps the list in as the
        cluster changes; without JavaScript the service refuses a topic of another cluster, saying so)."""
        if cluster is not None:
            self.fields["topic"].queryset = self.fields["topic"].queryset.filter(cluster=cluster)

    def service_kwargs(self, data: dict | None = None) -> dict:
        data = self.cleaned_data if data is None else data
        return {
            "team": data.get("team"),
            "cluster": data.get("cluster"),
            "topic": data.get("topic"),
            "topic_prefix": _stripped(data.get("topic_prefix")),
            "justification": data.get("justification"),
            "entry": services.AccessInput(
                principal_arn=_stripped(data.get("principal_arn")),
                produce=bool(data.get("produce")),
                consume=bool(data.get("consume")),
                consumer_group_prefix=_stripped(data.get("consumer_group_prefix")),
            ),
        }


# --- Changes to existing inventory ----------------------------------------------------------------


class TopicUpdateForm(ServiceForm):
    prepare = staticmethod(services.prepare_topic_update)

    partitions = numbers.IntegerField(
        help_text="Kafka can only add partitions, never remove them.", **rules.PARTITIONS_FIELD
    )
    expected_in_mbps = numbers.DecimalField(label="Expected write throughput in (MB/s)", **_MBPS)
    expected_out_mbps = numbers.DecimalField(label="Expected read throughput out (MB/s)", **_MBPS)
    retention_ms = numbers.IntegerField(
        label="retention.ms", help_text="Milliseconds; -1 = unlimited.", **rules.RETENTION_MS_FIELD
    )
    retention_bytes = numbers.IntegerField(
        label="retention.bytes",
        help_text="Bytes per partition; -1 = unlimited.",
        **rules.RETENTION_BYTES_FIELD,
    )
    max_message_bytes = numbers.IntegerField(
        label="max.message.bytes",
        help_text=f"At most 8 MiB ({rules.MAX_MESSAGE_BYTES:,} bytes).",
        **rules.MAX_MESSAGE_BYTES_FIELD,
    )
    compression_type = forms.ChoiceField(
        choices=[(value, value) for value in rules.COMPRESSION_TYPES], label="compression.type"
    )
    message_timestamp_type = forms.ChoiceField(
        choices=[(value, value) for value in rules.TIMESTAMP_TYPES], label="message.timestamp.type"
    )
    justification = _justification("Why the change is needed. Optional.")

    def __init__(self, *args, topic, partitions=None, user: User | None = None, **kwargs):
        """`partitions`: a suggestion to start from (an alert's remedy), else the topic's own. `user`: who
        files it, so that fields which parse are checked by the service beside those which do not
        (`ServiceForm`)."""
        configs = topic.configs or {}
        kwargs.setdefault(
            "initial",
            {
                "partitions": partitions or topic.partitions,
                "expected_in_mbps": topic.expected_in_mbps,
                "expected_out_mbps": topic.expected_out_mbps,
                "retention_ms": configs.get("retention.ms", rules.DEFAULT_RETENTION_MS),
                "retention_bytes": configs.get("retention.bytes", rules.DEFAULT_RETENTION_BYTES),
                "max_message_bytes": configs.get("max.message.bytes", rules.DEFAULT_MAX_MESSAGE_BYTES),
                "compression_type": configs.get("compression.type", "producer"),
                "message_timestamp_type": configs.get("message.timestamp.type", "CreateTime"),
            },
        )
        super().__init__(*args, **kwargs)
        self.topic = topic
        self.user = user

    def service_kwargs(self, data: dict | None = None) -> dict:
        return {"topic": self.topic, **super().service_kwargs(data)}


class JustificationForm(ServiceForm):
    """Topic deletion, access revocation and cluster decommissioning only ask why."""

    justification = _justification("Why. Approvers read this.")

    def __init__(self, *args, prepare, target: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.prepare = prepare
        self.target = target  # e.g. {"topic": topic}

    def service_kwargs(self) -> dict:
        return {**self.target, "justification": self.cleaned_data.get("justification") or ""}


class RejectForm(forms.Form):
    reason = forms.CharField(
        required=False,  # the service explains why it needs one
        max_length=4000,
        help_text="Shown to the requester.",
    )


_CHOOSE_DECISION = "Choose “Approve selected” or “Reject selected”."
_REQUEST_ID = re.compile(r"[0-9]{1,10}")  # ASCII digits only (`\d` would take other scripts' digits)
_MAX_ID = 2_147_483_647


class BulkDecisionForm(RejectForm):
    """The approval queue's bulk bar: approve the ticked requests, or reject them with one reason (checked as
    RejectForm checks it). "Select all on this page" (`all_on_page`) adds the page's requests the admin may
    decide on (`on_page`, written into the bar), so it works without JavaScript. The selection is parsed
    here (`request_ids`); `services.decide_many` checks the rest (at most 50, a reason to reject)."""

    action = forms.ChoiceField(
        choices=[("approve", "Approve selected"), ("reject", "Reject selected")],
        error_messages={"required": _CHOOSE_DECISION, "invalid_choice": _CHOOSE_DECISION},
    )
    ids = forms.Field(required=False, widget=forms.MultipleHiddenInput)
    all_on_page = forms.BooleanField(required=False)
    on_page = forms.CharField(required=False)

    def clean(self):
        cleaned = super().clean()
        ticked = cleaned.get("ids") or []
        page = (cleaned.get("on_page") or "").split() if cleaned.get("all_on_page") else []
        request_ids = []
        for value in (*ticked, *page):
            value = value.strip()
            if not _REQUEST_ID.fullmatch(value) or not 0 < int(value) <= _MAX_ID:
                raise ValidationError(f"“{value[:20]}” is not a request number.")
            request_ids.append(int(value))
        cleaned["request_ids"] = request_ids
        return cleaned

    @property
    def approve(self) -> bool:
        return self.cleaned_data["action"] == "approve"


class AdoptClusterForm(ServiceForm):
    """Adopt a cluster created outside the portal: who owns it, and how it is recorded. The choices are
    limited here; `provisioning.adopt_unknown_cluster` checks them again and says why one does not fit."""

    team = forms.ModelChoiceField(
        queryset=Team.objects.order_by("name"),
        help_text="The team that owns (and pays for) the cluster from now on.",
        error_messages={
            "required": "Choose the team that owns the cluster.",
            "invalid_choice": "Choose a team.",
        },
    )
    environment = forms.ChoiceField(
        choices=[("", "---------"), *Environment.choices],
        error_messages={
            "required": "Choose the cluster's environment.",
            "invalid_choice": "Choose Development, Staging or Production.",
        },
    )
    network_profile = forms.ModelChoiceField(
        queryset=None,
        help_text="Where the cluster is: a profile of its account and region.",
        error_messages={
            "required": "Choose the cluster's network profile.",
            "invalid_choice": "Choose a network profile of the cluster's account and region.",
        },
    )

    def __init__(self, *args, finding, **kwargs):
        super().__init__(*args, **kwargs)
        profiles = selectors.adoption_network_profiles(finding)
        self.fields["network_profile"].queryset = profiles
        if len(profiles) == 1 and "network_profile" not in self.initial:
            self.initial["network_profile"] = profiles[0].pk
