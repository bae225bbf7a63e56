"""Scorecard figures from constructed histories."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from fastapi.testclient import TestClient

from ombud.partners.models import WorkOrder, WorkOrderKind, WorkOrderStatus
from ombud.runtime import Runtime
from tests.conftest import Personas, new_ticket
from tests.partners.conftest import make_partner, partner_user

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
S = WorkOrderStatus


def add(runtime: Runtime, ticket_id: int, customer_id: int, partner_id: int | None, **fields: Any) -> int:
    days_ago = fields.pop("days_ago", 10)
    created = NOW - dt.timedelta(days=days_ago)
    row = WorkOrder(
        ticket_id=ticket_id,
        customer_id=customer_id,
        kind=WorkOrderKind.repair,
        skill="repair",
        summary="x",
        partner_id=partner_id,
        created_at=created,
        updated_at=created,
        declined_by=fields.pop("declined_by", []),
        offered_slots=[],
        parts_used=[],
        **fields,
    )
    with runtime.database.session() as session:
        session.add(row)
        session.commit()
        return row.id


def hours_after(days_ago: int, **hours: int) -> dict[str, Any]:
    """``days_ago`` for :func:`add` and each named time that many hours after that creation."""
    created = NOW - dt.timedelta(days=days_ago)
    return {"days_ago": days_ago} | {name: created + dt.timedelta(hours=n) for name, n in hours.items()}


def test_scorecard_figures(client: TestClient, runtime: Runtime, people: Personas) -> None:
    pid = make_partner(runtime, "FixRight", people.partner.id)
    other = make_partner(runtime, "Other", partner_user(runtime, "o@p.test").id)
    ticket = new_ticket(client, people.agent)
    tid, cid = int(str(ticket["id"])), int(str(people.customer.id))
    visit = functools.partial(add, runtime, tid, cid)

    # 1: fixed, on time (arrived inside the slot), rated 5, done in 24 h.
    visit(
        pid,
        status=S.closed,
        outcome="fixed",
        rating=5,
        **hours_after(20, slot_start=20, slot_end=22, arrived_at=21, completed_at=24, due_at=48),
    )
    # 2: fixed but a repeat visit came 10 days later; late arrival; rated 3; done after due_at.
    second = visit(
        pid,
        status=S.completed,
        outcome="fixed",
        rating=3,
        **hours_after(30, slot_start=20, slot_end=22, arrived_at=23, completed_at=48, due_at=24),
    )
    # 3: not fixed, no arrival recorded.
    visit(pid, status=S.completed, outcome="not_fixed", **hours_after(15, completed_at=72))
    # The repeat of 2 (open, with another partner: does not count for FixRight's figures but marks 2).
    visit(other, status=S.offered, days_ago=18, repeat_of_id=second)
    # Open and past due; one declined by FixRight; one far outside the period.
    visit(pid, status=S.scheduled, days_ago=5, due_at=NOW - dt.timedelta(hours=1))
    visit(other, status=S.offered, days_ago=3, declined_by=[pid])
    visit(pid, status=S.closed, outcome="fixed", rating=1, **hours_after(200, completed_at=24))

    card = client.get(f"/api/v1/partners/{pid}/scorecard?days=90", headers=people.lead.headers)
    assert card.status_code == 200, card.text
    body = card.json()
    assert body["completed"] == 3 and body["fixed"] == 2
    assert body["first_time_fix_rate"] == round(1 / 3, 4)
    assert body["repeat_visits"] == 1 and body["repeat_rate"] == round(1 / 3, 4)
    assert body["arrivals"] == 2 and body["on_time"] == 1 and body["on_time_rate"] == 0.5
    assert body["visit_satisfaction"] == 4.0 and body["ratings"] == 2
    assert body["declined"] == 1
    assert body["late"] == 2  # no. 2 completed after due_at, the scheduled one is open past it
    assert body["average_hours_to_complete"] == round((24 + 48 + 72) / 3, 1)
    assert body["open_work_orders"] == 1

    empty = client.get(f"/api/v1/partners/{other}/scorecard?days=1", headers=people.agent.headers).json()
    assert (
        empty["completed"] == 0
        and empty["first_time_fix_rate"] is None
        and empty["visit_satisfaction"] is None
    )
    assert (
        client.get(f"/api/v1/partners/{pid}/scorecard?days=0", headers=people.agent.headers).status_code
        == 422
    )
