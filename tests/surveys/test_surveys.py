"""Satisfaction surveys: sent once per solved ticket on the channel used (email through a real SMTP relay,
a message in a chat), never to opted-out, abusive or spam senders nor where the channel cannot carry a
link; the rating page works without signing in, refuses unknown and expired links, takes a second answer
as a change, and asks the NPS question when configured. Answers become the ticket's rating."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from ombud.channels import service as channels
from ombud.runtime import Runtime, build_runtime
from ombud.settings import Settings
from ombud.tickets.surveys import Survey, SurveyState
from tests.channels.conftest import Relay, running_relay
from tests.conftest import Personas, app_for, make_people, new_ticket
from tests.web.workspace import form_csrf, sign_in

ABUSE = (
    "You are useless idiots and liars, all of you. Third email and still no refund for the broken Kettle "
    "Pro. Refund my 49.99 now, you morons, or I'll come down there and make you regret it."
)


@pytest.fixture
def relay() -> Iterator[Relay]:
    with running_relay() as found:
        yield found


@pytest.fixture
def desk(tmp_path: Path, database_url: str, relay: Relay) -> Iterator[Runtime]:
    settings = Settings(
        home=tmp_path,
        database_url=database_url,
        smtp_relay=f"127.0.0.1:{relay.port}",
        email_address="support@northwind.example",
        email_name="Northwind Support",
        public_url="https://desk.northwind.example",
    )
    built = build_runtime(settings, queue_url="memory://")
    yield built
    built.close()


@pytest.fixture
def api(desk: Runtime) -> Iterator[TestClient]:
    with TestClient(app_for(desk), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def cast(desk: Runtime, api: TestClient) -> Personas:
    found = make_people(desk)
    # No waiting in tests: the survey goes out as soon as the ticket is solved.
    answer = api.put("/api/v1/surveys/config", json={"delay_minutes": 0}, headers=found.admin.headers)
    assert answer.status_code == 200, answer.text
    return found


def _served_and_solved(api: TestClient, cast: Personas, **fields: object) -> int:
    ticket = new_ticket(api, cast.agent, **fields)
    reply = api.post(
        f"/api/v1/tickets/{ticket['id']}/messages",
        json={"body": "We refunded the duplicate charge.", "internal": False},
        headers=cast.agent.headers,
    )
    assert reply.status_code == 201, reply.text
    _solve(api, cast, int(str(ticket["id"])))
    return int(str(ticket["id"]))


def _solve(api: TestClient, cast: Personas, ticket_id: int) -> None:
    solved = api.patch(
        f"/api/v1/tickets/{ticket_id}", json={"status": "solved", "confirm": True}, headers=cast.agent.headers
    )
    assert solved.status_code == 200, solved.text


def _surveys(relay: Relay) -> list[EmailMessage]:
    with relay.lock:
        return [m for m in relay.received if m["X-Ombud-Survey"] == "csat"]


def _link(mail: EmailMessage) -> str:
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    found = re.search(r"https://desk\.northwind\.example/survey/([A-Za-z0-9_-]+)", body.get_content())
    assert found, body.get_content()
    return found.group(1)


def _survey(api: TestClient, cast: Personas, ticket_id: int) -> dict[str, object]:
    answer = api.get(f"/api/v1/tickets/{ticket_id}/survey", headers=cast.lead.headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


def test_email_survey_goes_out_once_and_the_answer_becomes_the_rating(
    api: TestClient, cast: Personas, relay: Relay, desk: Runtime
) -> None:
    ticket_id = _served_and_solved(api, cast)
    sent = _surveys(relay)
    assert len(sent) == 1
    mail = sent[0]
    assert mail["To"] == "maria@example.com"
    assert mail["Subject"] == f"How did we do? [#{ticket_id}]"
    assert mail["Auto-Submitted"] == "auto-generated"
    html = mail.get_body(preferencelist=("html",))
    assert html is not None and all(f"?score={s}" in html.get_content() for s in range(1, 6))
    survey = _survey(api, cast, ticket_id)
    assert (
        survey["state"] == "sent" and survey["via"] == "email" and survey["recipient"] == "maria@example.com"
    )

    # Reopened and solved again: still one survey per ticket.
    reopened = api.patch(f"/api/v1/tickets/{ticket_id}", json={"status": "open"}, headers=cast.agent.headers)
    assert reopened.status_code == 200
    _solve(api, cast, ticket_id)
    desk.queue.sweep()
    assert len(_surveys(relay)) == 1

    # The link works without signing in; the email's button preselects its score.
    token = _link(mail)
    page = api.get(f"/survey/{token}?score=4")
    assert page.status_code == 200
    assert 'value="4" required checked' in page.text
    assert "How satisfied are you" in page.text
    thanks = api.post(
        f"/survey/{token}",
        data={"score": "4", "comment": "Quick and kind.", "csrf_token": form_csrf(page.text)},
    )
    assert thanks.status_code == 200, thanks.text
    assert "Thank you for your feedback" in thanks.text

    rating = api.get(f"/api/v1/tickets/{ticket_id}/rating", headers=cast.agent.headers).json()
    assert (rating["score"], rating["comment"]) == (4, "Quick and kind.")
    survey = _survey(api, cast, ticket_id)
    assert survey["state"] == "answered" and survey["score"] == 4
    overview = api.get(f"/api/v1/customers/{cast.customer.id}/overview", headers=cast.agent.headers)
    assert overview.status_code == 200, overview.text
    history = overview.json()["satisfaction"]
    assert [(r["ticket_id"], r["score"]) for r in history["ratings"]] == [(ticket_id, 4)]
    audit = api.get(f"/api/v1/tickets/{ticket_id}/events", headers=cast.admin.headers)
    rated = [e for e in audit.json() if e["action"] == "ticket.rated"]
    assert rated[-1]["after"]["source"] == "survey"
    # Staff see it on the ticket page's satisfaction panel.
    sign_in(api, desk, "lead@desk.test")
    ticket_page = api.get(f"/agent/tickets/{ticket_id}")
    assert ticket_page.status_code == 200
    assert (
        "Satisfaction" in ticket_page.text
        and "4 / 5" in ticket_page.text
        and "Quick and kind." in ticket_page.text
    )
    assert "Survey: answered, by email to maria@example.com" in ticket_page.text


def test_a_second_answer_replaces_the_first_and_counts_once(
    api: TestClient, cast: Personas, relay: Relay
) -> None:
    ticket_id = _served_and_solved(api, cast)
    token = _link(_surveys(relay)[0])
    first = api.post(f"/api/v1/surveys/{token}", json={"score": 2, "comment": "Slow."})
    assert first.status_code == 200, first.text
    again = api.post(f"/api/v1/surveys/{token}", json={"score": 5, "comment": "Sorted in the end."})
    assert again.status_code == 200
    assert again.json()["score"] == 5
    page = api.get(f"/survey/{token}")
    assert "You rated this 5 of 5" in page.text
    rating = api.get(f"/api/v1/tickets/{ticket_id}/rating", headers=cast.agent.headers).json()
    assert rating["score"] == 5
    report = api.get("/api/v1/reports/csat?group=total", headers=cast.lead.headers).json()
    assert [(r["ratings"], r["average"]) for r in report["rows"]] == [(1, 5.0)]


def test_unknown_expired_and_forged_answers_are_refused(
    api: TestClient, cast: Personas, relay: Relay, desk: Runtime
) -> None:
    ticket_id = _served_and_solved(api, cast)
    token = _link(_surveys(relay)[0])

    missing = api.get("/survey/" + "x" * 43)
    assert missing.status_code == 404 and "Survey not found" in missing.text
    unknown = api.post("/api/v1/surveys/" + "x" * 43, json={"score": 3})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "survey_not_found"
    assert api.post(f"/api/v1/surveys/{token}", json={"score": 6}).json()["error"]["code"] == "invalid_rating"
    assert api.post(f"/api/v1/surveys/{token}", json={"score": 3, "nps": 9}).status_code == 422

    page = api.get(f"/survey/{token}")
    forged = api.post(
        f"/survey/{token}", data={"score": "1", "csrf_token": "not-the-cookie-value-at-all-12345"}
    )
    assert forged.status_code == 403
    empty = api.post(f"/survey/{token}", data={"csrf_token": form_csrf(page.text)})
    assert empty.status_code == 422 and "choose a score" in empty.text

    with desk.database.session() as session:
        session.execute(
            update(Survey)
            .where(Survey.ticket_id == ticket_id)
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
        )
        session.commit()
    gone = api.get(f"/survey/{token}")
    assert gone.status_code == 410 and "expired" in gone.text
    late = api.post(f"/api/v1/surveys/{token}", json={"score": 5})
    assert late.status_code == 409 and late.json()["error"]["code"] == "survey_expired"
    assert api.get(f"/api/v1/tickets/{ticket_id}/rating", headers=cast.agent.headers).status_code == 404


def test_nps_is_asked_when_configured_and_reported(api: TestClient, cast: Personas, relay: Relay) -> None:
    configured = api.put(
        "/api/v1/surveys/config", json={"delay_minutes": 0, "nps": True}, headers=cast.admin.headers
    )
    assert configured.status_code == 200 and configured.json()["nps"] is True
    ticket_id = _served_and_solved(api, cast)
    token = _link(_surveys(relay)[0])
    page = api.get(f"/survey/{token}")
    assert "How likely are you to recommend us" in page.text and 'name="nps" value="10"' in page.text
    assert api.post(f"/api/v1/surveys/{token}", json={"score": 4, "nps": 11}).status_code == 422
    answered = api.post(
        f"/survey/{token}", data={"score": "4", "nps": "9", "csrf_token": form_csrf(page.text)}
    )
    assert answered.status_code == 200
    assert _survey(api, cast, ticket_id)["nps"] == 9
    row = api.get("/api/v1/reports/csat?group=total", headers=cast.lead.headers).json()["rows"][0]
    assert (row["nps_responses"], row["nps"], row["ratings"]) == (1, 100.0, 1)


def test_no_survey_for_opted_out_abusive_or_spam_senders_nor_linkless_channels(
    api: TestClient, cast: Personas, relay: Relay, desk: Runtime
) -> None:
    # Opted out in the customer's preferences.
    opted = api.patch(
        f"/api/v1/customers/{cast.other_customer.id}",
        json={"preferences": {"surveys": False}},
        headers=cast.agent.headers,
    )
    assert opted.status_code == 200, opted.text
    quiet = _served_and_solved(api, cast, customer={"email": "tom@example.org"})
    # Abusive towards the agent (triage flags it).
    rude = _served_and_solved(
        api, cast, customer={"email": "d.fischer@example.de"}, subject="Useless as always", body=ABUSE
    )
    # A sender whose mail was quarantined as a flood.
    with desk.database.session() as session:
        channels.quarantine(
            session=session,
            channel="email",
            source="smtp:203.0.113.9",
            raw_sha256=channels.store_raw(session=session, data=b"Subject: spam\r\n\r\nspam"),
            reason_code="flood",
            reason="31 messages in 10 minutes",
            sender="flood@example.net",
        )
        session.commit()
    spam = _served_and_solved(api, cast, customer={"email": "flood@example.net"})
    # A phone call: no link can be given.
    call = _served_and_solved(api, cast, channel="phone")

    reasons = {t: _survey(api, cast, t) for t in (quiet, rude, spam, call)}
    assert {t: (s["state"], s["reason"]) for t, s in reasons.items()} == {
        quiet: ("skipped", "opted_out"),
        rude: ("skipped", "abusive"),
        spam: ("skipped", "spam_sender"),
        call: ("skipped", "channel_cannot_carry_link"),
    }
    assert _surveys(relay) == []
    # A ticket solved without any reply has nothing to rate.
    silent = new_ticket(api, cast.agent, customer={"email": "quiet@example.com"})
    _solve(api, cast, int(str(silent["id"])))
    assert _survey(api, cast, int(str(silent["id"])))["reason"] == "nothing_to_rate"


def test_a_chat_gets_the_link_as_a_message_in_the_conversation(api: TestClient, cast: Personas) -> None:
    ticket_id = _served_and_solved(api, cast, channel="chat")
    survey = _survey(api, cast, ticket_id)
    assert survey["state"] == "sent" and survey["via"] == "message" and survey["message_id"]
    messages = api.get(f"/api/v1/tickets/{ticket_id}", headers=cast.agent.headers).json()["messages"]
    links = [m for m in messages if "https://desk.northwind.example/survey/" in m["body"]]
    assert len(links) == 1 and links[0]["id"] == survey["message_id"] and not links[0]["internal"]
    # The customer sees it in their conversation too (the portal shows public messages).
    mine = api.get(f"/api/v1/tickets/{ticket_id}", headers=cast.customer.headers).json()["messages"]
    assert any("survey/" in m["body"] for m in mine)
    token = re.search(r"/survey/([A-Za-z0-9_-]+)", links[0]["body"])
    assert token and api.get(f"/survey/{token.group(1)}").status_code == 200


def test_a_survey_that_cannot_be_delivered_is_retried_then_failed(tmp_path: Path, database_url: str) -> None:
    # Nobody listens at this relay address: a passing failure, retried with backoff, recorded each time.
    settings = Settings(home=tmp_path, database_url=database_url, smtp_relay="127.0.0.1:9")
    runtime = build_runtime(settings, queue_url="memory://")
    try:
        with TestClient(app_for(runtime), raise_server_exceptions=False) as client:
            people = make_people(runtime)
            client.put("/api/v1/surveys/config", json={"delay_minutes": 0}, headers=people.admin.headers)
            ticket_id = _served_and_solved(client, people)
            survey = _survey(client, people, ticket_id)
            assert survey["state"] == "scheduled" and survey["attempts"] == 1
            assert "cannot reach the relay" in str(survey["last_error"])
            for _ in range(10):
                with runtime.database.session() as session:
                    session.execute(
                        update(Survey)
                        .where(Survey.ticket_id == ticket_id)
                        .values(due_at=dt.datetime.now(dt.UTC))
                    )
                    session.commit()
                runtime.queue.sweep()
            with runtime.database.session(write=False) as session:
                row = session.scalars(select(Survey).where(Survey.ticket_id == ticket_id)).one()
                assert (row.state, row.reason, row.attempts) == (SurveyState.failed, "undeliverable", 6)
    finally:
        runtime.close()


def test_survey_configuration_is_for_admins_and_checked(
    api: TestClient, cast: Personas, relay: Relay
) -> None:
    assert api.get("/api/v1/surveys/config", headers=cast.lead.headers).status_code == 403
    assert api.put("/api/v1/surveys/config", json={}, headers=cast.agent.headers).status_code == 403
    bad = api.put("/api/v1/surveys/config", json={"delay_minutes": -5}, headers=cast.admin.headers)
    assert bad.status_code == 422 and "delay_minutes" in bad.json()["error"]["message"]
    no_words = api.put(
        "/api/v1/surveys/config", json={"default_language": "nl", "wording": {}}, headers=cast.admin.headers
    )
    assert no_words.status_code == 422 and "nl" in no_words.json()["error"]["message"]
    dutch = {
        "subject": "Hoe deden we het? [#{ticket}]",
        "intro": "Uw vraag \u201c{subject}\u201d is opgelost.",
        "question": "Hoe tevreden bent u?",
        "comment_label": "Opmerking",
        "nps_question": "Zou u ons aanbevelen?",
        "thank_you": "Dank u wel!",
        "submit": "Verstuur",
    }
    saved = api.put(
        "/api/v1/surveys/config",
        json={"delay_minutes": 0, "default_language": "nl", "wording": {"nl": dutch}},
        headers=cast.admin.headers,
    )
    assert saved.status_code == 200, saved.text
    assert api.get("/api/v1/surveys/config", headers=cast.admin.headers).json()["wording"]["nl"] == dutch
    # The ticket's language has no wording of its own: the default language's is used.
    ticket_id = _served_and_solved(api, cast)
    assert [m["Subject"] for m in _surveys(relay)] == [f"Hoe deden we het? [#{ticket_id}]"]
    assert "Hoe tevreden bent u?" in api.get(f"/survey/{_link(_surveys(relay)[0])}").text


def test_a_delayed_survey_waits_is_held_while_reopened_and_the_sweep_sends_it_when_due(
    api: TestClient, cast: Personas, relay: Relay, desk: Runtime
) -> None:
    api.put("/api/v1/surveys/config", json={"delay_minutes": 120}, headers=cast.admin.headers)
    ticket_id = _served_and_solved(api, cast)
    first = _survey(api, cast, ticket_id)
    assert first["state"] == "scheduled" and first["due_at"]
    desk.queue.sweep()
    assert _surveys(relay) == []  # not due yet

    reopened = api.patch(f"/api/v1/tickets/{ticket_id}", json={"status": "open"}, headers=cast.agent.headers)
    assert reopened.status_code == 200
    assert _survey(api, cast, ticket_id)["state"] == "held"
    _solve(api, cast, ticket_id)
    again = _survey(api, cast, ticket_id)
    assert again["state"] == "scheduled" and str(again["due_at"]) >= str(first["due_at"])

    with desk.database.session() as session:
        session.execute(
            update(Survey)
            .where(Survey.ticket_id == ticket_id)
            .values(due_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
        session.commit()
    desk.queue.sweep()
    desk.queue.sweep()  # a second sweep (or a duplicate job) sends nothing more
    assert len(_surveys(relay)) == 1
    assert _survey(api, cast, ticket_id)["state"] == "sent"


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"score": "²"}, "choose a score from 1 to 5"),
        ({"score": "4", "nps": "²"}, "choose a number from 0 to 10"),
    ],
)
def test_non_ascii_digits_get_a_clear_422_not_a_500(
    api: TestClient, cast: Personas, relay: Relay, fields: dict[str, str], words: str
) -> None:
    # '²'.isdigit() is True but int('²') raises: the page must refuse it like any other bad score.
    configured = api.put(
        "/api/v1/surveys/config", json={"delay_minutes": 0, "nps": True}, headers=cast.admin.headers
    )
    assert configured.status_code == 200
    ticket_id = _served_and_solved(api, cast)
    token = _link(_surveys(relay)[0])
    page = api.get(f"/survey/{token}")
    refused = api.post(f"/survey/{token}", data={**fields, "csrf_token": form_csrf(page.text)})
    assert refused.status_code == 422 and words in refused.text
    assert _survey(api, cast, ticket_id)["score"] is None
