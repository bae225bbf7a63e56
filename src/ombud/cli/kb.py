"""`ombud kb`: import articles into the knowledge base and search it from the command line."""

from __future__ import annotations

from pathlib import Path

import click

from ombud.cli.common import _settings, database_option, friendly


@click.group()
def kb() -> None:
    """The knowledge base."""


@kb.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--index/--no-index",
    default=True,
    show_default=True,
    help="Embed and index the articles now; --no-index leaves it to the background job (a running server "
    "or `ombud worker`, or the next start's sweep).",
)
@database_option
@friendly
def import_command(path: Path, index: bool, database_url: str | None) -> None:
    """Import articles from PATH (.json, .jsonl, .md, or a .zip of them): all of them, or none."""
    from ombud.accounts.schemas import SYSTEM
    from ombud.knowledge import importer, jobs
    from ombud.knowledge import service as knowledge
    from ombud.runtime import build_runtime
    from ombud.storage.schema import check_schema

    drafts = importer.parse_bundle(path.read_bytes(), filename=path.name)
    runtime = build_runtime(_settings(database_url=database_url))
    try:
        check_schema(runtime.database)
        with runtime.database.session() as session:
            created = knowledge.import_articles(session=session, principal=SYSTEM, drafts=drafts)
            lines = [f"{article.id}\t{article.status}\t{article.slug}" for article in created]
            session.commit()
        for line in lines:
            click.echo(line)
        click.echo(f"imported {len(lines)} articles", err=True)
        if index:
            indexed = jobs.index_pending(database=runtime.database, searcher=runtime.knowledge)
            click.echo(f"indexed {indexed} articles", err=True)
    finally:
        runtime.close()


@kb.command("search")
@click.argument("query")
@click.option("--limit", default=5, show_default=True, type=click.IntRange(1, 50))
@database_option
@friendly
def search_command(query: str, limit: int, database_url: str | None) -> None:
    """Search the published articles (every audience) as agents do: score, title, best passage."""
    from ombud.knowledge import jobs
    from ombud.runtime import build_runtime
    from ombud.storage.schema import check_schema

    runtime = build_runtime(_settings(database_url=database_url))
    try:
        check_schema(runtime.database)
        with runtime.database.session(write=False) as session:
            hits = runtime.knowledge.search(session, query, filters=jobs.STAFF_VIEW, limit=limit)
    finally:
        runtime.close()
    if not hits:
        click.echo("no articles match (unpublished or not yet indexed articles are not searched)", err=True)
    for hit in hits:
        click.echo(f"{hit.score:.3f}\t{hit.article_id}\t{hit.title}\t[{hit.audience}]")
        click.echo(f"\t{hit.passage}")
