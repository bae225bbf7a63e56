"""Abuse shielding in the workspace and the API: an abusive message is hidden until an audited reveal,
with what the customer needs shown instead; the conduct reply in the customer's language; escalation to
the agent's lead; and who may not use any of it."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from ombud.accounts import service as accounts
from ombud.accounts.models import Team, User
from ombud.runtime import Runtime
from tests.conftest import Persona, Personas, new_ticket
from tests.web.workspace import form_csrf, sign_in

ABUSIVE = (
    "You useless idiots, my AirBrew 2 has leaked water all over the counter for a week and nobody answers."
)
INSULT = "useless idiots"


def _abusive_ticket(client: TestClient, who: Persona, body: str = ABUSIVE, **customer: str) -> dict[str, Any]:
    ticket = new_ticket(
        client,
        who,
        customer={"email": "jana.novak@example.com", "name": "Jana Novak", **customer},
        subject="AirBrew 2 leaking",
        body=body,
    )
    return ticket


def _message_id(client: TestClient, ticket_id: object, who: Persona) -> int:
    detail = client.get(f"/api/v1/tickets/{ticket_id}", headers=who.headers).json()
    return int(detail["messages"][0]["id"])


def _triage(client: TestClient, ticket_id: object, who: Persona) -> dict[str, Any]:
    detail = client.get(f"/api/v1/tickets/{ticket_id}", headers=who.headers).json()
    found: dict[str, Any] = detail["messages"][0]["triage"]
    return found


def _events(client: TestClient, ticket_id: object, who: Persona) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/tickets/{ticket_id}/events", headers=who.headers)
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()
    return events


def test_an_abusive_message_is_hidden_until_an_audited_reveal(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    ticket = _abusive_ticket(client, people.agent)
    assert _triage(client, ticket["id"], people.agent)["abusive"] is True
    message_id = _message_id(client, ticket["id"], people.agent)
    csrf = sign_in(client, runtime, "agent@desk.test")

    page = client.get(f"/agent/tickets/{ticket['id']}")
    assert page.status_code == 200, page.text
    # Not blurred text a screen reader still reads: the words are not in the page at all.
    assert INSULT not in page.text.lower()
    assert "idiots" not in page.text.lower()
    assert "What they need" in page.text
    assert "AirBrew 2 has leaked water all over the counter" in page.text
    assert "Show the message" in page.text
    assert not [e for e in _events(client, ticket["id"], people.agent) if e["action"] == "message.revealed"]

    shown = client.post(
        f"/agent/tickets/{ticket['id']}/messages/{message_id}/reveal", data={"csrf_token": csrf}
    )
    assert shown.status_code == 200, shown.text
    assert ABUSIVE in shown.text
    revealed = [e for e in _events(client, ticket["id"], people.agent) if e["action"] == "message.revealed"]
    assert len(revealed) == 1
    assert revealed[0]["actor_id"] == people.agent.id
    assert revealed[0]["entity_id"] == message_id

    # A reveal is for that one reading: the page shields the message again afterwards.
    again = client.get(f"/agent/tickets/{ticket['id']}")
    assert INSULT not in again.text.lower()


def test_a_reveal_without_the_csrf_token_records_nothing(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    ticket = _abusive_ticket(client, people.agent)
    message_id = _message_id(client, ticket["id"], people.agent)
    sign_in(client, runtime, "agent@desk.test")
    refused = client.post(f"/agent/tickets/{ticket['id']}/messages/{message_id}/reveal", data={})
    assert refused.status_code == 403
    assert ABUSIVE not in refused.text
    assert not [e for e in _events(client, ticket["id"], people.agent) if e["action"] == "message.revealed"]


def test_a_calm_message_is_not_shielded(client: TestClient, runtime: Runtime, people: Personas) -> None:
    body = "Hello, my AirBrew 2 has been leaking since Monday. Could you send a replacement seal?"
    ticket = _abusive_ticket(client, people.agent, body=body)
    assert _triage(client, ticket["id"], people.agent)["abusive"] is False
    sign_in(client, runtime, "agent@desk.test")
    page = client.get(f"/agent/tickets/{ticket['id']}")
    assert body in page.text
    assert "Show the message" not in page.text


def test_the_api_reveal_returns_the_message_and_is_audited(client: TestClient, people: Personas) -> None:
    ticket = _abusive_ticket(client, people.agent)
    message_id = _message_id(client, ticket["id"], people.agent)
    response = client.post(
        f"/api/v1/tickets/{ticket['id']}/messages/{message_id}/reveal", headers=people.agent.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["body"] == ABUSIVE
    assert response.json()["triage"]["abusive"] is True
    assert [e for e in _events(client, ticket["id"], people.agent) if e["action"] == "message.revealed"]


def test_a_message_of_another_ticket_is_not_found(client: TestClient, people: Personas) -> None:
    first = _abusive_ticket(client, people.agent)
    other = new_ticket(client, people.agent)
    message_id = _message_id(client, first["id"], people.agent)
    response = client.post(
        f"/api/v1/tickets/{other['id']}/messages/{message_id}/reveal", headers=people.agent.headers
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "message_not_found"


def test_the_conduct_reply_speaks_german_to_a_german_customer(client: TestClient, people: Personas) -> None:
    body = (
        "Ihr seid doch alle unfähig! Meine AirBrew 2 leckt seit einer Woche und niemand antwortet auf "
        "meine E-Mails. Ich will endlich eine Lösung."
    )
    ticket = new_ticket(
        client,
        people.agent,
        customer={"email": "jana.becker@example.de", "name": "Jana Becker"},
        subject="AirBrew 2 undicht",
        body=body,
    )
    assert _triage(client, ticket["id"], people.agent)["language"] == "de"
    response = client.post(f"/api/v1/tickets/{ticket['id']}/conduct-reply", headers=people.agent.headers)
    assert response.status_code == 201, response.text
    reply = response.json()
    assert reply["internal"] is False
    assert reply["author_user_id"] == people.agent.id
    text = reply["body"]
    assert text.startswith("Hallo Jana,")
    assert "Verhaltensrichtlinie" in text
    assert "AirBrew 2 leckt seit einer Woche" in text  # names the concern
    assert "Agent" in text  # signed by the agent
    events = _events(client, ticket["id"], people.agent)
    assert [e for e in events if e["action"] == "abuse.conduct_reply"]


def test_the_conduct_reply_in_english_names_the_concern_without_the_insult(
    client: TestClient, people: Personas
) -> None:
    ticket = _abusive_ticket(client, people.agent)
    response = client.post(f"/api/v1/tickets/{ticket['id']}/conduct-reply", headers=people.agent.headers)
    assert response.status_code == 201, response.text
    text = response.json()["body"]
    assert text.startswith("Hello Jana,")
    assert "conduct policy" in text
    assert "AirBrew 2 has leaked water" in text
    assert "idiot" not in text.lower()


def _join_team(runtime: Runtime, team_name: str, emails: list[str]) -> None:
    with runtime.database.session() as session:
        team = accounts.create_team(session=session, name=team_name)
        for email in emails:
            user = accounts.get_user_by_email(session=session, email=email)
            assert isinstance(user, User) and isinstance(team, Team)
            accounts.add_to_team(session=session, team=team, user=user)
        session.commit()


def test_escalation_mentions_the_agents_lead_once(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    _join_team(runtime, "Coffee machines", ["agent@desk.test", "lead@desk.test"])
    ticket = _abusive_ticket(client, people.agent)
    response = client.post(f"/api/v1/tickets/{ticket['id']}/escalate-abuse", headers=people.agent.headers)
    assert response.status_code == 200, response.text
    done = response.json()
    assert done["lead_ids"] == [people.lead.id]
    assert done["already"] is False

    detail = client.get(f"/api/v1/tickets/{ticket['id']}", headers=people.agent.headers).json()
    assert "abuse-escalated" in detail["tags"]
    note = next(m for m in detail["messages"] if m["id"] == done["note_id"])
    assert note["internal"] is True
    assert "@lead" in note["body"]
    assert "AirBrew 2" in note["body"]
    assert "idiot" not in note["body"].lower()
    again = client.post(f"/api/v1/tickets/{ticket['id']}/escalate-abuse", headers=people.agent.headers)
    assert again.status_code == 200
    assert again.json()["already"] is True
    after = client.get(f"/api/v1/tickets/{ticket['id']}", headers=people.agent.headers).json()
    assert len(after["messages"]) == len(detail["messages"])
    escalations = [e for e in _events(client, ticket["id"], people.agent) if e["action"] == "abuse.escalated"]
    assert len(escalations) == 1


def test_escalation_without_a_team_lead_mentions_every_active_lead(
    client: TestClient, people: Personas
) -> None:
    ticket = _abusive_ticket(client, people.agent2)
    response = client.post(f"/api/v1/tickets/{ticket['id']}/escalate-abuse", headers=people.agent2.headers)
    assert response.status_code == 200, response.text
    assert response.json()["lead_ids"] == [people.lead.id]


@pytest.mark.parametrize("who", ["partner", "customer", "advocate"])
def test_partners_customers_and_advocates_cannot_use_shielding(
    client: TestClient, people: Personas, who: str
) -> None:
    ticket = _abusive_ticket(client, people.agent, email="maria@example.com")
    message_id = _message_id(client, ticket["id"], people.agent)
    persona: Persona = getattr(people, who)
    for path in (
        f"/api/v1/tickets/{ticket['id']}/messages/{message_id}/reveal",
        f"/api/v1/tickets/{ticket['id']}/conduct-reply",
        f"/api/v1/tickets/{ticket['id']}/escalate-abuse",
    ):
        response = client.post(path, headers=persona.headers)
        assert response.status_code == 403, (path, response.text)
        assert response.json()["error"]["code"] == "role_forbidden"
    assert not [
        e
        for e in _events(client, ticket["id"], people.agent)
        if e["action"].startswith(("abuse.", "message.revealed"))
    ]


def test_the_panel_buttons_post_the_reply_and_the_escalation(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    ticket = _abusive_ticket(client, people.agent)
    sign_in(client, runtime, "agent@desk.test")
    page = client.get(f"/agent/tickets/{ticket['id']}")
    assert "Reply with our conduct policy" in page.text
    assert "Escalate to a lead" in page.text
    assert "Block this sender" not in page.text  # agents do not block
    csrf = form_csrf(page.text)
    sent = client.post(
        f"/agent/tickets/{ticket['id']}/conduct-reply", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert sent.status_code == 303
    assert "notice=conduct_sent" in sent.headers["location"]
    escalated = client.post(
        f"/agent/tickets/{ticket['id']}/escalate-abuse", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert escalated.status_code == 303
    after = client.get(escalated.headers["location"])
    assert "Escalated" in after.text
    assert "Escalate to a lead" not in after.text


def test_a_concern_quoted_from_a_shielded_message_is_shown_without_the_insult(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    ticket = _abusive_ticket(client, people.agent)
    message_id = _message_id(client, ticket["id"], people.agent)
    tracked = client.post(
        f"/api/v1/tickets/{ticket['id']}/concerns",
        json={"text": ABUSIVE, "message_id": message_id},
        headers=people.agent.headers,
    )
    assert tracked.status_code == 201, tracked.text
    sign_in(client, runtime, "agent@desk.test")
    page = client.get(f"/agent/tickets/{ticket['id']}")
    assert page.status_code == 200, page.text
    panel = page.text[page.text.index('id="concerns"') :]
    panel = panel[: panel.index("</section>")]
    assert "AirBrew 2 has leaked water all over the counter" in panel
    assert "idiots" not in panel.lower()
    conversation = page.text[: page.text.index('<aside class="side"')]
    assert "idiots" not in conversation.lower()


def test_no_panel_quotes_a_shielded_message(client: TestClient, runtime: Runtime, people: Personas) -> None:
    """The split form lists each customer message by an excerpt once there are two: not the abusive one."""
    ticket = new_ticket(client, people.customer, subject="AirBrew 2 leaking", body=ABUSIVE)
    calm = "Also, the replacement seal you sent last year never arrived at my address."
    added = client.post(
        f"/api/v1/tickets/{ticket['id']}/messages", json={"body": calm}, headers=people.customer.headers
    )
    assert added.status_code == 201, added.text
    sign_in(client, runtime, "agent@desk.test")
    page = client.get(f"/agent/tickets/{ticket['id']}")
    assert page.status_code == 200, page.text
    assert "Split off" in page.text  # the form with the message excerpts is on the page
    assert calm[:40] in page.text
    assert "idiots" not in page.text.lower()
    assert "hidden: marked abusive" in page.text


def test_an_advocate_reading_the_ticket_sees_it_shielded_without_a_reveal(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    ticket = _abusive_ticket(client, people.agent)
    sign_in(client, runtime, "advocate@desk.test")
    page = client.get(f"/agent/tickets/{ticket['id']}")
    assert page.status_code == 200, page.text
    assert "idiots" not in page.text.lower()
    assert "AirBrew 2 has leaked water all over the counter" in page.text
    assert "Show the message" not in page.text
    assert "Reply with our conduct policy" not in page.text
