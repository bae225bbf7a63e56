"""The queue: when nobody is free a ticket waits in its team's queue, visible with counts and the oldest
wait; the most urgent, then the oldest, goes to the first agent who frees up or comes online; tickets
overflow to another team after the team's wait; a person's assignment always stands."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient

from ombud.events import service as events
from ombud.routing import reactions
from ombud.routing.assign import RoutingConfig
from ombud.routing.models import QueuedTicket
from ombud.runtime import Runtime
from ombud.tickets.models import Ticket
from tests.conftest import Personas, new_ticket
from tests.routing.common import (
    add_members,
    configure_team,
    decisions,
    new_team,
    queue,
    set_capacity,
    set_status,
    solve,
    support_team,
    ticket,
    time_passes,
)


def test_a_full_team_queues_and_the_first_to_free_up_gets_the_most_urgent(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    team_id = support_team(client, runtime, people)
    set_capacity(client, people, people.agent.id, email=1)
    set_status(client, people.agent, "online")

    first = new_ticket(client, people.customer, subject="First")
    waiting_normal = new_ticket(client, people.customer, subject="Waiting, normal")
    waiting_urgent = new_ticket(client, people.customer, subject="Waiting, urgent", priority="urgent")

    assert ticket(client, people, first["id"])["assignee_id"] == people.agent.id
    listing = queue(client, people)
    assert [t["ticket_id"] for t in listing["tickets"]] == [waiting_urgent["id"], waiting_normal["id"]]
    assert listing["teams"][0]["team_id"] == team_id and listing["teams"][0]["count"] == 2
    assert listing["teams"][0]["name"] == "Support"
    # The team sees the waiting tickets in its inbox.
    assert ticket(client, people, waiting_normal["id"])["team_id"] == team_id
    assert decisions(client, people, waiting_normal["id"])[0]["outcome"] == "queued"

    time_passes(runtime, 7)
    listing = queue(client, people)
    assert listing["teams"][0]["oldest_wait_seconds"] >= 7 * 60

    # The agent solves their ticket: the urgent one comes to them, then the normal one waits on.
    solve(client, people.agent, first["id"])
    assert ticket(client, people, waiting_urgent["id"])["assignee_id"] == people.agent.id
    assert ticket(client, people, waiting_normal["id"])["assignee_id"] is None
    assert "became free" in decisions(client, people, waiting_urgent["id"])[0]["reason"]

    # Pending (waiting on the customer) frees capacity too.
    response = client.patch(
        f"/api/v1/tickets/{waiting_urgent['id']}", json={"status": "pending"}, headers=people.agent.headers
    )
    assert response.status_code == 200, response.text
    assert ticket(client, people, waiting_normal["id"])["assignee_id"] == people.agent.id
    assert queue(client, people)["tickets"] == []


def test_an_agent_coming_online_takes_the_waiting_tickets_they_have_room_for(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    support_team(client, runtime, people)
    tickets = [new_ticket(client, people.customer, subject=f"Waiting {n}") for n in range(3)]
    assert len(queue(client, people)["tickets"]) == 3
    set_capacity(client, people, people.agent2.id, email=2)

    set_status(client, people.agent2, "online")

    owners = [ticket(client, people, t["id"])["assignee_id"] for t in tickets]
    assert owners == [people.agent2.id, people.agent2.id, None]  # oldest first, up to the capacity
    # Raising the capacity hands over the rest.
    set_capacity(client, people, people.agent2.id, email=3)
    assert ticket(client, people, tickets[2]["id"])["assignee_id"] == people.agent2.id


def test_overflow_to_another_team_after_the_wait(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    second_line = new_team(runtime, "Second line", people.agent2.id)
    add_members(runtime, people.team_id, people.agent.id)  # offline
    team_id = people.team_id
    configure_team(client, people, team_id, rules={}, overflow_team_id=second_line, overflow_after_minutes=10)
    set_status(client, people.agent2, "online")  # online, but only in the second line

    created = new_ticket(client, people.customer)
    assert ticket(client, people, created["id"])["team_id"] == team_id
    assert ticket(client, people, created["id"])["assignee_id"] is None

    time_passes(runtime, 9)
    assert ticket(client, people, created["id"])["team_id"] == team_id

    time_passes(runtime, 2)
    moved = ticket(client, people, created["id"])
    assert (moved["team_id"], moved["assignee_id"]) == (second_line, people.agent2.id)
    outcomes = [d["outcome"] for d in decisions(client, people, created["id"])]
    assert outcomes == ["assigned", "overflowed", "queued"]
    assert "waited 1" in decisions(client, people, created["id"])[1]["reason"]
    with runtime.database.session(write=False) as session:
        overflowed = events.history(session=session, ticket_id=created["id"], kinds=["routing.overflowed"])
        assert [e.payload["team_id"] for e in overflowed] == [second_line]


def test_overflow_stops_at_a_ring_and_the_ticket_stays_visible(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    other = new_team(runtime, "Other")
    team_id = support_team(client, runtime, people, overflow_team_id=other, overflow_after_minutes=5)
    configure_team(client, people, other, overflow_team_id=team_id, overflow_after_minutes=5)
    created = new_ticket(client, people.customer)

    for _ in range(4):
        time_passes(runtime, 6)

    outcomes = [d["outcome"] for d in reversed(decisions(client, people, created["id"]))]
    assert outcomes.count("overflowed") == 1  # Support → Other; never back to where it came from
    waiting = queue(client, people)["tickets"]
    assert [(t["ticket_id"], t["team_id"]) for t in waiting] == [(created["id"], other)]
    assert waiting[0]["overflow_at"] is None


def test_a_manual_assignment_always_stands(runtime: Runtime, client: TestClient, people: Personas) -> None:
    support_team(client, runtime, people)
    created = new_ticket(client, people.customer)
    assert [t["ticket_id"] for t in queue(client, people)["tickets"]] == [created["id"]]

    response = client.patch(
        f"/api/v1/tickets/{created['id']}",
        json={"assignee_id": people.agent2.id},
        headers=people.lead.headers,
    )
    assert response.status_code == 200, response.text
    assert queue(client, people)["tickets"] == []
    assert decisions(client, people, created["id"])[0]["outcome"] == "manual"

    # agent coming online (with room) does not take it away, nor does routing it by hand.
    set_status(client, people.agent, "online")
    routed = client.post(f"/api/v1/routing/tickets/{created['id']}/route", headers=people.lead.headers)
    assert routed.status_code == 200 and routed.json() is None
    assert ticket(client, people, created["id"])["assignee_id"] == people.agent2.id

    # Unassigned by a person: it is routed again.
    response = client.patch(
        f"/api/v1/tickets/{created['id']}", json={"assignee_id": None}, headers=people.lead.headers
    )
    assert response.status_code == 200, response.text
    assert ticket(client, people, created["id"])["assignee_id"] == people.agent.id


def test_automatic_assignment_off_keeps_tickets_in_the_queue(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    team_id = support_team(client, runtime, people)
    set_status(client, people.agent, "online")
    configure_team(client, people, team_id, auto_assign=False)

    created = new_ticket(client, people.customer)
    assert ticket(client, people, created["id"])["assignee_id"] is None
    assert "automatic assignment is off" in decisions(client, people, created["id"])[0]["reason"]
    solve_other = new_ticket(client, people.customer, subject="other")
    solve(client, people.lead, solve_other["id"])
    assert ticket(client, people, created["id"])["assignee_id"] is None

    # Turned back on: the waiting tickets are assigned at once.
    configure_team(client, people, team_id, auto_assign=True)
    assert ticket(client, people, created["id"])["assignee_id"] == people.agent.id


def test_a_new_ticket_waits_for_triage_then_is_routed_by_the_sweep(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    support_team(client, runtime, people)
    created = new_ticket(client, people.customer)
    with runtime.database.session() as session:
        row = session.get(Ticket, created["id"])
        assert row is not None
        # As when the ticket arrives before triage has read it.
        reactions.wait_for_triage(session=session, ticket=row, config=RoutingConfig(dt.timedelta(minutes=2)))
        session.commit()
    set_status(client, people.agent, "online")
    assert ticket(client, people, created["id"])["assignee_id"] is None  # not yet: it waits for triage
    assert queue(client, people)["tickets"][0]["state"] == "triage"

    time_passes(runtime, 1)
    assert ticket(client, people, created["id"])["assignee_id"] is None

    time_passes(runtime, 2)
    assert ticket(client, people, created["id"])["assignee_id"] == people.agent.id
    assert decisions(client, people, created["id"])[0]["trigger"] == "triage.timeout"
    with runtime.database.session(write=False) as session:
        assert session.get(QueuedTicket, created["id"]) is None


def test_a_waiting_ticket_tried_again_keeps_its_place_and_one_decision(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    team_id = support_team(client, runtime, people)
    created = new_ticket(client, people.customer)
    enqueued_at = queue(client, people)["tickets"][0]["enqueued_at"]

    configure_team(client, people, team_id, position=5)  # tries the team's waiting tickets again
    assert [d["outcome"] for d in decisions(client, people, created["id"])] == ["queued"]
    assert queue(client, people)["tickets"][0]["enqueued_at"] == enqueued_at

    # A lead asking is always recorded.
    client.post(f"/api/v1/routing/tickets/{created['id']}/route", headers=people.lead.headers)
    assert [d["outcome"] for d in decisions(client, people, created["id"])] == ["queued", "queued"]
    with runtime.database.session(write=False) as session:
        kinds = [e.kind for e in events.history(session=session, ticket_id=created["id"])]
    assert kinds.count("routing.queued") == 1
