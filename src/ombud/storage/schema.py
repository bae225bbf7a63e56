"""Migrations (``ombud db upgrade``) and the start-up check that the schema matches the code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
    with database.engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        driver: Any = connection.connection.driver_connection
        if sqlite:
            # A batch migration copies a table, drops the old one and renames the copy. With foreign keys
            # on, that DROP would delete (ON DELETE CASCADE) or refuse (RESTRICT) every row pointing at
            # the table: SQLite's documented procedure turns them off, outside the transaction.
            driver.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise ConfigurationError(
                            f"the migration would leave {len(broken)} rows pointing at nothing (first: "
                            f"{tuple(broken[0])}); nothing was changed",
                            code="migration_failed",
                        )
        finally:
            if sqlite:
                driver.execute("PRAGMA foreign_keys=ON")
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
