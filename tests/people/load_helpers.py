"""Helpers of the emotional load, break and help tests: a triage that reads hostility and frustration
deterministically from the text, hard tickets, replies and load figures through the API."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ombud.events.models import Event
from ombud.runtime import Runtime
from ombud.triage.pipeline import Context
from tests.conftest import Persona, Personas, new_ticket

HOSTILE = "You are useless idiots, all of you. My parcel never arrived."
FRUSTRATED = "I am furious: this is the third time I write about my parcel and nobody answers."
CALM = "Could you tell me when my parcel will arrive? Thank you."


def steady_triage(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make triage's abuse and frustration depend only on the words above (the real pipeline still runs
    for everything else), so which messages are hard never depends on a model's margin."""
    real = runtime.triage.analyze

    def analyze(items: Sequence[tuple[str, Context]]) -> list[dict[str, Any]]:
        results = real(items)
        for (text, _), result in zip(items, results, strict=True):
            result["abusive"] = "idiots" in text
            result["frustration"] = 0.9 if "idiots" in text else 0.8 if "furious" in text else 0.1
        return results

    monkeypatch.setattr(runtime.triage, "analyze", analyze)


def people_never_failed(runtime: Runtime) -> None:
    """The "people" consumer's errors are kept on the events, not raised: check none failed."""
    with runtime.database.session(write=False) as session:
        failed = [
            (row.kind, row.errors)
            for row in session.scalars(select(Event).where(Event.errors.is_not(None)))
            if row.errors and "people" in row.errors
        ]
    assert failed == []


def steadily(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The body of a test module's autouse fixture: the steady triage for the test, then no "people"
    consumer error after it (``yield from steadily(runtime, monkeypatch)``)."""
    steady_triage(runtime, monkeypatch)
    yield
    people_never_failed(runtime)


def hard_ticket(client: TestClient, people: Personas, body: str, subject: str = "My parcel") -> int:
    created = new_ticket(client, people.customer, subject=subject, body=body)
    return int(str(created["id"]))


def assignee(client: TestClient, people: Personas, ticket_id: int) -> int | None:
    response = client.get(f"/api/v1/tickets/{ticket_id}", headers=people.lead.headers)
    assert response.status_code == 200, response.text
    value = response.json()["assignee_id"]
    return int(value) if value is not None else None


def reply(client: TestClient, who: Persona, ticket_id: int, body: str = "I am sorry; let me look.") -> None:
    response = client.post(f"/api/v1/tickets/{ticket_id}/messages", json={"body": body}, headers=who.headers)
    assert response.status_code == 201, response.text


def load_of(client: TestClient, who: Persona, user_id: int) -> dict[str, Any]:
    response = client.get(f"/api/v1/people/{user_id}/load", headers=who.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def set_policy(client: TestClient, who: Persona, team_id: int, **policy: Any) -> dict[str, Any]:
    wanted = {"recovery_mode": "offer", "recovery_minutes": 10, "max_hostile_in_a_row": 2, **policy}
    response = client.put(f"/api/v1/teams/{team_id}/wellbeing", json=wanted, headers=who.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
