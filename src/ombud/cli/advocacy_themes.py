"""`ombud advocacy recluster`: re-cluster every advocacy theme now (registered on the `ombud advocacy` group
in ombud.cli.advocacy)."""

from __future__ import annotations

import datetime as dt
import json

import click

from ombud.cli.common import _settings, database_option, friendly


@click.command("recluster")
@click.option(
    "--backfill-limit",
    type=click.IntRange(0, 10_000_000),
    default=1_000_000,
    show_default=True,
    help="Concerns not themed yet (history from before advocacy) to embed and theme in this run.",
)
@database_option
@friendly
def recluster_command(backfill_limit: int, database_url: str | None) -> None:
    """Cluster every theme's members again (ids, names and advocates' edits are kept) and theme the
    concerns not themed yet; print what changed as JSON."""
    from ombud.advocacy import jobs
    from ombud.storage.db import Database
    from ombud.storage.schema import check_schema
    from ombud.triage.embed import shared_minilm

    settings = _settings(database_url=database_url)
    database = Database(settings.effective_database_url)
    check_schema(database)
    try:
        with database.session() as session:
            outcome = jobs.recluster(
                session=session,
                database=database,
                embedder=shared_minilm(),
                every=dt.timedelta(hours=settings.advocacy_recluster_hours),
                force=True,
                backfill_limit=backfill_limit,
            )
            if outcome is None:
                raise click.ClickException(
                    "another re-clustering is running (the periodic job, or another `ombud advocacy "
                    "recluster`): try again when it has finished"
                )
            session.commit()
        click.echo(json.dumps(outcome, sort_keys=True))
    finally:
        database.dispose()
