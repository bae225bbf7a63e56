"""SQLite writers of one process take turns on a thread lock before BEGIN IMMEDIATE (fairer than SQLite's
polling busy handler). A turn that is never given back would stop every writer of the process, so each way
a write transaction can end must give it back."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from ombud.storage.db import Database
from ombud.storage.schema import upgrade


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    built = Database(f"sqlite:///{tmp_path / 'ombud.db'}")
    upgrade(built)
    yield built
    built.dispose()


def _closed_without_commit(database: Database) -> None:
    with database.session() as session:
        session.execute(text("SELECT 1"))


def _raised(database: Database) -> None:
    def job() -> None:
        with database.session() as session:
            session.execute(text("SELECT 1"))
            raise RuntimeError("the job failed")

    with pytest.raises(RuntimeError):
        job()


def _committed(database: Database) -> None:
    with database.session() as session:
        session.execute(text("UPDATE alembic_version SET version_num = version_num"))
        session.commit()


@pytest.mark.parametrize("end", [_committed, _closed_without_commit, _raised])
def test_every_way_a_write_ends_gives_the_turn_back(
    database: Database, end: Callable[[Database], None]
) -> None:
    end(database)
    writes: list[int] = []

    def write_from_another_thread() -> None:
        with database.session() as session:
            session.execute(text("UPDATE alembic_version SET version_num = version_num"))
            session.commit()
            writes.append(1)

    other = threading.Thread(target=write_from_another_thread, daemon=True)
    other.start()
    other.join(timeout=20)  # a turn not given back would hold it for WRITE_TURN_SECONDS (30 s)
    assert writes == [1]


def test_readers_do_not_take_a_turn(database: Database) -> None:
    with database.session() as writer:
        writer.execute(text("UPDATE alembic_version SET version_num = version_num"))
        with database.session(write=False) as reader:  # while the write transaction is open
            assert reader.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
        writer.commit()
