"""Shared fixtures: a migrated database per test on SQLite and (when OMBUD_TEST_DATABASE_URL is set) on a
real PostgreSQL server, the app, and personas created through the services.

Isolation is a fresh database per test rather than a rolled-back transaction: the code under test
commits for real (the route owns the transaction), and jobs open their own sessions, so a wrapping
transaction would hide exactly the behaviour we want to see. SQLite copies a migrated template file;
PostgreSQL migrates a private database once per run and truncates it before each test.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.pool import NullPool

from ombud.accounts import service as accounts
from ombud.accounts.models import Role
from ombud.accounts.schemas import SYSTEM
from ombud.customers import service as customers
from ombud.customers.schemas import CustomerRef
from ombud.runtime import Runtime, build_runtime
from ombud.settings import Settings
from ombud.storage.db import Database
from ombud.storage.schema import upgrade
from ombud.web.app import create_app

PG_URL = os.environ.get("OMBUD_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("OMBUD_TEST_REDIS_URL")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("CI") == "true" and not (PG_URL and REDIS_URL):
        raise pytest.UsageError(
            "CI must test the real PostgreSQL and Redis: set OMBUD_TEST_DATABASE_URL and OMBUD_TEST_REDIS_URL"
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_pg = pytest.mark.skip(reason="PostgreSQL tests need OMBUD_TEST_DATABASE_URL (.ci/run sets it)")
    skip_redis = pytest.mark.skip(reason="Redis tests need OMBUD_TEST_REDIS_URL (.ci/run sets it)")
    for item in items:
        if "postgres" in item.keywords and not PG_URL:
            item.add_marker(skip_pg)
        if "redis" in item.keywords and not REDIS_URL:
            item.add_marker(skip_redis)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "ombud.db"
    database = Database(f"sqlite:///{path}")
    upgrade(database)
    database.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A private PostgreSQL database for this test run, migrated once, dropped at the end."""
    assert PG_URL is not None
    name = f"ombud_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(make_url(PG_URL).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = (
        make_url(PG_URL)
        .set(drivername="postgresql+psycopg", database=name)
        .render_as_string(hide_password=False)
    )
    database = Database(url)
    upgrade(database)
    database.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


_TRUNCATE_ENGINES: dict[str, Engine] = {}


def _truncate_all(url: str) -> None:
    """Empty every table and restart every sequence, touching only what the last test used: a TRUNCATE of
    all ~90 tables costs about half a second per test; most tests write to a handful."""
    engine = _TRUNCATE_ENGINES.get(url)
    if engine is None:
        engine = _TRUNCATE_ENGINES[url] = create_engine(url, poolclass=NullPool)
    with engine.begin() as conn:
        tables = (
            conn.execute(
                text(
                    "SELECT tablename FROM pg_tables "
                    "WHERE schemaname = 'public' AND tablename <> 'alembic_version' ORDER BY tablename"
                )
            )
            .scalars()
            .all()
        )
        quoted = {name: '"' + name.replace('"', '""') + '"' for name in tables}
        probe = " UNION ALL ".join(
            f"SELECT '{name}' WHERE EXISTS (SELECT 1 FROM {quoted[name]})" for name in tables
        )
        used = conn.execute(text(probe)).scalars().all()
        if used:
            conn.execute(text(f"TRUNCATE {', '.join(quoted[name] for name in used)} CASCADE"))
        # Rows inserted and deleted again leave a table empty but its sequence moved on.
        sequences = (
            conn.execute(
                text(
                    "SELECT sequencename FROM pg_sequences "
                    "WHERE schemaname = 'public' AND last_value IS NOT NULL"
                )
            )
            .scalars()
            .all()
        )
        for name in sequences:
            conn.execute(text(f'ALTER SEQUENCE "{name}" RESTART'))


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        target = tmp_path / "ombud.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), target)
        return f"sqlite:///{target}"
    url: str = request.getfixturevalue("postgres_url")
    _truncate_all(url)
    return url


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(home=tmp_path, database_url=database_url)


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    # memory:// runs each job synchronously the moment its transaction commits: tests see finished work.
    built = build_runtime(settings, queue_url="memory://")
    yield built
    built.close()


_APPS: list[FastAPI] = []


def app_for(runtime: Runtime) -> FastAPI:
    """Return the app pointed at ``runtime``. Its routes are built once per test run: building them takes
    a third of a second (FastAPI makes a validator per route), which a thousand tests would pay again."""
    if not _APPS:
        _APPS.append(create_app(runtime))
    app = _APPS[0]
    app.state.runtime = runtime
    return app


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(app_for(runtime), raise_server_exceptions=False) as test_client:
        yield test_client


@dataclass
class Persona:
    id: int
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Personas:
    admin: Persona
    lead: Persona
    agent: Persona
    agent2: Persona
    advocate: Persona
    partner: Persona
    customer: Persona
    other_customer: Persona
    team_id: int


@pytest.fixture
def people(runtime: Runtime) -> Personas:
    """The shared cast: one user of every role, two customers with portal tokens, and a team."""
    return make_people(runtime)


def make_people(runtime: Runtime) -> Personas:
    """Create the shared cast in ``runtime``'s database (for tests that build their own runtime)."""
    made: dict[str, Persona] = {}
    with runtime.database.session() as session:
        team = accounts.create_team(session=session, name="Support")
        for key, role in (
            ("admin", Role.admin),
            ("lead", Role.lead),
            ("agent", Role.agent),
            ("agent2", Role.agent),
            ("advocate", Role.advocate),
            ("partner", Role.partner),
        ):
            user = accounts.create_user(
                session=session, email=f"{key}@desk.test", role=role, name=key.title()
            )
            made[key] = Persona(user.id, accounts.issue_token(session=session, user_id=user.id))
        for key, email in (("customer", "maria@example.com"), ("other_customer", "tom@example.org")):
            found, _ = customers.resolve_customer(session=session, ref=CustomerRef(email=email), actor=SYSTEM)
            made[key] = Persona(found.id, accounts.issue_token(session=session, customer_id=found.id))
        session.commit()
        return Personas(**made, team_id=team.id)


def new_ticket(client: TestClient, who: Persona, **fields: object) -> dict[str, object]:
    """Create a ticket through the API and return its JSON (asserting 201)."""
    payload: dict[str, object] = {
        "customer": {"email": "maria@example.com", "name": "María López"},
        "channel": "email",
        "subject": "Charged twice for order A-10293",
        "body": "I was charged twice for order A-10293. Please refund the duplicate.",
    }
    payload.update(fields)
    response = client.post("/api/v1/tickets", json=payload, headers=who.headers)
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body
