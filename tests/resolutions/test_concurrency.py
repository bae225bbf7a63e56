"""Deciding on a concession races: two people (or one double click) acting on the same resolution at once
apply it exactly once, and two proposals for one customer cannot both slip under the per-customer limit.

PostgreSQL only: SQLite's single writer (BEGIN IMMEDIATE) already serialises the write transactions."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from ombud.accounts import service as accounts
from ombud.audit.models import AuditEvent
from ombud.errors import OmbudError
from ombud.resolutions import service as resolutions
from ombud.resolutions.schemas import ResolutionCreate
from ombud.runtime import Runtime
from ombud.storage.base import utcnow
from tests.conftest import Personas, new_ticket
from tests.resolutions.helpers import decide, propose, purchase, upload

POSTGRES = pytest.param("postgresql", marks=pytest.mark.postgres)


def _race(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch, token: str, act: Callable[..., Any]
) -> list[str]:
    """Run ``act(session, principal)`` in two threads with their own sessions at once; return each outcome.

    Both threads meet at a barrier right after the service has read (and, with the fix, locked) the row:
    without a lock both pass their checks before either commits. With the lock the second waits on it, the
    barrier times out and the first goes on alone.
    """
    barrier = threading.Barrier(2, timeout=2)

    def meeting_now() -> Any:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()
        return utcnow()

    monkeypatch.setattr(resolutions, "utcnow", meeting_now)
    outcomes: list[str] = []

    def run() -> None:
        with runtime.database.session() as session:
            principal = accounts.authenticate(session=session, token=token)
            try:
                act(session, principal)
                session.commit()
                outcomes.append("ok")
            except OmbudError as error:
                session.rollback()
                outcomes.append(error.code)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return sorted(outcomes)


def _applied_events(runtime: Runtime, resolution_id: int) -> int:
    with runtime.database.session(write=False) as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(
                    AuditEvent.entity_type == "resolution",
                    AuditEvent.entity_id == resolution_id,
                    AuditEvent.action == "resolution.applied",
                )
            )
            or 0
        )


@pytest.mark.parametrize("database_url", [POSTGRES], indirect=True)
@pytest.mark.parametrize("action", ["approve", "apply"])
def test_two_deciders_at_once_apply_a_concession_once(
    runtime: Runtime,
    client: TestClient,
    people: Personas,
    monkeypatch: pytest.MonkeyPatch,
    action: str,
) -> None:
    upload(client, people)
    ticket = new_ticket(client, people.customer)
    bought = purchase(client, people, days_ago=5)
    waiting = propose(client, people.agent, ticket["id"], amount="60", purchase_id=bought)
    assert waiting["status"] == "pending_approval"
    resolution_id = int(waiting["id"])
    if action == "apply":
        approved = client.post(
            f"/api/v1/resolutions/{resolution_id}/approve",
            json={"comment": "ok", "apply": False},
            headers=people.admin.headers,
        )
        assert approved.status_code == 200 and approved.json()["status"] == "approved", approved.text

        def act(session: Any, principal: Any) -> None:
            resolutions.apply_resolution(session=session, resolution_id=resolution_id, actor=principal)

        loser = "not_applicable"
    else:

        def act(session: Any, principal: Any) -> None:
            resolutions.approve(session=session, resolution_id=resolution_id, actor=principal, comment="ok")

        loser = "not_pending"

    assert _race(runtime, monkeypatch, people.admin.token, act) == sorted(["ok", loser])
    assert _applied_events(runtime, resolution_id) == 1
    assert decide(client, people.admin, resolution_id, "cancel", status=409)["error"]["code"] == (
        "not_cancellable"
    )


@pytest.mark.parametrize("database_url", [POSTGRES], indirect=True)
def test_two_proposals_at_once_cannot_both_pass_the_per_customer_limit(
    runtime: Runtime, client: TestClient, people: Personas, monkeypatch: pytest.MonkeyPatch
) -> None:
    upload(client, people)  # per customer: 100 EUR in 90 days; an agent refunds up to 50
    ticket = new_ticket(client, people.customer)
    bought = purchase(client, people, days_ago=5)
    assert propose(client, people.agent, ticket["id"], amount="40", purchase_id=bought)["status"] == "applied"
    data = ResolutionCreate.model_validate(
        {
            "kind": "refund",
            "amount": "40",
            "currency": "EUR",
            "reason": "late_delivery",
            "purchase_id": bought,
        }
    )

    def act(session: Any, principal: Any) -> None:
        resolutions.propose(session=session, ticket_id=int(str(ticket["id"])), data=data, actor=principal)

    assert _race(runtime, monkeypatch, people.agent.token, act) == ["ok", "ok"]
    page = client.get(f"/api/v1/tickets/{ticket['id']}/resolutions", headers=people.lead.headers).json()
    # 40 + 40 fits in 100; the third 40 would not, so one of the two racing proposals waits for approval.
    assert sorted(r["status"] for r in page["items"]) == ["applied", "applied", "pending_approval"]
