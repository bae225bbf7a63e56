"""Fair routing of hard conversations: hostile tickets are spread over the team, the agent with fewer hard
conversations recently gets the hard one, a frustrated (not abusive) customer weighs less, and an agent
who had the team's limit of hostile tickets in a row gets calmer ones first; the decision says so without
showing anyone's figures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from ombud.runtime import Runtime
from tests.conftest import Personas
from tests.people.load_helpers import (
    CALM,
    FRUSTRATED,
    HOSTILE,
    assignee,
    hard_ticket,
    load_of,
    set_policy,
    steadily,
)
from tests.routing.common import decisions, set_skills, set_status, support_team


@pytest.fixture(autouse=True)
def _steady(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from steadily(runtime, monkeypatch)


def both_online(client: TestClient, runtime: Runtime, people: Personas) -> None:
    """The support team with both agents online."""
    support_team(client, runtime, people)
    set_status(client, people.agent, "online")
    set_status(client, people.agent2, "online")


def test_three_hostile_tickets_in_a_row_are_spread_over_two_agents(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    both_online(client, runtime, people)

    owners = [assignee(client, people, hard_ticket(client, people, HOSTILE, f"Parcel {n}")) for n in range(3)]

    assert set(owners) == {people.agent.id, people.agent2.id}
    assert owners[0] != owners[1]  # the second went to whoever had not just had one
    assert (
        load_of(client, people.agent, people.agent.id)["hostile_recent"]
        + load_of(client, people.agent2, people.agent2.id)["hostile_recent"]
        == 3
    )


def test_the_agent_with_the_lower_load_gets_the_hard_one_and_the_reason_shows_no_figures(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    both_online(client, runtime, people)
    first = hard_ticket(client, people, HOSTILE)
    assert assignee(client, people, first) == people.agent.id
    calm = hard_ticket(client, people, CALM, "A calm question")
    assert assignee(client, people, calm) == people.agent2.id  # the lower channel load, as always
    # Equal channel load now, and by round-robin it would be the agent's turn; but the agent has just had a
    # hostile conversation and agent2 none: agent2 gets the hard ticket.
    hard = hard_ticket(client, people, HOSTILE, "Still no parcel")
    assert assignee(client, people, hard) == people.agent2.id

    latest = decisions(client, people, hard)[0]
    # Decisions are shown to all staff: the same words whoever got it, nothing comparing the two agents'
    # hard conversations, and the candidates in the order of a calm ticket (not ranked by load).
    assert latest["reason"].endswith("is online; a hard conversation, spread fairly over the team")
    for word in ("fewer", "recently", "in a row", "others", "load"):
        assert word not in latest["reason"]
    for candidate in latest["candidates"]:
        assert set(candidate) == {"user_id", "name", "status", "load", "capacity", "score", "eligible", "why"}
    assert [c["user_id"] for c in latest["candidates"] if c["eligible"]][:2] == sorted(
        [people.agent.id, people.agent2.id]
    )

    # A calm ticket is routed as before: channel load, then round-robin, no word of hard conversations.
    other = hard_ticket(client, people, CALM, "Another calm one")
    assert "hard conversation" not in decisions(client, people, other)[0]["reason"]


def test_a_frustrated_customer_counts_less_than_a_hostile_one(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    both_online(client, runtime, people)
    hostile = hard_ticket(client, people, HOSTILE)
    frustrated = hard_ticket(client, people, FRUSTRATED, "Third time")
    assert assignee(client, people, hostile) == people.agent.id
    assert assignee(client, people, frustrated) == people.agent2.id

    agent = load_of(client, people.agent, people.agent.id)
    agent2 = load_of(client, people.agent2, people.agent2.id)
    assert (agent["hostile_recent"], agent["frustrated_recent"]) == (1, 0)
    assert (agent2["hostile_recent"], agent2["frustrated_recent"]) == (0, 1)
    assert 0 < agent2["load"] < agent["load"]
    assert agent2["hostile_in_a_row"] == 0 and agent["hostile_in_a_row"] == 1

    # The next hard ticket goes to the one whose hard conversation weighed less.
    third = hard_ticket(client, people, HOSTILE, "Where is it")
    assert assignee(client, people, third) == people.agent2.id


def test_after_the_limit_of_hostile_tickets_in_a_row_calmer_ones_come_first(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    team_id = support_team(client, runtime, people)
    set_policy(client, people.admin, team_id, max_hostile_in_a_row=2)
    # The agent is by far the best match for English tickets: normally every one is theirs.
    set_skills(client, people, people.agent.id, ("language", "en", 5), ("channel", "email", 5))
    set_status(client, people.agent, "online")
    set_status(client, people.agent2, "away")
    first, second = (hard_ticket(client, people, HOSTILE, f"Parcel {n}") for n in range(2))
    assert {assignee(client, people, first), assignee(client, people, second)} == {people.agent.id}
    assert load_of(client, people.agent, people.agent.id)["hostile_in_a_row"] == 2

    # Nobody else free: the agent still takes the third (held back, not excluded).
    third = hard_ticket(client, people, HOSTILE, "Parcel 3")
    assert assignee(client, people, third) == people.agent.id
    reason = decisions(client, people, third)[0]["reason"]
    assert reason.endswith("is online; a hard conversation, spread fairly over the team")
    assert "in a row" not in reason and "nobody else" not in reason

    set_status(client, people.agent2, "online")
    fourth = hard_ticket(client, people, HOSTILE, "Parcel 4")
    assert assignee(client, people, fourth) == people.agent2.id  # despite the weaker skill match
    fourth_decision = decisions(client, people, fourth)[0]
    assert "in a row" not in fourth_decision["reason"] and "others" not in fourth_decision["reason"]
    # Listed best skill match first, as for a calm ticket: the order says nothing of the agent's run.
    assert next(c["user_id"] for c in fourth_decision["candidates"] if c["eligible"]) == people.agent.id

    # A calm ticket breaks nothing for the skills: it goes to the best match as always.
    calm = hard_ticket(client, people, CALM, "Calm")
    assert assignee(client, people, calm) == people.agent.id
    # And it ends the agent's hostile run: the next hostile ticket may be theirs again.
    assert load_of(client, people.agent, people.agent.id)["hostile_in_a_row"] == 0
