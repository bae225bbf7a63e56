"""Links between tickets: shown on both tickets as they read from each, no self-links, no duplicates
(either way round for "related to"), removable, and for staff only."""

from __future__ import annotations

from fastapi.testclient import TestClient

from ombud.events import service as events
from ombud.runtime import Runtime
from tests.conftest import Personas, new_ticket
from tests.web.workspace import sign_in


def test_links_read_from_both_tickets_and_refuse_nonsense(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    outage = new_ticket(client, people.agent, subject="Payments are down")
    report = new_ticket(client, people.customer, subject="Cannot pay")
    other = new_ticket(client, people.agent, customer={"email": "tom@example.org"}, subject="Checkout error")

    def link(source: object, kind: str, target: object, who: object = people.agent) -> tuple[int, str]:
        response = client.post(
            f"/api/v1/tickets/{source}/links",
            json={"kind": kind, "ticket_id": target},
            headers=who.headers,  # type: ignore[attr-defined]
        )
        return response.status_code, response.json()["error"]["code"] if response.status_code >= 400 else ""

    made = client.post(
        f"/api/v1/tickets/{report['id']}/links",
        json={"kind": "caused_by", "ticket_id": outage["id"]},
        headers=people.agent.headers,
    )
    assert made.status_code == 201, made.text
    assert made.json()["label"] == "Caused by" and made.json()["direction"] == "outgoing"
    assert made.json()["subject"] == "Payments are down"
    assert link(other["id"], "duplicate_of", report["id"]) == (201, "")
    assert link(other["id"], "related_to", outage["id"]) == (201, "")

    def labels(ticket_id: object) -> list[tuple[str, object]]:
        response = client.get(f"/api/v1/tickets/{ticket_id}/links", headers=people.agent.headers)
        return [(item["label"], item["ticket_id"]) for item in response.json()]

    assert labels(outage["id"]) == [("Caused", report["id"]), ("Related to", other["id"])]
    assert labels(report["id"]) == [("Caused by", outage["id"]), ("Has duplicate", other["id"])]
    assert labels(other["id"]) == [("Duplicate of", report["id"]), ("Related to", outage["id"])]

    assert link(report["id"], "related_to", report["id"]) == (422, "link_self")
    assert link(report["id"], "caused_by", outage["id"]) == (409, "link_exists")
    assert link(outage["id"], "related_to", other["id"]) == (409, "link_exists")  # no direction
    assert link(outage["id"], "caused_by", report["id"]) == (409, "link_reversed")
    assert link(report["id"], "related_to", 999_999) == (422, "link_target_not_found")
    assert link(report["id"], "merged_into", outage["id"])[0] == 422  # only a merge makes those
    assert link(report["id"], "related_to", outage["id"], people.customer) == (403, "role_forbidden")
    assert link(report["id"], "related_to", outage["id"], people.advocate) == (403, "role_forbidden")
    for who in (people.customer, people.partner):
        assert client.get(f"/api/v1/tickets/{report['id']}/links", headers=who.headers).status_code == 403

    first = made.json()["id"]
    wrong_ticket = client.delete(f"/api/v1/tickets/{other['id']}/links/{first}", headers=people.agent.headers)
    assert wrong_ticket.status_code == 404
    removed = client.delete(f"/api/v1/tickets/{outage['id']}/links/{first}", headers=people.agent.headers)
    assert removed.status_code == 204
    assert labels(report["id"]) == [("Has duplicate", other["id"])]
    with runtime.database.session(write=False) as session:
        kinds = [e.kind for e in events.history(session=session, ticket_id=int(outage["id"]))]
    assert kinds.count("ticket.linked") == 2 and kinds.count("ticket.unlinked") == 1


def test_workspace_links_panel(runtime: Runtime, client: TestClient, people: Personas) -> None:
    one, two = new_ticket(client, people.customer), new_ticket(client, people.customer, subject="Second try")
    csrf = sign_in(client, runtime, "agent@desk.test")
    added = client.post(
        f"/agent/tickets/{one['id']}/links",
        data={"kind": "duplicate_of", "other": str(two["id"]), "csrf_token": csrf},
        follow_redirects=False,
    )
    assert added.status_code == 303
    page = client.get(f"/agent/tickets/{two['id']}").text
    assert f'Has duplicate <a href="/agent/tickets/{one["id"]}">#{one["id"]}</a>' in page
    link_id = client.get(f"/api/v1/tickets/{one['id']}/links", headers=people.agent.headers).json()[0]["id"]
    assert (
        client.post(
            f"/agent/tickets/{one['id']}/links",
            data={"kind": "owns", "other": str(two["id"]), "csrf_token": csrf},
        ).status_code
        == 422
    )
    removed = client.post(
        f"/agent/tickets/{two['id']}/links/{link_id}/delete",
        data={"csrf_token": csrf},
        follow_redirects=False,
    )
    assert removed.status_code == 303
    assert client.get(f"/api/v1/tickets/{one['id']}/links", headers=people.agent.headers).json() == []
