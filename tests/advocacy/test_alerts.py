"""Spike alerts: a burst of customers writing about the same problem opens one alert per theme, segment and
metric, with its evidence, tells the advocates and the owning department's owners (and emails its notify
address once, through a real SMTP relay), and emits ``advocacy.spike``; three messages do not; advocates
acknowledge and dismiss, agents may only read."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ombud.advocacy import alert_jobs
from ombud.advocacy.models import SpikeAlert
from ombud.audit.models import AuditEvent
from ombud.customers.models import Purchase
from ombud.events.models import Event
from ombud.runtime import Runtime, build_runtime
from ombud.settings import Settings
from ombud.tickets.models import Mention, Message
from tests.advocacy.conftest import write_in
from tests.channels.conftest import Relay, free_port
from tests.conftest import Personas, app_for, make_people

BASE = "/api/v1/advocacy"
WORDINGS = (
    "My card was charged twice for one order!",
    "I was charged twice for the same order, refund the second charge.",
    "You took the money twice for my order, I was double charged.",
)


def burst(client: TestClient, people: Personas, count: int, *, prefix: str = "burst") -> None:
    for i in range(count):
        write_in(client, people.agent, WORDINGS[i % len(WORDINGS)], email=f"{prefix}{i}@example.net")


def spikes(client: TestClient, who: Any, **params: Any) -> list[dict[str, Any]]:
    response = client.get(f"{BASE}/spikes", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_three_messages_are_not_a_spike(client: TestClient, people: Personas) -> None:
    burst(client, people, 3)
    assert spikes(client, people.advocate) == []


def test_a_burst_opens_one_alert_with_evidence_and_tells_advocates_and_the_department(
    client: TestClient, people: Personas, runtime: Runtime
) -> None:
    department = client.post(
        f"{BASE}/departments",
        json={
            "name": "Billing",
            "kind": "billing",
            "owner_ids": [people.lead.id],
            "intents": ["charge_dispute"],
        },
        headers=people.admin.headers,
    )
    assert department.status_code == 201, department.text
    burst(client, people, 12)
    found = spikes(client, people.agent)
    whole = [s for s in found if s["segment"] == ""]
    assert len(whole) == 1, found  # no orders recorded: no contact rate; no history: no frustration shift
    alert = whole[0]
    assert alert["metric"] == "volume" and alert["state"] == "open"
    assert alert["count"] >= 8 and alert["baseline"] < 2
    assert alert["theme_title"]
    # At most one alert per theme, segment and metric, however many concerns kept coming.
    keys = [(s["theme_id"], s["segment"], s["metric"]) for s in found]
    assert len(keys) == len(set(keys))
    assert {s["segment"] for s in found} <= {"", "channel:email", "tier:standard"}
    evidence = alert["evidence"]
    assert evidence["series"] and sum(point[1] for point in evidence["series"]) == alert["count"]
    assert all(len(point) == 3 for point in evidence["series"])
    assert evidence["first_seen_at"] and len(evidence["samples"]) == 5
    assert all("twice" in s["text"] or "two times" in s["text"] for s in evidence["samples"])

    theme = client.get(f"{BASE}/themes/{alert['theme_id']}", headers=people.agent.headers).json()
    assert theme["theme"]["size"] == 12 and alert["id"] in [s["id"] for s in theme["spikes"]]

    with runtime.database.session(write=False) as session:
        mentions = list(session.scalars(select(Mention.user_id)))
        told = set(mentions)
        events = session.scalars(select(Event).where(Event.kind == "advocacy.spike")).all()
    assert {people.advocate.id, people.lead.id} <= told
    assert people.agent.id not in told
    assert mentions.count(people.advocate.id) == 1  # one note for the spikes opened together
    assert {e.payload["spike_id"] for e in events} == {s["id"] for s in found}

    # Agents read, advocates decide.
    refused = client.patch(
        f"{BASE}/spikes/{alert['id']}", json={"state": "dismissed"}, headers=people.agent.headers
    )
    assert refused.status_code == 403
    acknowledged = client.patch(
        f"{BASE}/spikes/{alert['id']}", json={"state": "acknowledged"}, headers=people.advocate.headers
    )
    assert acknowledged.status_code == 200 and acknowledged.json()["state"] == "acknowledged"
    assert [s["id"] for s in spikes(client, people.advocate, state="acknowledged")] == [alert["id"]]
    # More of the same while it is acknowledged: no second alert.
    burst(client, people, 4, prefix="more")
    assert len([s for s in spikes(client, people.advocate) if s["segment"] == ""]) == 1
    dismissed = client.patch(
        f"{BASE}/spikes/{alert['id']}", json={"state": "dismissed"}, headers=people.advocate.headers
    )
    assert dismissed.json()["state"] == "dismissed"
    bad = client.patch(
        f"{BASE}/spikes/{alert['id']}", json={"state": "snoozed"}, headers=people.advocate.headers
    )
    assert bad.status_code == 422
    missing = client.patch(
        f"{BASE}/spikes/999999", json={"state": "dismissed"}, headers=people.advocate.headers
    )
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "spike_not_found"
    assert client.get(f"{BASE}/spikes", headers=people.customer.headers).status_code == 403


def test_contact_rate_per_order(client: TestClient, people: Personas, runtime: Runtime) -> None:
    """Where the company records orders, concerns per order are tested too: a burst against a steady
    order flow is a contact-rate spike."""
    now = dt.datetime.now(dt.UTC)
    with runtime.database.session() as session:
        for hour in range(1, 24 * 28):
            session.add(
                Purchase(
                    customer_id=people.customer.id,
                    product="Blender",
                    order_number=f"B-{hour}",
                    amount=30.0,
                    currency="EUR",
                    purchased_at=now - dt.timedelta(hours=hour),
                )
            )
        session.commit()
    burst(client, people, 10)
    found = {s["metric"]: s for s in spikes(client, people.advocate) if s["segment"] == ""}
    assert set(found) == {"volume", "contact_rate"}
    rate = found["contact_rate"]
    assert rate["count"] >= 8 and rate["baseline"] < 1
    # One order an hour before this one (none yet in the current hour): the window's orders, counted per
    # hour by the database.
    assert rate["evidence"]["orders"] == rate["evidence"]["window_hours"] - 1


def test_a_spike_that_went_quiet_ends_and_a_later_one_opens_a_new_alert(
    client: TestClient, people: Personas, runtime: Runtime
) -> None:
    burst(client, people, 12)
    [first] = [s for s in spikes(client, people.advocate) if s["segment"] == ""]
    acknowledged = client.patch(
        f"{BASE}/spikes/{first['id']}", json={"state": "acknowledged"}, headers=people.advocate.headers
    )
    assert acknowledged.status_code == 200
    # Its detection last fired 60 days ago.
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=60)
    with runtime.database.session() as session:
        for alert in session.scalars(select(SpikeAlert)):
            alert.detected_at = alert.started_at = alert.created_at = old
            alert.evidence = {**alert.evidence, "fired_at": old.isoformat(), "refreshed_at": old.isoformat()}
        session.commit()

    burst(client, people, 12, prefix="again")

    found = [s for s in spikes(client, people.advocate) if s["segment"] == ""]
    assert [s["state"] for s in found] == ["open", "ended"], found
    assert found[1]["id"] == first["id"] and found[0]["id"] != first["id"]
    with runtime.database.session(write=False) as session:
        told = list(session.scalars(select(Mention.user_id).where(Mention.user_id == people.advocate.id)))
        ended = session.scalars(select(AuditEvent).where(AuditEvent.action == "advocacy.spike.ended")).all()
    assert len(told) == 2  # told about the new spike too
    assert first["id"] in {e.entity_id for e in ended}
    refused = client.patch(
        f"{BASE}/spikes/{found[0]['id']}", json={"state": "ended"}, headers=people.advocate.headers
    )
    assert refused.status_code == 422

    # A theme merged away ends its live alerts.
    other = write_in(client, people.agent, "The app keeps crashing when I log in", email="x@example.net")
    assert other
    target = next(
        t["id"]
        for t in client.get(f"{BASE}/themes", headers=people.advocate.headers).json()["items"]
        if t["id"] != found[0]["theme_id"]
    )
    merged = client.post(
        f"{BASE}/themes/{target}/merge",
        json={"source_ids": [found[0]["theme_id"]]},
        headers=people.advocate.headers,
    )
    assert merged.status_code == 200, merged.text
    states = {s["id"]: s["state"] for s in spikes(client, people.advocate)}
    assert states[found[0]["id"]] == "ended"


def test_machine_text_in_the_note_mentions_no_one(
    client: TestClient, people: Personas, runtime: Runtime
) -> None:
    """A theme's label and name (and segments) are put in the note that tells people of a spike: an '@' in
    them must not mention anyone."""
    burst(client, people, 3)
    [theme] = client.get(f"{BASE}/themes", headers=people.advocate.headers).json()["items"]
    renamed = client.patch(
        f"{BASE}/themes/{theme['id']}",
        json={"name": "charged twice @agent @lead"},
        headers=people.advocate.headers,
    )
    assert renamed.status_code == 200, renamed.text
    burst(client, people, 9, prefix="more")
    assert [s for s in spikes(client, people.advocate) if s["segment"] == ""]
    with runtime.database.session(write=False) as session:
        told = set(session.scalars(select(Mention.user_id)))
        notes = [
            m.body_text for m in session.scalars(select(Message).where(Message.body_text.like("%Spike in%")))
        ]
    assert people.advocate.id in told and people.agent.id not in told and people.lead.id not in told
    assert notes and all("charged twice \uff20agent \uff20lead" in n for n in notes)


# -- the owning department's notify email --------------------------------------------------------------
PUBLIC = "https://help.northwind.example"
NOTIFY = "billing-alerts@northwind.example"


def _mail_runtime(tmp_path: Path, database_url: str, relay: str | None) -> Runtime:
    settings = Settings(home=tmp_path, database_url=database_url, smtp_relay=relay, public_url=PUBLIC)
    return build_runtime(settings, queue_url="memory://")


@pytest.fixture
def mail_runtime(tmp_path: Path, database_url: str, relay: Relay) -> Iterator[Runtime]:
    built = _mail_runtime(tmp_path, database_url, f"127.0.0.1:{relay.port}")
    yield built
    built.close()


@pytest.fixture
def mail_client(mail_runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(app_for(mail_runtime), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def cast(mail_runtime: Runtime) -> Personas:
    return make_people(mail_runtime)


def billing(client: TestClient, people: Personas, **fields: Any) -> None:
    payload = {
        "name": "Billing",
        "kind": "billing",
        "owner_ids": [people.lead.id],
        "intents": ["charge_dispute"],
    }
    response = client.post(f"{BASE}/departments", json={**payload, **fields}, headers=people.admin.headers)
    assert response.status_code == 201, response.text


def spike_emails(relay: Relay) -> list[Any]:
    return [mail for mail in relay.received if str(mail["Subject"]).startswith("Spike")]


def test_a_new_alert_is_emailed_once_to_the_departments_notify_email(
    mail_runtime: Runtime, mail_client: TestClient, cast: Personas, relay: Relay
) -> None:
    billing(mail_client, cast, notify_email=NOTIFY)
    burst(mail_client, cast, 12)
    opened = spikes(mail_client, cast.advocate)
    alert = min(opened, key=lambda s: int(s["id"]))  # the first opened (the whole theme, or a segment)

    # One email per theme episode: for the alerts opened together, not for a segment crossing later.
    [mail] = spike_emails(relay)
    assert [rcpt for _, rcpt in relay.envelopes if NOTIFY in rcpt] == [[NOTIFY]]
    assert alert["theme_title"] in mail["Subject"] and mail["Auto-Submitted"] == "auto-generated"
    text = mail.get_body(preferencelist=("plain",)).get_content()
    page = mail.get_body(preferencelist=("html",)).get_content()
    assert f"{alert['count']:g} since " in text and alert["theme_title"] in text
    assert f"against {alert['baseline']:.2f} expected" in text and f"(spike #{alert['id']})" in text
    assert "Theme first seen: " in text and "twice" in text.partition("What customers wrote:")[2]
    assert f"{PUBLIC}/agent/advocacy/themes/{alert['theme_id']}" in text
    assert f'href="{PUBLIC}/agent/advocacy/themes/{alert["theme_id"]}"' in page
    emailed = alert["evidence"]["emailed"]
    assert emailed["state"] == "sent" and emailed["to"] == NOTIFY and emailed["at"]
    for other in opened:  # opened with it: in the same email; later in the episode: no email of their own
        together = other["detected_at"] == alert["detected_at"]
        assert other["evidence"].get("emailed", {}).get("state") == ("sent" if together else None)
        assert (f"(spike #{other['id']})" in text) == together

    # The spike goes on: its alert is refreshed (not opened again), keeps its email record, sends nothing.
    stale = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)).isoformat()
    with mail_runtime.database.session() as session:
        for row in session.scalars(select(SpikeAlert)):
            row.evidence = {**row.evidence, "refreshed_at": stale}
        session.commit()
    burst(mail_client, cast, 4, prefix="more")
    later = spikes(mail_client, cast.advocate)
    assert sorted(s["id"] for s in later) == sorted(s["id"] for s in opened)
    [again] = [s for s in later if s["id"] == alert["id"]]
    assert again["evidence"]["refreshed_at"] != stale and again["count"] > alert["count"]
    assert again["evidence"]["emailed"] == emailed
    # A second run of the job for the same alert (a queue that delivers twice) sends nothing either.
    mail_runtime.queue.enqueue(alert_jobs.EMAIL_JOB, spike_id=alert["id"])
    assert len(spike_emails(relay)) == 1
    with mail_runtime.database.session(write=False) as session:
        audited = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "advocacy.spike.emailed")
        ).all()
    assert [(e.entity_id, e.after["to"]) for e in audited] == [(alert["id"], NOTIFY)]


def test_no_notify_email_no_email(
    mail_runtime: Runtime, mail_client: TestClient, cast: Personas, relay: Relay
) -> None:
    billing(mail_client, cast)
    burst(mail_client, cast, 12)
    found = spikes(mail_client, cast.advocate)
    assert found and all("emailed" not in s["evidence"] for s in found)
    assert spike_emails(relay) == []


def test_without_a_relay_the_email_is_recorded_as_not_sent(client: TestClient, people: Personas) -> None:
    billing(client, people, notify_email=NOTIFY)
    burst(client, people, 12)
    alert = min(spikes(client, people.advocate), key=lambda s: int(s["id"]))
    emailed = alert["evidence"]["emailed"]
    assert emailed["state"] == "not_sent" and "OMBUD_SMTP_RELAY" in emailed["error"]


def test_an_unreachable_relay_is_tried_again_later(tmp_path: Path, database_url: str) -> None:
    built = _mail_runtime(tmp_path, database_url, f"127.0.0.1:{free_port()}")  # nothing listens there
    try:
        people = make_people(built)
        with TestClient(app_for(built), raise_server_exceptions=False) as client:
            billing(client, people, notify_email=NOTIFY)
            burst(client, people, 12)
            alert = min(spikes(client, people.advocate), key=lambda s: int(s["id"]))
            emailed = alert["evidence"]["emailed"]
            assert emailed["state"] == "retrying" and emailed["attempts"] == 1
            assert "cannot reach the relay" in emailed["error"]
            assert emailed["retry_in_seconds"] == alert_jobs.RETRY_WAITS[0].total_seconds()
            # The retry the job scheduled (run now): still unreachable, the next wait is longer.
            built.queue.enqueue(alert_jobs.EMAIL_JOB, spike_id=alert["id"])
            [alert] = [s for s in spikes(client, people.advocate) if s["id"] == alert["id"]]
            assert alert["evidence"]["emailed"]["attempts"] == 2
            assert (
                alert["evidence"]["emailed"]["retry_in_seconds"] == alert_jobs.RETRY_WAITS[1].total_seconds()
            )
    finally:
        built.close()
