"""Fuzz every operation of the API against its own OpenAPI schema (schemathesis): whatever a staff token
sends, the answer is never a 5xx, and a response whose status the schema declares matches the schema and
the content type declared for it."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import Case
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance

from ombud.accounts import service as accounts
from ombud.accounts.models import Role
from ombud.runtime import build_runtime
from ombud.settings import Settings
from ombud.storage.db import Database
from ombud.storage.schema import upgrade
from ombud.web.app import create_app

# Ids 1 and 2 exist for tickets, customers and attachments once `desk` has seeded them.
SEEDED_IDS = (1, 2)

# A cursor is base64url(JSON) and opaque to clients, so random strings almost never get past decoding. Half
# of the requests to a paginated operation carry a well-formed envelope around a fuzzed position instead:
# ids at and past the 64-bit bounds, any JSON value, timestamps of any year with any UTC offset.
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=5), inner, max_size=2),
    max_leaves=4,
)
_INTS = st.sampled_from([0, -1, 2**31, 2**63 - 1, 2**63, 2**64, 10**30]) | st.integers()
_TIMES = st.builds(
    lambda at, hours: at.replace(tzinfo=dt.timezone(dt.timedelta(hours=hours))).isoformat(),
    st.datetimes() | st.sampled_from([dt.datetime.min, dt.datetime.max]),
    st.integers(min_value=-23, max_value=23),
)
_KINDS = st.sampled_from([0, 1])  # the timeline's two streams
_POSITIONS = st.fixed_dictionaries(
    {"id": _INTS | _JSON, "kind": _KINDS | _INTS | _JSON, "at": _TIMES | _JSON}
)


def _cursor(position: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


def flatmap_query(context: schemathesis.HookContext, query: dict[str, Any] | None) -> Any:
    operation = context.operation
    if operation is None or "cursor" not in {parameter.name for parameter in operation.query}:
        return st.just(query)
    return st.just(query) | _POSITIONS.map(lambda position: {**(query or {}), "cursor": _cursor(position)})


def flatmap_path_parameters(context: schemathesis.HookContext, path_parameters: dict[str, Any] | None) -> Any:
    # Random ids almost always miss; half the time the operation works on a seeded row instead.
    if not path_parameters:
        return st.just(path_parameters)
    seeded = st.fixed_dictionaries({name: st.sampled_from(SEEDED_IDS) for name in path_parameters})
    return st.just(path_parameters) | seeded


def _openapi_document() -> dict[str, Any]:
    # Tests are parametrised at collection, before any fixture runs. The schema depends on the routes only,
    # so it comes from an app on an in-memory database that no request ever reaches; the requests go to the
    # seeded app of the `desk` fixture.
    runtime = build_runtime(Settings(database_url="sqlite://"), queue_url="memory://")
    try:
        return create_app(runtime).openapi()
    finally:
        runtime.close()


schema = schemathesis.openapi.from_dict(_openapi_document())
schema.hook(flatmap_query)
schema.hook(flatmap_path_parameters)


@dataclass
class Desk:
    app: FastAPI
    headers: dict[str, str]


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    """The app on a fresh SQLite database, an admin's token, a team, and two tickets with a reply each."""
    home = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite:///{home / 'ombud.db'}"
    database = Database(url)
    upgrade(database)
    database.dispose()
    # memory:// runs each job synchronously on commit: the search index is always up to date.
    runtime = build_runtime(Settings(home=home, database_url=url), queue_url="memory://")
    with runtime.database.session() as session:
        admin = accounts.create_user(session=session, email="admin@desk.test", role=Role.admin)
        token = accounts.issue_token(session=session, user_id=admin.id)
        accounts.create_team(session=session, name="Support")
        session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    app = create_app(runtime)
    with TestClient(app) as client:
        for n, email in enumerate(("maria@example.com", "tom@example.org"), start=1):
            created = client.post(
                "/api/v1/tickets",
                headers=headers,
                json={
                    "customer": {"email": email, "name": f"Customer {n}"},
                    "channel": "web",
                    "subject": f"Order {n} never arrived",
                    "body": f"seedword{n} the parcel never came",
                    "external_id": f"seed-{n}",
                    "tags": ["delivery"],
                    "attachments": [
                        {
                            "filename": f"receipt{n}.txt",
                            "content_type": "text/plain",
                            "content_base64": "aGk=",
                        }
                    ],
                },
            )
            assert created.status_code == 201, created.text
            assert created.json()["id"] == n
            reply = client.post(
                f"/api/v1/tickets/{n}/messages", headers=headers, json={"body": "We are looking into it."}
            )
            assert reply.status_code == 201, reply.text
    yield Desk(app=app, headers=headers)
    runtime.close()


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
def test_every_operation_never_answers_5xx_and_matches_its_schema(case: Case, desk: Desk) -> None:
    case.call_and_validate(
        app=desk.app,
        headers=desk.headers,
        checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
        # Correctness, not speed: on a busy CI machine a first request that loads a model may take a while.
        timeout=60,
    )
