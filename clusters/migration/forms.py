"""Forms of the migration pages: parse and show errors; the services decide."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from clusters.migration.inventory import EDITABLE_SETTINGS
from clusters.migration.models import Application, MigrationPlan, Monolith
from clusters.models import REGION_CHOICES
from portal import numbers
from portal.text import validate_one_line

# What the database columns hold (a larger figure was a 500 on PostgreSQL: "numeric field overflow").
MAX_USD = Decimal("9999999999.99")  # DecimalField(max_digits=12, decimal_places=2)
MAX_COUNT = 2_147_483_647  # PositiveIntegerField
MAX_PEAK_MBPS = Decimal(100_000)  # what a request may ask for (clusters.rules.MBPS_FIELD)


def _cost_field(**kwargs) -> numbers.DecimalField:
    return numbers.DecimalField(
        label="Monthly cost of the monolith (USD)",
        min_value=Decimal(0),
        max_value=MAX_USD,
        decimal_places=2,
        unit="USD",
        **kwargs,
    )


def _peak_field(label: str, **kwargs) -> numbers.DecimalField:
    return numbers.DecimalField(
        label=label,
        required=False,
        min_value=Decimal(0),
        max_value=MAX_PEAK_MBPS,
        decimal_places=6,
        unit="MB/s",
        **kwargs,
    )


class IdListField(forms.CharField):
    """Ids separated by commas or spaces ("subnet-0a…, subnet-0b…"), as a list; the service checks each."""

    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, list | tuple) else value

    def to_python(self, value) -> list[str]:
        text = super().to_python(value) or ""
        validate_one_line(text)  # on the text: the field's own NUL check would see only the list's repr
        return [part for part in text.replace(",", " ").split() if part]


class ForgetOnError(forms.TextInput):
    """A text input that does not show a refused value back: whatever was typed into the password's
    variable name by mistake (the password itself, say) is not echoed into the page."""

    def __init__(self, attrs=None):
        super().__init__(attrs)
        self.refused = False

    def get_context(self, name, value, attrs):
        return super().get_context(name, None if self.refused else value, attrs)


class MonolithForm(forms.ModelForm):
    subnet_ids = IdListField(
        label=Monolith._meta.get_field("subnet_ids").verbose_name,
        required=False,
        max_length=2000,
        help_text=Monolith._meta.get_field("subnet_ids").help_text,
    )
    security_group_ids = IdListField(
        label=Monolith._meta.get_field("security_group_ids").verbose_name,
        required=False,
        max_length=2000,
        help_text=Monolith._meta.get_field("security_group_ids").help_text,
    )
    # Only MirrorMaker 2 on MSK Connect uses it; left empty it is the plugin's first revision.
    mm2_plugin_revision = numbers.IntegerField(
        label="MirrorMaker 2 plugin revision", min_value=1, max_value=MAX_COUNT, required=False, initial=1
    )
    monthly_cost_usd = _cost_field(required=False)

    def clean_mm2_plugin_revision(self) -> int:
        return self.cleaned_data["mm2_plugin_revision"] or 1

    def add_error(self, field, error):
        """Every error passes here, the form's own and the service's."""
        super().add_error(field, error)
        if "password_env" in self.errors:
            self.fields["password_env"].widget.refused = True

    class Meta:
        model = Monolith
        fields = ["name", *EDITABLE_SETTINGS, "monthly_cost_usd"]
        widgets = {"password_env": ForgetOnError}
        labels = {
            "sasl_mechanism": "SASL mechanism",
            "sasl_username": "SASL user name",
            "aws_account": "AWS account",
        }


class MonolithSettingsForm(MonolithForm):
    """The monolith's connection and replication settings after registration: everything but its name
    (replications and planned clusters are named after it) and its cost (its own form)."""

    class Meta(MonolithForm.Meta):
        fields = list(EDITABLE_SETTINGS)


class CsvUploadForm(forms.Form):
    file = forms.FileField(
        help_text="Columns: topic, partitions, retention_ms, peak_in_mbps, peak_out_mbps, application, team, "
        "consumer_groups (separated by ;), optionally compacted (yes/no). The whole file is imported or nothing."
    )


class CostForm(forms.Form):
    monthly_cost_usd = _cost_field()


class ClaimForm(forms.Form):
    team = forms.ModelChoiceField(queryset=None, empty_label=None)
    note = forms.CharField(required=False, max_length=500, widget=forms.TextInput)

    def __init__(self, *args, teams, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams


class FilingForm(forms.Form):
    """A press of "File <team>'s requests" (or of "Turn off" for the next stages: the team alone)."""

    team = forms.ModelChoiceField(queryset=None, empty_label=None)
    next_stages = forms.BooleanField(
        required=False, label="File the next stages by themselves as they become possible"
    )

    def __init__(self, *args, teams, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams


class DecisionForm(forms.Form):
    reason = forms.CharField(required=False, max_length=1000, widget=forms.TextInput)


class RequirementsForm(forms.ModelForm):
    peak_in_mbps = _peak_field("Peak MB/s in", help_text="Empty: the inventory's figures for its topics.")
    peak_out_mbps = _peak_field("Peak MB/s out (all consumers)")
    retention_hours = numbers.IntegerField(required=False, min_value=0, max_value=MAX_COUNT, unit="hours")
    client_connections = numbers.IntegerField(min_value=0, max_value=MAX_COUNT, initial=0)

    class Meta:
        model = Application
        fields = [
            "peak_in_mbps",
            "peak_out_mbps",
            "retention_hours",
            "latency_class",
            "contains_pii",
            "tolerates_duplicates",
            "client_connections",
            "producers",
            "producer_roles",
            "consumer_roles",
        ]
        widgets = {
            "producers": forms.Textarea(attrs={"rows": 2}),
            # Wide enough for a role ARN and a group on one line (width: auto on desktops, full on phones).
            "producer_roles": forms.Textarea(attrs={"rows": 3, "cols": 72, "spellcheck": "false"}),
            "consumer_roles": forms.Textarea(attrs={"rows": 3, "cols": 72, "spellcheck": "false"}),
        }


class PlanForm(forms.Form):
    strategy = forms.ChoiceField(choices=MigrationPlan.Strategy.choices)
    headroom_percent = numbers.IntegerField(
        min_value=1, max_value=100, initial=70, label="Headroom target (%)", unit="%"
    )
    separate_latency_classes = forms.BooleanField(
        required=False, initial=True, label="Keep time-sensitive apart from not time-sensitive"
    )
    backup_region = forms.ChoiceField(
        choices=[("", "No backup region"), *REGION_CHOICES],
        required=False,
        label="Backup region (write clusters)",
    )


def _note() -> forms.CharField:
    return forms.CharField(
        required=False, max_length=300, widget=forms.TextInput, label="Why (kept with the version)"
    )


def _cluster_choices(plan: MigrationPlan) -> list[tuple[str, str]]:
    return [
        (cluster["key"], f"{cluster['name']} ({cluster['group']['label']})")
        for cluster in plan.result.get("clusters", [])
    ]


class MoveForm(forms.Form):
    application = forms.ChoiceField()
    to_cluster = forms.ChoiceField(label="To cluster")
    note = _note()

    def __init__(self, *args, plan: MigrationPlan, **kwargs):
        super().__init__(*args, auto_id="move_%s", **kwargs)  # beside the merge form on one page
        clusters = plan.result.get("clusters", [])
        names = sorted({name for cluster in clusters for name in cluster["applications"]})
        self.fields["application"].choices = [(name, name) for name in names]
        self.fields["to_cluster"].choices = _cluster_choices(plan)


class SplitForm(forms.Form):
    """Which applications of one planned cluster go to a new cluster beside it."""

    applications = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple,
        label="Applications that go to the new cluster",
        error_messages={"required": "Choose the applications that go to the new cluster."},
    )
    note = _note()

    def __init__(self, *args, cluster: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["applications"].choices = [(name, name) for name in cluster["applications"]]


class MergeForm(forms.Form):
    """Two planned clusters of the same constraint group become one (the second keeps its name)."""

    cluster = forms.ChoiceField(
        label="Cluster that goes away", error_messages={"required": "Choose the cluster that goes away."}
    )
    into = forms.ChoiceField(
        label="Merge into", error_messages={"required": "Choose the cluster that takes its applications."}
    )
    note = _note()

    def __init__(self, *args, plan: MigrationPlan, **kwargs):
        super().__init__(*args, auto_id="merge_%s", **kwargs)
        choices = [("", "Choose a cluster"), *_cluster_choices(plan)]
        self.fields["cluster"].choices = self.fields["into"].choices = choices
