"""Filter bars rendered in Python.

Django renders every <option> of a <select> through a template; a filter bar of a few selects costs
several milliseconds per page that way. These GET-only forms have plain widgets, so they are rendered
directly, still with a <label> per field and the submitted values kept.
"""

from __future__ import annotations

from django import forms
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString


class FilterBarMixin:
    """For GET filter forms made of ChoiceField, BooleanField and CharField/SlugField only."""

    def _value(self, name: str) -> str:
        if self.is_bound:
            return str(self.data.get(name, "") or "")
        initial = self.initial.get(name, self.fields[name].initial)
        return "" if initial is None else str(initial)

    def _widget(self, name: str, field: forms.Field) -> SafeString:
        field_id = f"id_{name}"
        value = self._value(name)
        if isinstance(field, forms.ChoiceField):
            options = format_html_join(
                "",
                '<option value="{}"{}>{}</option>',
                ((key, " selected" if str(key) == value else "", label) for key, label in field.choices),
            )
            return format_html('<select name="{}" id="{}">{}</select>', name, field_id, options)
        if isinstance(field, forms.BooleanField):
            checked = " checked" if value.lower() in {"on", "true", "1"} else ""
            return format_html('<input type="checkbox" name="{}" id="{}"{}>', name, field_id, checked)
        max_length = getattr(field, "max_length", None) or 200
        return format_html(
            '<input type="text" name="{}" id="{}" value="{}" maxlength="{}">',
            name,
            field_id,
            value,
            max_length,
        )

    def render_bar(self) -> SafeString:
        parts = []
        for name, field in self.fields.items():
            label = field.label or name.replace("_", " ").capitalize()
            help_html = (
                format_html('<span class="helptext" id="id_{}_helptext">{}</span>', name, field.help_text)
                if field.help_text
                else ""
            )
            parts.append(
                format_html(
                    '<div><label for="id_{}">{}</label>{}{}</div>',
                    name,
                    label,
                    self._widget(name, field),
                    help_html,
                )
            )
        return format_html_join("", "{}", ((part,) for part in parts))

    def __html__(self) -> str:
        return self.render_bar()

    def __str__(self) -> str:
        return self.render_bar()
