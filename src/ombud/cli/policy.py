"""`ombud policy`: check a concession policy file, load it, or print the one in force."""

from __future__ import annotations

from pathlib import Path

import click

from ombud.cli.common import _settings, database_option, friendly

PolicyFile = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group("policy")
def policy() -> None:
    """The concession policy (docs/resolutions.md): check, load, show."""


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise click.ClickException(f"{path} is not UTF-8 text") from None


@policy.command("check")
@click.argument("path", type=PolicyFile)
@friendly
def check(path: Path) -> None:
    """Check a policy file without loading it: print every problem with its rule and line, exit 1 if any."""
    from ombud.resolutions import policy as rules

    try:
        rules.parse(_read(path))
    except rules.PolicyError as error:
        for problem in error.details or []:
            where = f"line {problem['line']}: " if problem.get("line") else ""
            click.echo(f"{path}: {where}{problem['rule']}: {problem['message']}", err=True)
        raise SystemExit(1) from None
    click.echo(f"{path}: the policy is valid")


@policy.command("load")
@click.argument("path", type=PolicyFile)
@click.option("--comment", default="", help="What changed (kept with the version).")
@database_option
@friendly
def load(path: Path, comment: str, database_url: str | None) -> None:
    """Load a policy file as the new policy in force; a refused one changes nothing."""
    from ombud.accounts.schemas import SYSTEM
    from ombud.resolutions import policies
    from ombud.storage.db import Database
    from ombud.storage.schema import check_schema

    database = Database(_settings(database_url=database_url).effective_database_url)
    check_schema(database)
    try:
        with database.session() as session:
            row = policies.upload_policy(session=session, source=_read(path), comment=comment, actor=SYSTEM)
            session.commit()
            version = row.version
    finally:
        database.dispose()
    click.echo(f"concession policy version {version} is in force")


@policy.command("show")
@database_option
@friendly
def show(database_url: str | None) -> None:
    """Print the policy in force (its TOML source)."""
    from ombud.resolutions import policies
    from ombud.storage.db import Database
    from ombud.storage.schema import check_schema

    database = Database(_settings(database_url=database_url).effective_database_url)
    check_schema(database)
    try:
        with database.session(write=False) as session:
            row, _parsed = policies.require_policy(session=session)
            click.echo(f"# version {row.version}, saved {row.created_at:%Y-%m-%d %H:%M} UTC")
            click.echo(row.source, nl=not row.source.endswith("\n"))
    finally:
        database.dispose()
