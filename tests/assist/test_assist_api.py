"""Reply assistance through HTTP: the draft and the check on a real triaged ticket with suggestions,
rewrites, the glossary and voice, and who may do what."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import Personas, new_ticket
from tests.knowledge.articles import CARD, LOGIN, write

BODY = (
    "My new card still hasn't arrived after two weeks. Also I can't log in to the app, it says my "
    "password is wrong."
)


def _ticket(client: TestClient, people: Personas) -> int:
    write(client, people.agent, CARD)
    write(client, people.agent, LOGIN)
    ticket = new_ticket(client, people.agent, subject="card and app", body=BODY)
    return int(ticket["id"])  # type: ignore[call-overload]


def test_draft_answers_each_concern_from_its_article(client: TestClient, people: Personas) -> None:
    ticket_id = _ticket(client, people)
    response = client.post(f"/api/v1/tickets/{ticket_id}/draft", headers=people.agent.headers)
    assert response.status_code == 200, response.text
    draft = response.json()
    assert draft["source"] == "template"
    assert draft["text"].startswith("Hi María,") and draft["text"].endswith("Best wishes,\nAgent")
    assert "/help/when-will-my-new-card-arrive" in draft["text"] and "Forgot password" in draft["text"]
    assert len(draft["article_ids"]) == 2
    check = client.post(
        f"/api/v1/tickets/{ticket_id}/check", json={"text": draft["text"]}, headers=people.agent.headers
    )
    assert check.status_code == 200, check.text
    assert [f["code"] for f in check.json()["findings"] if f["severity"] == "warning"] == []


def test_check_finds_problems_and_dismissals_stick(client: TestClient, people: Personas) -> None:
    ticket_id = _ticket(client, people)
    text = (
        "Hi Maria,\n\nUnfortunately we can't send a new card until the old one is reported lost. I've "
        "escalated your ticket and we'll get back to you soon.\n\nBest wishes,\nAgent"
    )
    url = f"/api/v1/tickets/{ticket_id}/check"
    body = client.post(url, json={"text": text}, headers=people.agent.headers).json()
    codes = [f["code"] for f in body["findings"]]
    assert {"negative_phrasing", "jargon", "promise_without_date", "concern_unaddressed"} <= set(codes)
    assert isinstance(body["grade"], float) and body["words"] > 20
    rewrite = next(f for f in body["findings"] if f["excerpt"].startswith("we can't"))
    assert rewrite["suggestion"] == "we can send a new card as soon as the old one is reported lost"
    dismissed = [f["id"] for f in body["findings"] if f["code"] == "jargon"]
    again = client.post(
        url, json={"text": text + "\n", "dismissed": dismissed}, headers=people.agent.headers
    ).json()
    assert "jargon" not in [f["code"] for f in again["findings"]]
    assert len(again["findings"]) == len(body["findings"]) - len(dismissed)


def test_only_staff_may_use_reply_assistance(client: TestClient, people: Personas) -> None:
    ticket_id = _ticket(client, people)
    for method, path, json in (
        ("post", f"/api/v1/tickets/{ticket_id}/draft", None),
        ("post", f"/api/v1/tickets/{ticket_id}/check", {"text": "Hi"}),
        ("post", "/api/v1/assist/rewrite", {"text": "Hi", "tone": "formal"}),
        ("get", "/api/v1/assist/glossary", None),
        ("get", "/api/v1/assist/voice", None),
    ):
        refused = client.request(method, path, json=json, headers=people.customer.headers)
        assert refused.status_code == 403, path
        assert refused.json()["error"]["code"] == "role_forbidden"
        assert client.request(method, path, json=json).status_code == 401
    missing = client.post("/api/v1/tickets/999999/draft", headers=people.agent.headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "ticket_not_found"


def test_rewrite(client: TestClient, people: Personas) -> None:
    response = client.post(
        "/api/v1/assist/rewrite",
        json={"text": "Hey Tom!\nWe'll refund order #55821 ASAP.\nCheers", "tone": "formal"},
        headers=people.agent.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "text": "Dear Tom,\nWe will refund order #55821 as soon as possible.\nKind regards,"
    }
    bad = client.post(
        "/api/v1/assist/rewrite", json={"text": "Hi", "tone": "pirate"}, headers=people.agent.headers
    )
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_input"


def test_glossary_is_set_by_admins_and_used_by_the_check(client: TestClient, people: Personas) -> None:
    url = "/api/v1/assist/glossary"
    assert client.get(url, headers=people.agent.headers).json() == {"terms": []}
    terms = {"terms": [{"term": "Flex plan", "plain": "monthly plan", "note": "product name"}]}
    refused = client.put(url, json=terms, headers=people.agent.headers)
    assert refused.status_code == 403
    saved = client.put(url, json=terms, headers=people.admin.headers)
    assert saved.status_code == 200, saved.text
    assert saved.json() == {"terms": [{"term": "Flex plan", "plain": "monthly plan", "note": "product name"}]}
    assert client.get(url, headers=people.lead.headers).json() == saved.json()
    ticket_id = _ticket(client, people)
    check = client.post(
        f"/api/v1/tickets/{ticket_id}/check",
        json={"text": "Hi María, your Flex plan covers a new card."},
        headers=people.agent.headers,
    ).json()
    assert any(f["code"] == "jargon" and f["suggestion"] == "monthly plan" for f in check["findings"])
    simpler = client.post(
        "/api/v1/assist/rewrite",
        json={"text": "Your Flex plan covers it.", "tone": "simpler"},
        headers=people.agent.headers,
    )
    assert simpler.json()["text"] == "Your monthly plan covers it."
    events = client.get(f"/api/v1/tickets/{ticket_id}/events", headers=people.admin.headers)
    assert events.status_code == 200


def test_bad_glossary_and_voice_rows_are_named(client: TestClient, people: Personas) -> None:
    cases = (
        (
            "glossary",
            {"terms": [{"term": "SLA", "plain": "response time"}, {"term": " ", "plain": "x"}]},
            1,
            "term",
        ),
        ("glossary", {"terms": [{"term": "SLA", "plain": "a"}, {"term": "sla", "plain": "b"}]}, 1, "term"),
        ("glossary", {"terms": [{"term": "RMA", "plain": ""}]}, 0, "plain"),
        ("voice", {"rules": [{"avoid": "x" * 201}]}, 0, "avoid"),
        ("voice", {"rules": [{"avoid": "revert", "prefer": "Revert"}]}, 0, "prefer"),
    )
    for kind, payload, row, field in cases:
        response = client.put(f"/api/v1/assist/{kind}", json=payload, headers=people.admin.headers)
        assert response.status_code == 422, payload
        error = response.json()["error"]
        assert error["code"] == f"invalid_{kind}"
        assert error["details"] == {"row": row, "field": field}
        assert f"row {row + 1}" in error["message"]
    assert client.get("/api/v1/assist/glossary", headers=people.admin.headers).json() == {"terms": []}


def test_voice_is_set_by_admins_and_used_by_the_check(client: TestClient, people: Personas) -> None:
    url = "/api/v1/assist/voice"
    rules = {"rules": [{"avoid": "valued customer", "prefer": "you", "note": "Talk to people."}]}
    assert client.put(url, json=rules, headers=people.lead.headers).status_code == 403
    saved = client.put(url, json=rules, headers=people.admin.headers)
    assert saved.status_code == 200 and saved.json()["rules"][0]["prefer"] == "you"
    ticket_id = _ticket(client, people)
    check = client.post(
        f"/api/v1/tickets/{ticket_id}/check",
        json={"text": "Hi María, as a valued customer you get a new card."},
        headers=people.agent.headers,
    ).json()
    finding = next(f for f in check["findings"] if f["code"] == "voice_avoid")
    assert finding["excerpt"] == "valued customer" and "Talk to people." in finding["message"]
    cleared = client.put(url, json={"rules": []}, headers=people.admin.headers)
    assert cleared.json() == {"rules": []}
