"""Billing input: the month a page, export or command is about ('YYYY-MM'), validated with a readable message."""

from __future__ import annotations

import datetime as dt

from django import forms

from billing.months import parse_month
from portal.filterbar import FilterBarMixin

EARLIEST = dt.date(2000, 1, 1)
LATEST = dt.date(2100, 12, 1)


def month_from_text(text: str) -> dt.date:
    """'YYYY-MM' → first day of the month; ValueError with a message a person understands otherwise."""
    month = parse_month(text)
    if not EARLIEST <= month <= LATEST:
        raise ValueError(f"Choose a month between {EARLIEST:%Y-%m} and {LATEST:%Y-%m}, not {text.strip()}.")
    return month


class MonthForm(FilterBarMixin, forms.Form):
    month = forms.CharField(max_length=7, required=False, help_text="YYYY-MM")

    def __init__(self, data, *, default: dt.date):
        super().__init__(data or None, initial={"month": f"{default:%Y-%m}"})
        self.default = default

    def clean_month(self) -> dt.date:
        text = self.cleaned_data.get("month") or ""
        if not text:
            return self.default
        try:
            return month_from_text(text)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc

    def chosen_month(self) -> dt.date:
        """The chosen month (the default when the input is missing or invalid: the error is shown)."""
        return self.cleaned_data["month"] if self.is_valid() else self.default
