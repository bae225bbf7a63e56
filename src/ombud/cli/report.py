"""`ombud report`: rebuild the report aggregates, or print a report as CSV."""

from __future__ import annotations

import datetime as dt

import click

from ombud.cli.common import _settings, database_option, friendly


@click.group("report")
def report() -> None:
    """Report aggregates: rebuild them, print a report as CSV."""


@report.command("rebuild")
@database_option
@friendly
def rebuild(database_url: str | None) -> None:
    """Recount every report aggregate from the tickets and the event outbox (after an upgrade, or to
    repair them). Safe to run while ombud serves: it runs in one transaction."""
    from ombud.reports import service as reports
    from ombud.storage.db import Database
    from ombud.storage.schema import check_schema

    database = Database(_settings(database_url=database_url).effective_database_url)
    check_schema(database)
    with database.session() as session:
        counted = reports.rebuild(session=session)
        session.commit()
    database.dispose()
    click.echo(f"report aggregates rebuilt from {counted} tickets")


@report.command("show")
@click.argument(
    "name",
    type=click.Choice(["volume", "response_times", "sla", "csat", "concessions", "concerns", "backlog"]),
)
@click.option(
    "--start", type=click.DateTime(["%Y-%m-%d"]), default=None, help="First UTC day (default: 29 days ago)."
)
@click.option("--end", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Last UTC day (default: today).")
@click.option(
    "--group", type=click.Choice(["day", "week", "month", "total"]), default="day", show_default=True
)
@click.option(
    "--by",
    type=click.Choice(["none", "channel", "team", "intent", "agent"]),
    default="none",
    show_default=True,
)
@database_option
@friendly
def show(
    name: str,
    start: dt.datetime | None,
    end: dt.datetime | None,
    group: str,
    by: str,
    database_url: str | None,
) -> None:
    """Print report NAME as CSV."""
    from ombud.accounts.schemas import SYSTEM
    from ombud.reports import service as reports
    from ombud.reports.schemas import Dimension, Grouping, ReportName, ReportQuery
    from ombud.storage.base import utcnow
    from ombud.storage.db import Database
    from ombud.storage.schema import check_schema

    last = end.date() if end else utcnow().date()
    first = start.date() if start else last - dt.timedelta(days=29)
    query = ReportQuery(start=first, end=last, group=Grouping(group), by=Dimension(by))
    database = Database(_settings(database_url=database_url).effective_database_url)
    check_schema(database)
    with database.session(write=False) as session:
        table = reports.report(session=session, principal=SYSTEM, name=ReportName(name), query=query)
        click.echo(reports.to_csv(table), nl=False)
    database.dispose()
