"""`ombud import`: bring history in from ombud's CSV/JSON format, a Zendesk-style export or a live
django-helpdesk database, and read what earlier runs did and skipped."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import click

from ombud.cli.common import _settings, database_option, friendly

_SOURCES = {"file": "ombud", "zendesk": "zendesk", "helpdesk": "helpdesk"}


@click.group("import")
def import_group() -> None:
    """Import tickets from another help desk (idempotent, resumable; see docs/import.md)."""


def _options(fn: Any) -> Any:
    fn = click.option(
        "--batch-size",
        type=click.IntRange(1, 20_000),
        default=1000,
        show_default=True,
        help="Tickets per transaction.",
    )(fn)
    fn = click.option(
        "--triage/--no-triage",
        default=True,
        show_default=True,
        help="Leave customer messages waiting for background triage (quietly: no routing, no notifications).",
    )(fn)
    fn = click.option(
        "--progress/--no-progress",
        default=None,
        help="Show a progress bar on stderr (default: when stderr is a terminal).",
    )(fn)
    fn = click.option(
        "--sweep/--no-sweep",
        default=True,
        show_default=True,
        help="Enqueue the background triage and indexing of what was imported when done.",
    )(fn)
    return database_option(fn)


@import_group.command("file")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_options
@friendly
def import_file(path: Path, **options: Any) -> None:
    """Import ombud's format: a .csv (one row per message), .json or .jsonl (one ticket per line) file."""
    from ombud.imports import sources

    _run("ombud", str(path.resolve()), sources.read_ombud(path), _count_lines(path), **options)


@import_group.command("zendesk")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@_options
@friendly
def import_zendesk(path: Path, **options: Any) -> None:
    """Import a Zendesk-style JSON export: one document or a folder of tickets/users/organizations files."""
    from ombud.imports import sources

    _run("zendesk", str(path.resolve()), sources.read_zendesk(path), None, **options)


@import_group.command("helpdesk")
@click.argument("url")
@_options
@friendly
def import_helpdesk(url: str, **options: Any) -> None:
    """Import from a live django-helpdesk database given by its URL (sqlite:///... or postgresql://...)."""
    from ombud.imports import sources

    _run(
        "helpdesk",
        sources.safe_location(url),
        sources.read_helpdesk(url),
        sources.count_helpdesk(url),
        **options,
    )


@import_group.command("runs")
@database_option
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@friendly
def import_runs(database_url: str | None, limit: int) -> None:
    """List the latest import runs with their counts."""
    from ombud.imports import service
    from ombud.storage.db import Database

    database = Database(_settings(database_url=database_url).effective_database_url)
    with closing(database), database.session(write=False) as session:
        for run in service.list_runs(session=session, limit=limit):
            counts = run.counts or {}
            click.echo(
                f"{run.id}\t{run.status}\t{run.source}\t{run.started_at:%Y-%m-%d %H:%M}\t"
                f"tickets {counts.get('tickets', 0)}, already {counts.get('already_imported', 0)}, "
                f"skipped {sum((counts.get('skipped') or {}).values())}\t{run.location}"
            )


@import_group.command("report")
@click.argument("run_id", type=int)
@click.option(
    "--limit", type=click.IntRange(0, 100_000), default=50, show_default=True, help="Skips to list."
)
@database_option
@friendly
def import_report(run_id: int, limit: int, database_url: str | None) -> None:
    """Print what run RUN_ID imported, and what it skipped and why."""
    from ombud.imports import service
    from ombud.storage.db import Database

    database = Database(_settings(database_url=database_url).effective_database_url)
    with closing(database), database.session(write=False) as session:
        run = service.get_run(session=session, run_id=run_id)
        _print_report(run, service.list_skips(session=session, run_id=run_id, limit=limit))


def _print_report(run: Any, skips: Iterable[Any]) -> None:
    counts = run.counts or {}
    click.echo(f"import run {run.id} ({run.source}, {run.status}): {run.location}")
    click.echo(
        f"  read {counts.get('read', 0)} records: {counts.get('tickets', 0)} tickets, "
        f"{counts.get('messages', 0)} messages, {counts.get('customers', 0)} customers and "
        f"{counts.get('organisations', 0)} organisations created; "
        f"{counts.get('already_imported', 0)} tickets were already imported"
    )
    skipped = counts.get("skipped") or {}
    if skipped:
        click.echo("  skipped: " + ", ".join(f"{reason} {n}" for reason, n in sorted(skipped.items())))
        for skip in skips:
            click.echo(f"    {skip.reason}\t{skip.kind} {skip.ref}\t{skip.detail}")
    if run.error:
        click.echo(f"  error: {run.error}")


def _count_lines(path: Path) -> int | None:
    if path.suffix.lower() not in (".jsonl", ".ndjson"):
        return None
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())


def _run(
    source: str,
    location: str,
    reads: Iterator[Any],
    total: int | None,
    *,
    database_url: str | None,
    batch_size: int,
    triage: bool,
    progress: bool | None,
    sweep: bool,
) -> None:
    from ombud.cli.main import _configure_logging
    from ombud.storage.db import Database

    settings = _settings(database_url=database_url)
    _configure_logging(settings)
    database = Database(settings.effective_database_url)
    with closing(database):
        _import(database, settings, source, location, reads, total, batch_size, triage, progress, sweep)


def _import(
    database: Any,
    settings: Any,
    source: str,
    location: str,
    reads: Iterator[Any],
    total: int | None,
    batch_size: int,
    triage: bool,
    progress: bool | None,
    sweep: bool,
) -> None:
    from ombud.imports import service
    from ombud.storage.schema import check_schema

    check_schema(database)
    options = service.ImportOptions(
        batch_size=batch_size, triage=triage, max_body_chars=settings.max_body_chars
    )
    show = sys.stderr.isatty() if progress is None else progress
    if show:
        # Without a known total (CSV, Zendesk) the bar shows the count read so far.
        bar: Any
        with click.progressbar(
            reads, length=total, label=f"importing ({source})", file=sys.stderr, show_pos=True
        ) as bar:
            run = service.run_import(
                database=database, source=source, location=location, reads=bar, options=options
            )
    else:
        run = service.run_import(
            database=database, source=source, location=location, reads=reads, options=options
        )
    with database.session(write=False) as session:
        _print_report(run, service.list_skips(session=session, run_id=run.id, limit=50))
    if sweep and (run.counts or {}).get("messages"):
        _enqueue_background(settings)


class closing:  # like contextlib.closing, for a Database (dispose, not close)
    def __init__(self, database: Any) -> None:
        self.database = database

    def __enter__(self) -> Any:
        return self.database

    def __exit__(self, *_exc: object) -> None:
        self.database.dispose()


def _enqueue_background(settings: Any) -> None:
    """Enqueue triage and indexing of the imported messages (the sweep of a running server would too)."""
    from ombud.runtime import build_runtime

    try:
        runtime = build_runtime(settings)
        pending = runtime.queue.sweep()
        runtime.close()
    except Exception as exc:  # the work is recorded in the database: a later sweep finds it
        click.echo(f"  note: could not enqueue background work now ({exc}); the next sweep will", err=True)
        return
    click.echo(
        f"  background work enqueued: {pending.get('triage.message', 0)} messages wait for triage (quiet: "
        "no routing, SLA clocks, automations, webhooks or customer notifications), "
        f"{pending.get('search.index_message', 0)} for the search index (counts capped at 10,000)"
    )
