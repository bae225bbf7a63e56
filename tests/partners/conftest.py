"""Helpers of the partner tests: partner companies, partner users and technicians made through the
services, and a work order made through the API."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from ombud.accounts import service as accounts
from ombud.accounts.models import Role
from ombud.accounts.schemas import SYSTEM
from ombud.partners import service as partners
from ombud.partners.schemas import PartnerCreate, TechnicianSet
from ombud.runtime import Runtime
from tests.conftest import Persona, Personas, new_ticket

ALL_DAY = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def partner_user(runtime: Runtime, email: str, name: str = "Sam Swap") -> Persona:
    with runtime.database.session() as session:
        user = accounts.create_user(session=session, email=email, role=Role.partner, name=name)
        token = accounts.issue_token(session=session, user_id=user.id)
        session.commit()
        return Persona(user.id, token)


def make_partner(runtime: Runtime, name: str, user_id: int, **technician: Any) -> int:
    """A partner company with ``user_id`` as its technician (default: repair/airbrew in "10", all day)."""
    fields: dict[str, Any] = {
        "skills": ["repair", "airbrew"],
        "areas": ["10"],
        "capacity_per_day": 4,
        "working_hours": ALL_DAY,
        "timezone": "Europe/Berlin",
    }
    fields.update(technician)
    with runtime.database.session() as session:
        partner = partners.create_partner(session=session, actor=SYSTEM, data=PartnerCreate(name=name))
        partners.set_technician(
            session=session,
            actor=SYSTEM,
            user_id=user_id,
            data=TechnicianSet(partner_id=partner.id, **fields),
        )
        session.commit()
        return partner.id


def add_technician(runtime: Runtime, partner_id: int, user_id: int, **technician: Any) -> None:
    fields: dict[str, Any] = {"skills": ["repair"], "areas": ["10"], "working_hours": ALL_DAY}
    fields.update(technician)
    with runtime.database.session() as session:
        partners.set_technician(
            session=session,
            actor=SYSTEM,
            user_id=user_id,
            data=TechnicianSet(partner_id=partner_id, **fields),
        )
        session.commit()


def work_order(
    client: TestClient, people: Personas, ticket_id: int | None = None, **fields: Any
) -> dict[str, Any]:
    if ticket_id is None:
        ticket_id = int(str(new_ticket(client, people.agent)["id"]))
    payload: dict[str, Any] = {
        "kind": "repair",
        "skill": "airbrew",
        "summary": "The AirBrew leaks water",
        "postcode": "10115",
        "address": "Invalidenstr. 1, 10115 Berlin",
    }
    payload.update(fields)
    response = client.post(
        f"/api/v1/tickets/{ticket_id}/work-orders", json=payload, headers=people.agent.headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def fixright(runtime: Runtime, people: Personas) -> int:
    """FixRight: the shared persona ``partner`` is its technician."""
    return make_partner(runtime, "FixRight Field Services", people.partner.id)


@pytest.fixture
def quickswap(runtime: Runtime) -> tuple[int, Persona]:
    """QuickSwap: a second partner with its own partner user (covers postcode 10 too)."""
    user = partner_user(runtime, "swap@partners.test")
    return make_partner(runtime, "QuickSwap Logistics", user.id), user
