"""`manage.py chargeback --month YYYY-MM [--finalize] [--out DIR]`: compute a month (unless finalized),
optionally finalize it as the system, and write its three CSVs into DIR."""

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
    help = "Compute a month's chargeback (unless finalized), optionally finalize it, and write its CSVs."

    def add_arguments(self, parser):
        parser.add_argument("--month", required=True, help="The month, as YYYY-MM.")
        parser.add_argument("--finalize", action="store_true", help="Finalize the month (as the system).")
        parser.add_argument("--out", help="Write the summary, lines and FOCUS CSVs into this directory.")

    def handle(self, *args, month: str, finalize: bool, out: str | None, **options):
        try:
            chosen = month_from_text(month)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        run = selectors.run_for_month(chosen)
        try:
            if run is None or run.status != ChargebackRun.Status.FINALIZED:
                run = services.recompute_month(month=chosen, actor=None)
                self.stdout.write(
                    f"{run.label}: computed {run.line_count} line{pluralize(run.line_count)}, "
                    f"{usd(run.total_usd)} (provisional)."
                )
            else:
                self.stdout.write(f"{run.label} is finalized: not recomputed.")
            if finalize and run.status != ChargebackRun.Status.FINALIZED:
                run = services.finalize_month(month=chosen, actor=None)
                self.stdout.write(f"{run.label}: finalized.")
        except PortalError as exc:
            raise CommandError(exc.message) from exc
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
