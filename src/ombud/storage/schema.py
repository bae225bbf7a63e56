"""Migrations (``ombud db upgrade``) and the start-up check that the schema matches the code."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from ombud.errors import ConfigurationError
from ombud.storage.db import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(database: Database) -> str | None:
    with database.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(database: Database, revision: str = "head") -> tuple[str | None, str]:
    """Migrate the database to ``revision``; return (revision before, revision after)."""
    before = current_revision(database)
    config = _config()
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return before, current_revision(database) or ""


def check_schema(database: Database) -> None:
    """Raise ConfigurationError, naming the command that fixes it, unless the schema is at head."""
    current, head = current_revision(database), head_revision()
    if current == head:
        return
    where = "has no ombud tables yet" if current is None else f"is at revision {current}"
    raise ConfigurationError(
        f"The database {where}; this ombud needs revision {head}. "
        "Run `ombud db upgrade` (with the same OMBUD_DATABASE_URL / --database) and start again.",
        code="schema_outdated",
    )
