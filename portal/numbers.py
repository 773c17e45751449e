"""How a number typed into a form or sent to the API is read: one rule per field, one message per mistake.

Django's and DRF's number fields check a value in several passes (does it parse; its range; its digits in
all; its digits after the point) and report every pass that fails, in their own words: "1e9" in a
throughput field got "Ensure this value is less than or equal to 100000." *and* "Ensure that there are no
more than 8 digits in total.", "1e-9" only the second, which means nothing to whoever typed four
characters. `NumberRule.parse` reads the value once and says the first thing wrong with it, in words that
name the fix. The form fields here and the API's (`portal.api.input`) both call it, so a field answers the
same in both.

What it reads: optional blanks around, an optional sign, the digits 0–9 with an optional point. Refused
with their own message: a comma ("12,5", "1,000"), exponents ("1e3": written out in full, as the API's
schema documents numbers), NaN and infinity, other scripts' digits. "-0" is 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError

_PLAIN = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_EXPONENT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][+-]?[0-9]+")
_COMMA = re.compile(r"[+-]?[0-9.,]*,[0-9.,]*")
_NOT_FINITE = re.compile(r"[+-]?(?:inf|infinity|nan|snan)", re.IGNORECASE)
MAX_LENGTH = 40  # longer than any number a field takes (the API's parser refuses JSON numbers of more digits)


def _shown(value: Decimal | int) -> str:
    return f"{value:,}"


@dataclass(frozen=True)
class NumberRule:
    """A field's numbers: from `min_value` to `max_value` (None: unbounded), with at most `decimal_places`
    digits after the point (0: a whole number; None: any). `unit` and `hint` finish the range message ("MB/s",
    "-1 = unlimited")."""

    min_value: Decimal | int | None = None
    max_value: Decimal | int | None = None
    decimal_places: int | None = 0  # None: any
    unit: str = ""
    hint: str = ""

    @property
    def whole(self) -> bool:
        return self.decimal_places == 0

    def range_message(self) -> str:
        kind = "a whole number" if self.whole else "a number"
        unit = f" {self.unit}" if self.unit else ""
        hint = f" ({self.hint})" if self.hint else ""
        if self.min_value is not None and self.max_value is not None:
            span = f" from {_shown(self.min_value)} to {_shown(self.max_value)}{unit}"
        elif self.min_value is not None:
            span = f" of {_shown(self.min_value)}{unit} or more"
        elif self.max_value is not None:
            span = f" up to {_shown(self.max_value)}{unit}"
        else:
            span = f" of {self.unit}" if self.unit else ""
        return f"Enter {kind}{span}{hint}."

    def not_a_number_message(self, text: str = "") -> str:
        example = "a whole number such as 12" if self.whole else "a number such as 12.5"
        if any(char.isdigit() and not char.isascii() for char in text):
            return f"Enter {example}, with the digits 0–9."
        return f"Enter {example}."

    def parse(self, value) -> Decimal | int:
        """The number `value` stands for (an int for a whole-number rule, else a Decimal), or ValueError
        with the one message to show."""
        number = self._read(value)
        if number == 0:
            number = abs(number)  # "-0" is 0 (and never shows as "-0")
        if self.whole and number != number.to_integral_value():
            raise ValueError("Enter a whole number, without decimals.")
        if (self.min_value is not None and number < self.min_value) or (
            self.max_value is not None and number > self.max_value
        ):
            raise ValueError(self.range_message())
        if self.decimal_places and -number.as_tuple().exponent > self.decimal_places:
            raise ValueError(f"Use at most {self.decimal_places} digits after the decimal point.")
        return int(number) if self.whole else number

    def _read(self, value) -> Decimal:
        if isinstance(value, bool):  # JSON true/false: ints to Python, not numbers to anyone else
            raise ValueError(self.not_a_number_message())
        if isinstance(value, int):
            return Decimal(value)
        if isinstance(value, Decimal):
            if not value.is_finite():
                raise ValueError(self.range_message())
            return value
        if isinstance(value, float):  # a JSON number with a point or an exponent
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError(self.range_message())
            return Decimal(repr(value))
        text = str(value).strip()
        if _PLAIN.fullmatch(text):
            if len(text.lstrip("+-0")) > MAX_LENGTH:  # far out of range, or far too precise
                raise ValueError(self.range_message())
            return Decimal(text)
        if _NOT_FINITE.fullmatch(text):
            raise ValueError(self.range_message())
        if _EXPONENT.fullmatch(text):
            raise ValueError(
                f"Write the number out in full, without an exponent (1000, not 1e3). {self.range_message()}"
            )
        if _COMMA.fullmatch(text):
            if self.whole:
                raise ValueError("Write the number without separators, such as 1000.")
            raise ValueError("Use a point for decimals and no thousands separators, such as 12.5 or 1000.")
        raise ValueError(self.not_a_number_message(text))


class _RuleField:
    """A Django form field read by a NumberRule made from its own bounds (its browser attributes stay)."""

    def __init__(self, *, unit: str = "", hint: str = "", **kwargs):
        super().__init__(**kwargs)
        self.rule = NumberRule(
            min_value=self.min_value,
            max_value=self.max_value,
            decimal_places=self.decimal_places,
            unit=unit,
            hint=hint,
        )
        self.validators = []  # range and digits are the rule's, said once

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            return self.rule.parse(value)
        except ValueError as exc:
            raise ValidationError(str(exc), code="invalid") from exc

    def validate(self, value):
        forms.Field.validate(self, value)  # only "required": the rest was said by to_python


class DecimalField(_RuleField, forms.DecimalField):
    """forms.DecimalField with one plain message per mistake (`min_value`, `max_value`, `decimal_places`)."""


class IntegerField(_RuleField, forms.IntegerField):
    """forms.IntegerField with one plain message per mistake (`min_value`, `max_value`)."""

    decimal_places = 0
