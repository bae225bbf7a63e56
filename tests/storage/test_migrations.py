"""Migrations build exactly the schema the models describe, on both databases, and can be undone."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from ombud.storage.db import Database
from ombud.storage.models import metadata
from ombud.storage.schema import check_schema, current_revision, head_revision, upgrade
from ombud.tickets.priority import queue_rank


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    database = Database(database_url)
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        # The full-text tables (and FTS5's shadow tables) are made by hand, outside the models.
        diff = [
            d
            for d in compare_metadata(context, metadata)
            if "message_search" not in str(d) and "kb_passage_search" not in str(d)
        ]
    database.dispose()
    assert diff == []


def test_upgrade_is_idempotent_and_check_passes(database_url: str) -> None:
    database = Database(database_url)
    upgrade(database)
    assert current_revision(database) == head_revision()
    check_schema(database)
    assert {"message_search", "kb_passage_search"} <= set(inspect(database.engine).get_table_names())
    database.dispose()


def test_upgrading_a_database_in_use_keeps_every_row_and_rewrites_phones_in_e164(tmp_path: Path) -> None:
    # Batch migrations on SQLite copy and drop tables: with foreign keys on, the drop used to delete
    # (CASCADE) or refuse (RESTRICT) the rows pointing at them. A database with data must come through.
    database = Database(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(database, "0002")
    day = "2026-01-01 00:00:00"
    with database.engine.begin() as connection:
        for customer in (1, 2):
            connection.execute(
                text(
                    "INSERT INTO customers (id, name, preferences, notes, created_at, updated_at) "
                    "VALUES (:i, 'c', '{}', '', :d, :d)"
                ),
                {"i": customer, "d": day},
            )
        # As 0002-era ombud stored numbers: '+' and digits as written, national numbers as digits.
        for row_id, customer, value in [
            (1, 1, "+4402079460958"),
            (2, 1, "004915112345678"),
            (3, 2, "030123456"),
            (4, 2, "0044 20 7946 0958"),
            (5, 1, "+442079460958"),
        ]:
            connection.execute(
                text(
                    "INSERT INTO identities (id, customer_id, kind, value, created_at) "
                    "VALUES (:i, :c, 'phone', :v, :d)"
                ),
                {"i": row_id, "c": customer, "v": value, "d": day},
            )
        connection.execute(
            text(
                "INSERT INTO tickets (id, subject, status, priority, channel, customer_id, created_at, "
                "updated_at) VALUES (1, 'Router', 'open', 'normal', 'email', 1, :d, :d)"
            ),
            {"d": day},
        )
        connection.execute(
            text(
                "INSERT INTO messages (id, ticket_id, customer_id, author_type, channel, internal, "
                "body_text, channel_meta, created_at) "
                "VALUES (1, 1, 1, 'customer', 'email', 0, 'It drops', '{}', :d)"
            ),
            {"d": day},
        )
    upgrade(database)
    with database.engine.connect() as connection:
        counts = [
            connection.execute(text(f"SELECT count(*) FROM {t}")).scalar()
            for t in ("customers", "tickets", "messages")
        ]
        values = dict(connection.execute(text("SELECT id, value FROM identities ORDER BY id")).fetchall())
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1  # on again after the upgrade
    database.dispose()
    assert counts == [2, 1, 1]
    # Kept as they were: a number with the UK's (0) left in (no possible number), a national number, and
    # one whose E.164 form another identity already has (an admin merges the two customers).
    assert values == {
        1: "+4402079460958",
        2: "+4915112345678",
        3: "030123456",
        4: "0044 20 7946 0958",
        5: "+442079460958",
    }


def test_upgrading_to_the_workspace_ranks_existing_tickets(tmp_path: Path) -> None:
    # Tickets from before 0006 get is_open from their status and the score a new ticket of their priority
    # gets, so an old urgent ticket does not sink below every new one in the inbox.
    database = Database(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(database, "0005")
    day = "2026-01-01 00:00:00"
    with database.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO customers (id, name, preferences, notes, created_at, updated_at) "
                "VALUES (1, 'c', '{}', '', :d, :d)"
            ),
            {"d": day},
        )
        for ticket_id, status, priority in (
            (1, "open", "urgent"),
            (2, "solved", "low"),
            (3, "new", "normal"),
        ):
            connection.execute(
                text(
                    "INSERT INTO tickets (id, subject, status, priority, channel, customer_id, created_at, "
                    "updated_at) VALUES (:i, 's', :s, :p, 'email', 1, :d, :d)"
                ),
                {"i": ticket_id, "s": status, "p": priority, "d": day},
            )
    upgrade(database)
    with database.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT id, is_open, priority_score, queue_rank FROM tickets ORDER BY id")
        ).all()
    database.dispose()
    assert [(r[0], bool(r[1]), r[2]) for r in rows] == [(1, True, 45.0), (2, False, 5.0), (3, True, 15.0)]
    created = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert [r[3] for r in rows] == [queue_rank(score, created) for score in (45.0, 5.0, 15.0)]
