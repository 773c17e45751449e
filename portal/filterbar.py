"""Filter bars: the GET forms above the long lists (requests, approvals, audit trail, billing month).

`_filter_bar.html` renders them. It does not go through Django's widget templates, which render every
<option> of a <select> as a template of its own (several milliseconds for a bar of a few selects): the
mixin hands the partial each field's name, label, value and options, still with a <label> per field and
the submitted values kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.template.loader import render_to_string
from django.utils.safestring import SafeString


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
                value = "on" if value.lower() in {"on", "true", "1"} else ""
            fields.append(
                BarField(
                    name=name,
                    label=field.label or name.replace("_", " ").capitalize(),
                    kind=kind,
                    value=value,
                    options=options,
                    help_text=field.help_text,
                    max_length=getattr(field, "max_length", None) or 200,
                )
            )
        return fields

    def render_bar(self) -> SafeString:
        return render_to_string("_filter_bar.html", {"fields": self.bar_fields()})

    def __html__(self) -> str:
        return self.render_bar()

    def __str__(self) -> str:
        return self.render_bar()
