"""Filter bars: the GET forms above the long lists (requests, approvals, audit trail, billing month), and
the pieces every list's django-filter FilterSet shares (`clusters/filters.py`, `portal/filters.py`,
`billing/filters.py`): the bar's form, a slug filter, a checkbox filter that is also an API parameter, and
the API's form that refuses a parameter given empty.

`_filter_bar.html`, a Jinja2 template (`portal/jinja.py` says why), renders the bars. It does not go
through Django's widget templates, which render every <option> of a <select> as a template of its own
(several milliseconds for a bar of a few selects): the mixin hands the partial each field's name, label,
value and options, still with a <label> per field and the submitted values kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.utils.safestring import SafeString

from portal import jinja


@dataclass(frozen=True)
class BarField:
    name: str
    label: str
    kind: str  # "select", "checkbox" or "text"
    value: str
    options: list[tuple[str, str, bool]]  # select: (value, label, selected)
    help_text: str
    max_length: int


class FilterBarMixin:
    """For GET filter forms made of fields with a <select> (ChoiceField), BooleanField and CharField or
    SlugField only; `{{ form }}` renders the bar."""

    def _value(self, name: str) -> str:
        if self.is_bound:
            return str(self.data.get(name, "") or "")
        initial = self.initial.get(name, self.fields[name].initial)
        return "" if initial is None else str(initial)

    def bar_fields(self) -> list[BarField]:
        fields = []
        for name, field in self.fields.items():
            value = self._value(name)
            kind, options = "text", []
            if isinstance(field.widget, forms.Select):
                kind = "select"
                options = [(str(key), label, str(key) == value) for key, label in field.widget.choices]
            elif isinstance(field, forms.BooleanField):
                kind = "checkbox"
                value = "on" if value.lower() in CheckboxField.CHECKED else ""
            fields.append(
                BarField(
                    name=name,
                    label=self._label(name),
                    kind=kind,
                    value=value,
                    options=options,
                    # A select's help text describes the API parameter ("Team slug": what to type);
                    # the bar offers the choices instead, so it shows help only beside a text box.
                    help_text=field.help_text if kind == "text" else "",
                    max_length=getattr(field, "max_length", None) or 200,
                )
            )
        return fields

    def filter_errors(self) -> list[str]:
        """What is wrong with the submitted filters, one "Label: message" each (`_filter_errors.html`
        shows them above the list they did not narrow)."""
        return [
            f"{self._label(name)}: {message}" if name in self.fields else message
            for name, messages in self.errors.items()
            for message in messages
        ]

    def _label(self, name: str) -> str:
        return self.fields[name].label or name.replace("_", " ").capitalize()

    def render_bar(self) -> SafeString:
        return jinja.render_partial("_filter_bar.html", {"fields": self.bar_fields()})

    def __html__(self) -> str:
        return self.render_bar()

    def __str__(self) -> str:
        return self.render_bar()


class FilterBarForm(FilterBarMixin, forms.Form):
    """The form of a FilterSet, rendered as the filter bar (`_filter_bar.html`). A value that does not
    parse is left out of the filtering and named by `filter_errors()`."""


class GivenNotEmptyForm(FilterBarForm):
    """API parameters: one given empty (`?team=`) is refused rather than read as "not given"."""

    def clean(self):
        for name in self.fields:
            if self.data.get(name) == "":
                self.add_error(name, "Leave the parameter out or choose a value.")
        return super().clean()


class SlugFilter(django_filters.CharFilter):
    """A team's (or other object's) slug: a value that cannot be a slug never reaches the database."""

    field_class = forms.SlugField

    # In the words of the API's input serializers (`portal.api.input.PLAIN_MESSAGES`).
    MESSAGES = {
        "invalid": "Use only letters, digits, hyphens and underscores.",
        "max_length": "At most %(limit_value)d characters.",
    }

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("error_messages", self.MESSAGES)
        super().__init__(*args, **kwargs)


class _RawCheckbox(forms.CheckboxInput):
    """A checkbox that hands its field the submitted word (CheckboxInput reads any word but "false" as
    checked, `?mine=0` and `?mine=no` included)."""

    def value_from_datadict(self, data, files, name):
        return data.get(name)


class CheckboxField(forms.NullBooleanField):
    """A bar's checkbox and the API's boolean parameter of the same name: "on" (what a browser sends),
    "true" or "1" is checked; "false" or "0" is not; left out is not given; any other word does not parse."""

    CHECKED, UNCHECKED = frozenset({"on", "true", "1"}), frozenset({"false", "0"})
    widget = _RawCheckbox
    # In the words of the API's input serializers (`portal.api.input.PLAIN_MESSAGES`).
    default_error_messages = {"invalid": "Must be true or false."}

    def to_python(self, value):
        if value is None or value == "":
            return None
        word = str(value).lower()
        if word in self.CHECKED or word in self.UNCHECKED:
            return word in self.CHECKED
        raise ValidationError(self.error_messages["invalid"], code="invalid")


class CheckboxFilter(django_filters.BooleanFilter):
    """A checkbox of the bar (`?name=on`) that the API takes as a boolean (`?name=true`), documented as one
    in OpenAPI (a BooleanFilter); its method gets True, False or nothing (not given)."""

    field_class = CheckboxField
