"""Phone calls through POST /api/v1/calls: the caller found by number, the customer's turns triaged."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import Persona, Personas, new_ticket

ANGRY_CALL = [
    {"speaker": "agent", "text": "Northwind support, this is Alex. How can I help?", "offset_seconds": 0},
    {"speaker": "customer", "text": "You charged my card twice for order A-10293.", "offset_seconds": 4.5},
    {"speaker": "agent", "text": "I'm sorry about that. Let me look.", "offset_seconds": 9},
    {
        "speaker": "customer",
        "text": "This is the third time I'm calling. I want the refund today.",
        "offset_seconds": 12,
    },
]


def _call(**fields: Any) -> dict[str, Any]:
    call: dict[str, Any] = {
        "external_id": "pbx-7f3a-0001",
        "direction": "inbound",
        "caller": "+44 20 7946 0958",
        "callee": "+44 20 7946 0000",
        "started_at": "2026-11-20T09:14:03+00:00",
        "duration_seconds": 312,
        "outcome": "answered",
        "recording_ref": "s3://recordings/2026/11/20/pbx-7f3a-0001.wav",
        "transcript": ANGRY_CALL,
    }
    call.update(fields)
    return call


def _post(client: TestClient, who: Persona, call: dict[str, Any]) -> Any:
    return client.post("/api/v1/calls", json=call, headers=who.headers)


def test_a_call_finds_the_caller_by_number_and_triages_only_what_the_customer_said(
    client: TestClient, people: Personas
) -> None:
    earlier = new_ticket(
        client, people.agent, customer={"email": "priya@example.com", "phone": "+442079460958"}
    )
    response = _post(client, people.agent, _call(agent_id=people.agent.id))
    assert response.status_code == 201, response.text
    call = response.json()
    assert call["customer_id"] == earlier["customer_id"]
    assert call["caller"] == "+442079460958" and call["transcript"][1]["speaker"] == "customer"

    ticket = client.get(f"/api/v1/tickets/{call['ticket_id']}", headers=people.agent.headers).json()
    assert ticket["channel"] == "phone" and ticket["subject"] == "Call from +442079460958"
    message = ticket["messages"][0]
    assert message["id"] == call["message_id"] and message["author_type"] == "customer"
    assert "charged my card twice" in message["body"] and "third time" in message["body"]
    assert "Northwind support" not in message["body"]  # the agent's words are not the customer's
    assert message["channel_meta"]["call"]["duration"] == "5:12"
    triage = message["triage"]
    assert triage is not None
    assert not any("Northwind" in concern["text"] for concern in triage["concerns"])

    # The telephony system retries the webhook: one call, one ticket.
    again = _post(client, people.agent, _call(agent_id=people.agent.id))
    assert again.status_code == 200 and again.json()["id"] == call["id"]
    assert client.get(f"/api/v1/calls/{call['id']}", headers=people.agent.headers).json()["recording_ref"]
    listed = client.get(f"/api/v1/tickets/{call['ticket_id']}/calls", headers=people.agent.headers).json()
    assert [row["id"] for row in listed] == [call["id"]]


def test_missed_call_from_a_new_number_creates_the_customer_and_is_not_triaged(
    client: TestClient, people: Personas
) -> None:
    response = _post(
        client,
        people.agent,
        _call(
            external_id="pbx-7f3a-0002",
            caller="0049 151 12345678",
            outcome="missed",
            duration_seconds=0,
            transcript=[],
            recording_ref=None,
        ),
    )
    assert response.status_code == 201, response.text
    call = response.json()
    customer = client.get(f"/api/v1/customers/{call['customer_id']}", headers=people.agent.headers).json()
    assert [(i["kind"], i["value"]) for i in customer["identities"]] == [("phone", "+4915112345678")]
    ticket = client.get(f"/api/v1/tickets/{call['ticket_id']}", headers=people.agent.headers).json()
    assert ticket["subject"] == "Missed call (+4915112345678)"
    assert ticket["messages"][0]["body"] == "Missed call" and ticket["messages"][0]["triage"] is None


def test_an_agent_logs_an_outbound_call_on_an_existing_ticket(client: TestClient, people: Personas) -> None:
    ticket = new_ticket(client, people.agent)  # maria@example.com, by email
    response = _post(
        client,
        people.agent,
        _call(
            external_id=None,
            direction="outbound",
            caller="+44 20 7946 0000",
            callee="+34 612 345 678",
            ticket_id=ticket["id"],
            transcript=[{"speaker": "customer", "text": "Yes, the refund arrived this morning, thanks."}],
        ),
    )
    assert response.status_code == 201, response.text
    assert response.json()["ticket_id"] == ticket["id"]
    customer = client.get(f"/api/v1/customers/{ticket['customer_id']}", headers=people.agent.headers).json()
    assert ("phone", "+34612345678") in {(i["kind"], i["value"]) for i in customer["identities"]}
    detail = client.get(f"/api/v1/tickets/{ticket['id']}", headers=people.agent.headers).json()
    assert detail["messages"][-1]["body"] == "Yes, the refund arrived this morning, thanks."

    # The same number cannot be logged on another customer's ticket: that needs a merge.
    other = new_ticket(client, people.agent, customer={"email": "tom@example.org"})
    taken = _post(
        client,
        people.agent,
        _call(external_id=None, direction="outbound", callee="+34612345678", ticket_id=other["id"]),
    )
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "identity_taken"


def test_bad_calls_get_clear_errors(client: TestClient, people: Personas) -> None:
    national = _post(client, people.agent, _call(caller="020 7946 0958"))
    assert national.status_code == 422 and national.json()["error"]["code"] == "invalid_phone"
    naive = _post(client, people.agent, _call(started_at="2026-11-20T09:14:03"))
    assert naive.status_code == 422
    speaker = _post(client, people.agent, _call(transcript=[{"speaker": "robot", "text": "hi"}]))
    assert speaker.status_code == 422
    portal = _post(client, people.customer, _call())
    assert portal.status_code == 403
    missing = _post(client, people.agent, _call(ticket_id=999999))
    assert missing.status_code == 404
    assert client.get("/api/v1/calls/999999", headers=people.agent.headers).status_code == 404
