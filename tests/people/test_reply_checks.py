"""Reply-check records: an agent's public reply is checked after it was sent (consumer, job), the sweep
recovers a reply whose job was lost, and the summary is private to the agent and their lead."""

from __future__ import annotations

import inspect
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import delete, select

from ombud.assist import check
from ombud.people import checks
from ombud.people.growth_schemas import FINDING_CODES
from ombud.people.models import ReplyCheckRecord
from ombud.runtime import Runtime
from tests.conftest import Persona, Personas, new_ticket
from tests.routing.common import add_members

JARGON = "Hi María, I escalated this to our backend team so the SLA applies."
PLAIN = "Hi María, I refunded the duplicate charge. You will see the money on your card within five days."


def reply(client: TestClient, who: Persona, ticket_id: Any, body: str, *, internal: bool = False) -> int:
    response = client.post(
        f"/api/v1/tickets/{ticket_id}/messages",
        json={"body": body, "internal": internal},
        headers=who.headers,
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def record(runtime: Runtime, message_id: int) -> ReplyCheckRecord | None:
    with runtime.database.session() as session:
        found = session.get(ReplyCheckRecord, message_id)
        if found is not None:
            session.expunge(found)
        return found


def test_codes_are_the_checkers() -> None:
    # The goal's list of codes follows the reply check's documented codes (part of its API).
    doc = inspect.getdoc(check) or ""
    documented = {line.split("``")[1] for line in doc.splitlines() if line.startswith("- ``")}
    assert documented == set(FINDING_CODES)


def test_public_reply_is_checked_after_sending(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    ticket = new_ticket(client, people.agent)
    jargon = reply(client, people.agent, ticket["id"], JARGON)
    plain = reply(client, people.agent, ticket["id"], PLAIN)
    note = reply(
        client, people.agent, ticket["id"], "Internal: the SLA backend escalate thing", internal=True
    )

    found = record(runtime, jargon)
    assert found is not None
    assert found.user_id == people.agent.id and found.ticket_id == ticket["id"]
    assert "jargon" in found.findings
    assert found.words == len(JARGON.split())
    clean = record(runtime, plain)
    assert clean is not None and "jargon" not in clean.findings
    # Internal notes and the customer's own messages are not replies.
    assert record(runtime, note) is None
    customer_message = ticket["messages"][0]["id"]  # type: ignore[index]
    assert record(runtime, customer_message) is None


def test_check_is_idempotent(client: TestClient, runtime: Runtime, people: Personas) -> None:
    ticket = new_ticket(client, people.agent)
    message_id = reply(client, people.agent, ticket["id"], JARGON)
    with runtime.database.session() as session:
        first = checks.record_check(session=session, message_id=message_id)
        again = checks.record_check(session=session, message_id=message_id)
        session.commit()
        assert first is not None and again is first
        rows = session.scalars(
            select(ReplyCheckRecord).where(ReplyCheckRecord.message_id == message_id)
        ).all()
        assert len(rows) == 1


def test_sweep_recovers_a_lost_job(client: TestClient, runtime: Runtime, people: Personas) -> None:
    ticket = new_ticket(client, people.agent)
    message_id = reply(client, people.agent, ticket["id"], JARGON)
    # The job was lost (the queue went down between commit and enqueue): no record.
    with runtime.database.session() as session:
        session.execute(delete(ReplyCheckRecord).where(ReplyCheckRecord.message_id == message_id))
        session.commit()
        assert checks.pending_reply_ids(session=session, limit=10) == [message_id]
    counts = runtime.queue.sweep()
    assert counts[checks.CHECK_JOB] == 1
    found = record(runtime, message_id)
    assert found is not None and "jargon" in found.findings
    with runtime.database.session() as session:
        assert checks.pending_reply_ids(session=session, limit=10) == []


def test_summary_counts_findings_per_code(client: TestClient, runtime: Runtime, people: Personas) -> None:
    ticket = new_ticket(client, people.agent)
    reply(client, people.agent, ticket["id"], JARGON)
    reply(client, people.agent, ticket["id"], PLAIN)
    response = client.get(
        f"/api/v1/people/{people.agent.id}/reply-checks/summary", headers=people.agent.headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["replies"] == 2
    jargon = next(c for c in body["codes"] if c["code"] == "jargon")
    assert jargon == {"code": "jargon", "replies": 1, "rate": 0.5}
    assert len(body["series"]) == 6 and body["series"][-1]["total"] == 2


def test_summary_is_private(client: TestClient, runtime: Runtime, people: Personas) -> None:
    add_members(runtime, people.team_id, people.lead.id, people.agent.id)
    path = f"/api/v1/people/{people.agent.id}/reply-checks/summary"
    assert client.get(path, headers=people.lead.headers).status_code == 200
    for who in (people.agent2, people.admin, people.advocate, people.partner, people.customer):
        response = client.get(path, headers=who.headers)
        assert response.status_code == 403, (who, response.text)
    assert client.get(path).status_code == 401
