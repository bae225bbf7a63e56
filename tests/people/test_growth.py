"""Development goals and their progress from data (reply checks, CSAT, training), kind words, the pages,
and who may see them: the agent and a lead who shares a team, nobody else."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import update

from ombud.accounts import service as accounts
from ombud.accounts.models import Role
from ombud.people.models import ReplyCheckRecord
from ombud.people.training_models import Persona as TrainingPersona
from ombud.people.training_models import Scenario, SessionState, TrainingSession
from ombud.runtime import Runtime
from ombud.storage.base import utcnow
from ombud.tickets.models import Message
from tests.conftest import Persona, Personas, new_ticket
from tests.people.test_reply_checks import JARGON, PLAIN, reply
from tests.routing.common import add_members, new_team
from tests.web.workspace import form_csrf, sign_in

THANKS = "Thank you so much, that fixed it! You were a great help."


def goals_path(who: Persona) -> str:
    return f"/api/v1/people/{who.id}/goals"


def add_goal(client: TestClient, by: Persona, for_: Persona, **body: Any) -> dict[str, Any]:
    response = client.post(goals_path(for_), json=body, headers=by.headers)
    assert response.status_code == 201, response.text
    goal: dict[str, Any] = response.json()
    return goal


def progress(client: TestClient, who: Persona, goal_id: int) -> dict[str, Any]:
    response = client.get(f"/api/v1/goals/{goal_id}/progress", headers=who.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def backdate(runtime: Runtime, message_ids: list[int], days: int) -> None:
    """Move replies (and their check records) ``days`` into the past."""
    at = utcnow() - dt.timedelta(days=days)
    with runtime.database.session() as session:
        session.execute(update(Message).where(Message.id.in_(message_ids)).values(created_at=at))
        session.execute(
            update(ReplyCheckRecord).where(ReplyCheckRecord.message_id.in_(message_ids)).values(created_at=at)
        )
        session.commit()


def assigned_ticket(client: TestClient, people: Personas, assignee: Persona, **fields: Any) -> dict[str, Any]:
    ticket = new_ticket(client, people.agent, **fields)
    response = client.patch(
        f"/api/v1/tickets/{ticket['id']}", json={"assignee_id": assignee.id}, headers=people.admin.headers
    )
    assert response.status_code == 200, response.text
    return ticket


def rate(client: TestClient, people: Personas, ticket_id: Any, score: int, comment: str = "") -> None:
    response = client.put(
        f"/api/v1/tickets/{ticket_id}/rating",
        json={"score": score, "comment": comment},
        headers=people.customer.headers,
    )
    assert response.status_code == 200, response.text


def finished_session(
    runtime: Runtime, user_id: int, overall: int, *, persona: str = "angry", days: int = 1
) -> None:
    """A finished role-play session, written to the trainer's tables as the trainer would."""
    at = utcnow() - dt.timedelta(days=days)
    with runtime.database.session() as session:
        scenario = Scenario(
            title="Double charge",
            persona=TrainingPersona(persona),
            customer_name="Alex",
            messages=[{"body": "I was charged twice."}],
            product="router",
        )
        session.add(scenario)
        session.flush()
        session.add(
            TrainingSession(
                scenario_id=scenario.id,
                user_id=user_id,
                state=SessionState.finished,
                score={"overall": overall, "reply_check": overall, "feedback": []},
                started_at=at - dt.timedelta(minutes=20),
                finished_at=at,
            )
        )
        session.commit()


# -- goals and their progress ------------------------------------------------------------------------------
def test_finding_goal_goes_down_and_is_met(client: TestClient, runtime: Runtime, people: Personas) -> None:
    ticket = new_ticket(client, people.agent)
    before = [reply(client, people.agent, ticket["id"], JARGON) for _ in range(2)]
    backdate(runtime, before, days=20)

    goal = add_goal(
        client, people.agent, people.agent, kind="finding", target={"code": "jargon", "max_rate": 0.25}
    )
    assert goal["title"] == "Fewer replies with jargon"
    assert goal["baseline"]["value"] == 1.0 and goal["baseline"]["total"] == 2
    first = progress(client, people.agent, goal["id"])
    assert first["met"] is False and first["current"]["value"] == 1.0

    for _ in range(6):
        reply(client, people.agent, ticket["id"], PLAIN)
    later = progress(client, people.agent, goal["id"])
    assert later["current"] == {"value": 0.25, "count": 2, "total": 8, "detail": {}}
    assert later["met"] is True
    assert later["summary"].startswith("2 of 8 replies had jargon (25%), down from 100%")
    assert len(later["series"]) == 6 and later["series"][-1]["total"] == 6

    # Met, so it may be marked achieved; the list shows it.
    done = client.patch(
        f"/api/v1/goals/{goal['id']}", json={"state": "achieved"}, headers=people.agent.headers
    )
    assert done.status_code == 200 and done.json()["state"] == "achieved"
    listed = client.get(goals_path(people.agent), headers=people.agent.headers).json()["items"]
    assert [g["state"] for g in listed] == ["achieved"]


def test_goal_not_met_cannot_be_achieved(client: TestClient, people: Personas) -> None:
    goal = add_goal(client, people.agent, people.agent, kind="csat", target={"min_score": 4.5})
    response = client.patch(
        f"/api/v1/goals/{goal['id']}", json={"state": "achieved"}, headers=people.agent.headers
    )
    assert response.status_code == 409 and response.json()["error"]["code"] == "goal_not_met"
    archived = client.patch(
        f"/api/v1/goals/{goal['id']}",
        json={"state": "archived", "title": "Happier customers"},
        headers=people.agent.headers,
    )
    assert archived.status_code == 200
    assert archived.json()["state"] == "archived" and archived.json()["title"] == "Happier customers"


def test_csat_goal_from_ratings(client: TestClient, runtime: Runtime, people: Personas) -> None:
    goal = add_goal(client, people.agent, people.agent, kind="csat", target={"min_score": 4})
    assert goal["baseline"]["total"] == 0 and goal["baseline"]["value"] is None
    for score in (5, 4):
        ticket = assigned_ticket(client, people, people.agent)
        reply(client, people.agent, ticket["id"], PLAIN)
        rate(client, people, ticket["id"], score)
    # Someone else's ticket does not count for the agent.
    other = assigned_ticket(client, people, people.agent2)
    reply(client, people.agent2, other["id"], PLAIN)
    rate(client, people, other["id"], 1)

    found = progress(client, people.agent, goal["id"])
    assert found["current"]["value"] == 4.5 and found["current"]["count"] == 2
    assert found["met"] is True
    assert found["summary"].startswith("Average satisfaction 4.5 from 2 ratings")


def test_training_goal_from_finished_sessions(client: TestClient, runtime: Runtime, people: Personas) -> None:
    finished_session(runtime, people.agent.id, 60, days=40)  # before the goal's baseline window
    finished_session(runtime, people.agent.id, 55, days=10)
    goal = add_goal(
        client, people.agent, people.agent, kind="training", target={"min_score": 75, "persona": "angry"}
    )
    assert goal["baseline"]["value"] == 55.0
    finished_session(runtime, people.agent.id, 95)
    finished_session(runtime, people.agent.id, 99, persona="confused")  # another persona: not this goal
    finished_session(runtime, people.agent2.id, 100)  # somebody else
    with runtime.database.session() as session:  # an unfinished session has no score yet
        scenario_id = session.query(Scenario.id).first()
        session.add(
            TrainingSession(scenario_id=scenario_id[0], user_id=people.agent.id, state=SessionState.active)
        )
        session.commit()
    found = progress(client, people.agent, goal["id"])
    assert found["current"]["value"] == 75.0 and found["current"]["count"] == 2
    assert found["met"] is True
    assert "up from 55" in found["summary"]


def test_product_goal(client: TestClient, runtime: Runtime, people: Personas) -> None:
    goal = add_goal(
        client, people.agent, people.agent, kind="product", target={"product": "Router", "min_tickets": 1}
    )
    assert goal["target"] == {"product": "router", "min_tickets": 1}
    assert progress(client, people.agent, goal["id"])["met"] is False
    ticket = assigned_ticket(client, people, people.agent)
    client.patch(
        f"/api/v1/tickets/{ticket['id']}", json={"tags": ["product:router"]}, headers=people.admin.headers
    )
    reply(client, people.agent, ticket["id"], PLAIN)
    rate(client, people, ticket["id"], 5)
    finished_session(runtime, people.agent.id, 80)
    found = progress(client, people.agent, goal["id"])
    assert found["current"]["count"] == 1
    assert found["current"]["detail"] == {"csat": 5.0, "ratings": 1.0, "sessions": 1.0, "training": 80.0}
    assert found["met"] is True


def test_invalid_targets(client: TestClient, people: Personas) -> None:
    cases = [
        {"kind": "finding", "target": {"code": "typos", "max_rate": 0.1}},
        {"kind": "finding", "target": {"code": "jargon", "max_rate": 1.5}},
        {"kind": "finding", "target": {"code": "jargon"}},
        {"kind": "finding", "target": {"code": "jargon", "max_rate": 0.1, "extra": 1}},
        {"kind": "csat", "target": {"min_score": 7}},
        {"kind": "csat", "target": {"min_score": "high"}},
        {"kind": "training", "target": {"min_score": 80, "persona": "grumpy"}},
        {"kind": "training", "target": {"min_score": 80, "persona": ["angry"]}},
        {"kind": "csat", "target": {"min_score": 10**400}},
        {"kind": "product", "target": {"product": {"name": "router"}}},
        {"kind": "finding", "target": {"code": ["jargon"], "max_rate": 0.1}},
        {"kind": "product", "target": {"product": "two words"}},
        {"kind": "product", "target": {"product": ""}},
    ]
    for body in cases:
        response = client.post(goals_path(people.agent), json=body, headers=people.agent.headers)
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == "invalid_goal_target", body
    unknown = client.post(
        goals_path(people.agent),
        json={"kind": "finding", "target": {"code": "typos", "max_rate": 0.1}},
        headers=people.agent.headers,
    )
    assert "jargon" in unknown.json()["error"]["message"]  # the error lists the codes the check produces


# -- kind words ----------------------------------------------------------------------------------------------
def test_kind_words(client: TestClient, runtime: Runtime, people: Personas) -> None:
    mine = assigned_ticket(client, people, people.agent)
    reply(client, people.agent, mine["id"], PLAIN)
    thanked = client.post(
        f"/api/v1/tickets/{mine['id']}/messages", json={"body": THANKS}, headers=people.customer.headers
    )
    assert thanked.status_code == 201, thanked.text
    rate(client, people, mine["id"], 5, "Lovely, quick help from Agent")

    # On another ticket agent2 answered last: the thanks are theirs, not the agent's.
    shared = assigned_ticket(client, people, people.agent2)
    reply(client, people.agent, shared["id"], PLAIN)
    reply(client, people.agent2, shared["id"], "Hi María, the replacement left our warehouse today.")
    client.post(
        f"/api/v1/tickets/{shared['id']}/messages",
        json={"body": "Thanks a lot, brilliant service!"},
        headers=people.customer.headers,
    )

    words = client.get(f"/api/v1/people/{people.agent.id}/kind-words", headers=people.agent.headers)
    assert words.status_code == 200, words.text
    items = words.json()["items"]
    assert {(k["source"], k["ticket_id"], k["quote"]) for k in items} == {
        ("message", mine["id"], THANKS),
        ("rating", mine["id"], "Lovely, quick help from Agent"),
    }
    theirs = client.get(f"/api/v1/people/{people.agent2.id}/kind-words", headers=people.agent2.headers).json()
    assert [k["quote"] for k in theirs["items"]] == ["Thanks a lot, brilliant service!"]


def test_no_kind_words_from_a_complaint_or_low_rating(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    ticket = assigned_ticket(client, people, people.agent)
    reply(client, people.agent, ticket["id"], PLAIN)
    client.post(
        f"/api/v1/tickets/{ticket['id']}/messages",
        json={"body": "Thanks for nothing. This is the third time I write and still no refund."},
        headers=people.customer.headers,
    )
    rate(client, people, ticket["id"], 2, "Slow and unhelpful")
    words = client.get(f"/api/v1/people/{people.agent.id}/kind-words", headers=people.agent.headers)
    assert words.json()["items"] == []


# -- privacy ------------------------------------------------------------------------------------------------
def other_lead(runtime: Runtime, people: Personas) -> Persona:
    with runtime.database.session() as session:
        user = accounts.create_user(session=session, email="lead2@desk.test", role=Role.lead, name="Lead Two")
        token = accounts.issue_token(session=session, user_id=user.id)
        session.commit()
    new_team(runtime, "Billing", user.id, people.agent2.id)
    return Persona(user.id, token)


def test_only_the_agent_and_their_lead(client: TestClient, runtime: Runtime, people: Personas) -> None:
    add_members(runtime, people.team_id, people.lead.id, people.agent.id)
    elsewhere = other_lead(runtime, people)
    goal = add_goal(client, people.agent, people.agent, kind="csat", target={"min_score": 4})

    # The team's lead sees the goals and may set one.
    assert client.get(goals_path(people.agent), headers=people.lead.headers).status_code == 200
    by_lead = add_goal(
        client, people.lead, people.agent, kind="finding", target={"code": "jargon", "max_rate": 0.1}
    )
    assert by_lead["created_by_id"] == people.lead.id and by_lead["user_id"] == people.agent.id
    assert client.get(f"/api/v1/goals/{goal['id']}/progress", headers=people.lead.headers).status_code == 200

    body = {"kind": "csat", "target": {"min_score": 4}}
    for who in (people.agent2, people.admin, elsewhere, people.advocate, people.partner, people.customer):
        for response in (
            client.get(goals_path(people.agent), headers=who.headers),
            client.post(goals_path(people.agent), json=body, headers=who.headers),
            client.get(f"/api/v1/people/{people.agent.id}/kind-words", headers=who.headers),
            client.get(f"/api/v1/people/{people.agent.id}/reply-checks/summary", headers=who.headers),
        ):
            assert response.status_code == 403, (who, response.text)
        # A goal of someone else is not found at all (ids cannot be tried).
        for response in (
            client.get(f"/api/v1/goals/{goal['id']}/progress", headers=who.headers),
            client.patch(f"/api/v1/goals/{goal['id']}", json={"state": "archived"}, headers=who.headers),
        ):
            assert response.status_code == 404, (who, response.text)
            assert response.json()["error"]["code"] == "goal_not_found"
    assert client.get(goals_path(people.agent)).status_code == 401
    assert client.get(f"/api/v1/goals/{goal['id']}/progress").status_code == 401
    # The lead of the other team sees their own people, not this agent.
    assert client.get(goals_path(people.agent2), headers=elsewhere.headers).status_code == 200
    # No goals for roles that serve no customers, even their own.
    assert client.get(goals_path(people.advocate), headers=people.advocate.headers).status_code == 403


# -- pages -------------------------------------------------------------------------------------------------
def test_growth_pages(client: TestClient, runtime: Runtime, people: Personas) -> None:
    add_members(runtime, people.team_id, people.lead.id, people.agent.id)
    ticket = new_ticket(client, people.agent)
    reply(client, people.agent, ticket["id"], JARGON)

    csrf = sign_in(client, runtime, "agent@desk.test")
    page = client.get("/agent/growth")
    assert page.status_code == 200, page.text
    assert 'href="/agent/growth"' in page.text and "No goals yet." in page.text
    added = client.post(
        f"/agent/people/{people.agent.id}/goals",
        data={"kind": "finding", "code": "jargon", "max_rate": "10", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert added.status_code == 303, added.text
    page = client.get(added.headers["location"])
    assert "Fewer replies with jargon" in page.text
    assert "1 of 1 replies had jargon (100%)" in page.text
    assert "<svg" in page.text
    bad = client.post(
        f"/agent/people/{people.agent.id}/goals",
        data={"kind": "finding", "code": "jargon", "max_rate": "300", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert bad.status_code == 422
    # Another agent's page is private, and so is this one from an admin (not their lead).
    assert client.get(f"/agent/people/{people.agent2.id}/growth").status_code == 403
    client.cookies.clear()
    sign_in(client, runtime, "admin@desk.test")
    refused = client.get(f"/agent/people/{people.agent.id}/growth")
    assert refused.status_code == 403 and "Fewer replies with jargon" not in refused.text

    client.cookies.clear()
    csrf = sign_in(client, runtime, "lead@desk.test")
    mine = client.get("/agent/growth")
    assert f'href="/agent/people/{people.agent.id}/growth"' in mine.text  # the people they lead, by name
    theirs = client.get(f"/agent/people/{people.agent.id}/growth")
    assert theirs.status_code == 200 and "Growth of Agent" in theirs.text
    assert "Fewer replies with jargon" in theirs.text
    goal_id = int(archive_goal_id(theirs.text))
    archived = client.post(
        f"/agent/goals/{goal_id}/archived", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert archived.status_code == 303
    assert archived.headers["location"].startswith(f"/agent/people/{people.agent.id}/growth")


def archive_goal_id(html: str) -> str:
    found = re.search(r'action="/agent/goals/(\d+)/archived"', html)
    assert found, "no archive form"
    assert form_csrf(html)
    return found.group(1)


def test_demo_goals(runtime: Runtime, people: Personas) -> None:
    from ombud.demo_people import load_people

    add_members(runtime, people.team_id, people.lead.id, people.agent.id)
    with runtime.database.session() as session:
        users = {
            key: accounts.access_user(session=session, user_id=getattr(people, key).id)
            for key in ("admin", "lead", "agent", "agent2", "advocate", "partner")
        }
        load_people(session=session, users=users)
        session.commit()
        from ombud.people.models import Goal

        made = session.query(Goal.user_id, Goal.kind, Goal.created_by_id).order_by(Goal.id).all()
    assert [(u, k.value, c) for u, k, c in made] == [
        (people.agent.id, "finding", people.agent.id),
        (people.agent.id, "csat", people.lead.id),
    ]
