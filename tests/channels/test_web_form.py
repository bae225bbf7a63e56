"""The public web form: a ticket with a reference, the answer by email, spam kept out."""

from __future__ import annotations

import re
import smtplib

from fastapi.testclient import TestClient

from ombud.channels.email.smtp import SmtpReceiver
from tests.channels.conftest import SUPPORT, Relay
from tests.conftest import Personas

FORM = {
    "name": "Ana Costa",
    "email": "ana.costa@example.pt",
    "subject": "Wrong size delivered",
    "message": "I ordered the blue jacket in M (order A-10422) and got an XL. How do I exchange it?",
}


def test_form_ticket_is_answered_by_email_and_the_answer_threads_back(
    api: TestClient, cast: Personas, relay: Relay, receiver: SmtpReceiver
) -> None:
    page = api.get("/contact")
    assert page.status_code == 200 and 'name="website"' in page.text and "cdn" not in page.text.lower()

    posted = api.post(
        "/contact", data=FORM, files=[("files", ("receipt.pdf", b"%PDF-1.4 receipt", "application/pdf"))]
    )
    assert posted.status_code == 201, posted.text
    reference = re.search(r'class="reference">#(\d+)<', posted.text)
    assert reference is not None
    ticket_id = int(reference.group(1))
    ticket = api.get(f"/api/v1/tickets/{ticket_id}", headers=cast.agent.headers).json()
    assert ticket["channel"] == "web" and ticket["subject"] == "Wrong size delivered"
    first = ticket["messages"][0]
    assert first["attachments"][0]["filename"] == "receipt.pdf" and first["triage"] is not None

    api.post(
        f"/api/v1/tickets/{ticket_id}/messages",
        json={"body": "Sorry, Ana! A prepaid return label is attached to your order page."},
        headers=cast.agent.headers,
    )
    (sent,) = relay.received
    assert sent["To"] == "ana.costa@example.pt" and f"[#{ticket_id}]" in sent["Subject"]

    answer = (
        f"From: Ana Costa <ana.costa@example.pt>\r\nTo: {SUPPORT}\r\nSubject: Re: {sent['Subject']}\r\n"
        f"Message-ID: <ana-1@example.pt>\r\nIn-Reply-To: {sent['Message-ID']}\r\n\r\n"
        "Thanks, found it.\r\n"
    ).encode()
    with smtplib.SMTP("127.0.0.1", receiver.port, timeout=10) as client:
        client.sendmail("ana.costa@example.pt", [SUPPORT], answer)
    after = api.get(f"/api/v1/tickets/{ticket_id}", headers=cast.agent.headers).json()
    assert [m["body"] for m in after["messages"]][-1] == "Thanks, found it."


def test_json_form_and_its_spam_protection(api: TestClient, cast: Personas) -> None:
    made = api.post("/api/v1/forms/contact", json=FORM)
    assert made.status_code == 201, made.text
    assert made.json()["reference"] == f"#{made.json()['ticket_id']}"

    bot = api.post("/api/v1/forms/contact", json={**FORM, "website": "http://cheap-pills.example"})
    assert bot.status_code == 422 and bot.json()["error"]["code"] == "spam_suspected"
    held = api.get("/api/v1/channels/quarantine", headers=cast.admin.headers).json()["items"]
    assert [item["reason_code"] for item in held] == ["honeypot"]

    bad_email = api.post("/api/v1/forms/contact", json={**FORM, "email": "not an address"})
    assert bad_email.status_code == 422 and bad_email.json()["error"]["code"] == "invalid_email"
    empty = api.post("/api/v1/forms/contact", json={**FORM, "message": ""})
    assert empty.status_code == 422


def test_rate_limit_per_client_address(api: TestClient) -> None:
    codes = [
        api.post("/api/v1/forms/contact", json={**FORM, "email": f"person{i}@example.org"}).status_code
        for i in range(7)
    ]
    assert codes == [201] * 5 + [429] * 2  # OMBUD_FORM_RATE_LIMIT defaults to 5 per 10 minutes
    limited = api.post("/api/v1/forms/contact", json=FORM)
    assert limited.json()["error"]["code"] == "rate_limited" and int(limited.headers["Retry-After"]) > 0

    page = api.post("/contact", data=FORM)
    assert page.status_code == 429 and "too many submissions" in page.text
    assert 'value="ana.costa@example.pt"' in page.text  # what the person typed is not lost


def test_form_page_shows_what_to_fix(api: TestClient) -> None:
    page = api.post("/contact", data={**FORM, "email": "ana at example"})
    assert page.status_code == 422 and "not an email address" in page.text.lower()
    assert "Wrong size delivered" in page.text
