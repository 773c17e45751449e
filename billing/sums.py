"""Sums of money and quantities that read back the same on SQLite and PostgreSQL.

PostgreSQL sums a `numeric(14, 2)` column into a numeric with 2 decimals. SQLite sums in floating point,
and Django hands the result back with up to 15 significant digits: `Decimal('1105.1100000000000')` for a
cost, `Decimal('11.5009070000000')` or `Decimal('12496')` for a quantity. `DecimalSum` rounds every sum
to its column's own decimal places (cents for costs, 6 decimals for quantities), so a page, a mail or a
CSV shows the same digits on either database. Every sum of a billing amount goes through it.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Sum


class DecimalSum(Sum):
    """`Sum` of a DecimalField, rounded (half up) to the field's decimal places when read back."""

    def get_db_converters(self, connection):
        return [*super().get_db_converters(connection), self.to_field_places]

    def to_field_places(self, value, expression=None, connection=None):
        if value is None:
            return None
        places = -self.output_field.decimal_places
        value = Decimal(value)
        if value.as_tuple().exponent == places:  # PostgreSQL's numeric sum: already right
            return value
        return value.quantize(Decimal(1).scaleb(places), rounding=ROUND_HALF_UP)
