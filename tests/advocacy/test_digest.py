"""The weekly digest per department: what it holds, its HTML (escaped, self-contained) and CSV, the email
really sent through an SMTP relay, the schedule moved on, and failures recorded on the schedule row."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from click.testing import CliRunner
from fastapi.testclient import TestClient

from ombud.advocacy import digest, digest_render
from ombud.advocacy.models import AdvocacyCase, CaseStatus, CaseTicket, Schedule, Theme
from ombud.channels.email.service import EmailAdapter
from ombud.cli.main import main
from ombud.runtime import Runtime, build_runtime
from ombud.settings import Settings
from tests.advocacy import insight_builders as b
from tests.channels.conftest import Relay, free_port, serving
from tests.conftest import Personas, app_for, make_people

SUPPORT = "support@northwind.example"


class PickyRelay(Relay):
    """The relay, refusing any recipient whose address starts with "refuse"."""

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address.startswith("refuse"):
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
def relay() -> Iterator[PickyRelay]:
    with serving(PickyRelay(port=free_port())) as found:
        yield found


def _runtime(tmp_path: Path, database_url: str, relay: str | None) -> Runtime:
    settings = Settings(
        home=tmp_path,
        database_url=database_url,
        smtp_relay=relay,
        email_address=SUPPORT,
        email_name="Northwind Support",
        public_url="https://help.northwind.example",
    )
    return build_runtime(settings, queue_url="memory://")


@pytest.fixture
def mail_runtime(tmp_path: Path, database_url: str, relay: PickyRelay) -> Iterator[Runtime]:
    built = _runtime(tmp_path, database_url, f"127.0.0.1:{relay.port}")
    yield built
    built.close()


@pytest.fixture
def api(mail_runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(app_for(mail_runtime), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def cast(mail_runtime: Runtime) -> Personas:
    return make_people(mail_runtime)


def department(client: TestClient, people: Personas, **fields: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"name": "Billing & Payments", "kind": "billing", "intents": ["damaged_item"]}
    payload.update(fields)
    response = client.post("/api/v1/advocacy/departments", json=payload, headers=people.advocate.headers)
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


def history(runtime: Runtime, department_id: int) -> dict[str, Any]:
    """Themes of the department (by intent and by case) and one that is not, with a fortnight of concerns."""
    with runtime.database.session() as s:
        broken = b.theme(s, "Broken <b>on</b> arrival")
        stored = s.get(Theme, broken)
        assert stored is not None
        stored.quotes = [{"concern_id": 1, "text": 'It came <img src=x onerror="alert(1)"> smashed'}]
        week = [
            b.ticket(s, customer_id=b.customer(s, f"w{i}@x.test"), at=b.ago(days=1 + i % 5), theme_id=broken)
            for i in range(6)
        ]
        b.ticket(s, customer_id=b.customer(s, "w0@x.test"), at=b.ago(days=2), theme_id=broken)
        b.ticket(s, customer_id=b.customer(s, "before@x.test"), at=b.ago(days=10), theme_id=broken)
        b.concession(s, week[0], minor=1234)
        b.concession(s, week[1], minor=500, currency="USD")
        # Linked through a case, whatever its intent.
        formula = b.theme(s, '=HYPERLINK("http://evil")')
        b.ticket(s, customer_id=b.customer(s, "f@x.test"), at=b.ago(days=3), theme_id=formula, intent="other")
        case = AdvocacyCase(
            title="Couriers drop parcels <again>",
            status=CaseStatus.in_progress,
            theme_id=formula,
            department_id=department_id,
        )
        done = AdvocacyCase(title="Old and verified", status=CaseStatus.verified, department_id=department_id)
        s.add_all([case, done])
        s.flush()
        s.add(CaseTicket(case_id=case.id, ticket_id=week[0].ticket_id, customer_id=week[0].customer_id))
        # Not the department's: another intent, no case.
        elsewhere = b.theme(s, "Password resets")
        b.ticket(
            s, customer_id=b.customer(s, "p@x.test"), at=b.ago(days=1), theme_id=elsewhere, intent="login"
        )
        s.commit()
        return {"broken": broken, "formula": formula, "elsewhere": elsewhere, "case": case.id}


def test_digest_holds_the_departments_themes_cases_cost_and_customers(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    made = department(client, people)
    ids = history(runtime, made["id"])
    response = client.get(
        f"/api/v1/advocacy/departments/{made['id']}/digest", headers=people.advocate.headers
    )
    assert response.status_code == 200, response.text
    found = response.json()
    assert found["department_name"] == "Billing & Payments"
    assert found["themes_linked"] == 2
    top = {t["theme_id"]: t for t in found["top_themes"]}
    assert set(top) == {ids["broken"], ids["formula"]}
    broken = top[ids["broken"]]
    assert (broken["last_7_days"], broken["previous_7_days"], broken["customers"]) == (7, 1, 6)
    assert sum(broken["daily"]) == 8 and len(broken["daily"]) == 14
    assert broken["quotes"][0].startswith("It came <img")
    assert {(m["currency"], m["amount"]) for m in broken["cost"]} == {("EUR", "12.34"), ("USD", "5.00")}
    assert [t["theme_id"] for t in found["rising_themes"]] == [ids["broken"]]
    assert found["concerns"] == 8 and found["customers_affected"] == 7
    assert {(m["currency"], m["amount_minor"]) for m in found["cost_week"]} == {("EUR", 1234), ("USD", 500)}
    assert [c["case_id"] for c in found["open_cases"]] == [ids["case"]]
    assert found["open_cases"][0]["status"] == "in_progress" and found["open_cases"][0]["tickets"] == 1
    assert found["cases_by_status"] == {"in_progress": 1}

    missing = client.get("/api/v1/advocacy/departments/99999/digest", headers=people.advocate.headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "department_not_found"
    for who in (people.agent, people.customer):
        refused = client.get(f"/api/v1/advocacy/departments/{made['id']}/digest", headers=who.headers)
        assert refused.status_code == 403
    bad = client.get(
        f"/api/v1/advocacy/departments/{made['id']}/digest",
        params={"format": "pdf"},
        headers=people.lead.headers,
    )
    assert bad.status_code == 422


def test_digest_html_is_escaped_and_self_contained_and_csv_is_safe(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    made = department(client, people)
    history(runtime, made["id"])
    url = f"/api/v1/advocacy/departments/{made['id']}/digest"
    page = client.get(url, params={"format": "html"}, headers=people.advocate.headers)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-disposition"].startswith('attachment; filename="ombud-digest-')
    html = page.text
    assert "Billing &amp; Payments" in html
    assert "Broken &lt;b&gt;on&lt;/b&gt; arrival" in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
    assert "Couriers drop parcels &lt;again&gt;" in html
    lowered = html.lower()
    for forbidden in ("<img", "<script", "<link", "<style", "src=", "url("):
        assert forbidden not in lowered.replace("&lt;img src=x", ""), forbidden
    assert "Password resets" not in html

    sheet = client.get(url, params={"format": "csv"}, headers=people.advocate.headers)
    assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/csv")
    lines = sheet.text.splitlines()
    assert lines[0] == ",".join(digest_render.CSV_COLUMNS)
    assert any(line.startswith("top_theme,") and "Broken <b>on</b> arrival" in line for line in lines)
    assert any(line.startswith("case,") and "in_progress" in line for line in lines)
    formula = next(line for line in lines if "HYPERLINK" in line)
    assert "'=HYPERLINK" in formula
    assert lines[-1].startswith("summary,")


def _schedule(runtime: Runtime, department_id: int) -> Schedule | None:
    with runtime.database.session(write=False) as s:
        return s.get(Schedule, digest.schedule_name(department_id))


def test_send_now_emails_the_digest_through_the_relay_and_moves_the_schedule(
    mail_runtime: Runtime, api: TestClient, cast: Personas, relay: PickyRelay
) -> None:
    made = department(api, cast, notify_email="billing@northwind.example", owner_ids=[cast.lead.id])
    history(mail_runtime, made["id"])
    response = api.post(
        f"/api/v1/advocacy/departments/{made['id']}/digest/send", headers=cast.advocate.headers
    )
    assert response.status_code == 202, response.text

    assert sorted(rcpt for _, (rcpt,) in relay.envelopes) == ["billing@northwind.example", "lead@desk.test"]
    mail = relay.received[0]
    assert mail["Subject"].startswith("Weekly advocacy digest: Billing & Payments")
    assert SUPPORT in mail["From"] and mail["Auto-Submitted"] == "auto-generated"
    assert mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    html = mail.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert "Broken <b>on</b> arrival: 7 concerns" in text
    assert "https://help.northwind.example/agent/advocacy/themes/" in text
    assert "Broken &lt;b&gt;on&lt;/b&gt; arrival" in html

    row = _schedule(mail_runtime, made["id"])
    assert row is not None and row.last_run_at is not None
    now = dt.datetime.now(dt.UTC)
    assert now < row.due_at <= now + dt.timedelta(days=7)
    assert (row.due_at.weekday(), row.due_at.hour, row.due_at.minute) == (0, 7, 0)
    assert row.outcome["state"] == "sent" and row.outcome["errors"] == {}
    assert sorted(row.outcome["sent"]) == ["billing@northwind.example", "lead@desk.test"]

    # Not due any more: the sweep sends nothing again.
    mail_runtime.queue.sweep()
    assert len(relay.received) == 2


def test_the_sweep_schedules_new_departments_and_sends_when_due(
    mail_runtime: Runtime, api: TestClient, cast: Personas, relay: PickyRelay
) -> None:
    made = department(api, cast, notify_email="billing@northwind.example")
    assert _schedule(mail_runtime, made["id"]) is None
    mail_runtime.queue.sweep()
    row = _schedule(mail_runtime, made["id"])
    assert row is not None and row.last_run_at is None and row.due_at > dt.datetime.now(dt.UTC)
    assert relay.received == []

    with mail_runtime.database.session() as s:
        due = s.get(Schedule, digest.schedule_name(made["id"]))
        assert due is not None
        due.due_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
        s.commit()
    mail_runtime.queue.sweep()
    assert [rcpt for _, (rcpt,) in relay.envelopes] == ["billing@northwind.example"]
    row = _schedule(mail_runtime, made["id"])
    assert row is not None and row.outcome["state"] == "sent" and row.due_at > dt.datetime.now(dt.UTC)


def test_a_refused_recipient_is_recorded_and_the_others_still_get_it(
    mail_runtime: Runtime, api: TestClient, cast: Personas, relay: PickyRelay
) -> None:
    made = department(api, cast, notify_email="refuse-me@northwind.example", owner_ids=[cast.lead.id])
    response = api.post(
        f"/api/v1/advocacy/departments/{made['id']}/digest/send", headers=cast.advocate.headers
    )
    assert response.status_code == 202
    assert [rcpt for _, (rcpt,) in relay.envelopes] == ["lead@desk.test"]
    row = _schedule(mail_runtime, made["id"])
    assert row is not None and row.outcome["state"] == "partly_sent"
    assert "refuse-me@northwind.example" in row.outcome["errors"]
    assert "550" in row.outcome["errors"]["refuse-me@northwind.example"]
    assert row.due_at > dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)  # next week, not a retry


def test_an_unreachable_relay_is_retried_with_backoff_and_recorded(tmp_path: Path, database_url: str) -> None:
    built = _runtime(tmp_path, database_url, f"127.0.0.1:{free_port()}")  # nothing listens there
    try:
        people = make_people(built)
        with TestClient(app_for(built), raise_server_exceptions=False) as client:
            made = department(client, people, notify_email="billing@northwind.example")
            sent = client.post(
                f"/api/v1/advocacy/departments/{made['id']}/digest/send", headers=people.advocate.headers
            )
            assert sent.status_code == 202
        row = _schedule(built, made["id"])
        assert row is not None
        pending = row.outcome["pending"]
        assert pending["state"] == "retrying" and pending["attempts"] == 1 and pending["sent"] == []
        assert "cannot reach the relay" in pending["errors"]["billing@northwind.example"]
        now = dt.datetime.now(dt.UTC)
        assert now < row.due_at <= now + digest.RETRY_WAITS[0]
        assert row.last_run_at is None
    finally:
        built.close()


def test_without_a_relay_the_failure_is_recorded_and_next_week_waits(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    made = department(client, people, notify_email="billing@northwind.example")
    assert (
        client.post(
            f"/api/v1/advocacy/departments/{made['id']}/digest/send", headers=people.advocate.headers
        ).status_code
        == 202
    )
    row = _schedule(runtime, made["id"])
    assert row is not None and row.outcome["state"] == "failed"
    assert "OMBUD_SMTP_RELAY" in row.outcome["errors"]["billing@northwind.example"]
    assert row.due_at > dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)


def test_send_now_needs_a_recipient_and_an_advocate(client: TestClient, people: Personas) -> None:
    made = department(client, people)
    url = f"/api/v1/advocacy/departments/{made['id']}/digest/send"
    nobody = client.post(url, headers=people.advocate.headers)
    assert nobody.status_code == 422 and nobody.json()["error"]["code"] == "no_recipients"
    assert client.post(url, headers=people.agent.headers).status_code == 403
    assert (
        client.post(
            "/api/v1/advocacy/departments/99999/digest/send", headers=people.admin.headers
        ).status_code
        == 404
    )


def test_next_due_is_the_next_slot_strictly_after() -> None:
    monday_7 = dt.datetime(2026, 12, 7, 7, 0, tzinfo=dt.UTC)
    assert digest.next_due(dt.datetime(2026, 12, 4, 23, 0, tzinfo=dt.UTC), weekday=0, hour=7) == monday_7
    assert digest.next_due(monday_7, weekday=0, hour=7) == monday_7 + dt.timedelta(days=7)
    assert digest.next_due(monday_7 - dt.timedelta(seconds=1), weekday=0, hour=7) == monday_7
    assert digest.next_due(monday_7, weekday=2, hour=18) == dt.datetime(2026, 12, 9, 18, 0, tzinfo=dt.UTC)


def test_cli_writes_the_digest_and_refuses_unknown_departments(
    runtime: Runtime, client: TestClient, people: Personas, tmp_path: Path, database_url: str
) -> None:
    made = department(client, people)
    history(runtime, made["id"])
    runner = CliRunner()
    out = tmp_path / "digest.csv"
    result = runner.invoke(
        main,
        [
            "advocacy",
            "digest",
            "--department",
            "billing & payments",
            "--out",
            str(out),
            "--database",
            database_url,
        ],
    )
    assert result.exit_code == 0, result.output
    assert out.read_text().splitlines()[0] == ",".join(digest_render.CSV_COLUMNS)
    shown = runner.invoke(
        main, ["advocacy", "digest", "--department", str(made["id"]), "--database", database_url]
    )
    assert shown.exit_code == 0 and "Broken <b>on</b> arrival: 7 concerns" in shown.output
    unknown = runner.invoke(main, ["advocacy", "digest", "--department", "Nope", "--database", database_url])
    assert unknown.exit_code == 1 and "department_not_found" in unknown.output
    wrong = runner.invoke(
        main,
        [
            "advocacy",
            "digest",
            "--department",
            "Nope",
            "--out",
            str(tmp_path / "x.pdf"),
            "--database",
            database_url,
        ],
    )
    assert wrong.exit_code == 1 and "invalid_format" in wrong.output


def test_a_run_that_dies_midway_is_resumed_for_the_rest_and_send_now_waits_for_it(
    mail_runtime: Runtime, api: TestClient, cast: Personas, relay: PickyRelay, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = department(api, cast, notify_email="billing@northwind.example", owner_ids=[cast.lead.id])
    url = f"/api/v1/advocacy/departments/{made['id']}/digest/send"
    real = EmailAdapter.send_notice

    def dies_on_the_lead(self: EmailAdapter, *, to: str, **fields: Any) -> None:
        if to == "lead@desk.test":
            raise RuntimeError("the worker died")
        real(self, to=to, **fields)

    monkeypatch.setattr(EmailAdapter, "send_notice", dies_on_the_lead)
    api.post(url, headers=cast.advocate.headers)
    assert [rcpt for _, (rcpt,) in relay.envelopes] == ["billing@northwind.example"]
    row = _schedule(mail_runtime, made["id"])
    assert row is not None and row.outcome["pending"]["sent"] == ["billing@northwind.example"]
    claimed_until = row.due_at
    assert claimed_until > dt.datetime.now(dt.UTC)

    # While the run's claim holds, "send now" must not make the row due again (a second run would
    # send to everyone once more).
    busy = api.post(url, headers=cast.advocate.headers)
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "digest_sending"
    cli = CliRunner().invoke(
        main,
        [
            "advocacy",
            "digest",
            "--department",
            str(made["id"]),
            "--send",
            "--database",
            mail_runtime.settings.effective_database_url,
        ],
    )
    assert cli.exit_code == 1 and "digest_sending" in cli.output
    row = _schedule(mail_runtime, made["id"])
    assert row is not None and row.due_at == claimed_until
    assert len(relay.received) == 1

    # The claim runs out (the worker is gone): the sweep takes the row over and serves only the rest.
    monkeypatch.setattr(EmailAdapter, "send_notice", real)
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    with mail_runtime.database.session() as s:
        stale = s.get(Schedule, digest.schedule_name(made["id"]))
        assert stale is not None
        stale.due_at = past
        stale.outcome = {
            **stale.outcome,
            digest.CLAIM_KEY: {**stale.outcome[digest.CLAIM_KEY], "until": past.isoformat()},
        }
        s.commit()
    mail_runtime.queue.sweep()
    assert sorted(rcpt for _, (rcpt,) in relay.envelopes) == ["billing@northwind.example", "lead@desk.test"]
    row = _schedule(mail_runtime, made["id"])
    assert row is not None and row.outcome["state"] == "sent" and digest.CLAIM_KEY not in row.outcome
    assert sorted(row.outcome["sent"]) == ["billing@northwind.example", "lead@desk.test"]
    # Done: "send now" is allowed again.
    assert api.post(url, headers=cast.advocate.headers).status_code == 202
    assert len(relay.received) == 4
