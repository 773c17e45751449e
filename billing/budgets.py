"""Budget alerts: when a month's lines are computed, each budget threshold a team's metered lines crossed
is recorded once (`record_crossed`, inside the run's transaction) and mailed to the team once that
commits (the task `send_budget_alert`, which runs `send`).

The mail task is defined here, beside what enqueues it, and listed in `billing.tasks` with the others: a
chargeback run records the alerts, and it sits below the services and tasks (the layers of billing in
pyproject.toml), so it may not import them.
"""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from billing.models import BudgetAlert, ChargebackRun
from billing.pricing import usd
from billing.sums import DecimalSum
from portal import audit
from portal.dispatch import enqueue_on_commit
from portal.links import absolute_url
from portal.messages_once import MAIL_TASK_OPTIONS, send_once
from portal.models import Team

BUDGET_THRESHOLDS = (80, 100)


def record_crossed(run: ChargebackRun) -> None:
    """Record (once) each budget threshold a team crossed this month and alert its contact on commit."""
    spent = dict(
        run.lines.filter(team__monthly_budget_usd__isnull=False)
        .values_list("team_id")
        .annotate(total=DecimalSum("cost_usd"))
        .order_by()
    )
    for team in Team.objects.filter(pk__in=list(spent)):
        for threshold in BUDGET_THRESHOLDS:
            if team.monthly_budget_usd and spent[team.pk] * 100 >= team.monthly_budget_usd * threshold:
                alert, created = BudgetAlert.objects.get_or_create(
                    team=team,
                    month=run.month,
                    threshold_percent=threshold,
                    defaults={"spent_usd": spent[team.pk], "budget_usd": team.monthly_budget_usd},
                )
                if created:
                    audit.record(
                        "billing.budget.alert",
                        actor=None,
                        obj=alert,
                        team=team,
                        details={
                            "month": run.label,
                            "threshold_percent": threshold,
                            "spent_usd": str(spent[team.pk]),
                        },
                    )
                    enqueue_on_commit(send_budget_alert, alert.pk)


def send(alert_id: int) -> None:
    """Mail (and post) one alert to the team's contact and members, once."""
    alert = BudgetAlert.objects.select_related("team").get(pk=alert_id)
    if alert.sent_at is not None:
        return  # a redelivered task (a twin still running is caught by the claim below)
    team = alert.team
    recipients = sorted(
        {
            team.contact_email,
            *team.memberships.filter(user__is_active=True).values_list("user__email", flat=True),
        }
        - {""}
    )
    spent, budget = usd(alert.spent_usd), usd(alert.budget_usd)
    subject = (
        f"[MSK portal] {team.name} reached {alert.threshold_percent} % of its {alert.month:%B %Y} budget "
        f"({spent} of {budget})"
    )
    link = absolute_url("billing:team-costs", team.slug)
    body = (
        f"{team.name} has spent {spent} of its {budget} monthly budget for "
        f"{alert.month:%B %Y} (month to date, provisional).\n\nDetails: {link}\n"
    )
    # Setting sent_at (compare-and-set) is the claim: a twin waits on the row, then finds it set.
    send_once(
        lambda: (
            BudgetAlert.objects.filter(pk=alert.pk, sent_at__isnull=True).update(sent_at=timezone.now()) == 1
        ),
        subject=subject,
        body=body,
        recipients=recipients,
        link=link,
    )


@shared_task(
    name="billing.tasks.send_budget_alert",
    **MAIL_TASK_OPTIONS,
)
def send_budget_alert(alert_id: int) -> None:
    send(alert_id)
