"""Builders shared by the customer tests: purchases through the API, triage results through the service."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.testclient import TestClient

from ombud.runtime import Runtime
from ombud.storage.base import utcnow
from ombud.triage import service as triage
from tests.conftest import Persona


def days_ago(days: float) -> dt.datetime:
    return utcnow() - dt.timedelta(days=days)


def buy(
    client: TestClient, who: Persona, customer_id: int, product: str, *, at: dt.datetime, **fields: Any
) -> dict[str, Any]:
    response = client.post(
        f"/api/v1/customers/{customer_id}/purchases",
        json={"product": product, "purchased_at": at.isoformat(), **fields},
        headers=who.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def set_triage(
    runtime: Runtime,
    ticket: dict[str, Any],
    *,
    intents: list[str],
    at: dt.datetime | None = None,
    frustration: float = 0.1,
    emotion: str = "joy",
    abusive: bool = False,
) -> None:
    """Give the ticket's first message this triage result (replacing what the shipped models found), so
    the tests do not depend on what the models read in the text."""
    message = ticket["messages"][0]
    result = {
        "concerns": [{"intents": [{"label": label, "score": 0.9} for label in intents]}],
        "language": "en",
        "urgency": {"level": "normal"},
        "frustration": frustration,
        "sentiment": -frustration,
        "abusive": abusive,
        "out_of_scope": False,
        "emotion": {"label": emotion, "scores": {emotion: 0.9}},
    }
    with runtime.database.session() as session:
        triage.store(
            session=session,
            item=triage.Prepared(
                message_id=message["id"],
                ticket_id=ticket["id"],
                customer_id=ticket["customer_id"],
                message_at=at or utcnow(),
                result=result,
                intent_model="test",
            ),
        )
        session.commit()


def reply(client: TestClient, who: Persona, ticket_id: int, *, internal: bool = False) -> None:
    response = client.post(
        f"/api/v1/tickets/{ticket_id}/messages",
        json={"body": "Here is what we did.", "internal": internal},
        headers=who.headers,
    )
    assert response.status_code == 201, response.text


def set_status(client: TestClient, who: Persona, ticket_id: int, status: str) -> None:
    response = client.patch(
        f"/api/v1/tickets/{ticket_id}", json={"status": status, "confirm": True}, headers=who.headers
    )
    assert response.status_code == 200, response.text
