"""The `ombud` command. Each command reads the settings once, builds what it needs, and owns its
transaction; errors print their message and exit non-zero, never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

import click

from ombud.cli.advocacy import advocacy as advocacy_group
from ombud.cli.common import _settings, database_option, friendly
from ombud.cli.email import email as email_group
from ombud.cli.imports import import_group
from ombud.cli.kb import kb as kb_group
from ombud.cli.policy import policy as policy_group
from ombud.cli.report import report as report_group
from ombud.cli.training import training as training_group
from ombud.cli.triage import triage as triage_group
from ombud.settings import Settings, describe


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ombud")
def main() -> None:
    """ombud: a customer service desk that reads between the lines and advocates for the customer."""


@main.command()
@click.option("--host", default=None, help="Address to listen on (OMBUD_HOST, default 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="Port (OMBUD_PORT, default 8000).")
@database_option
@click.option("--demo", is_flag=True, help="Load the demo workspace the first time and print its logins.")
@click.option(
    "--worker/--no-worker",
    default=None,
    help="Run background jobs in this process (OMBUD_RUN_WORKER, default on).",
)
@click.option(
    "--smtp-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port of the built-in SMTP receiver (OMBUD_SMTP_PORT, default 2525; 0 turns it off).",
)
@click.option(
    "--imap/--no-imap",
    default=True,
    help="Read the IMAP mailboxes of OMBUD_IMAP_MAILBOXES (default on).",
)
@friendly
def serve(
    host: str | None,
    port: int | None,
    database_url: str | None,
    demo: bool,
    worker: bool | None,
    smtp_port: int | None,
    imap: bool,
) -> None:
    """Serve the API and the pages."""
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from ombud import logmask
    from ombud.runtime import build_runtime
    from ombud.storage.schema import check_schema
    from ombud.web.app import create_app

    settings = _settings(
        host=host, port=port, database_url=database_url, run_worker=worker, smtp_port=smtp_port
    )
    if demo:
        # The demo has no mail relay: its portal shows the sign-in link it would have emailed.
        settings = settings.model_copy(update={"show_login_links": True})
    _configure_logging(settings)
    runtime = build_runtime(settings)
    check_schema(runtime.database)
    if demo:
        _load_demo(runtime)
    app = create_app(runtime, run_worker=settings.run_worker)
    click.echo(
        f"ombud serving at http://{settings.host}:{settings.port}/  (database: {runtime.database.dialect}"
        f", jobs: {'in this process' if settings.run_worker else 'ombud worker processes'})"
    )
    if not settings.run_worker and not settings.effective_queue_url.startswith("redis"):
        click.echo(
            "warning: jobs run in other processes but the queue is not Redis: agents' chat replies reach "
            "open chats only when a visitor reconnects. Set OMBUD_QUEUE_URL=redis://... for live chat.",
            err=True,
        )
    receiver = None
    if settings.smtp_port:
        from ombud.channels.email.smtp import SmtpReceiver

        receiver = SmtpReceiver(
            database=runtime.database, config=runtime.email, host=settings.host, port=settings.smtp_port
        )
        try:
            receiver.start()
        except (OSError, RuntimeError) as error:
            raise click.ClickException(
                f"cannot start the SMTP receiver on {settings.host}:{settings.smtp_port}: {error}; "
                "choose another --smtp-port, or 0 to turn it off"
            ) from None
        click.echo(f"ombud receiving email by SMTP at {settings.host}:{receiver.port}")
    pollers = []
    if imap and settings.imap_mailboxes:
        from ombud.channels.email.imap import ImapPoller

        for mailbox in settings.imap_mailboxes:
            poller = ImapPoller(database=runtime.database, mailbox=mailbox, config=runtime.email)
            # A mailbox that cannot be reached is logged and retried by its poller; serve starts anyway.
            poller.start()
            pollers.append(poller)
            click.echo(
                f"ombud reading IMAP mailbox {mailbox.name}: {mailbox.username} at "
                f"{mailbox.host}:{mailbox.port}, folder {mailbox.folder}"
            )
    try:
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level,
            access_log=settings.log_level == "debug",
            log_config=logmask.uvicorn_log_config(LOGGING_CONFIG),
            timeout_graceful_shutdown=10,
        )
    finally:
        for poller in pollers:
            poller.stop()
        if receiver is not None:
            receiver.stop()


def _load_demo(runtime: Any) -> None:
    from ombud.demo import DEMO_PASSWORD, demo_logins, load_demo

    with runtime.database.session() as session:
        loaded = load_demo(session=session)
        session.commit()
    click.echo("demo workspace " + ("loaded" if loaded else "already present"))
    click.echo(
        f"demo logins (workspace password {DEMO_PASSWORD!r} for everyone; API tokens; demo workspace only):"
    )
    for login in demo_logins():
        click.echo(f"  {login.role.value:9s} {login.email:28s} {login.token}")
    click.echo("customer portal: /portal (sign-in links are shown on the page in the demo)")


@main.command()
@database_option
@click.option(
    "--threads",
    type=click.IntRange(1, 64),
    default=None,
    help="Job threads (OMBUD_WORKER_THREADS, default 2).",
)
@friendly
def worker(database_url: str | None, threads: int | None) -> None:
    """Consume background jobs until stopped (SIGTERM lets running jobs finish; SIGINT stops at once)."""
    from ombud.runtime import build_runtime
    from ombud.storage.queue import run_worker
    from ombud.storage.schema import check_schema

    settings = _settings(database_url=database_url, worker_threads=threads)
    _configure_logging(settings)
    runtime = build_runtime(settings)
    check_schema(runtime.database)
    runtime.triage.models.warm()  # load the triage models before taking jobs, not inside the first one
    click.echo(f"ombud worker: {settings.worker_threads} thread(s) on {settings.effective_queue_url}")

    def sweep_once() -> None:
        counts = runtime.queue.sweep()
        click.echo(f"start-up sweep: {counts}")

    run_worker(runtime.queue, threads=settings.worker_threads, on_start=sweep_once)


@main.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@database_option
@friendly
def db_upgrade(database_url: str | None) -> None:
    """Create or migrate the database to the schema this ombud needs."""
    from ombud.storage.db import Database
    from ombud.storage.schema import upgrade

    settings = _settings(database_url=database_url)
    _configure_logging(settings)
    database = Database(settings.effective_database_url)
    before, after = upgrade(database)
    click.echo(f"database at revision {after}" + ("" if before == after else f" (was {before or 'empty'})"))


@db.command("current")
@database_option
@friendly
def db_current(database_url: str | None) -> None:
    """Print the schema revision of the database and the one this ombud needs."""
    from ombud.storage.db import Database
    from ombud.storage.schema import current_revision, head_revision

    database = Database(_settings(database_url=database_url).effective_database_url)
    click.echo(f"database: {current_revision(database) or 'empty'}; needed: {head_revision()}")


@main.group()
def user() -> None:
    """Staff accounts."""


@user.command("add")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(["admin", "lead", "agent", "advocate", "partner"]))
@click.option("--name", default=None, help="Display name (default: the part of the email before @).")
@click.option("--team", "teams", multiple=True, help="Team to join (created if new); repeatable.")
@database_option
@friendly
def user_add(
    email: str, role: str, name: str | None, teams: tuple[str, ...], database_url: str | None
) -> None:
    """Add a user and print a new API token for them (the last line of the output)."""
    from ombud.accounts import service as accounts
    from ombud.storage.db import Database
    from ombud.storage.schema import check_schema

    database = Database(_settings(database_url=database_url).effective_database_url)
    check_schema(database)
    with database.session() as session:
        created = accounts.create_user(
            session=session, email=email, role=accounts.parse_role(role), name=name
        )
        for team_name in teams:
            team = accounts.ensure_team(session=session, name=team_name)
            accounts.add_to_team(session=session, team=team, user=created)
        token = accounts.issue_token(session=session, user_id=created.id, name="cli")
        session.commit()
        click.echo(f"added {created.role.value} {created.email} (id {created.id})")
    click.echo(token)


@user.command("password")
@click.argument("email")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input (for scripts) instead of asking for it twice.",
)
@database_option
@friendly
def user_password(email: str, password_stdin: bool, database_url: str | None) -> None:
    """Set the workspace sign-in password of the user with EMAIL (signs out their browsers)."""
    import sys

    from ombud.accounts import service as accounts
    from ombud.accounts import sessions
    from ombud.errors import NotFound
    from ombud.storage.db import Database
    from ombud.storage.schema import check_schema

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    database = Database(_settings(database_url=database_url).effective_database_url)
    check_schema(database)
    with database.session() as session:
        found = accounts.get_user_by_email(session=session, email=email)
        if found is None:
            raise NotFound(
                f"no user with email {email}; add one with `ombud user add`", code="user_not_found"
            )
        sessions.set_password(session=session, user=found, password=password)
        session.commit()
    click.echo(f"password set for {email}")


@user.command("revoke-token")
@click.option("--token-stdin", is_flag=True, help="Read the token to revoke from standard input (one line).")
@click.option("--all-of", "email", default=None, metavar="EMAIL", help="Revoke every token of this user.")
@database_option
@friendly
def user_revoke_token(token_stdin: bool, email: str | None, database_url: str | None) -> None:
    """Revoke an API token (read from stdin, never from the command line) or every token of a user: each
    server process refuses it from the next request on."""
    import sys

    from ombud.accounts import service as accounts
    from ombud.errors import InvalidInput, NotFound
    from ombud.storage.db import Database
    from ombud.storage.schema import check_schema

    if token_stdin == (email is not None):
        raise InvalidInput("give exactly one of --token-stdin and --all-of EMAIL", code="invalid_arguments")
    database = Database(_settings(database_url=database_url).effective_database_url)
    check_schema(database)
    with database.session() as session:
        if email is None:
            accounts.revoke_token(session=session, token=sys.stdin.readline().strip())
            count = 1
        else:
            found = accounts.get_user_by_email(session=session, email=email)
            if found is None:
                raise NotFound(f"no user with email {email}", code="user_not_found")
            count = accounts.revoke_tokens_of_user(session=session, user_id=found.id)
        session.commit()
    click.echo(f"revoked {count} token(s)")


@user.command("deactivate")
@click.argument("email")
@database_option
@friendly
def user_deactivate(email: str, database_url: str | None) -> None:
    """Deactivate the user with EMAIL (someone who left): signed out everywhere, tokens revoked, no sign-in,
    nothing new routed to them. Prints how many open tickets are still assigned to them."""
    _set_user_active(email, active=False, database_url=database_url)


@user.command("activate")
@click.argument("email")
@database_option
@friendly
def user_activate(email: str, database_url: str | None) -> None:
    """Let a deactivated user with EMAIL sign in again (set a password or add a token for them)."""
    _set_user_active(email, active=True, database_url=database_url)


def _set_user_active(email: str, *, active: bool, database_url: str | None) -> None:
    from ombud.accounts import service as accounts
    from ombud.accounts import sessions
    from ombud.errors import NotFound
    from ombud.storage.db import Database
    from ombud.storage.schema import check_schema
    from ombud.tickets import service as tickets

    database = Database(_settings(database_url=database_url).effective_database_url)
    try:
        check_schema(database)
        with database.session() as session:
            found = accounts.get_user_by_email(session=session, email=email)
            if found is None:
                raise NotFound(f"no user with email {email}", code="user_not_found")
            revoked = sessions.set_active(session=session, user=found, active=active)
            still = tickets.count_open_assigned(session=session, user_id=found.id) if not active else 0
            session.commit()
    finally:
        database.dispose()
    if active:
        click.echo(f"{email} is active again")
        return
    click.echo(f"{email} is deactivated; revoked {revoked} token(s)")
    if still:
        click.echo(f"{still} open ticket(s) are still assigned to them: reassign them in the workspace")


@main.group()
def customer() -> None:
    """Customer records."""


@customer.command("token")
@click.argument("email")
@click.option("--name", default=None, help="Name for a customer created now.")
@database_option
@friendly
def customer_token(email: str, name: str | None, database_url: str | None) -> None:
    """Print a portal API token for the customer with EMAIL (created if new)."""
    from ombud.accounts import service as accounts
    from ombud.accounts.schemas import SYSTEM
    from ombud.customers import service as customers
    from ombud.customers.schemas import CustomerRef
    from ombud.storage.db import Database
    from ombud.storage.schema import check_schema

    database = Database(_settings(database_url=database_url).effective_database_url)
    check_schema(database)
    with database.session() as session:
        found, _ = customers.resolve_customer(
            session=session, ref=CustomerRef(email=email, name=name), actor=SYSTEM
        )
        token = accounts.issue_token(session=session, customer_id=found.id, name="cli")
        session.commit()
        click.echo(f"customer {found.id}")
    click.echo(token)


@customer.command("export")
@click.argument("customer_ref", metavar="EMAIL|ID")
@click.option(
    "--out", "out", type=click.Path(dir_okay=False, writable=True), default=None, help="Write to FILE."
)
@database_option
@friendly
def customer_export(customer_ref: str, out: str | None, database_url: str | None) -> None:
    """Print (or write to FILE) everything held about a customer as JSON, for an access request."""
    import json
    from pathlib import Path

    from ombud.accounts.schemas import SYSTEM
    from ombud.customers import privacy
    from ombud.customers.export import export_customer
    from ombud.storage.db import Database
    from ombud.storage.schema import check_schema

    database = Database(_settings(database_url=database_url).effective_database_url)
    check_schema(database)
    try:
        with database.session() as session:
            customer_id = privacy.find_customer_id(session=session, ref=customer_ref)
            document = export_customer(session=session, customer_id=customer_id, actor=SYSTEM)
            text = json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
            if out is None:
                click.echo(text, nl=False)
            else:
                Path(out).write_text(text, encoding="utf-8")
            session.commit()  # the export is recorded in the audit trail once it was handed out
    finally:
        database.dispose()
    if out is not None:
        click.echo(f"customer {customer_id}: {len(document['tickets'])} tickets written to {out}", err=True)


@customer.command("erase")
@click.argument("customer_ref", metavar="EMAIL|ID")
@click.option("--yes", is_flag=True, help="Confirm: the erasure cannot be undone.")
@database_option
@friendly
def customer_erase(customer_ref: str, yes: bool, database_url: str | None) -> None:
    """Erase a customer (and every customer merged into them) and everything about them, for good."""
    from ombud.accounts.schemas import SYSTEM
    from ombud.customers import privacy
    from ombud.errors import InvalidInput
    from ombud.storage.db import Database
    from ombud.storage.schema import check_schema

    if not yes:
        raise InvalidInput(
            "erasing a customer cannot be undone: run again with --yes to confirm",
            code="confirmation_required",
        )
    database = Database(_settings(database_url=database_url).effective_database_url)
    check_schema(database)
    try:
        with database.session() as session:
            customer_id = privacy.find_customer_id(session=session, ref=customer_ref)
            report = privacy.erase_customer(session=session, customer_id=customer_id, actor=SYSTEM)
            session.commit()
    finally:
        database.dispose()
    click.echo(f"erased customer {customer_id} (customers {', '.join(map(str, report.customer_ids))})")
    for table, count in sorted(report.deleted.items()):
        click.echo(f"  deleted {count} {table}")
    for table, count in sorted(report.scrubbed.items()):
        click.echo(f"  scrubbed {count} {table}")


@main.command("sweep")
@database_option
@friendly
def sweep(database_url: str | None) -> None:
    """Enqueue every piece of background work the database still records as pending."""
    from ombud.runtime import build_runtime

    runtime = build_runtime(_settings(database_url=database_url))
    click.echo(runtime.queue.sweep())


@main.command("settings")
def settings_command() -> None:
    """List every setting with its environment variable, description and current value."""
    for variable, description, value in describe(_settings()):
        click.echo(f"{variable}\n    {description}\n    = {value}")


def _configure_logging(settings: Settings) -> None:
    from ombud import logmask

    root = logging.getLogger()
    before = list(root.handlers)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Customers' addresses and phone numbers, tokens and secrets are masked in whatever any logger writes
    # through the handler made here (not through handlers someone else set up before, such as a test
    # runner's capture: the filter masks records in place, for every handler after it).
    logmask.install(handlers=[handler for handler in root.handlers if handler not in before])
    if settings.log_level != "debug":
        # huey logs every job at INFO and alembic every connection: one line per message is noise.
        for noisy in ("huey", "alembic"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


main.add_command(triage_group)
main.add_command(email_group)
main.add_command(kb_group)
main.add_command(policy_group)
main.add_command(report_group)
main.add_command(advocacy_group)
main.add_command(training_group)
main.add_command(import_group)
