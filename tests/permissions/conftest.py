"""One seeded workspace per engine and test module: seeding (the demo, then the extras) takes most of a
minute, so the matrix and the data checks share it instead of paying it per test. It is a database of its
own (a SQLite file; on PostgreSQL a database created for it), so other tests' truncations never touch it."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, make_url, text

from ombud.runtime import Runtime, build_runtime
from ombud.settings import Settings
from ombud.storage.db import Database
from ombud.storage.schema import upgrade
from tests.conftest import BACKENDS, PG_URL, app_for
from tests.permissions.seed import World, seed


@dataclass
class Seeded:
    runtime: Runtime
    world: World

    @property
    def app(self) -> FastAPI:
        # The routes are shared by every test of the run: point them at this world's runtime each time.
        return app_for(self.runtime)

    def client(self) -> TestClient:
        return TestClient(self.app, raise_server_exceptions=False)


def _private_postgres() -> tuple[str, str]:
    assert PG_URL is not None
    name = f"ombud_perm_{uuid.uuid4().hex[:10]}"
    admin = create_engine(make_url(PG_URL).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = (
        make_url(PG_URL)
        .set(drivername="postgresql+psycopg", database=name)
        .render_as_string(hide_password=False)
    )
    database = Database(url)
    upgrade(database)
    database.dispose()
    return name, url


def _drop_postgres(name: str) -> None:
    assert PG_URL is not None
    admin = create_engine(make_url(PG_URL).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module", params=BACKENDS)
def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[Seeded]:
    home = tmp_path_factory.mktemp("permissions")
    dropped: str | None = None
    if request.param == "sqlite":
        shutil.copyfile(sqlite_template, home / "ombud.db")
        url = f"sqlite:///{home / 'ombud.db'}"
    else:
        dropped, url = _private_postgres()
    runtime = build_runtime(Settings(home=home, database_url=url), queue_url="memory://")
    try:
        with TestClient(app_for(runtime), raise_server_exceptions=False) as client:
            world = seed(runtime, client)
        yield Seeded(runtime, world)
    finally:
        runtime.close()
        if dropped is not None:
            _drop_postgres(dropped)
