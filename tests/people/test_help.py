"""Help requests: an agent asks teammates for help on a ticket; the note's @mentions put it in their
@Mentions inbox; a teammate joins and helps with internal notes; only the requester, a lead or an admin
resolves or cancels it; partners, advocates and customers have no part in it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ombud.accounts import service as accounts
from ombud.accounts.models import Role
from ombud.runtime import Runtime
from tests.conftest import Persona, Personas, new_ticket
from tests.people.load_helpers import people_never_failed
from tests.routing.common import add_members
from tests.web.workspace import form_csrf, sign_in


@pytest.fixture(autouse=True)
def _never_failed(runtime: Runtime) -> Iterator[None]:
    yield
    people_never_failed(runtime)


def _ask(client: TestClient, who: Persona, ticket_id: Any, **body: Any) -> dict[str, Any]:
    response = client.post(f"/api/v1/tickets/{ticket_id}/help-requests", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    out: dict[str, Any] = response.json()
    return out


def test_asking_mentions_the_team_and_a_helper_joins_with_notes(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    add_members(runtime, people.team_id, people.agent.id, people.agent2.id)
    ticket = new_ticket(client, people.customer)
    asked = _ask(client, people.agent, ticket["id"], question="Is a refund after 40 days allowed here?")
    assert asked["state"] == "open" and asked["requester_id"] == people.agent.id

    # The note on the ticket, as the agent, @mentions the teammates (not the agent).
    messages = client.get(f"/api/v1/tickets/{ticket['id']}", headers=people.agent.headers).json()["messages"]
    note = messages[-1]
    assert note["internal"] and note["body"].startswith(f"Help wanted (request #{asked['id']})")
    assert "@agent2" in note["body"] and "@agent " not in note["body"] + " "
    seen = client.get(f"/api/v1/tickets/{ticket['id']}", headers=people.customer.headers).json()["messages"]
    assert note["id"] not in [m["id"] for m in seen]

    # agent2 sees it among the open requests and in their @Mentions inbox.
    listed = client.get("/api/v1/help-requests?state=open", headers=people.agent2.headers).json()["items"]
    assert [r["id"] for r in listed] == [asked["id"]]
    sign_in(client, runtime, "agent2@desk.test")
    assert f'data-ticket="{ticket["id"]}"' in client.get("/agent/inbox?view=mentions").text
    page = client.get("/agent/help")
    assert page.status_code == 200 and "Is a refund after 40 days allowed here?" in page.text
    assert f'action="/agent/help/{asked["id"]}/join"' in page.text

    # agent2 joins from the page and adds a note the ordinary way: the request links it.
    joined = client.post(
        f"/agent/help/{asked['id']}/join",
        data={"csrf_token": form_csrf(page.text), "back": "/agent/help"},
        follow_redirects=False,
    )
    assert joined.status_code == 303
    helped = client.post(
        f"/api/v1/tickets/{ticket['id']}/messages",
        json={"body": "Yes, with a lead's approval: see the refund policy.", "internal": True},
        headers=people.agent2.headers,
    )
    assert helped.status_code == 201
    [request] = client.get(
        f"/api/v1/tickets/{ticket['id']}/help-requests", headers=people.agent.headers
    ).json()["items"]
    assert request["helper_ids"] == [people.agent2.id]
    assert request["note_ids"] == [helped.json()["id"]]
    # Once resolved, agent2's later notes on the ticket are their own work, not help on the request.
    resolved = client.post(f"/api/v1/help-requests/{asked['id']}/resolve", headers=people.agent.headers)
    assert resolved.status_code == 200 and resolved.json()["note_ids"] == [helped.json()["id"]]
    later = client.post(
        f"/api/v1/tickets/{ticket['id']}/messages",
        json={"body": "Unrelated: the customer also asked about invoices.", "internal": True},
        headers=people.agent2.headers,
    )
    assert later.status_code == 201
    [request] = client.get(
        f"/api/v1/tickets/{ticket['id']}/help-requests", headers=people.agent.headers
    ).json()["items"]
    assert request["note_ids"] == [helped.json()["id"]]

    # The ticket page shows the panel with the request and its helper.
    sign_in(client, runtime, "agent@desk.test")
    ticket_page = client.get(f"/agent/tickets/{ticket['id']}")
    assert 'id="help"' in ticket_page.text and "Ask for help" in ticket_page.text
    assert "Helping: Agent2" in ticket_page.text


def test_who_may_resolve_cancel_join_and_see(runtime: Runtime, client: TestClient, people: Personas) -> None:
    add_members(runtime, people.team_id, people.agent.id, people.agent2.id)
    ticket = new_ticket(client, people.customer)
    asked = _ask(client, people.agent, ticket["id"], question="Which courier?", user_id=people.agent2.id)
    base = f"/api/v1/help-requests/{asked['id']}"

    # Only agent2 was asked: the note mentions them alone.
    body = client.get(f"/api/v1/tickets/{ticket['id']}", headers=people.agent.headers).json()["messages"][-1][
        "body"
    ]
    assert body.endswith("\n@agent2")

    for who in (people.partner, people.advocate, people.customer):
        assert client.get("/api/v1/help-requests", headers=who.headers).status_code == 403
        assert client.post(f"{base}/join", headers=who.headers).status_code == 403
        assert client.post(f"{base}/resolve", headers=who.headers).status_code == 403
        refused = client.post(
            f"/api/v1/tickets/{ticket['id']}/help-requests", json={"question": "x"}, headers=who.headers
        )
        assert refused.status_code in (403, 404)
    assert (
        client.post(f"{base}/join", headers=people.agent.headers).json()["error"]["code"] == "help_not_asked"
    )
    # Open requests are listed to whom they ask (and leads), not to an agent of no team of theirs.
    with runtime.database.session() as session:
        outsider = accounts.create_user(
            session=session, email="agent3@desk.test", role=Role.agent, name="Three"
        )
        token = accounts.issue_token(session=session, user_id=outsider.id)
        session.commit()
    third = {"Authorization": f"Bearer {token}"}
    mine = client.post(
        f"/api/v1/tickets/{ticket['id']}/help-requests",
        json={"question": "Anyone?"},
        headers=people.agent.headers,
    ).json()
    assert [r["id"] for r in client.get("/api/v1/help-requests", headers=third).json()["items"]] == []
    listed = client.get("/api/v1/help-requests", headers=people.agent2.headers).json()["items"]
    assert {r["id"] for r in listed} == {asked["id"], mine["id"]}
    assert {
        r["id"] for r in client.get("/api/v1/help-requests", headers=people.lead.headers).json()["items"]
    } == {
        asked["id"],
        mine["id"],
    }
    assert (
        client.post(f"/api/v1/help-requests/{mine['id']}/cancel", headers=people.agent.headers).status_code
        == 200
    )
    assert client.post(f"{base}/join", headers=people.agent2.headers).status_code == 200
    refused = client.post(f"{base}/resolve", headers=people.agent2.headers)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "role_forbidden"
    assert client.post(f"{base}/resolve", headers=people.agent.headers).json()["state"] == "resolved"
    closed = client.post(f"{base}/cancel", headers=people.agent.headers)
    assert closed.status_code == 409 and closed.json()["error"]["code"] == "help_request_closed"
    assert client.get("/api/v1/help-requests", headers=people.agent2.headers).json()["items"] == []
    assert client.post("/api/v1/help-requests/9999/join", headers=people.agent2.headers).status_code == 404

    # A lead cancels anyone's request.
    second = _ask(client, people.agent, ticket["id"], question="Anyone?")
    assert (
        client.post(f"/api/v1/help-requests/{second['id']}/cancel", headers=people.lead.headers).json()[
            "state"
        ]
        == "cancelled"
    )

    # Bad asks are refused with a reason, and write nothing.
    for bad, code in (
        ({"question": "x", "user_id": people.agent2.id, "team_id": people.team_id}, "help_target_ambiguous"),
        ({"question": "x", "user_id": people.partner.id}, "help_user_invalid"),
        ({"question": "x", "user_id": people.agent.id}, "help_user_invalid"),
    ):
        response = client.post(
            f"/api/v1/tickets/{ticket['id']}/help-requests", json=bad, headers=people.agent.headers
        )
        assert response.status_code == 422 and response.json()["error"]["code"] == code
    assert (
        client.post(
            "/api/v1/tickets/99999/help-requests", json={"question": "x"}, headers=people.agent.headers
        ).status_code
        == 404
    )
    # An agent in no team must name someone.
    lonely = client.post(
        f"/api/v1/tickets/{ticket['id']}/help-requests", json={"question": "x"}, headers=people.lead.headers
    )
    assert lonely.status_code == 422 and lonely.json()["error"]["code"] == "help_nobody"
    items = client.get(f"/api/v1/tickets/{ticket['id']}/help-requests", headers=people.lead.headers).json()
    assert len(items["items"]) == 3  # the two above, and the one cancelled after the listing checks


def _is_sqlite(runtime: Runtime) -> bool:
    with runtime.database.session(write=False) as session:
        return session.get_bind().dialect.name == "sqlite"


def test_a_question_of_only_spaces_is_refused_and_writes_nothing(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    add_members(runtime, people.team_id, people.agent.id, people.agent2.id)
    ticket = new_ticket(client, people.customer)
    before = client.get(f"/api/v1/tickets/{ticket['id']}", headers=people.agent.headers).json()["messages"]
    response = client.post(
        f"/api/v1/tickets/{ticket['id']}/help-requests",
        json={"question": "   \n "},
        headers=people.agent.headers,
    )
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_help_request"
    after = client.get(f"/api/v1/tickets/{ticket['id']}", headers=people.agent.headers).json()["messages"]
    assert len(after) == len(before)
    listed = client.get(f"/api/v1/tickets/{ticket['id']}/help-requests", headers=people.agent.headers)
    assert listed.json()["items"] == []


def test_a_join_that_loses_the_race_to_the_same_persons_other_click_still_joins(
    runtime: Runtime, client: TestClient, people: Personas, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two clicks on "join" at once: both find no helper row, the second insert hits the primary key. It
    must answer as joined (on PostgreSQL, where two writers run at once), not 500."""
    if _is_sqlite(runtime):
        pytest.skip("SQLite has one writer: the second click waits for the first and finds its row")
    from sqlalchemy.orm import Session

    from ombud.people.models import HelpHelper

    add_members(runtime, people.team_id, people.agent.id, people.agent2.id)
    ticket = new_ticket(client, people.customer)
    asked = _ask(client, people.agent, ticket["id"], question="Which policy applies?")
    first = client.post(f"/api/v1/help-requests/{asked['id']}/join", headers=people.agent2.headers)
    assert first.status_code == 200, first.text

    real_get = Session.get

    def blind_get(self: Session, entity: Any, ident: Any, **kwargs: Any) -> Any:
        # The second click read before the first committed: it saw no helper row.
        return None if entity is HelpHelper else real_get(self, entity, ident, **kwargs)

    monkeypatch.setattr(Session, "get", blind_get)
    second = client.post(f"/api/v1/help-requests/{asked['id']}/join", headers=people.agent2.headers)
    monkeypatch.undo()
    assert second.status_code == 200, second.text
    assert second.json()["helper_ids"] == [people.agent2.id]
