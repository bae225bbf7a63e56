"""IMAP polling against a real Dovecot server: emails appended to the mailbox become tickets through the
same intake as SMTP, the cursor in the database keeps each email from being read twice, a renumbered
folder is read again without duplicates, IDLE brings new mail in at once, and a poller that cannot log
in keeps trying without dying."""

from __future__ import annotations

import logging
import os
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import CapabilityError
from sqlalchemy import func, select, update

from ombud.accounts.schemas import SYSTEM
from ombud.channels import service as channels
from ombud.channels.email import service as email_service
from ombud.channels.email.imap import ImapPoller, poll_mailbox
from ombud.channels.models import MailboxCursor, Quarantined
from ombud.errors import Conflict
from ombud.runtime import Runtime
from ombud.settings import ImapMailbox
from ombud.tickets.models import Message, Ticket
from tests.channels.conftest import SUPPORT
from tests.channels.dovecot import DovecotServer

USER, PASSWORD = SUPPORT, "secret"  # the dovecot_server fixture's user
EMAILS = Path(__file__).parent / "emails"
# Different senders, no thread to join: each opens a ticket of its own (one in ISO-2022-JP).
NEW_CONVERSATIONS = ["angry_multi_concern", "signature_dashes", "gmail_reply_en", "iso2022jp_japanese"]
MAX_EMAIL_BYTES = 200_000  # mail_runtime's


def corpus(name: str) -> bytes:
    return (EMAILS / f"{name}.eml").read_bytes()


@pytest.fixture
def mailbox(dovecot_server: DovecotServer) -> ImapMailbox:
    # poll_seconds is an hour: within a test, only IDLE (or the first pass) can bring anything in.
    return ImapMailbox(
        name="support",
        host=dovecot_server.host,
        port=dovecot_server.port,
        username=USER,
        password=PASSWORD,
        security="none",
        poll_seconds=3600,
    )


def deliver(server: DovecotServer, *names: str) -> None:
    for name in names:
        server.append(USER, PASSWORD, corpus(name))


def poll(runtime: Runtime, mailbox: ImapMailbox) -> int:
    return poll_mailbox(database=runtime.database, mailbox=mailbox, config=runtime.email, timeout=10)


def tickets(runtime: Runtime) -> list[Ticket]:
    with runtime.database.session(write=False) as session:
        return list(session.scalars(select(Ticket).order_by(Ticket.id)))


def messages(runtime: Runtime, ticket_id: int) -> list[Message]:
    with runtime.database.session(write=False) as session:
        return list(
            session.scalars(select(Message).where(Message.ticket_id == ticket_id).order_by(Message.id))
        )


def message_count(runtime: Runtime) -> int:
    with runtime.database.session(write=False) as session:
        return session.scalar(select(func.count()).select_from(Message)) or 0


def cursor(runtime: Runtime, name: str = "support") -> MailboxCursor | None:
    with runtime.database.session(write=False) as session:
        return session.get(MailboxCursor, name)


def quarantined(runtime: Runtime) -> list[tuple[Quarantined, bytes]]:
    with runtime.database.session(write=False) as session:
        items = session.scalars(select(Quarantined).order_by(Quarantined.id)).all()
        return [(item, channels.raw_source(session=session, sha256=item.raw_sha256) or b"") for item in items]


def server_state(server: DovecotServer) -> tuple[int, dict[int, bool]]:
    """The INBOX's UIDVALIDITY and, per UID, whether the email is \\Seen."""
    with IMAPClient(server.host, port=server.port, ssl=False, timeout=10) as client:
        client.login(USER, PASSWORD)
        info = client.select_folder("INBOX", readonly=True)
        flags = client.fetch(client.search("ALL"), ["FLAGS"])
        return int(info[b"UIDVALIDITY"]), {uid: b"\\Seen" in data[b"FLAGS"] for uid, data in flags.items()}


def wait_for(what: str, predicate: Callable[[], bool], timeout: float = 10.0) -> float:
    """Return the seconds ``predicate`` took to hold, asking every 50 ms; fail after ``timeout``."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if predicate():
            return time.monotonic() - began
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout} s")


@contextmanager
def running(poller: ImapPoller) -> Iterator[ImapPoller]:
    poller.start()
    try:
        yield poller
    finally:
        poller.stop()


def reply_from_richard(original_id: str) -> bytes:
    """Richard's Gmail answer to his own first email (threads by In-Reply-To), quoting it."""
    mail = EmailMessage()
    mail["From"] = "Richard Osei <richard.osei@gmail.com>"
    mail["To"] = f"Northwind Support <{USER}>"
    mail["Subject"] = "Re: THIRD TIME: wrong size, charged twice, cancel my subscription NOW"
    mail["Date"] = "Tue, 4 Jun 2024 08:02:11 +0100"
    mail["Message-ID"] = "<CAG8rT2wN5qX0pB3vL9cY6dZ1eH7jK4sU_reply2@mail.gmail.com>"
    mail["In-Reply-To"] = f"<{original_id}>"
    mail["References"] = f"<{original_id}>"
    mail.set_content(
        "Still no answer. I have now sent the jacket back, tracking number JD014600007GB.\n\n"
        "On Mon, 3 Jun 2024 at 21:14, Richard Osei <richard.osei@gmail.com> wrote:\n"
        "> This is the THIRD time I write to you\n"
    )
    return bytes(mail)


def order_question(n: int) -> bytes:
    mail = EmailMessage()
    mail["From"] = f"Customer {n} <customer{n}@example.org>"
    mail["To"] = f"Northwind Support <{USER}>"
    mail["Subject"] = f"Where is order A-2{n:04d}?"
    mail["Message-ID"] = f"<order.{n}.1717416892@example.org>"
    mail.set_content(f"Hello, my order A-2{n:04d} has not arrived yet. Can you check?\n")
    return bytes(mail)


def big_email(tag: str) -> bytes:
    """Photos of a damaged parcel, well over MAX_EMAIL_BYTES."""
    mail = EmailMessage()
    mail["From"] = "Hanne Lund <hanne.lund@example.dk>"
    mail["To"] = USER
    mail["Subject"] = f"Photos of the damaged parcel {tag}"
    mail["Message-ID"] = f"<photos.{tag}@example.dk>"
    mail.set_content("The box arrived crushed, photos attached.")
    mail.add_attachment(os.urandom(300_000), maintype="image", subtype="jpeg", filename="parcel.jpg")
    return bytes(mail)


def test_one_pass_takes_in_new_mail_marks_it_seen_and_keeps_the_cursor(
    mail_runtime: Runtime, dovecot_server: DovecotServer, mailbox: ImapMailbox
) -> None:
    assert poll(mail_runtime, mailbox) == 0  # an empty INBOX
    deliver(dovecot_server, *NEW_CONVERSATIONS)

    assert poll(mail_runtime, mailbox) == len(NEW_CONVERSATIONS)
    opened = tickets(mail_runtime)
    assert [t.subject for t in opened] == [
        "THIRD TIME: wrong size, charged twice, cancel my subscription NOW",
        "Refund for returned order A-10067 still missing",
        "Return label for order A-10042",
        "\u5546\u54c1\u7834\u640d\u306e\u3054\u9023\u7d61\uff08\u6ce8\u6587\u756a\u53f7A-10095\uff09",
    ]
    assert {t.channel.value for t in opened} == {"email"}
    first = messages(mail_runtime, opened[0].id)
    assert len(first) == 1 and "This is the THIRD time I write to you" in first[0].body_text
    uidvalidity, seen = server_state(dovecot_server)
    assert all(seen.values()) and len(seen) == len(NEW_CONVERSATIONS)
    stored = cursor(mail_runtime)
    assert stored is not None and stored.uidvalidity == uidvalidity and stored.last_uid == max(seen)

    assert poll(mail_runtime, mailbox) == 0
    assert len(tickets(mail_runtime)) == len(NEW_CONVERSATIONS)
    assert message_count(mail_runtime) == len(NEW_CONVERSATIONS)


def test_a_reply_threads_into_the_same_ticket(
    mail_runtime: Runtime, dovecot_server: DovecotServer, mailbox: ImapMailbox
) -> None:
    deliver(dovecot_server, "angry_multi_concern")
    assert poll(mail_runtime, mailbox) == 1
    original_id = "CAG8rT2wN5qX0pB3vL9cY6dZ1eH7jK4sU_oL2iA9kS5nR3uT8g@mail.gmail.com"
    dovecot_server.append(USER, PASSWORD, reply_from_richard(original_id))

    assert poll(mail_runtime, mailbox) == 1
    [opened] = tickets(mail_runtime)
    thread = messages(mail_runtime, opened.id)
    assert len(thread) == 2
    assert thread[1].body_text == (
        "Still no answer. I have now sent the jacket back, tracking number JD014600007GB."
    )


def test_a_changed_uidvalidity_reads_again_without_duplicates(
    mail_runtime: Runtime, dovecot_server: DovecotServer, mailbox: ImapMailbox
) -> None:
    deliver(dovecot_server, *NEW_CONVERSATIONS[:3])
    assert poll(mail_runtime, mailbox) == 3
    uidvalidity, seen = server_state(dovecot_server)
    with mail_runtime.database.session() as session:
        session.execute(update(MailboxCursor).values(uidvalidity=uidvalidity - 1))
        session.commit()

    deliver(dovecot_server, NEW_CONVERSATIONS[3])
    # Everything is read again: the three known ones are duplicates, the new one is new.
    assert poll(mail_runtime, mailbox) == 4
    assert len(tickets(mail_runtime)) == 4
    assert message_count(mail_runtime) == 4
    stored = cursor(mail_runtime)
    assert stored is not None and stored.uidvalidity == uidvalidity and stored.last_uid == max(seen) + 1


def test_the_running_poller_takes_in_new_mail_at_once_with_idle(
    mail_runtime: Runtime,
    dovecot_server: DovecotServer,
    mailbox: ImapMailbox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="ombud.channels.email.imap")
    deliver(dovecot_server, "angry_multi_concern")
    poller = ImapPoller(database=mail_runtime.database, mailbox=mailbox, config=mail_runtime.email)
    with running(poller):
        # The first pass takes in what was waiting (and loads the triage models the jobs use).
        wait_for("the waiting email", lambda: len(tickets(mail_runtime)) == 1, timeout=60)
        assert "waiting with IDLE" in caplog.text
        # poll_seconds is an hour: only IDLE can bring this one in now.
        deliver(dovecot_server, "signature_dashes")
        took = wait_for("the email appended while idling", lambda: len(tickets(mail_runtime)) == 2, timeout=5)
        assert took < 5
        deliver(dovecot_server, "gmail_reply_en")
        wait_for("a second email while idling", lambda: len(tickets(mail_runtime)) == 3, timeout=5)
        # A burst: some arrive while the poller is busy with the ones before; none may wait for an hour.
        for n in range(8):
            dovecot_server.append(USER, PASSWORD, order_question(n))
        wait_for("a burst while idling", lambda: len(tickets(mail_runtime)) == 11, timeout=10)
        began = time.monotonic()
    assert time.monotonic() - began < 3  # stop() wakes the IDLE wait within about a second
    assert not poller.running
    _, seen = server_state(dovecot_server)
    assert len(seen) == 11 and all(seen.values())


def test_without_idle_the_poller_reads_every_poll_seconds(
    mail_runtime: Runtime, dovecot_server: DovecotServer, mailbox: ImapMailbox
) -> None:
    polling = mailbox.model_copy(update={"idle": False, "poll_seconds": 1})
    with running(ImapPoller(database=mail_runtime.database, mailbox=polling, config=mail_runtime.email)):
        wait_for("the first pass", lambda: cursor(mail_runtime) is not None)
        deliver(dovecot_server, "signature_dashes")
        wait_for("the next poll", lambda: len(tickets(mail_runtime)) == 1, timeout=60)


def test_bad_credentials_are_logged_and_retried_and_stop_is_prompt(
    mail_runtime: Runtime, mailbox: ImapMailbox, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "not-the-password-7f3a9c"
    wrong = mailbox.model_copy(update={"password": secret})
    caplog.set_level(logging.INFO, logger="ombud.channels.email.imap")
    poller = ImapPoller(
        database=mail_runtime.database,
        mailbox=wrong,
        config=mail_runtime.email,
        first_backoff=0.1,
        max_backoff=0.4,
    )
    with running(poller):

        def failures() -> list[logging.LogRecord]:
            return [
                r for r in caplog.records if r.levelno == logging.WARNING and "LoginError" in r.getMessage()
            ]

        # Dovecot answers a wrong password after a 2-second delay.
        wait_for("two failed logins", lambda: len(failures()) >= 2, timeout=20)
        assert poller.running  # it keeps trying
        assert "support@northwind.example at 127.0.0.1" in failures()[0].getMessage()
        began = time.monotonic()
    # Even in the middle of the next login attempt: stop() cuts the connection.
    assert time.monotonic() - began < 2.5
    assert not poller.running
    assert secret not in caplog.text
    assert cursor(mail_runtime) is None


def test_security_is_never_downgraded(mail_runtime: Runtime, mailbox: ImapMailbox) -> None:
    # The test server offers neither TLS nor STARTTLS: both settings refuse rather than log in in the clear.
    with pytest.raises(CapabilityError):
        poll(mail_runtime, mailbox.model_copy(update={"security": "starttls"}))
    with pytest.raises(ssl.SSLError):
        poll(mail_runtime, mailbox.model_copy(update={"security": "ssl"}))
    assert cursor(mail_runtime) is None


def test_an_oversized_email_is_quarantined_from_its_headers_and_later_mail_comes_in(
    mail_runtime: Runtime, dovecot_server: DovecotServer, mailbox: ImapMailbox
) -> None:
    deliver(dovecot_server, "angry_multi_concern")
    dovecot_server.append(USER, PASSWORD, big_email("one"))
    deliver(dovecot_server, "signature_dashes")

    assert poll(mail_runtime, mailbox) == 2
    assert len(tickets(mail_runtime)) == 2
    [(item, raw)] = quarantined(mail_runtime)
    assert item.reason_code == "too_large" and item.source == "imap:support"
    assert item.sender == "hanne.lund@example.dk" and item.subject == "Photos of the damaged parcel one"
    assert f"over OMBUD_MAX_EMAIL_BYTES ({MAX_EMAIL_BYTES})" in item.reason
    assert "only its headers are kept" in item.reason
    assert b"Message-ID: <photos.one@example.dk>" in raw and b"parcel.jpg" not in raw
    assert len(raw) < 2_000
    # Left unread on the server for a person to see; the others are marked read.
    _, seen = server_state(dovecot_server)
    assert list(seen.values()) == [True, False, True]

    # Its headers alone cannot be released: that would make an empty message and hide the real email.
    with mail_runtime.database.session(write=True) as session, pytest.raises(Conflict) as refused:
        email_service.release(session=session, item_id=item.id, actor=SYSTEM, config=mail_runtime.email)
    assert refused.value.code == "quarantine_unreleasable"

    deliver(dovecot_server, "gmail_reply_en")
    assert poll(mail_runtime, mailbox) == 1
    assert len(tickets(mail_runtime)) == 3

    # Read again after a renumbering: still one quarantine entry for it.
    with mail_runtime.database.session() as session:
        session.execute(update(MailboxCursor).values(uidvalidity=1))
        session.commit()
    assert poll(mail_runtime, mailbox) == 3
    assert len(quarantined(mail_runtime)) == 1
    assert len(tickets(mail_runtime)) == 3
