"""A controllable clock for SLA tests, and helpers to set up calendars and policies through the API."""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ombud.events.models import Event
from ombud.runtime import Runtime
from ombud.storage import base
from tests.conftest import Persona


class FakeClock:
    """The time every ombud module reads through ``utcnow``, moved by the test."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now

    def set(self, moment: dt.datetime) -> None:
        self.now = moment.astimezone(dt.UTC)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """Freeze ``utcnow`` at Monday 2026-12-07 08:00 UTC in every ombud module that reads it."""
    fake = FakeClock(dt.datetime(2026, 12, 7, 8, 0, tzinfo=dt.UTC))
    real = base.utcnow
    for name, module in list(sys.modules.items()):
        if (name == "ombud" or name.startswith("ombud.")) and getattr(module, "utcnow", None) is real:
            monkeypatch.setattr(module, "utcnow", fake)
    return fake


def create_policy(client: TestClient, admin: Persona, **fields: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"name": "Standard", "targets": {"first_response": 60, "resolution": 480}}
    payload.update(fields)
    response = client.post("/api/v1/sla/policies", json=payload, headers=admin.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def create_calendar(client: TestClient, admin: Persona, **fields: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "name": "Berlin office",
        "time_zone": "Europe/Berlin",
        "hours": {day: [["09:00", "17:30"]] for day in ("mon", "tue", "wed", "thu", "fri")},
    }
    payload.update(fields)
    response = client.post("/api/v1/sla/calendars", json=payload, headers=admin.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def sla_of(client: TestClient, who: Persona, ticket_id: object) -> dict[str, Any]:
    response = client.get(f"/api/v1/tickets/{ticket_id}/sla", headers=who.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def clock_of(client: TestClient, who: Persona, ticket_id: object, metric: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        c for c in sla_of(client, who, ticket_id)["clocks"] if c["metric"] == metric
    ]
    assert found, f"no {metric} clock"
    return found[0]


def sla_events(runtime: Runtime, ticket_id: object, kind: str = "sla.") -> list[tuple[str, dict[str, Any]]]:
    with runtime.database.session(write=False) as session:
        rows = session.scalars(
            select(Event).where(Event.ticket_id == ticket_id, Event.kind.startswith(kind)).order_by(Event.id)
        ).all()
        return [(row.kind, dict(row.payload)) for row in rows]


def instant(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value).astimezone(dt.UTC)
