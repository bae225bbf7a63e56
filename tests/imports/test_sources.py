"""The other desks: a Zendesk-style JSON export and a live django-helpdesk database (its real schema, dumped
from django-helpdesk 2.6.1 into helpdesk_schema.sql)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from ombud.cli.main import main
from ombud.errors import InvalidInput
from ombud.imports import service, sources
from ombud.imports.models import ImportRun
from ombud.runtime import Runtime
from ombud.storage.models import metadata
from tests.conftest import Personas
from tests.imports.common import skips_of

T = metadata.tables
SCHEMA = Path(__file__).with_name("helpdesk_schema.sql")


def zendesk_export() -> dict[str, Any]:
    return {
        "organizations": [{"id": 901, "name": "Acme Ltd", "domain_names": ["acme.test"]}],
        "users": [
            {
                "id": 1,
                "name": "Ann Customer",
                "email": "ann@acme.test",
                "role": "end-user",
                "organization_id": 901,
            },
            {"id": 2, "name": "Agent Smith", "email": "agent@desk.test", "role": "agent"},
            {"id": 3, "name": "Former Agent", "email": "gone@old-desk.test", "role": "admin"},
            {"id": 4, "name": "Phone Only", "phone": "+44 20 7946 0958", "role": "end-user"},
            {"id": 5, "name": "Nobody Known", "role": "end-user"},
        ],
        "tickets": [
            {
                "id": 101,
                "subject": "Invoice charged twice",
                "status": "closed",
                "priority": "high",
                "via": {"channel": "email"},
                "requester_id": 1,
                "assignee_id": 2,
                "tags": ["billing", "double charge"],
                "created_at": "2024-05-01T08:00:00Z",
                "updated_at": "2024-05-03T08:00:00Z",
                "comments": [
                    {
                        "id": 1,
                        "author_id": 1,
                        "body": "I was charged twice for May",
                        "public": True,
                        "created_at": "2024-05-01T08:00:00Z",
                    },
                    {
                        "id": 2,
                        "author_id": 2,
                        "body": "Refunded the second charge.",
                        "html_body": "<p>Refunded <script>x()</script></p>",
                        "public": True,
                        "created_at": "2024-05-01T09:00:00Z",
                    },
                    {
                        "id": 3,
                        "author_id": 3,
                        "body": "checked with finance",
                        "public": False,
                        "created_at": "2024-05-01T09:05:00Z",
                    },
                    {
                        "id": 4,
                        "author_id": 2,
                        "body": "",
                        "public": True,
                        "created_at": "2024-05-01T09:06:00Z",
                    },
                ],
            },
            {
                "id": 102,
                "subject": "App crashes",
                "status": "hold",
                "priority": None,
                "via": {"channel": "voice"},
                "requester_id": 4,
                "created_at": "2024-06-01T08:00:00Z",
                "comments": [
                    {
                        "id": 5,
                        "author_id": 4,
                        "body": "The app crashes on start",
                        "public": True,
                        "created_at": "2024-06-01T08:00:00Z",
                    }
                ],
            },
            {
                "id": 103,
                "subject": "Lost parcel",
                "status": "solved",
                "via": {"channel": "twitter"},
                "requester_id": 5,
                "created_at": "2024-07-01T08:00:00Z",
                "description": "Where is my parcel?",
            },
            {
                "id": 104,
                "subject": "broken",
                "status": "deleted",
                "requester_id": 1,
                "created_at": "2024-07-01T08:00:00Z",
            },
        ],
        "ticket_comments": [
            {
                "id": 9,
                "ticket_id": 999,
                "author_id": 1,
                "body": "orphan",
                "created_at": "2024-01-01T00:00:00Z",
            }
        ],
    }


def _import(runtime: Runtime, source: str, location: str, reads: Any) -> ImportRun:
    return service.run_import(
        database=runtime.database,
        source=source,
        location=location,
        reads=reads,
        options=service.ImportOptions(),
    )


def test_a_zendesk_export_brings_tickets_comments_users_and_organisations(
    runtime: Runtime, people: Personas, tmp_path: Path
) -> None:
    path = tmp_path / "export.json"
    path.write_text(json.dumps(zendesk_export()), encoding="utf-8")
    run = _import(runtime, "zendesk", str(path), sources.read_zendesk(path))
    assert run.counts["tickets"] == 3 and run.counts["messages"] == 5 and run.counts["organisations"] == 1
    assert run.counts["skipped"] == {"empty_message": 1, "invalid_status": 1, "unknown_ticket": 1}
    assert ("ticket", "zendesk:104", "invalid_status") in skips_of(runtime, run.id)

    with runtime.database.engine.connect() as connection:
        tickets = {r.external_id: r for r in connection.execute(select(T["tickets"]))}
        messages = connection.execute(select(T["messages"]).order_by(T["messages"].c.id)).all()
        ann = connection.execute(
            select(T["customers"]).join(T["identities"]).where(T["identities"].c.value == "ann@acme.test")
        ).one()
        org = connection.execute(
            select(T["organisations"]).where(T["organisations"].c.id == ann.organisation_id)
        ).one()
        keys = connection.execute(select(T["import_keys"].c.key)).scalars().all()
    invoice, app, parcel = tickets["zendesk:101"], tickets["zendesk:102"], tickets["zendesk:103"]
    assert (invoice.status, invoice.priority, invoice.assignee_id) == ("closed", "high", people.agent.id)
    assert (app.status, app.channel, app.is_open) == ("on_hold", "phone", True)
    assert parcel.channel == "social" and parcel.status == "solved"
    assert ann.name == "Ann Customer" and org.name == "Acme Ltd"
    on_invoice = [m for m in messages if m.ticket_id == invoice.id]
    assert [(m.author_type, m.internal) for m in on_invoice] == [
        ("customer", False),
        ("agent", False),
        ("agent", True),
    ]
    assert on_invoice[1].author_user_id == people.agent.id and "<script>" not in on_invoice[1].body_html
    # The former agent has no ombud account: who wrote it is kept with the message.
    assert on_invoice[2].channel_meta["imported"]["author"]["email"] == "gone@old-desk.test"
    assert sorted(keys) == ["1", "4", "5"]  # requesters found again on a rerun, even without any address

    again = _import(runtime, "zendesk", str(path), sources.read_zendesk(path))
    assert (
        again.counts["tickets"] == 0
        and again.counts["customers"] == 0
        and again.counts["already_imported"] == 3
    )


def test_a_zendesk_folder_of_jsonl_files_reads_the_same(runtime: Runtime, tmp_path: Path) -> None:
    export = zendesk_export()
    folder = tmp_path / "zendesk"
    folder.mkdir()
    for name in ("users", "organizations", "ticket_comments"):
        (folder / f"{name}.json").write_text(json.dumps({name: export[name]}), encoding="utf-8")
    (folder / "tickets.jsonl").write_text(
        "".join(json.dumps(t) + "\n" for t in export["tickets"]), encoding="utf-8"
    )
    run = _import(runtime, "zendesk", str(folder), sources.read_zendesk(folder))
    assert run.counts["tickets"] == 3 and run.counts["messages"] == 5


def _helpdesk(path: Path) -> str:
    connection = sqlite3.connect(path)
    connection.executescript(SCHEMA.read_text(encoding="utf-8"))
    day = "2025-01-0{} 10:00:00.000000".format
    connection.executemany(
        "INSERT INTO auth_user VALUES (?, '', NULL, 0, ?, ?, ?, ?, 1, ?, ?)",
        [
            (1, "boss", "Smith", "agent@desk.test", 1, day(1), "Agent"),
            (2, "cust", "Jones", "jo@example.com", 0, day(1), "Jo"),
        ],
    )
    connection.execute(
        "INSERT INTO helpdesk_queue (id, title, slug, allow_public_submission, allow_email_submission, "
        "email_box_ssl, enable_notifications_on_email_events) VALUES (1, 'Support', 'support', 1, 1, 0, 0)"
    )
    connection.executemany(
        "INSERT INTO helpdesk_ticket (id, title, created, submitter_email, status, on_hold, description, "
        "priority, assigned_to_id, queue_id, secret_key, modified) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
        [
            (
                1,
                "Cannot log in",
                day(1),
                "jo@example.com",
                4,
                0,
                "My password reset never arrives",
                2,
                1,
                "k1",
                day(3),
            ),
            (2, "Refund", day(2), "max@example.com", 1, 1, "Please refund order 77", 3, None, "k2", day(2)),
            (3, "Nobody", day(2), None, 1, 0, "anonymous question", 3, None, "k3", day(2)),
        ],
    )
    connection.executemany(
        "INSERT INTO helpdesk_followup (id, date, title, comment, public, new_status, ticket_id, user_id) "
        "VALUES (?, ?, ?, ?, ?, NULL, 1, ?)",
        [
            (1, day(1), "Ticket Opened", "My password reset never arrives", 1, None),
            (2, "2025-01-01 11:00:00.000000", "Comment", "Sent a new link.", 1, 1),
            (3, "2025-01-01 11:05:00.000000", "Comment", "user is on the old domain", 0, 1),
            (4, "2025-01-02 09:00:00.000000", "Comment", "It works, thanks", 1, 2),
            (5, "2025-01-03 10:00:00.000000", "Closed", "", 1, 1),
        ],
    )
    connection.commit()
    connection.close()
    return f"sqlite:///{path}"


def test_a_live_django_helpdesk_database_is_imported_through_its_url(
    runtime: Runtime, people: Personas, tmp_path: Path
) -> None:
    url = _helpdesk(tmp_path / "helpdesk.sqlite3")
    env = {"OMBUD_DATABASE_URL": runtime.settings.effective_database_url, "OMBUD_HOME": str(tmp_path)}
    result = CliRunner().invoke(main, ["import", "helpdesk", url, "--no-sweep"], env=env)
    assert result.exit_code == 0, result.output
    assert "2 tickets, 5 messages" in result.output
    assert "no_customer 1" in result.output and "empty_message 1" in result.output
    with runtime.database.engine.connect() as connection:
        tickets = {r.external_id: r for r in connection.execute(select(T["tickets"]))}
        login = tickets["helpdesk:1"]
        thread = connection.execute(
            select(T["messages"]).where(T["messages"].c.ticket_id == login.id).order_by(T["messages"].c.id)
        ).all()
        tags = (
            connection.execute(select(T["ticket_tags"].c.tag).where(T["ticket_tags"].c.ticket_id == login.id))
            .scalars()
            .all()
        )
    assert (login.status, login.priority, login.assignee_id, login.is_open) == (
        "closed",
        "high",
        people.agent.id,
        False,
    )
    assert tickets["helpdesk:2"].status == "on_hold" and tags == ["support"]
    # The opening follow-up repeats the description: one message, not two.
    assert [(m.author_type, m.internal, m.body_text) for m in thread] == [
        ("customer", False, "My password reset never arrives"),
        ("agent", False, "Sent a new link."),
        ("agent", True, "user is on the old domain"),
        ("customer", False, "It works, thanks"),
    ]
    again = CliRunner().invoke(main, ["import", "helpdesk", url, "--no-sweep"], env=env)
    assert again.exit_code == 0 and "2 tickets were already imported" in again.output
    # The run records where it read from, never a password.
    assert "import run" in again.output


def test_a_database_that_is_not_django_helpdesk_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.sqlite3"
    sqlite3.connect(empty).close()
    with pytest.raises(InvalidInput) as refused:
        list(sources.read_helpdesk(f"sqlite:///{empty}"))
    assert refused.value.code == "invalid_import_source"
    assert sources.safe_location("postgresql://u:secret@db/helpdesk") == "postgresql://u:***@db/helpdesk"
