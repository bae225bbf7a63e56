"""Triage through the API: every customer message is triaged in the background, staff read and correct
it, customers never see it."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from ombud.runtime import Runtime
from ombud.tickets.models import Message
from tests.conftest import Personas, new_ticket


def test_post_triage_returns_the_contract_and_is_for_staff(client: TestClient, people: Personas) -> None:
    text = "I was charged twice for order #A12345 ($45.00). Also my parcel is late!"
    response = client.post("/api/v1/triage", json={"text": text}, headers=people.agent.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["concerns"]) == 2
    assert {"type": "order_number", "value": "A12345"}.items() <= body["entities"][0].items()
    assert body["language"] == "en"
    assert (
        client.post("/api/v1/triage", json={"text": text}, headers=people.customer.headers).status_code == 403
    )
    bad = client.post("/api/v1/triage", json={"text": ""}, headers=people.agent.headers)
    assert bad.status_code == 422
    assert bad.json()["error"]["code"]


def test_each_customer_message_is_triaged_in_the_background(client: TestClient, people: Personas) -> None:
    ticket = new_ticket(client, people.agent, body="this is the third time my card was declined!!!")
    reply = client.post(
        f"/api/v1/tickets/{ticket['id']}/messages",
        json={"body": "Sorry, looking now."},
        headers=people.agent.headers,
    )
    assert reply.status_code == 201
    detail = client.get(f"/api/v1/tickets/{ticket['id']}", headers=people.agent.headers).json()
    first, answer = detail["messages"]
    assert first["triage"]["frustration"] >= 0.6
    assert first["triage"]["concerns"][0]["intents"][0]["label"] == "payment_failed"
    assert answer["triage"] is None  # agents' replies are not triaged
    direct = client.get(f"/api/v1/messages/{first['id']}/triage", headers=people.agent.headers)
    assert direct.json() == first["triage"]
    assert (
        client.get(f"/api/v1/messages/{answer['id']}/triage", headers=people.agent.headers).status_code == 404
    )
    mine = client.get(f"/api/v1/tickets/{ticket['id']}", headers=people.customer.headers).json()
    assert all(m["triage"] is None for m in mine["messages"])


def test_a_second_ticket_knows_the_first_is_still_open(client: TestClient, people: Personas) -> None:
    first = new_ticket(client, people.agent, subject="Refund for the kettle", body="Where is my refund?")
    second = new_ticket(client, people.agent, subject="Card", body="My card was declined, could you check?")
    detail = client.get(f"/api/v1/tickets/{second['id']}", headers=people.agent.headers).json()
    unspoken = detail["messages"][0]["triage"]["unspoken"]
    assert any(f"#{first['id']}" in u["concern"] and u["source"] == "history" for u in unspoken)


def test_chat_lines_are_read_together(client: TestClient, people: Personas) -> None:
    ticket = new_ticket(client, people.agent, channel="chat", subject="Chat", body="hi")
    for line in ["my card", "it got declined at the shop"]:
        sent = client.post(
            f"/api/v1/tickets/{ticket['id']}/messages", json={"body": line}, headers=people.customer.headers
        )
        assert sent.status_code == 201, sent.text
    detail = client.get(f"/api/v1/tickets/{ticket['id']}", headers=people.agent.headers).json()
    last = detail["messages"][-1]["triage"]
    assert last["explanations"]["merged_chat_lines"] == 2
    assert last["concerns"][0]["intents"][0]["label"] == "payment_failed"


def test_agents_correct_triage_and_bad_corrections_are_refused(client: TestClient, people: Personas) -> None:
    ticket = new_ticket(client, people.agent, body="The app keeps crashing when I pay.")
    message_id = ticket["messages"][0]["id"]
    url = f"/api/v1/messages/{message_id}/triage/corrections"
    made = client.post(
        url,
        json={"field": "intents", "value": ["payment_failed"], "concern_index": 0},
        headers=people.agent.headers,
    )
    assert made.status_code == 201, made.text
    assert made.json()["after"] == ["payment_failed"]
    assert made.json()["before"] == ["technical_problem"]
    assert (
        client.post(
            url, json={"field": "urgency", "value": "urgent"}, headers=people.agent.headers
        ).status_code
        == 201
    )
    for bad in (
        {"field": "urgency", "value": "panic"},
        {"field": "intents", "value": "payment_failed"},
        {"field": "sentiment", "value": 3},
        {"field": "intents", "value": ["x"], "concern_index": 7},
        {"field": "colour", "value": "red"},
    ):
        response = client.post(url, json=bad, headers=people.agent.headers)
        assert response.status_code == 422, (bad, response.text)
    assert (
        client.post(
            url, json={"field": "abusive", "value": True}, headers=people.customer.headers
        ).status_code
        == 403
    )
    assert (
        client.post(
            "/api/v1/messages/999999/triage/corrections",
            json={"field": "abusive", "value": True},
            headers=people.agent.headers,
        ).status_code
        == 404
    )


def test_corrections_become_training_rows(client: TestClient, people: Personas, runtime: Runtime) -> None:
    from ombud.triage import service

    ticket = new_ticket(client, people.agent, body="The app keeps crashing when I pay.")
    url = f"/api/v1/messages/{ticket['messages'][0]['id']}/triage/corrections"
    client.post(url, json={"field": "intents", "value": ["app_payment_bug"]}, headers=people.agent.headers)
    with runtime.database.session(write=False) as session:
        rows = service.corrections_dataset(session=session, task="intent")
    assert rows.labels == [["app_payment_bug"]]
    assert "crashing" in rows.texts[0]


def test_the_catalogue_feeds_product_entities(client: TestClient, people: Personas) -> None:
    put = client.put(
        "/api/v1/triage/catalogue",
        json={"products": ["Kettle Pro", "AirBrew 2"]},
        headers=people.admin.headers,
    )
    assert put.status_code == 200
    assert put.json() == {"products": ["AirBrew 2", "Kettle Pro"]}
    assert (
        client.put(
            "/api/v1/triage/catalogue", json={"products": []}, headers=people.agent.headers
        ).status_code
        == 403
    )
    body = client.post(
        "/api/v1/triage", json={"text": "My airbrew 2 leaks"}, headers=people.agent.headers
    ).json()
    assert {"type": "product", "value": "AirBrew 2"}.items() <= body["entities"][0].items()


def test_the_sweep_triages_what_a_lost_job_left(
    client: TestClient, people: Personas, runtime: Runtime
) -> None:
    ticket = new_ticket(client, people.agent, body="My parcel is late, it was due a week ago.")
    message_id = ticket["messages"][0]["id"]
    with runtime.database.session() as session:
        session.execute(update(Message).where(Message.id == message_id).values(triaged_at=None))
        session.commit()
    counts = runtime.queue.sweep()
    assert counts.get("triage.message", 0) >= 1
    detail = client.get(f"/api/v1/messages/{message_id}/triage", headers=people.agent.headers)
    assert detail.status_code == 200
    assert detail.json()["concerns"][0]["intents"][0]["label"] == "delivery_late"


def test_a_message_the_pipeline_cannot_read_does_not_hold_up_the_others(
    client: TestClient, people: Personas, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = runtime.triage.analyze

    def fragile(items: list[tuple[str, object]]) -> list[dict[str, object]]:
        if any("poison" in text for text, _ in items):
            raise RuntimeError("the pipeline failed")
        return original(items)  # type: ignore[arg-type]

    monkeypatch.setattr(runtime.triage, "analyze", fragile)
    bad = new_ticket(client, people.agent, body="poison message")
    good = new_ticket(client, people.agent, body="Where is my refund?")
    bad_id, good_id = bad["messages"][0]["id"], good["messages"][0]["id"]
    assert client.get(f"/api/v1/messages/{bad_id}/triage", headers=people.agent.headers).status_code == 404
    assert client.get(f"/api/v1/messages/{good_id}/triage", headers=people.agent.headers).status_code == 200
    assert runtime.queue.sweep()["triage.message"] == 0  # the bad one is not retried forever


def test_a_late_triage_reads_the_message_as_of_when_it_was_written(
    client: TestClient, people: Personas, runtime: Runtime
) -> None:
    import datetime as dt

    old = new_ticket(client, people.agent, body="Where is my refund?")
    message_id = old["messages"][0]["id"]
    with runtime.database.session() as session:
        written = dt.datetime(2024, 1, 5, 9, 0, tzinfo=dt.UTC)
        session.execute(
            update(Message).where(Message.id == message_id).values(created_at=written, triaged_at=None)
        )
        session.commit()
    new_ticket(client, people.agent, subject="Later", body="My card was declined")  # opened after it
    runtime.queue.sweep()
    result = client.get(f"/api/v1/messages/{message_id}/triage", headers=people.agent.headers).json()
    assert not [r for r in result["explanations"]["frustration"] if r["reason"] == "waiting"]
    assert not result["unspoken"]  # the later ticket did not exist yet
