"""Fuzz every operation of the API against its own OpenAPI schema (schemathesis), as every role: whatever
an anonymous caller, a customer, a partner technician, an advocate, an agent, a lead or an admin sends, the
answer is never a 5xx, and a response whose status the schema declares matches the schema and the content
type declared for it.

Schemathesis makes a few dozen requests per operation (its coverage phase's boundary values, then
``OMBUD_FUZZ_EXAMPLES`` random ones, default 8). The first request of each operation goes out as all seven
roles; each later one as one of the six others in turn and then as the admin, so every role fuzzes every
operation at about twice the cost of one role, not seven times. ``OMBUD_FUZZ_ALL_ROLES=1`` sends every
request as every role: ``benchmarks/fuzz_all_roles.py`` runs that with many more examples."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
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
from ombud.accounts.schemas import SYSTEM
from ombud.partners import service as partners
from ombud.partners.schemas import PartnerCreate, TechnicianSet
from ombud.runtime import build_runtime
from ombud.settings import Settings
from ombud.storage.db import Database
from ombud.storage.schema import upgrade
from ombud.web.app import create_app

# Ids 1 and 2 exist for tickets, customers and attachments once `desk` has seeded them; id 1 for the partner
# company, its work order and the customer's portal token.
SEEDED_IDS = (1, 2)
# Least privileged first: within one example an admin's change (a deleted rule, a rotated secret) comes last.
ROLES = ("anonymous", "customer", "partner", "advocate", "agent", "lead", "admin")
# Random examples per operation (after the coverage phase's); the long run sets both higher.
EXAMPLES = int(os.environ.get("OMBUD_FUZZ_EXAMPLES", "8"))
ALL_ROLES_EVERY_TIME = os.environ.get("OMBUD_FUZZ_ALL_ROLES") == "1"
# Requests sent so far per operation: which roles the next one goes out as.
_SENT: Counter[str] = Counter()


def roles_for(operation: str) -> tuple[str, ...]:
    """All roles for an operation's first request (and for every request in the long run); then the other
    roles in turn, each followed by the admin (whose changes to the seeded rows come last)."""
    sent = _SENT[operation]
    _SENT[operation] += 1
    if sent == 0 or ALL_ROLES_EVERY_TIME:
        return ROLES
    return (ROLES[:-1][(sent - 1) % (len(ROLES) - 1)], "admin")


ALL_DAY = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}

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
    headers: dict[str, dict[str, str]]  # by role; anonymous sends none
    # Answers by role and status class ("2xx", "4xx"...): the long run prints them (OMBUD_FUZZ_REPORT).
    answers: Counter[tuple[str, str]] = field(default_factory=Counter)


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    """The app on a fresh SQLite database with a user of every staff role and a partner technician (each
    with a token), a team, two tickets with a reply each, a partner company with a work order on ticket 1,
    and a portal token for ticket 1's customer."""
    home = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite:///{home / 'ombud.db'}"
    database = Database(url)
    upgrade(database)
    database.dispose()
    # memory:// runs each job synchronously on commit: the search index is always up to date.
    runtime = build_runtime(Settings(home=home, database_url=url), queue_url="memory://")
    headers: dict[str, dict[str, str]] = {"anonymous": {}}
    with runtime.database.session() as session:
        for role in (Role.admin, Role.lead, Role.agent, Role.advocate, Role.partner):
            user = accounts.create_user(session=session, email=f"{role.value}@desk.test", role=role)
            headers[role.value] = {
                "Authorization": f"Bearer {accounts.issue_token(session=session, user_id=user.id)}"
            }
        accounts.create_team(session=session, name="Support")
        partner = partners.create_partner(session=session, actor=SYSTEM, data=PartnerCreate(name="FixRight"))
        partners.set_technician(
            session=session,
            actor=SYSTEM,
            user_id=user.id,  # the partner user, made last above
            data=TechnicianSet(
                partner_id=partner.id,
                skills=["repair", "airbrew"],
                areas=["10"],
                capacity_per_day=4,
                working_hours=ALL_DAY,
                timezone="Europe/Berlin",
            ),
        )
        session.commit()
    admin = headers["admin"]
    app = create_app(runtime)
    with TestClient(app) as client:
        for n, email in enumerate(("maria@example.com", "tom@example.org"), start=1):
            created = client.post(
                "/api/v1/tickets",
                headers=admin,
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
                f"/api/v1/tickets/{n}/messages", headers=admin, json={"body": "We are looking into it."}
            )
            assert reply.status_code == 201, reply.text
        order = client.post(
            "/api/v1/tickets/1/work-orders",
            headers=headers["agent"],
            json={
                "kind": "repair",
                "skill": "airbrew",
                "summary": "The AirBrew leaks water",
                "postcode": "10115",
                "address": "Invalidenstr. 1, 10115 Berlin",
            },
        )
        assert order.status_code == 201, order.text
        assert order.json()["id"] == 1
        # The partner sees the work order, the customer their ticket: their fuzzing reaches real rows.
        assert client.get("/api/v1/work-orders/1", headers=headers["partner"]).status_code == 200
        customer_id = client.get("/api/v1/tickets/1", headers=admin).json()["customer_id"]
    with runtime.database.session() as session:
        token = accounts.issue_token(session=session, customer_id=customer_id, name="portal")
        session.commit()
    headers["customer"] = {"Authorization": f"Bearer {token}"}
    with TestClient(app) as client:
        assert client.get("/api/v1/tickets/1", headers=headers["customer"]).status_code == 200
    desk = Desk(app=app, headers=headers)
    yield desk
    runtime.close()
    if report := os.environ.get("OMBUD_FUZZ_REPORT"):
        tally: dict[str, dict[str, int]] = {}
        for (role, status), count in sorted(desk.answers.items()):
            tally.setdefault(role, {})[status] = count
        figures = {"examples": EXAMPLES, "all_roles_every_time": ALL_ROLES_EVERY_TIME, "answers": tally}
        Path(report).write_text(json.dumps(figures, indent=1))


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
def test_every_operation_never_answers_5xx_and_matches_its_schema(case: Case, desk: Desk) -> None:
    for role in roles_for(case.operation.label):
        try:
            response = case.call_and_validate(
                app=desk.app,
                headers=desk.headers[role],
                checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
                # Correctness, not speed: on a busy CI machine a first request that loads a model may take a
                # while.
                timeout=60,
            )
        except Exception as failure:
            failure.add_note(f"sent as the {role} role")
            raise
        desk.answers[role, f"{response.status_code // 100}xx"] += 1
