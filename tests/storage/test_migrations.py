"""Migrations build exactly the schema the models describe, on both databases, and can be undone."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from ombud.storage.db import Database
from ombud.storage.models import metadata
from ombud.storage.schema import check_schema, current_revision, head_revision, upgrade


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    database = Database(database_url)
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = [d for d in compare_metadata(context, metadata) if "message_search" not in str(d)]
    database.dispose()
    assert diff == []


def test_upgrade_is_idempotent_and_check_passes(database_url: str) -> None:
    database = Database(database_url)
    upgrade(database)
    assert current_revision(database) == head_revision()
    check_schema(database)
    assert "message_search" in inspect(database.engine).get_table_names()
    database.dispose()
