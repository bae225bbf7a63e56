"""The role-play trainer: scenarios from a realistic ticket, the simulated customer, scoring, suggestions,
the optional model playing the customer, the sandbox and who may see what."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from ombud.accounts import service as accounts
from ombud.audit.models import AuditEvent
from ombud.channels.models import Delivery
from ombud.cli.main import main
from ombud.events.models import Event
from ombud.people.models import Goal, GoalKind, ReplyCheckRecord
from ombud.runtime import Runtime
from ombud.tickets.models import Message
from ombud.webhooks.models import WebhookDelivery
from tests.conftest import Persona, Personas, new_ticket
from tests.llm import running_endpoint
from tests.resolutions.helpers import upload
from tests.web.workspace import sign_in

OPENING = (
    "This is María López and I am furious! You charged my card twice for order ORD-55821: 39.99 EUR was "
    "taken two times. And the coffee machine you sent me is broken, it leaks water and will not turn on. "
    "Call me on +44 20 7946 0958 or write to maria@example.com. I want the duplicate charge refunded and a "
    "machine that works!!"
)
FOLLOW_UP = "Okay, thank you. When will the new machine arrive? I live at 12 Baker Street, London NW1 6XE."
REAL_VALUES = ("María", "López", "maria@example.com", "ORD-55821", "7946", "Baker Street", "NW1 6XE")

CHARGE_REPLY = (
    "Hi {name},\n\nI'm so sorry about this, I understand how frustrating it is to be charged twice. I have "
    "refunded the duplicate charge of 39.99 EUR for your order today, so you were only charged once; it "
    "will be back on your card within 5 working days.\n\nBest regards"
)
MACHINE_REPLY = (
    "Hi {name},\n\nI'm sorry the coffee machine leaks water and will not turn on. I have arranged a new "
    "coffee machine that works; it will arrive within 3 working days, and the courier takes the broken "
    "machine back.\n\nBest regards"
)
BAD_REPLY = (
    "Per our policy there is nothing we can do until the backend SLA escalation is processed by the RMA "
    "team. You should have read the FAQ."
)


def post(client: TestClient, who: Persona, path: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(f"/api/v1{path}", json=body if body is not None else {}, headers=who.headers)


def resolved_ticket(client: TestClient, people: Personas) -> int:
    """An angry two-concern ticket (a double charge, a broken machine), a refund applied, solved."""
    upload(client, people)
    ticket = new_ticket(
        client,
        people.admin,
        customer={"email": "maria@example.com", "name": "María López"},
        subject="Charged twice and the machine is broken",
        body=OPENING,
    )
    tid = int(ticket["id"])  # type: ignore[call-overload]
    reply = client.post(
        f"/api/v1/tickets/{tid}/messages",
        json={"body": "Hi María, I'm sorry. I'm looking at it now."},
        headers=people.agent.headers,
    )
    assert reply.status_code == 201, reply.text
    later = client.post(
        f"/api/v1/tickets/{tid}/messages", json={"body": FOLLOW_UP}, headers=people.customer.headers
    )
    assert later.status_code == 201, later.text
    granted = post(
        client,
        people.lead,
        f"/tickets/{tid}/resolutions",
        {"kind": "billing_correction", "amount": "39.99", "currency": "EUR", "reason": "damaged"},
    )
    assert granted.status_code == 201, granted.text
    solved = client.patch(
        f"/api/v1/tickets/{tid}", json={"status": "solved", "confirm": True}, headers=people.agent.headers
    )
    assert solved.status_code == 200, solved.text
    return tid


def make_scenario(client: TestClient, people: Personas, **extra: Any) -> dict[str, Any]:
    tid = resolved_ticket(client, people)
    made = post(client, people.lead, "/training/scenarios", {"ticket_id": tid, **extra})
    assert made.status_code == 201, made.text
    body: dict[str, Any] = made.json()
    return body


def test_scenario_from_a_realistic_ticket(client: TestClient, people: Personas) -> None:
    scenario = make_scenario(client, people)
    text = str(scenario)
    for real in REAL_VALUES:
        assert real not in text
    assert scenario["persona"] == "angry"
    assert len(scenario["concerns"]) >= 2
    assert scenario["expected"]["resolution"] == {
        "kind": "billing_correction",
        "amount_minor": 3999,
        "currency": "EUR",
    }
    assert scenario["replaced"]["email"] == 1
    assert scenario["source_ticket_id"] is not None


def start(client: TestClient, who: Persona, scenario_id: int) -> dict[str, Any]:
    started = post(client, who, "/training/sessions", {"scenario_id": scenario_id})
    assert started.status_code == 201, started.text
    body: dict[str, Any] = started.json()
    return body


def say(client: TestClient, who: Persona, session_id: int, text: str) -> dict[str, Any]:
    answered = post(client, who, f"/training/sessions/{session_id}/replies", {"text": text})
    assert answered.status_code == 200, answered.text
    body: dict[str, Any] = answered.json()
    return body


def first_name(scenario: dict[str, Any]) -> str:
    return str(scenario["customer_name"]).split()[0]


def test_a_good_reply_calms_the_customer_and_the_real_next_message_follows(
    client: TestClient, people: Personas
) -> None:
    scenario = make_scenario(client, people)
    session = start(client, people.agent, scenario["id"])
    assert session["turns"][0]["body"] == scenario["opening"]
    assert session["turns"][0]["role"] == "customer"
    before = session["frustration"]

    result = say(client, people.agent, session["id"], CHARGE_REPLY.format(name=first_name(scenario)))
    feedback = result["feedback"]
    assert feedback["addressed"], feedback
    assert feedback["empathy"] and feedback["next_step"] and feedback["outcome"]
    assert not feedback["dismissive"]
    assert feedback["frustration_after"] < before
    # The customer goes on as they really did on the ticket, anonymised.
    assert feedback["source"] == "script"
    assert "When will the new machine arrive?" in result["customer"]["body"]
    assert "Baker Street" not in result["customer"]["body"] and "NW1 6XE" not in result["customer"]["body"]
    assert result["session"]["state"] == "active"

    done = say(client, people.agent, session["id"], MACHINE_REPLY.format(name=first_name(scenario)))
    assert done["feedback"]["missed"] == []
    assert done["feedback"]["source"] == "closing"
    assert done["session"]["state"] == "finished"
    score = done["session"]["score"]
    assert set(score) == {"overall", "reply_check", "resolution", "policy", "deescalation", "feedback"}
    assert all(isinstance(score[k], int) and 0 <= score[k] <= 100 for k in score if k != "feedback")
    assert score["resolution"] == 100 and score["policy"] == 100 and score["deescalation"] >= 80
    assert score["feedback"]


def test_a_dismissive_jargon_reply_angers_the_customer(client: TestClient, people: Personas) -> None:
    scenario = make_scenario(client, people)
    session = start(client, people.agent, scenario["id"])
    result = say(client, people.agent, session["id"], BAD_REPLY)
    feedback = result["feedback"]
    assert feedback["dismissive"]
    codes = {f["code"] for f in feedback["findings"]}
    assert "jargon" in codes and "concern_unaddressed" in codes
    assert feedback["frustration_after"] > feedback["frustration_before"]
    assert feedback["source"] == "persona"
    # The angry customer repeats what was ignored, sharper.
    assert "not listening" in result["customer"]["body"]
    assert result["customer"]["body"].count(" ") > 5
    assert result["session"]["mood"] in ("angry", "furious")

    finished = post(client, people.agent, f"/training/sessions/{session['id']}/finish")
    assert finished.status_code == 200, finished.text
    score = finished.json()["score"]
    assert score["deescalation"] < 50 and score["resolution"] < 50
    again = post(client, people.agent, f"/training/sessions/{session['id']}/replies", {"text": "Hello?"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "session_finished"


def test_an_over_policy_concession_is_flagged(client: TestClient, people: Personas) -> None:
    scenario = make_scenario(client, people)
    session = start(client, people.agent, scenario["id"])
    text = (
        CHARGE_REPLY.format(name=first_name(scenario))
        + "\n\nAs a goodwill gesture I will also refund you 400 EUR."
    )
    feedback = say(client, people.agent, session["id"], text)["feedback"]
    assert feedback["policy"]["over_policy"] is True
    assert feedback["policy"]["over_expected"] is True
    assert "400 EUR" in feedback["policy"]["message"]
    score = post(client, people.agent, f"/training/sessions/{session['id']}/finish").json()["score"]
    assert score["policy"] == 0


def test_live_check_of_a_draft_stores_nothing(client: TestClient, people: Personas, runtime: Runtime) -> None:
    scenario = make_scenario(client, people)
    session = start(client, people.agent, scenario["id"])
    checked = post(client, people.agent, f"/training/sessions/{session['id']}/check", {"text": BAD_REPLY})
    assert checked.status_code == 200, checked.text
    assert "jargon" in {f["code"] for f in checked.json()["findings"]}
    again = client.get(f"/api/v1/training/sessions/{session['id']}", headers=people.agent.headers).json()
    assert len(again["turns"]) == 1


def test_a_whole_session_is_a_sandbox(client: TestClient, people: Personas, runtime: Runtime) -> None:
    scenario = make_scenario(client, people)

    def counts() -> tuple[int, ...]:
        with runtime.database.session(write=False) as session:
            return tuple(
                int(session.scalar(select(func.count()).select_from(model)) or 0)
                for model in (Message, Delivery, Event, AuditEvent, WebhookDelivery)
            )

    before = counts()
    session = start(client, people.agent, scenario["id"])
    post(client, people.agent, f"/training/sessions/{session['id']}/check", {"text": "Hi"})
    say(client, people.agent, session["id"], CHARGE_REPLY.format(name=first_name(scenario)))
    say(client, people.agent, session["id"], BAD_REPLY)
    post(client, people.agent, f"/training/sessions/{session['id']}/finish")
    # No message, delivery (outbound email), event, audit row or webhook delivery anywhere.
    assert counts() == before


def test_suggestions_from_weak_findings(client: TestClient, people: Personas, runtime: Runtime) -> None:
    tid = resolved_ticket(client, people)
    confused = post(
        client, people.lead, "/training/scenarios", {"ticket_id": tid, "persona": "confused"}
    ).json()
    post(client, people.lead, "/training/scenarios", {"ticket_id": tid, "persona": "angry"})
    with runtime.database.session() as session:
        ids = session.scalars(select(Message.id).where(Message.ticket_id == tid)).all()
        for message_id in ids:
            session.merge(  # the growth helper may have recorded the agent's reply already
                ReplyCheckRecord(
                    message_id=message_id,
                    user_id=people.agent.id,
                    ticket_id=tid,
                    findings=["jargon"],
                    words=40,
                )
            )
        session.commit()
    found = client.get("/api/v1/training/suggestions", headers=people.agent.headers)
    assert found.status_code == 200, found.text
    items = found.json()["items"]
    assert items[0]["kind"] == "weak_area"
    assert items[0]["scenario"]["id"] == confused["id"]
    assert "jargon" in items[0]["why"]
    # Someone without those findings gets no weak-area suggestion.
    other = client.get("/api/v1/training/suggestions", headers=people.agent2.headers).json()["items"]
    assert all(item["kind"] != "weak_area" for item in other)


def test_suggestions_from_an_open_advocacy_case(client: TestClient, people: Personas) -> None:
    ticket = new_ticket(
        client,
        people.admin,
        customer={"email": "tom@example.org", "name": "Tom Baker"},
        subject="AirBrew 2 app will not connect",
        body="The AirBrew 2 app keeps saying the machine is offline. What do I do? My order is ORD-77123.",
    )
    case = post(
        client,
        people.advocate,
        "/advocacy/cases",
        {"title": "AirBrew 2 app issue", "ticket_ids": [ticket["id"]]},
    )
    assert case.status_code == 201, case.text
    items = client.get("/api/v1/training/suggestions", headers=people.agent.headers).json()["items"]
    assert items[0]["kind"] == "advocacy"
    assert "AirBrew 2 app issue" in items[0]["why"] and "before those tickets arrive" in items[0]["why"]
    assert items[0]["scenario"]["advocacy_case_id"] == case.json()["id"]
    assert "ORD-77123" not in str(items[0]) and "Tom" not in items[0]["scenario"]["opening"]
    again = client.get("/api/v1/training/suggestions", headers=people.agent.headers).json()["items"]
    assert again[0]["scenario"]["id"] == items[0]["scenario"]["id"]  # built once
    # A lead takes it out: asking for suggestions does not build it again.
    built = items[0]["scenario"]["id"]
    assert post(client, people.lead, f"/training/scenarios/{built}/deactivate").status_code == 200
    after = client.get("/api/v1/training/suggestions", headers=people.agent.headers).json()["items"]
    assert all(item["kind"] != "advocacy" for item in after)
    listed = client.get("/api/v1/training/scenarios?all=true", headers=people.lead.headers).json()["items"]
    assert [s["id"] for s in listed if s["advocacy_case_id"] == case.json()["id"]] == [built]


def test_a_model_can_play_the_customer_and_the_rules_step_in_when_it_fails(
    client: TestClient, people: Personas, runtime: Runtime
) -> None:
    scenario = make_scenario(client, people)
    with running_endpoint("Fine. But I still want to know when the machine comes.") as (url, endpoint):
        runtime.settings = runtime.settings.model_copy(
            update={"training_llm_url": url, "training_llm_key": "k", "training_llm_model": "local"}
        )
        session = start(client, people.agent, scenario["id"])
        assert session["mode"] == "llm"
        result = say(client, people.agent, session["id"], CHARGE_REPLY.format(name=first_name(scenario)))
        assert result["customer"]["body"] == "Fine. But I still want to know when the machine comes."
        assert result["feedback"]["source"] == "llm"
        asked = endpoint.requests[-1]
        assert asked["auth"] == "Bearer k" and asked["body"]["model"] == "local"
        prompt = asked["body"]["messages"][1]["content"]
        assert "angry" in prompt and "refunded the duplicate charge" in prompt
        assert all(real not in prompt for real in REAL_VALUES)
        # Scoring stays rule-based: the same reply scores the same as without a model.
        assert result["feedback"]["addressed"]

        endpoint.status = 500
        fallback = say(client, people.agent, session["id"], BAD_REPLY)
        assert fallback["feedback"]["source"] == "persona"
        assert any("rules played this turn" in n for n in fallback["feedback"]["notes"])
        assert "not listening" in fallback["customer"]["body"]


def test_who_may_use_the_trainer(client: TestClient, people: Personas, runtime: Runtime) -> None:
    with runtime.database.session() as session:
        team = accounts.access_team(session=session, team_id=people.team_id)
        for user_id in (people.agent.id, people.lead.id):
            accounts.add_to_team(
                session=session, team=team, user=accounts.access_user(session=session, user_id=user_id)
            )
        session.commit()
    scenario = make_scenario(client, people)
    for outsider in (people.partner, people.customer):
        assert client.get("/api/v1/training/scenarios", headers=outsider.headers).status_code == 403
        assert (
            post(client, outsider, "/training/sessions", {"scenario_id": scenario["id"]}).status_code == 403
        )
        assert client.get("/api/v1/training/suggestions", headers=outsider.headers).status_code == 403
    made = post(client, people.agent, "/training/scenarios", {"ticket_id": scenario["source_ticket_id"]})
    assert made.status_code == 403 and made.json()["error"]["code"] == "role_forbidden"

    # The trainee never sees where the scenario came from.
    seen = client.get(f"/api/v1/training/scenarios/{scenario['id']}", headers=people.agent.headers).json()
    assert seen["source_ticket_id"] is None
    session = start(client, people.agent, scenario["id"])
    assert "source_ticket_id" not in str(session)
    page = client.get(f"/api/v1/training/sessions/{session['id']}", headers=people.agent.headers)
    assert page.status_code == 200

    # Another agent and an admin cannot tell it exists; the trainee's lead can read it but not play it.
    for other in (people.agent2, people.admin, people.advocate):
        response = client.get(f"/api/v1/training/sessions/{session['id']}", headers=other.headers)
        assert response.status_code == 404 and response.json()["error"]["code"] == "session_not_found"
        assert (
            post(client, other, f"/training/sessions/{session['id']}/replies", {"text": "Hi"}).status_code
            == 404
        )
    assert (
        client.get(f"/api/v1/training/sessions/{session['id']}", headers=people.lead.headers).status_code
        == 200
    )
    lead_reply = post(
        client, people.lead, f"/training/sessions/{session['id']}/replies", {"text": "Hi there"}
    )
    assert lead_reply.status_code == 403 and lead_reply.json()["error"]["code"] == "not_your_session"

    results = f"/api/v1/people/{people.agent.id}/training"
    assert client.get(results, headers=people.agent.headers).status_code == 200
    assert client.get(results, headers=people.lead.headers).json()["sessions"][0]["id"] == session["id"]
    for other in (people.agent2, people.admin):
        denied = client.get(results, headers=other.headers)
        assert denied.status_code == 403 and denied.json()["error"]["code"] == "figures_private"

    # A deactivated scenario is gone for trainees.
    assert post(client, people.lead, f"/training/scenarios/{scenario['id']}/deactivate").status_code == 200
    assert (
        post(client, people.agent, "/training/sessions", {"scenario_id": scenario["id"]}).status_code == 404
    )
    assert scenario["id"] not in [
        s["id"]
        for s in client.get("/api/v1/training/scenarios", headers=people.agent.headers).json()["items"]
    ]


def test_only_resolved_or_escalated_tickets_make_scenarios(client: TestClient, people: Personas) -> None:
    ticket = new_ticket(client, people.admin, body="Where is my parcel? Order ORD-10001 has not arrived.")
    refused = post(client, people.lead, "/training/scenarios", {"ticket_id": ticket["id"]})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "ticket_not_eligible"
    client.patch(f"/api/v1/tickets/{ticket['id']}", json={"priority": "urgent"}, headers=people.agent.headers)
    made = post(client, people.lead, "/training/scenarios", {"ticket_id": ticket["id"], "persona": "pushy"})
    assert made.status_code == 201 and made.json()["persona"] == "pushy"
    missing = post(client, people.lead, "/training/scenarios", {"ticket_id": 999999})
    assert missing.status_code == 404


def test_the_cli_builds_scenarios_from_recently_resolved_tickets(
    client: TestClient, people: Personas, database_url: str
) -> None:
    tid = resolved_ticket(client, people)
    runner = CliRunner()
    built = runner.invoke(
        main, ["training", "build", "--since", "30d", "--limit", "5", "--database", database_url]
    )
    assert built.exit_code == 0, built.output
    assert "built 1 scenario;" in built.output and "(angry)" in built.output
    # A ticket with a scenario already is not built again.
    again = runner.invoke(main, ["training", "build", "--database", database_url])
    assert again.exit_code == 0 and "built 0 scenarios" in again.output
    listed = client.get("/api/v1/training/scenarios", headers=people.lead.headers).json()["items"]
    assert [s["source_ticket_id"] for s in listed] == [tid]
    bad = runner.invoke(main, ["training", "build", "--since", "soon", "--database", database_url])
    assert bad.exit_code != 0 and "not a duration" in bad.output


def test_the_pages_make_a_scenario_and_play_it(
    client: TestClient, people: Personas, runtime: Runtime
) -> None:
    tid = resolved_ticket(client, people)
    csrf = sign_in(client, runtime, "lead@desk.test")
    ticket_page = client.get(f"/agent/tickets/{tid}")
    assert "Make a training scenario" in ticket_page.text
    made = client.post(
        "/agent/training/scenarios",
        data={"ticket_id": str(tid), "persona": "vague", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert made.status_code == 303 and made.headers["location"] == f"/agent/tickets/{tid}#training"
    assert "Scenario #1" in client.get(f"/agent/tickets/{tid}").text

    csrf = sign_in(client, runtime, "agent@desk.test")
    assert "Make a training scenario" not in client.get(f"/agent/tickets/{tid}").text
    trainer = client.get("/agent/training")
    assert trainer.status_code == 200 and "Suggested for you" in trainer.text
    assert "A customer with several concerns" in trainer.text
    assert f"/agent/tickets/{tid}" not in trainer.text and "source_ticket" not in trainer.text
    started = client.post(
        "/agent/training/sessions", data={"scenario_id": "1", "csrf_token": csrf}, follow_redirects=False
    )
    assert started.status_code == 303
    page = client.get(started.headers["location"])
    assert "Practice: nothing is sent" in page.text and f"/agent/tickets/{tid}" not in page.text
    sent = client.post(
        started.headers["location"] + "/reply",
        data={"body": BAD_REPLY, "csrf_token": csrf},
        follow_redirects=True,
    )
    assert sent.status_code == 200 and "Feedback on this reply" in sent.text
    ended = client.post(
        started.headers["location"] + "/finish", data={"csrf_token": csrf}, follow_redirects=True
    )
    assert "Scorecard" in ended.text and 'data-score="overall"' in ended.text
    assert "My past sessions" in client.get("/agent/training").text

    sign_in(client, runtime, "agent2@desk.test")
    assert client.get(started.headers["location"]).status_code == 404
    assert client.get(f"/agent/training?user={people.agent.id}").status_code == 403
    for odd in ("0", "-1", str(2**63), "9" * 40):  # an id no user can have is bad input, never a 500
        assert client.get(f"/agent/training?user={odd}").status_code == 422, odd


def test_suggestions_from_goals_and_low_training_scores(
    client: TestClient, people: Personas, runtime: Runtime
) -> None:
    tid = resolved_ticket(client, people)
    pushy = post(client, people.lead, "/training/scenarios", {"ticket_id": tid, "persona": "pushy"}).json()
    angry = post(client, people.lead, "/training/scenarios", {"ticket_id": tid, "persona": "angry"}).json()
    with runtime.database.session() as session:
        session.add(
            Goal(
                user_id=people.agent.id,
                kind=GoalKind.training,
                title="Hold the line on concessions",
                target={"min_score": 80, "persona": "pushy"},
            )
        )
        session.commit()
    items = client.get("/api/v1/training/suggestions", headers=people.agent.headers).json()["items"]
    assert items[0]["kind"] == "goal" and items[0]["scenario"]["id"] == pushy["id"]
    assert "Hold the line on concessions" in items[0]["why"]

    played = start(client, people.agent2, angry["id"])
    say(client, people.agent2, played["id"], BAD_REPLY)
    post(client, people.agent2, f"/training/sessions/{played['id']}/finish")
    items = client.get("/api/v1/training/suggestions", headers=people.agent2.headers).json()["items"]
    low = [item for item in items if item["kind"] == "score"]
    assert low and "score averages" in low[0]["why"]


def test_a_double_submitted_reply_is_a_clean_409(
    client: TestClient, people: Personas, monkeypatch: Any
) -> None:
    from ombud.people import training

    scenario = make_scenario(client, people)
    session = start(client, people.agent, scenario["id"])
    say(client, people.agent, session["id"], CHARGE_REPLY.format(name=first_name(scenario)))
    real = training.turns_of

    # The second of two simultaneous submits read the turns before the first one committed: it saw only
    # the opening, so it tries to write the positions the first one took.
    def stale(*, session: Any, training: Any) -> list[Any]:
        return real(session=session, training=training)[:1]

    monkeypatch.setattr(training, "turns_of", stale)
    twice = post(client, people.agent, f"/training/sessions/{session['id']}/replies", {"text": "Hello again"})
    monkeypatch.undo()
    assert twice.status_code == 409, twice.text
    assert twice.json()["error"]["code"] == "session_changed"
    again = client.get(f"/api/v1/training/sessions/{session['id']}", headers=people.agent.headers).json()
    assert [t["position"] for t in again["turns"]] == [0, 1, 2]  # nothing half-written
    say(client, people.agent, session["id"], MACHINE_REPLY.format(name=first_name(scenario)))
