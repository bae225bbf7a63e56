"""`ombud training`: build role-play scenarios from recently resolved tickets."""

from __future__ import annotations

import datetime as dt
import re

import click

from ombud.cli.common import _settings, database_option, friendly

_DURATION = re.compile(r"^(\d{1,4})([hdw])$")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


def parse_since(value: str) -> dt.timedelta:
    """Return ``30d``, ``12h`` or ``2w`` as a duration (click.BadParameter otherwise)."""
    match = _DURATION.match(value.strip().lower())
    if match is None or int(match.group(1)) == 0:
        raise click.BadParameter(f"{value!r} is not a duration such as 30d, 12h or 2w", param_hint="--since")
    return dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


@click.group("training")
def training() -> None:
    """The role-play trainer (docs/training.md)."""


@training.command("build")
@click.option("--since", "since", default="30d", show_default=True, help="How far back: 30d, 12h, 2w.")
@click.option("--limit", type=click.IntRange(1, 500), default=10, show_default=True, help="Most scenarios.")
@database_option
@friendly
def build(since: str, limit: int, database_url: str | None) -> None:
    """Build scenarios from tickets resolved recently that have none yet (anonymised; persona chosen from
    each ticket), and print them."""
    from ombud.people import scenarios
    from ombud.storage.db import Database
    from ombud.storage.schema import check_schema

    window = parse_since(since)
    database = Database(_settings(database_url=database_url).effective_database_url)
    check_schema(database)
    try:
        with database.session() as session:
            built, skipped = scenarios.build_recent(session=session, since=window, limit=limit)
            session.commit()
            lines = [f"scenario {s.id}: {s.title} ({s.persona.value})" for s in built]
    finally:
        database.dispose()
    for line in lines:
        click.echo(line)
    click.echo(f"built {len(lines)} scenario{'s' if len(lines) != 1 else ''}; skipped {skipped} ticket(s)")
