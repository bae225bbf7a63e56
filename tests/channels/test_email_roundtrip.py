"""The whole email round trip over real SMTP: a customer's email reaches the built-in receiver, an agent's
reply leaves through a real relay with threading headers, and the customer's answer lands in the same
ticket with only its new text."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ombud.accounts.schemas import SYSTEM
from ombud.channels.email.smtp import SmtpReceiver
from ombud.customers import service as customers
from ombud.customers.models import IdentityKind
from ombud.runtime import Runtime, build_runtime
from ombud.settings import Settings
from tests.channels.conftest import SUPPORT, Relay, free_port
from tests.conftest import Personas, app_for


def send(receiver: SmtpReceiver, raw: bytes, sender: str = "ann@example.com") -> None:
    with smtplib.SMTP("127.0.0.1", receiver.port, timeout=10) as client:
        client.sendmail(sender, [SUPPORT], raw)


def customer_mail(
    body: str,
    *,
    sender: str = "Ann Smith <ann@example.com>",
    subject: str = "Parcel never arrived",
    message_id: str,
    in_reply_to: str | None = None,
    references: str | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = f"Northwind Support <{SUPPORT}>"
    mail["Subject"] = subject
    mail["Message-ID"] = f"<{message_id}>"
    if in_reply_to:
        mail["In-Reply-To"] = f"<{in_reply_to}>"
    if references:
        mail["References"] = references
    for name, value in (headers or {}).items():
        mail[name] = value
    mail.set_content(body)
    return bytes(mail)


def tickets_of(api: TestClient, cast: Personas) -> list[dict[str, Any]]:
    response = api.get("/api/v1/tickets", headers=cast.agent.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def ticket(api: TestClient, cast: Personas, ticket_id: int) -> dict[str, Any]:
    response = api.get(f"/api/v1/tickets/{ticket_id}", headers=cast.agent.headers)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def reply(api: TestClient, cast: Personas, ticket_id: int, body: str) -> dict[str, Any]:
    response = api.post(
        f"/api/v1/tickets/{ticket_id}/messages", json={"body": body}, headers=cast.agent.headers
    )
    assert response.status_code == 201, response.text
    found: dict[str, Any] = response.json()
    return found


def test_email_reply_and_answer_thread_through_real_smtp(
    api: TestClient, cast: Personas, receiver: SmtpReceiver, relay: Relay
) -> None:
    send(
        receiver,
        customer_mail(
            "Hi, my parcel for order A-10042 never arrived and I was charged twice. Please help.",
            message_id="first.1@mail.example.com",
        ),
    )
    [opened] = tickets_of(api, cast)
    assert opened["channel"] == "email" and opened["subject"] == "Parcel never arrived"
    first = ticket(api, cast, opened["id"])["messages"][0]
    assert first["channel_meta"]["from"] == "ann@example.com"
    assert first["triage"] is not None  # the memory queue ran the triage job at commit

    sent = reply(api, cast, opened["id"], "Sorry about that! A new parcel is on its way.")
    assert len(relay.received) == 1
    out = relay.received[0]
    assert relay.envelopes[0] == (SUPPORT, ["ann@example.com"])
    assert out["In-Reply-To"] == "<first.1@mail.example.com>"
    assert "<first.1@mail.example.com>" in out["References"]
    assert out["Subject"] == f"Re: Parcel never arrived [#{opened['id']}]"
    own_id = out["Message-ID"].strip("<>")
    assert own_id.endswith("@northwind.example")
    delivery = api.get(f"/api/v1/messages/{sent['id']}/delivery", headers=cast.agent.headers).json()
    assert delivery["state"] == "sent" and delivery["ref"] == own_id and delivery["attempts"] == 1

    answer = (
        "Thanks, but I still need the double charge refunded.\n\n"
        "On Tue, 4 Jun 2024 at 09:00, Northwind Support <support@northwind.example> wrote:\n"
        "> Sorry about that! A new parcel is on its way.\n"
    )
    send(
        receiver,
        customer_mail(
            answer,
            subject=out["Subject"].replace("Re:", "RE:"),
            message_id="second.2@mail.example.com",
            in_reply_to=own_id,
            references=f"<first.1@mail.example.com> <{own_id}>",
        ),
    )
    assert len(tickets_of(api, cast)) == 1
    messages = ticket(api, cast, opened["id"])["messages"]
    assert [m["author_type"] for m in messages] == ["customer", "agent", "customer"]
    assert messages[1]["delivery_state"] == "sent"
    newest = messages[2]
    assert newest["body"] == "Thanks, but I still need the double charge refunded."
    triaged = " ".join(c["text"] for c in newest["triage"]["concerns"])
    assert "parcel is on its way" not in triaged
    source = api.get(f"/api/v1/messages/{newest['id']}/source", headers=cast.agent.headers)
    assert source.status_code == 200 and b"second.2@mail.example.com" in source.content
    assert source.headers["content-type"].startswith("message/rfc822")


def test_outlook_rewritten_in_reply_to_still_threads_and_broadcast_replies_stay_apart(
    api: TestClient, cast: Personas, receiver: SmtpReceiver, relay: Relay
) -> None:
    send(receiver, customer_mail("Where is my refund?", message_id="q.1@mail.example.com"))
    [opened] = tickets_of(api, cast)
    reply(api, cast, opened["id"], "It is on its way.")
    own_id = relay.received[0]["Message-ID"].strip("<>")

    # Outlook answered with an In-Reply-To of its own making but kept References.
    send(
        receiver,
        customer_mail(
            "Still nothing.",
            subject="RE: Where is my refund?",
            message_id="q.2@outlook.example.com",
            in_reply_to="AM0PR01MB1234.eurprd01.prod.outlook.com",
            references=f"<{own_id}>",
        ),
    )
    assert len(tickets_of(api, cast)) == 1

    # Someone else answers the same mail (it was forwarded to them): their own conversation.
    send(
        receiver,
        customer_mail(
            "I got this too, what is it about?",
            sender="Bob <bob@example.net>",
            message_id="b.1@example.net",
            in_reply_to=own_id,
            references=f"<{own_id}>",
            subject=f"Re: Where is my refund? [#{opened['id']}]",
        ),
        sender="bob@example.net",
    )
    listed = tickets_of(api, cast)
    assert len(listed) == 2
    assert {t["customer_id"] for t in listed} != {opened["customer_id"]}


def test_subject_token_threads_only_the_tickets_own_customer(
    api: TestClient, cast: Personas, receiver: SmtpReceiver
) -> None:
    send(receiver, customer_mail("My order is late.", message_id="s.1@mail.example.com"))
    [opened] = tickets_of(api, cast)
    token = f"Re: Parcel never arrived [#{opened['id']}]"
    send(receiver, customer_mail("Any news?", subject=token, message_id="s.2@mail.example.com"))
    assert len(tickets_of(api, cast)) == 1
    assert len(ticket(api, cast, opened["id"])["messages"]) == 2
    send(
        receiver,
        customer_mail("Let me in", sender="mallory@evil.example", subject=token, message_id="m@evil.example"),
        sender="mallory@evil.example",
    )
    assert len(tickets_of(api, cast)) == 2
    assert len(ticket(api, cast, opened["id"])["messages"]) == 2


def test_solved_ticket_reopens_closed_one_gets_a_linked_follow_up(
    api: TestClient, cast: Personas, receiver: SmtpReceiver
) -> None:
    send(receiver, customer_mail("Broken zip on my jacket.", message_id="z.1@mail.example.com"))
    [opened] = tickets_of(api, cast)
    token = f"Re: Parcel never arrived [#{opened['id']}]"
    api.patch(
        f"/api/v1/tickets/{opened['id']}",
        json={"status": "solved", "confirm": True},
        headers=cast.agent.headers,
    )
    send(receiver, customer_mail("It broke again.", subject=token, message_id="z.2@mail.example.com"))
    assert ticket(api, cast, opened["id"])["status"] == "open"

    api.patch(
        f"/api/v1/tickets/{opened['id']}",
        json={"status": "closed", "confirm": True},
        headers=cast.agent.headers,
    )
    send(receiver, customer_mail("And now the sleeve.", subject=token, message_id="z.3@mail.example.com"))
    listed = tickets_of(api, cast)
    assert len(listed) == 2
    follow_up = next(t for t in listed if t["id"] != opened["id"])
    assert follow_up["follow_up_of_id"] == opened["id"]
    assert ticket(api, cast, opened["id"])["status"] == "closed"


def test_the_same_email_delivered_twice_is_one_message(
    api: TestClient, cast: Personas, receiver: SmtpReceiver
) -> None:
    raw = customer_mail("Please cancel my subscription.", message_id="dup.1@mail.example.com")
    send(receiver, raw)
    send(receiver, raw)
    [opened] = tickets_of(api, cast)
    assert len(ticket(api, cast, opened["id"])["messages"]) == 1


def test_auto_reply_is_kept_but_neither_reopens_nor_is_triaged(
    api: TestClient, cast: Personas, receiver: SmtpReceiver, relay: Relay
) -> None:
    send(receiver, customer_mail("Wrong size delivered.", message_id="a.1@mail.example.com"))
    [opened] = tickets_of(api, cast)
    reply(api, cast, opened["id"], "We sent the right size.")
    api.patch(
        f"/api/v1/tickets/{opened['id']}",
        json={"status": "solved", "confirm": True},
        headers=cast.agent.headers,
    )
    own_id = relay.received[0]["Message-ID"].strip("<>")
    send(
        receiver,
        customer_mail(
            "I am out of the office until Monday.",
            subject="Automatic reply: Wrong size",
            message_id="ooo.1@mail.example.com",
            in_reply_to=own_id,
            headers={"Auto-Submitted": "auto-replied"},
        ),
    )
    found = ticket(api, cast, opened["id"])
    assert found["status"] == "solved"
    auto = found["messages"][-1]
    assert auto["channel_meta"]["auto_reply"] is True
    assert auto["triage"] is None


def test_bounce_marks_the_reply_bounced_and_is_quarantined(
    api: TestClient, cast: Personas, receiver: SmtpReceiver, relay: Relay
) -> None:
    send(receiver, customer_mail("Refund please.", message_id="r.1@mail.example.com"))
    [opened] = tickets_of(api, cast)
    sent = reply(api, cast, opened["id"], "Refunded.")
    own_id = relay.received[0]["Message-ID"].strip("<>")
    dsn = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\n"
        f"To: {SUPPORT}\nSubject: Undelivered Mail Returned to Sender\nMessage-ID: <dsn.1@mx.example.com>\n"
        'MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n'
        "--B\nContent-Type: text/plain\n\nThe mail could not be delivered: mailbox full.\n"
        "--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.com\n\n"
        "Final-Recipient: rfc822; ann@example.com\nAction: failed\nStatus: 5.2.2\n"
        f"--B\nContent-Type: text/rfc822-headers\n\nMessage-ID: <{own_id}>\nSubject: Re: x\n--B--\n"
    ).encode()
    send(receiver, dsn, sender="")
    messages = ticket(api, cast, opened["id"])["messages"]
    assert [m["delivery_state"] for m in messages if m["id"] == sent["id"]] == ["bounced"]
    held = api.get("/api/v1/channels/quarantine", headers=cast.admin.headers).json()["items"]
    assert [item["reason_code"] for item in held] == ["bounce"]
    assert api.get("/api/v1/channels/quarantine", headers=cast.agent.headers).status_code == 403


def test_flood_is_quarantined_and_can_be_released(
    api: TestClient, cast: Personas, receiver: SmtpReceiver
) -> None:
    for n in range(8):
        send(
            receiver,
            customer_mail(f"Message number {n} about my order.", message_id=f"f.{n}@mail.example.com"),
        )
    # Each is a new conversation (nothing threads them) until the sixth in ten minutes.
    assert len(tickets_of(api, cast)) == 6
    held = api.get("/api/v1/channels/quarantine", headers=cast.admin.headers).json()["items"]
    assert len(held) == 2 and {item["reason_code"] for item in held} == {"flood"}
    raw = api.get(f"/api/v1/channels/quarantine/{held[0]['id']}/source", headers=cast.admin.headers)
    assert b"f.7@mail.example.com" in raw.content
    released = api.post(f"/api/v1/channels/quarantine/{held[0]['id']}/release", headers=cast.admin.headers)
    assert released.status_code == 200, released.text
    assert released.json()["outcome"] == "created"
    assert len(tickets_of(api, cast)) == 7
    again = api.post(f"/api/v1/channels/quarantine/{held[0]['id']}/release", headers=cast.admin.headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "quarantine_resolved"
    discarded = api.post(f"/api/v1/channels/quarantine/{held[1]['id']}/discard", headers=cast.admin.headers)
    assert discarded.json()["state"] == "discarded"


def test_oversized_email_is_refused_by_smtp_and_the_receiver_keeps_working(
    api: TestClient, cast: Personas, receiver: SmtpReceiver
) -> None:
    big = customer_mail("x" * 300_000, message_id="big@mail.example.com")
    with pytest.raises(smtplib.SMTPException) as refused:
        send(receiver, big)
    assert "552" in str(refused.value)
    send(receiver, customer_mail("A normal one.", message_id="normal@mail.example.com"))
    assert len(tickets_of(api, cast)) == 1


def test_malformed_mime_is_taken_in_best_effort(
    api: TestClient, cast: Personas, receiver: SmtpReceiver
) -> None:
    raw = (
        b"From: carl@example.com\nTo: support@northwind.example\nSubject: broken\nMessage-ID: <mal@example.com>\n"  # noqa: E501
        b'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="NEVER"\n\n'
        b"My invoice is wrong, please fix it.\n"
    )
    send(receiver, raw, sender="carl@example.com")
    [opened] = tickets_of(api, cast)
    assert "invoice is wrong" in ticket(api, cast, opened["id"])["messages"][0]["body"]


def test_an_overlong_line_is_taken_in_not_bounced(
    api: TestClient, cast: Personas, receiver: SmtpReceiver
) -> None:
    # One-line HTML bodies over RFC 5321's 1,000 octets happen (and Postfix passes lines up to 2,048).
    html = (
        "<html><body><p>"
        + "My router keeps dropping the connection every evening. " * 80
        + "</p></body></html>"
    )
    raw = (
        "From: dee@example.com\r\nTo: support@northwind.example\r\nSubject: Router\r\n"
        "Message-ID: <long-line@example.com>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/html; charset=utf-8\r\n"
        f"\r\n{html}\r\n"
    ).encode()
    assert max(len(line) for line in raw.split(b"\r\n")) > 4000
    send(receiver, raw, sender="dee@example.com")
    [opened] = tickets_of(api, cast)
    assert "router keeps dropping" in ticket(api, cast, opened["id"])["messages"][0]["body"]


def test_reply_without_a_relay_fails_clearly_and_can_be_retried(
    client: TestClient, people: Personas, runtime: Runtime
) -> None:
    created = client.post(
        "/api/v1/tickets",
        json={
            "customer": {"email": "dee@example.com"},
            "channel": "email",
            "subject": "Hi",
            "body": "Help me",
        },
        headers=people.agent.headers,
    ).json()
    sent = reply(client, people, created["id"], "Here to help.")
    found = client.get(f"/api/v1/messages/{sent['id']}/delivery", headers=people.agent.headers).json()
    assert found["state"] == "failed" and "OMBUD_SMTP_RELAY" in found["last_error"]
    retried = client.post(f"/api/v1/messages/{sent['id']}/delivery/retry", headers=people.agent.headers)
    assert retried.status_code == 200
    # Still no relay: the retry runs at once (memory queue) and fails again with the same reason.
    again = client.get(f"/api/v1/messages/{sent['id']}/delivery", headers=people.agent.headers).json()
    assert again["state"] == "failed"
    phone = client.post(
        "/api/v1/tickets",
        json={"customer": {"phone": "+4915112345678"}, "channel": "phone", "subject": "Call", "body": "Rang"},
        headers=people.agent.headers,
    ).json()
    assert reply(client, people, phone["id"], "Called back.")["delivery_state"] in ("pending", "none")
    assert ticket(client, people, phone["id"])["messages"][-1]["delivery_state"] == "none"


def test_relay_down_schedules_a_retry_with_backoff(
    tmp_path: Path, database_url: str, people: Personas, runtime: Runtime
) -> None:
    settings = Settings(home=tmp_path, database_url=database_url, smtp_relay=f"127.0.0.1:{free_port()}")
    down = build_runtime(settings, queue_url="memory://")
    with TestClient(app_for(down), raise_server_exceptions=False) as test_client:
        created = test_client.post(
            "/api/v1/tickets",
            json={
                "customer": {"email": "eve@example.com"},
                "channel": "email",
                "subject": "Hi",
                "body": "Help",
            },
            headers=people.agent.headers,
        ).json()
        sent = reply(test_client, people, created["id"], "On it.")
        found = test_client.get(
            f"/api/v1/messages/{sent['id']}/delivery", headers=people.agent.headers
        ).json()
    down.close()
    assert found["state"] == "pending" and found["attempts"] == 1
    assert "cannot reach the relay" in found["last_error"]
    assert found["sent_at"] is None and found["next_attempt_at"]


def test_a_long_reply_of_many_paragraphs_reaches_a_strict_relay_intact(
    api: TestClient, cast: Personas, receiver: SmtpReceiver, relay: Relay
) -> None:
    # The relay refuses bare LFs, as Postfix 3.9 does; a long reply has many lines and a line over 998
    # octets, which must be wrapped (quoted-printable) rather than refused.
    send(receiver, customer_mail("Where is my parcel?", message_id="long.1@mail.example.com"))
    [opened] = tickets_of(api, cast)
    paragraphs = [
        f"Paragraph {n}: " + "we have checked the parcel's route with the carrier " * 8 for n in range(6)
    ]
    paragraphs.append("One very long line " + "without any break at all " * 60)
    body = "\n\n".join(paragraphs)
    sent = reply(api, cast, opened["id"], body)
    delivery = api.get(f"/api/v1/messages/{sent['id']}/delivery", headers=cast.agent.headers).json()
    assert delivery["state"] == "sent", delivery
    [out] = relay.received
    assert out.get_content().replace("\r\n", "\n").rstrip("\n") == body


def test_a_reply_goes_to_reply_to_only_when_it_is_the_customers_own_address(
    api: TestClient, cast: Personas, receiver: SmtpReceiver, relay: Relay, mail_runtime: Runtime
) -> None:
    # Ann's own second address in Reply-To is honoured once it is hers; a stranger's never is: anyone can
    # write Ann's From, and the answer would reach the stranger.
    send(
        receiver,
        customer_mail(
            "My parcel never arrived.",
            message_id="own.1@mail.example.com",
            headers={"Reply-To": "Mallory <mallory@evil.example>"},
        ),
    )
    [opened] = tickets_of(api, cast)
    reply(api, cast, opened["id"], "Sorry! We are looking into it.")
    assert relay.envelopes[-1] == (SUPPORT, ["ann@example.com"])

    with mail_runtime.database.session() as session:  # an agent confirmed it is Ann's (customer 360)
        customers.claim_identity(
            session=session,
            customer_id=int(opened["customer_id"]),
            kind=IdentityKind.email,
            value="ann.home@example.net",
            actor=SYSTEM,
        )
        session.commit()
    send(
        receiver,
        customer_mail(
            "Please write to my home address.",
            message_id="own.2@mail.example.com",
            in_reply_to="own.1@mail.example.com",
            headers={"Reply-To": "Ann <ann.home@example.net>"},
        ),
    )
    assert len(tickets_of(api, cast)) == 1
    reply(api, cast, opened["id"], "Of course.")
    assert relay.envelopes[-1] == (SUPPORT, ["ann.home@example.net"])
