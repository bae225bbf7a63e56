"""Follow-up reminders: set for me or a colleague, found by the sweep when due (not before), posted on the
ticket as an internal note that mentions the user (the @Mentions inbox counts it), then done, snoozed or
cancelled; through the API and the workspace."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient

from ombud.events import service as events
from ombud.runtime import Runtime
from tests.conftest import Personas, new_ticket
from tests.web.workspace import sign_in


def _iso(delta: dt.timedelta) -> str:
    return (dt.datetime.now(dt.UTC) + delta).isoformat()


def test_a_due_reminder_notes_the_ticket_and_mentions_its_user(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    ticket = new_ticket(client, people.customer)
    later = client.post(
        f"/api/v1/tickets/{ticket['id']}/reminders",
        json={"due_at": _iso(dt.timedelta(days=2)), "note": "Call back on Tuesday"},
        headers=people.agent.headers,
    )
    assert later.status_code == 201, later.text
    assert later.json()["user_id"] == people.agent.id and later.json()["state"] == "scheduled"
    past = client.post(
        f"/api/v1/tickets/{ticket['id']}/reminders",
        json={
            "due_at": _iso(-dt.timedelta(minutes=5)),
            "note": "Check the refund landed",
            "user_id": people.agent2.id,
        },
        headers=people.agent.headers,
    )
    assert past.status_code == 201, past.text

    counts = runtime.queue.sweep()
    assert counts["tickets.remind"] == 1  # only the one whose time has come
    mine = client.get("/api/v1/reminders", headers=people.agent2.headers).json()
    assert [(r["id"], r["state"]) for r in mine] == [(past.json()["id"], "due")]
    note_id = mine[0]["message_id"]
    messages = client.get(f"/api/v1/tickets/{ticket['id']}", headers=people.agent.headers).json()["messages"]
    note = next(m for m in messages if m["id"] == note_id)
    assert note["internal"] and note["author_type"] == "system"
    assert note["body"] == "Follow-up reminder for @agent2: Check the refund landed"
    # The customer never sees it.
    seen = client.get(f"/api/v1/tickets/{ticket['id']}", headers=people.customer.headers).json()["messages"]
    assert note_id not in [m["id"] for m in seen]
    # A second sweep finds nothing more: the due reminder is not posted twice.
    assert runtime.queue.sweep()["tickets.remind"] == 0
    assert [m["id"] for m in messages].count(note_id) == 1

    csrf = sign_in(client, runtime, "agent2@desk.test")
    inbox = client.get("/agent/inbox?view=mentions")
    assert f'data-ticket="{ticket["id"]}"' in inbox.text
    assert 'data-count="mentions">1<' in inbox.text
    followups = client.get("/agent/followups")
    assert followups.status_code == 200 and "Check the refund landed" in followups.text

    # Snoozed, it is scheduled again and comes back only when due again.
    snoozed = client.post(
        f"/agent/reminders/{past.json()['id']}/snooze",
        data={"minutes": "30", "back": "followups", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert snoozed.status_code == 303 and snoozed.headers["location"] == "/agent/followups"
    assert runtime.queue.sweep()["tickets.remind"] == 0
    done = client.post(f"/api/v1/reminders/{past.json()['id']}/done", headers=people.agent2.headers)
    assert done.status_code == 200 and done.json()["state"] == "done"
    finished = client.post(f"/api/v1/reminders/{past.json()['id']}/cancel", headers=people.agent2.headers)
    assert finished.status_code == 409 and finished.json()["error"]["code"] == "reminder_finished"
    with runtime.database.session(write=False) as session:
        kinds = [
            e.kind
            for e in events.history(session=session, ticket_id=int(ticket["id"]))
            if e.kind.startswith("reminder.")
        ]
    assert kinds == [
        "reminder.created",
        "reminder.created",
        "reminder.due",
        "reminder.snoozed",
        "reminder.done",
    ]


def test_reminder_rules(client: TestClient, people: Personas) -> None:
    ticket = new_ticket(client, people.customer)
    url = f"/api/v1/tickets/{ticket['id']}/reminders"
    cases = [
        ({"due_at": "2026-12-08T09:30:00"}, people.agent, 422, "naive_datetime"),
        ({"due_at": _iso(dt.timedelta(days=1000))}, people.agent, 422, "invalid_due_at"),
        (
            {"due_at": _iso(dt.timedelta(hours=1)), "user_id": people.partner.id},
            people.agent,
            422,
            "invalid_reminder_user",
        ),
        ({"due_at": _iso(dt.timedelta(hours=1))}, people.customer, 403, "role_forbidden"),
        ({"due_at": _iso(dt.timedelta(hours=1))}, people.partner, 403, "role_forbidden"),
    ]
    for body, who, status, code in cases:
        response = client.post(url, json=body, headers=who.headers)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), body
    # Advocates keep promises too.
    made = client.post(url, json={"due_at": _iso(dt.timedelta(hours=1))}, headers=people.advocate.headers)
    assert made.status_code == 201
    reminder = made.json()["id"]
    # Another agent may not close someone else's reminder; a lead may.
    assert client.post(f"/api/v1/reminders/{reminder}/done", headers=people.agent.headers).status_code == 403
    snooze = f"/api/v1/reminders/{reminder}/snooze"
    assert client.post(snooze, json={}, headers=people.advocate.headers).status_code == 422
    assert (
        client.post(
            snooze, json={"due_at": _iso(-dt.timedelta(hours=1))}, headers=people.advocate.headers
        ).status_code
        == 422
    )
    moved = client.post(snooze, json={"minutes": 120}, headers=people.advocate.headers)
    assert moved.status_code == 200 and moved.json()["state"] == "scheduled"
    assert (
        client.post(f"/api/v1/reminders/{reminder}/cancel", headers=people.lead.headers).json()["state"]
        == "cancelled"
    )
    listed = client.get(url, headers=people.agent.headers).json()
    assert [r["state"] for r in listed] == ["cancelled"]
    assert client.get(url, headers=people.customer.headers).status_code == 403
    assert (
        client.get(
            "/api/v1/reminders", params={"state": "cancelled"}, headers=people.advocate.headers
        ).json()[0]["id"]
        == reminder
    )


def test_workspace_sets_a_reminder_in_the_browsers_time_zone(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    ticket = new_ticket(client, people.customer)
    csrf = sign_in(client, runtime, "agent@desk.test")
    page = client.get(f"/agent/tickets/{ticket['id']}").text
    assert f'action="/agent/tickets/{ticket["id"]}/reminders"' in page
    made = client.post(
        f"/agent/tickets/{ticket['id']}/reminders",
        data={
            "due_at": "2027-03-28T09:30",
            "tz": "Europe/Oslo",
            "note": "Call back",
            "user": "",
            "csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert made.status_code == 303
    listed = client.get(f"/api/v1/tickets/{ticket['id']}/reminders", headers=people.agent.headers).json()
    # 09:30 in Oslo on the day summer time starts is 07:30 UTC.
    assert dt.datetime.fromisoformat(listed[0]["due_at"]) == dt.datetime(2027, 3, 28, 7, 30, tzinfo=dt.UTC)
    assert "Call back" in client.get(f"/agent/tickets/{ticket['id']}").text
    for data in ({"due_at": "soon", "tz": "UTC"}, {"due_at": "2027-03-28T09:30", "tz": "Mars/Olympus"}):
        bad = client.post(f"/agent/tickets/{ticket['id']}/reminders", data={**data, "csrf_token": csrf})
        assert bad.status_code == 422
    cancelled = client.post(
        f"/agent/reminders/{listed[0]['id']}/cancel", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert cancelled.status_code == 303 and cancelled.headers["location"].endswith("#reminders")


def test_a_due_time_with_no_utc_equivalent_is_refused(client: TestClient, people: Personas) -> None:
    ticket = new_ticket(client, people.customer)
    url = f"/api/v1/tickets/{ticket['id']}/reminders"
    made = client.post(url, json={"due_at": _iso(dt.timedelta(hours=1))}, headers=people.agent.headers)
    snooze = f"/api/v1/reminders/{made.json()['id']}/snooze"
    for due_at in ("9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"):
        for response in (
            client.post(url, json={"due_at": due_at}, headers=people.agent.headers),
            client.post(snooze, json={"due_at": due_at}, headers=people.agent.headers),
        ):
            assert response.status_code == 422, response.text
            assert response.json()["error"]["code"] == "invalid_time"
            assert response.json()["error"]["details"] == {"field": "due_at"}


def test_workspace_refuses_a_local_time_the_clocks_skip(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    ticket = new_ticket(client, people.customer)
    csrf = sign_in(client, runtime, "agent@desk.test")
    url = f"/agent/tickets/{ticket['id']}/reminders"
    # 02:30 on 2027-03-28 does not exist in Berlin (02:00 jumps to 03:00): refused, not shifted.
    gap = client.post(url, data={"due_at": "2027-03-28T02:30", "tz": "Europe/Berlin", "csrf_token": csrf})
    assert gap.status_code == 422
    assert "does not exist in Europe/Berlin" in gap.text
    # 02:30 on 2027-10-31 happens twice in Berlin: the first (summer time, 00:30 UTC) is taken.
    twice = client.post(
        url,
        data={"due_at": "2027-10-31T02:30", "tz": "Europe/Berlin", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert twice.status_code == 303
    listed = client.get(f"/api/v1/tickets/{ticket['id']}/reminders", headers=people.agent.headers).json()
    assert [dt.datetime.fromisoformat(r["due_at"]) for r in listed] == [
        dt.datetime(2027, 10, 31, 0, 30, tzinfo=dt.UTC)
    ]


def test_workspace_ids_must_be_plain_numbers_in_range(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    ticket = new_ticket(client, people.customer)
    csrf = sign_in(client, runtime, "agent@desk.test")
    forms = [
        (f"/agent/tickets/{ticket['id']}/concerns", {"text": "x"}, "owner"),
        (f"/agent/tickets/{ticket['id']}/reminders", {"due_at": "2027-03-28T09:30", "tz": "UTC"}, "user"),
        (f"/agent/tickets/{ticket['id']}/merge", {}, "target"),
        (f"/agent/tickets/{ticket['id']}/links", {"kind": "related_to"}, "other"),
    ]
    for bad in ("²", "١٢", "0", "9223372036854775808"):
        for url, data, field in forms:
            response = client.post(url, data={**data, field: bad, "csrf_token": csrf})
            assert response.status_code == 422, (url, bad, response.status_code)
            assert "is not an id" in response.text, (url, bad)
    # The split form takes longer values: a 25-digit id is a 422 too, not an overflow.
    for bad in ("²", "1" * 25):
        response = client.post(
            f"/agent/tickets/{ticket['id']}/split", data={"what": f"concern:{bad}", "csrf_token": csrf}
        )
        assert response.status_code == 422 and "is not an id" in response.text, bad
