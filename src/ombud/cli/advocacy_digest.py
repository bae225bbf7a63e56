"""`ombud advocacy digest`: a department's weekly digest as text, an HTML or CSV file, or sent now by email
(registered on the `ombud advocacy` group in ombud.cli.advocacy)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ombud.cli.common import _settings, database_option, friendly
from ombud.errors import InvalidInput


@click.command("digest")
@click.option("--department", "department", required=True, help="The department's name or id.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the digest to FILE.html (the email) or FILE.csv; without it the text is printed.",
)
@click.option("--send", is_flag=True, help="Email it now to the department's address and owners.")
@database_option
@friendly
def digest_command(department: str, out: Path | None, send: bool, database_url: str | None) -> None:
    """Show, save or send DEPARTMENT's digest of the last 7 days."""
    from ombud.accounts.schemas import SYSTEM
    from ombud.advocacy import digest, digest_render
    from ombud.storage.db import Database
    from ombud.storage.schema import check_schema

    kind = (out.suffix.lower() if out else "").lstrip(".")
    if out is not None and kind not in ("html", "htm", "csv"):
        raise InvalidInput(f"--out must end in .html or .csv, not {out.name!r}", code="invalid_format")
    settings = _settings(database_url=database_url)
    database = Database(settings.effective_database_url)
    check_schema(database)
    try:
        with database.session(write=False) as session:
            department_id = _department_id(session, department)
            found = digest.build_digest(session=session, principal=SYSTEM, department_id=department_id)
        if out is not None:
            if kind == "csv":
                out.write_text(digest_render.render_csv(found, base_url=settings.base_url), encoding="utf-8")
            else:
                out.write_text(digest_render.render_html(found, base_url=settings.base_url), encoding="utf-8")
            click.echo(f"wrote {out}")
        elif not send:
            click.echo(digest_render.render_text(found, base_url=settings.base_url), nl=False)
        if send:
            outcome = _send_now(database, settings, department_id)
            # A retry in progress is under "pending"; otherwise the outcome is this run's.
            result = outcome.get("pending") or outcome
            state = str(result.get("state", "unknown"))
            click.echo(f"digest {state}: sent to {', '.join(result.get('sent') or []) or 'nobody'}")
            for address, error in (result.get("errors") or {}).items():
                click.echo(f"  {address or 'error'}: {error}", err=True)
            if state not in ("sent",):
                raise SystemExit(1)
    finally:
        database.dispose()


def _department_id(session: Any, value: str) -> int:
    from sqlalchemy import func, select

    from ombud.advocacy.models import Department

    query = select(Department.id)
    if value.strip().isdigit():
        query = query.where(Department.id == int(value.strip()))
    else:
        query = query.where(func.lower(Department.name) == value.strip().lower())
    found = session.scalar(query)
    if found is None:
        raise InvalidInput(
            f"no department {value!r}; the workspace lists them at /agent/advocacy/digest",
            code="department_not_found",
        )
    return int(found)


def _send_now(database: Any, settings: Any, department_id: int) -> dict[str, Any]:
    """Make the digest due, send it through the relay right here, and return the schedule's outcome."""
    from ombud.accounts.schemas import SYSTEM
    from ombud.advocacy import digest
    from ombud.advocacy.models import Schedule
    from ombud.channels.email.service import EmailAdapter
    from ombud.channels.registry import Channels
    from ombud.runtime import email_config

    email = email_config(settings)
    channels = Channels()
    channels.register("email", EmailAdapter(email))
    with database.session() as session:
        digest.request_send(session=session, principal=SYSTEM, department_id=department_id)
        session.commit()
    with database.session() as session:
        digest.send_digest(
            session=session,
            database=database,
            channels=channels,
            email=email,
            base_url=settings.base_url,
            weekday=settings.advocacy_digest_weekday,
            hour=settings.advocacy_digest_hour,
            department_id=department_id,
        )
        session.commit()
        row = session.get(Schedule, digest.schedule_name(department_id))
        return dict(row.outcome or {}) if row is not None else {}
