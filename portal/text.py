"""One-line names a person types (a team's, a token's, an inventory's cells): no control characters.

A name holding an escape sequence ("\\x1b[31m") or a bidi override (U+202E shows "stnemyaP" as "Payments"
reversed) reaches pages, CSV exports, terminals and mails as it was typed, and PostgreSQL refuses a NUL
outright. Django's form fields refuse NUL already; these are all control (Cc) and format (Cf) characters.
"""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError


def is_control(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Cf")  # NUL, tab, escapes, bidi overrides, zero widths


def control_characters(text: str) -> list[str]:
    """The control characters in `text`, once each, in order, as U+XXXX."""
    return list(dict.fromkeys(f"U+{ord(char):04X}" for char in text if is_control(char)))


def validate_one_line(value: str) -> None:
    """Validator of a one-line name."""
    if found := control_characters(value):
        shown = ", ".join(found[:3]) + (" …" if len(found) > 3 else "")
        raise ValidationError(
            f"Use letters, digits, spaces and punctuation only: control characters ({shown}) are not allowed.",
            code="control_characters",
        )
