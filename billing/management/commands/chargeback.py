"""`manage.py chargeback --month YYYY-MM [--no-recompute] [--finalize] [--out DIR]`: compute a month,
optionally finalize it as the system, and write its three CSVs into DIR.

A finalized month is never recomputed: asking to is an error (exit status 1); `--no-recompute` writes the
CSVs of the month as it stands (finalized or not) without computing it.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.template.defaultfilters import pluralize

from billing import exports, selectors, services
from billing.forms import month_from_text
from billing.models import ChargebackRun
from billing.pricing import usd
from portal.csv_export import csv_lines
from portal.errors import PortalError


class Command(BaseCommand):
    help = (
        "Compute a month's chargeback (refused once finalized), optionally finalize it, and write its CSVs."
    )

    def add_arguments(self, parser):
        parser.add_argument("--month", required=True, help="The month, as YYYY-MM.")
        parser.add_argument("--finalize", action="store_true", help="Finalize the month (as the system).")
        parser.add_argument(
            "--no-recompute",
            action="store_true",
            help="Do not compute the month: finalize or write the CSVs of the run as it stands.",
        )
        parser.add_argument("--out", help="Write the summary, lines and FOCUS CSVs into this directory.")

    def handle(self, *args, month: str, finalize: bool, out: str | None, no_recompute: bool, **options):
        try:
            chosen = month_from_text(month)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        run = selectors.run_for_month(chosen)
        try:
            if not no_recompute:
                run = services.recompute_month(month=chosen, actor=None)  # a finalized month: Conflict
                self.stdout.write(
                    f"{run.label}: computed {run.line_count} line{pluralize(run.line_count)}, "
                    f"{usd(run.total_usd)} (provisional, metered to {run.metered_until:%Y-%m-%d %H:%M} UTC)."
                )
            elif run is None or run.computed_at is None:
                raise CommandError(f"{chosen:%Y-%m} has not been computed yet: run without --no-recompute.")
            if finalize:
                run = services.finalize_month(month=chosen, actor=None)
                self.stdout.write(f"{run.label}: finalized.")
        except PortalError as exc:
            hint = (
                " (--no-recompute writes its CSVs)"
                if run and run.status == ChargebackRun.Status.FINALIZED
                else ""
            )
            raise CommandError(exc.message + hint) from exc
        if out:
            directory = Path(out)
            try:
                directory.mkdir(parents=True, exist_ok=True)
                for kind in exports.KINDS:
                    csv = exports.export(run, kind)
                    with (directory / csv.filename).open("w", encoding="utf-8", newline="") as handle:
                        handle.writelines(csv_lines(csv.header, csv.rows))
                    self.stdout.write(f"Wrote {directory / csv.filename}")
            except OSError as exc:
                raise CommandError(f"Cannot write the CSVs into {directory}: {exc.strerror or exc}.") from exc
