"""Assignment: new tickets go to an online agent of the right team with free capacity, the best skill
match first, then the lowest load, round-robin among equals; never to someone offline, inactive or a
partner; and every decision is recorded with the candidates considered."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from ombud.accounts.models import User
from ombud.audit import service as audit
from ombud.routing import assign
from ombud.runtime import Runtime
from tests.conftest import Personas, new_ticket
from tests.routing.common import (
    add_members,
    configure_team,
    decisions,
    new_team,
    set_capacity,
    set_skills,
    set_status,
    solve,
    support_team,
    ticket,
)

GERMAN = (
    "Ich wurde für meine Bestellung A-10293 doppelt belastet. Bitte erstatten Sie mir den doppelten Betrag."
)


def test_a_new_ticket_goes_to_the_online_agent_and_the_decision_says_why(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    team_id = support_team(client, runtime, people)
    set_status(client, people.agent, "online")
    set_status(client, people.agent2, "away")

    created = new_ticket(client, people.customer)

    assert ticket(client, people, created["id"])["assignee_id"] == people.agent.id
    assert ticket(client, people, created["id"])["team_id"] == team_id
    latest = decisions(client, people, created["id"])[0]
    assert latest["outcome"] == "assigned"
    assert latest["user_id"] == people.agent.id and latest["team_id"] == team_id
    considered = {c["user_id"]: c for c in latest["candidates"]}
    assert considered[people.agent.id]["eligible"] is True
    assert considered[people.agent2.id] == {**considered[people.agent2.id], "eligible": False, "why": "away"}
    assert latest["needs"]["channel"] == "email"
    # Assigned as the system, through the ticket service: audited like any change.
    with runtime.database.session(write=False) as session:
        changes = [
            e
            for e in audit.list_for_ticket(session=session, ticket_id=created["id"])
            if e.action == "ticket.updated"
        ]
    assert changes and changes[0].actor_type == "system"
    assert changes[0].after == {"assignee_id": people.agent.id, "team_id": team_id}


def test_round_robin_among_equals_and_lowest_load_first(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    support_team(client, runtime, people)
    set_status(client, people.agent, "online")
    set_status(client, people.agent2, "online")

    # Equal load each time (the last one is solved first): the turn goes round.
    order = []
    for n in range(4):
        created = new_ticket(client, people.customer, subject=f"Question {n}")
        order.append(ticket(client, people, created["id"])["assignee_id"])
        solve(client, people.lead, created["id"])
    assert order == [people.agent.id, people.agent2.id, people.agent.id, people.agent2.id]
    assert "their turn among 2 equals (round-robin)" in decisions(client, people, created["id"])[0]["reason"]

    # With unequal loads the least busy agent gets the next tickets, whoever's turn it is.
    first = new_ticket(client, people.customer, subject="Busy 1")
    second = new_ticket(client, people.customer, subject="Busy 2")
    busy = ticket(client, people, first["id"])["assignee_id"]
    assert ticket(client, people, second["id"])["assignee_id"] != busy
    third = new_ticket(client, people.customer, subject="Busy 3")
    fourth = new_ticket(client, people.customer, subject="Busy 4")
    owners = [ticket(client, people, t["id"])["assignee_id"] for t in (third, fourth)]
    assert sorted(owners) == sorted([people.agent.id, people.agent2.id])


def test_skills_decide_before_load(runtime: Runtime, client: TestClient, people: Personas) -> None:
    support_team(client, runtime, people)
    set_skills(client, people, people.agent.id, ("language", "de", 5))
    set_skills(client, people, people.agent2.id, ("language", "en", 4))
    set_status(client, people.agent, "online")
    set_status(client, people.agent2, "online")

    english = [new_ticket(client, people.customer, subject=f"Refund {n}") for n in range(2)]
    assert {ticket(client, people, t["id"])["assignee_id"] for t in english} == {people.agent2.id}

    german = new_ticket(client, people.customer, subject="Doppelte Abbuchung", body=GERMAN)
    latest = decisions(client, people, german["id"])[0]
    assert latest["needs"]["language"] == "de"
    assert ticket(client, people, german["id"])["assignee_id"] == people.agent.id
    scores = {c["user_id"]: c["score"] for c in latest["candidates"]}
    assert scores[people.agent.id] > scores[people.agent2.id]


def test_partial_skill_matches_are_scored(runtime: Runtime, client: TestClient, people: Personas) -> None:
    # The agent knows the intent very well but not the language; agent2 only speaks the language.
    set_skills(client, people, people.agent.id, ("intent", "refund", 5))
    set_skills(client, people, people.agent2.id, ("language", "en", 3))
    set_status(client, people.agent, "online")
    set_status(client, people.agent2, "online")

    with runtime.database.session(write=False) as session:
        both = list(session.scalars(select(User).where(User.id.in_([people.agent.id, people.agent2.id]))))
        needs = assign.Needs(channel="email", intents=["refund"], language="en")
        ranked = assign.candidates(session=session, members=both, needs=needs)
    scores = {c.user_id: c.score for c in ranked}
    # Three needs (channel, intent, language), each worth its skill's level out of 5.
    assert scores[people.agent.id] == round(5 / 5 / 3, 3)
    assert scores[people.agent2.id] == round(3 / 5 / 3, 3)
    assert [c.user_id for c in ranked] == [people.agent.id, people.agent2.id]
    # An agent with every skill at the top level scores 1.
    set_skills(
        client,
        people,
        people.agent2.id,
        ("language", "en", 5),
        ("intent", "refund", 5),
        ("channel", "email", 5),
    )
    with runtime.database.session(write=False) as session:
        both = list(session.scalars(select(User).where(User.id.in_([people.agent.id, people.agent2.id]))))
        ranked = assign.candidates(session=session, members=both, needs=needs)
    assert (ranked[0].user_id, ranked[0].score) == (people.agent2.id, 1.0)


def test_capacity_per_channel_is_respected(runtime: Runtime, client: TestClient, people: Personas) -> None:
    support_team(client, runtime, people)
    set_capacity(client, people, people.agent.id, email=1, chat=0)
    set_status(client, people.agent, "online")

    first = new_ticket(client, people.customer, subject="One")
    second = new_ticket(client, people.customer, subject="Two")
    chat = new_ticket(client, people.customer, subject="Chat", channel="chat")

    assert ticket(client, people, first["id"])["assignee_id"] == people.agent.id
    assert ticket(client, people, second["id"])["assignee_id"] is None
    assert ticket(client, people, chat["id"])["assignee_id"] is None
    why = {c["user_id"]: c["why"] for c in decisions(client, people, second["id"])[0]["candidates"]}
    assert why[people.agent.id] == "full on email (1/1)"
    why = {c["user_id"]: c["why"] for c in decisions(client, people, chat["id"])[0]["candidates"]}
    assert why[people.agent.id] == "does not take chat tickets (capacity 0)"
    me = client.get("/api/v1/routing/agents/me", headers=people.agent.headers).json()
    assert me["load"]["email"] == 1 and me["capacity"]["email"] == 1 and me["capacity"]["chat"] == 0


def test_never_routed_to_a_partner_an_advocate_or_an_inactive_user(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    team_id = new_team(runtime, "Field", people.partner.id, people.advocate.id, people.agent.id)
    configure_team(client, people, team_id, rules={})
    set_status(client, people.agent, "online")
    with runtime.database.session() as session:
        user = session.get(User, people.agent.id)
        assert user is not None
        user.active = False
        session.commit()

    created = new_ticket(client, people.customer)

    assert ticket(client, people, created["id"])["assignee_id"] is None
    why = {c["user_id"]: c["why"] for c in decisions(client, people, created["id"])[0]["candidates"]}
    assert why == {
        people.partner.id: "the partner role does not take tickets",
        people.advocate.id: "the advocate role does not take tickets",
        people.agent.id: "inactive user",
    }


def test_team_rules_choose_the_team(runtime: Runtime, client: TestClient, people: Personas) -> None:
    chat_team = new_team(runtime, "Chat desk", people.agent2.id)
    add_members(runtime, people.team_id, people.agent.id)
    configure_team(client, people, people.team_id, rules={})
    configure_team(client, people, chat_team, rules={"channels": ["chat"]})
    vip_team = new_team(runtime, "VIP", people.lead.id)
    configure_team(client, people, vip_team, rules={"tiers": ["gold"]})
    for who in (people.agent, people.agent2, people.lead):
        set_status(client, who, "online")

    email = new_ticket(client, people.customer, subject="By email")
    chat = new_ticket(client, people.customer, subject="By chat", channel="chat")
    assert ticket(client, people, email["id"])["team_id"] == people.team_id
    assert ticket(client, people, chat["id"])["team_id"] == chat_team
    assert ticket(client, people, chat["id"])["assignee_id"] == people.agent2.id

    response = client.patch(
        f"/api/v1/customers/{people.customer.id}", json={"tier": "gold"}, headers=people.lead.headers
    )
    assert response.status_code == 200, response.text
    gold = new_ticket(client, people.customer, subject="Gold customer")
    assert ticket(client, people, gold["id"])["team_id"] == vip_team
    assert ticket(client, people, gold["id"])["assignee_id"] == people.lead.id


def test_a_ticket_no_team_takes_waits_in_the_no_team_queue(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    created = new_ticket(client, people.customer)
    listing = client.get("/api/v1/routing/queue", headers=people.lead.headers).json()
    assert [t["ticket_id"] for t in listing["tickets"]] == [created["id"]]
    assert listing["teams"] == [
        {**listing["teams"][0], "team_id": None, "name": "No team", "count": 1},
    ]
    assert decisions(client, people, created["id"])[0]["reason"] == "no team's rules take this ticket"

    # Once a team takes such tickets, a lead routes it again by hand.
    support_team(client, runtime, people)
    set_status(client, people.agent, "online")
    routed = client.post(f"/api/v1/routing/tickets/{created['id']}/route", headers=people.lead.headers)
    assert routed.status_code == 200, routed.text
    assert routed.json()["outcome"] == "assigned"
    assert ticket(client, people, created["id"])["assignee_id"] == people.agent.id
