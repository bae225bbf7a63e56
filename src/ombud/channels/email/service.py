"""Email in and out: take in one raw email (find the customer, thread it, keep its source), and turn an
agent's reply into an email that threads in the customer's mail client."""

from __future__ import annotations

import datetime as dt
import email.policy
import email.utils
import hashlib
import re
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from sqlalchemy.orm import Session

from ombud.accounts.schemas import SYSTEM, Principal
from ombud.channels import service as channels
from ombud.channels.email.parse import ParsedEmail, parse_email
from ombud.channels.models import Direction, InboundEmail, QuarantineState
from ombud.channels.registry import Outbound, TryLater, Undeliverable
from ombud.customers import blocks
from ombud.customers import service as customers
from ombud.customers.schemas import CustomerRef
from ombud.errors import Conflict, OmbudError
from ombud.storage.base import utcnow
from ombud.tickets import feeds
from ombud.tickets.models import Channel, Message, Ticket
from ombud.tickets.service import NewAttachment

CHANNEL = "email"
_TICKET_TOKEN = re.compile(r"\[#(\d{1,18})\]")
# Postfix's hopcount_limit: a message that passed this many mail servers is going round in a loop.
MAX_HOPS = 50
_REPLY_PREFIX = re.compile(
    r"^(?:\s*(?:re|aw|sv|vs|antw|odp|r|fwd?|wg|tr|rv|enc)\s*(?:\[\d+\])?\s*:\s*)+", re.I
)


@dataclass(frozen=True)
class EmailConfig:
    """The email settings a channel needs, from the runtime's settings."""

    address: str = "support@ombud.localhost"
    display_name: str = "Support"
    relay_host: str | None = None
    relay_port: int = 25
    relay_username: str | None = None
    relay_password: str | None = None
    relay_starttls: bool = False
    max_email_bytes: int = 25 * 1024 * 1024
    max_body_chars: int = 200_000
    max_attachment_bytes: int = 10 * 1024 * 1024
    max_attachments: int = 20
    flood_limit: int = 30  # messages from one customer within channels.FLOOD_WINDOW

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2] or "ombud.localhost"


@dataclass(frozen=True)
class Received:
    """What became of one inbound email."""

    outcome: str  # "created" | "threaded" | "follow_up" | "duplicate" | "quarantined" | "dropped"
    ticket_id: int | None = None
    message_id: int | None = None
    quarantine_id: int | None = None
    reason: str = ""


# -- inbound ----------------------------------------------------------------------------------------------
def receive_email(  # noqa: PLR0911 (one return per way an email can end)
    *,
    session: Session,
    raw: bytes,
    source: str,
    config: EmailConfig,
    force: bool = False,
    parsed: ParsedEmail | None = None,
) -> Received:
    """Take in one raw email: store it, then thread it into a ticket or keep it in the quarantine.

    Never raises on what the email contains: anything that cannot become a message is quarantined with
    the reason. ``force`` (an admin releasing it from the quarantine) skips the bounce, loop and flood
    checks. ``parsed`` is ``raw`` already parsed by `parse_for_intake`. The caller commits.
    """
    if parsed is None:
        parsed = parse_for_intake(raw, config=config)
    # A blocked sender's email is dropped before anything is kept: not its source, not a customer.
    if parsed.sender is not None and blocks.drop_if_blocked(
        session=session, channel=CHANNEL, email=parsed.sender
    ):
        return Received(outcome="dropped", reason="sender_blocked")
    # The source is stored only with what keeps it (a message, a quarantined item): a duplicate adds nothing.
    digest = hashlib.sha256(raw).hexdigest()

    def hold(code: str, reason: str) -> Received:
        channels.store_raw(session=session, data=raw)
        item = channels.quarantine(
            session=session,
            channel=CHANNEL,
            source=source,
            raw_sha256=digest,
            reason_code=code,
            reason=reason,
            sender=parsed.sender,
            subject=parsed.subject,
        )
        return Received(outcome="quarantined", quarantine_id=item.id, reason=code)

    ref = parsed.message_id or f"sha256:{digest}"
    known = channels.find_ref(session=session, channel=CHANNEL, ref=ref)
    if known is not None and known.customer_id != _sender_owner(session=session, parsed=parsed):
        # Another customer's Message-ID (forged, or a mailer that reuses ids): not a redelivery, so it must
        # neither be dropped as a duplicate nor hide that customer's mail; its content names it instead.
        ref = f"sha256:{digest}"
        known = channels.find_ref(session=session, channel=CHANNEL, ref=ref)
    if known is not None:
        return Received(outcome="duplicate", ticket_id=known.ticket_id, message_id=known.message_id)
    if parsed.unreadable is not None:
        return hold(parsed.unreadable, "the MIME structure nests too deep to read; the source is kept whole")
    if parsed.bounce and not force:
        bounced = [
            channels.mark_bounced(
                session=session, channel=CHANNEL, ref=original, reason=parsed.new_text[:500]
            )
            for original in parsed.bounced_message_ids
        ]
        which = ", ".join(str(m) for m in bounced if m is not None) or "no reply of ours"
        return hold("bounce", f"a delivery failure report (about {which})")
    if parsed.sender is None:
        return hold("no_sender", "the email has no usable From address")
    own_id = parsed.message_id or ""
    if parsed.sender == config.address.lower() or (
        own_id.startswith("ombud.") and own_id.endswith("@" + config.domain)
    ):
        return hold("mail_loop", "the email comes from ombud's own address: a mail loop")
    if parsed.hops > MAX_HOPS and not force:
        return hold("mail_loop", f"the email passed {parsed.hops} mail servers (Received headers): a loop")
    try:
        customer, created = customers.resolve_customer(
            session=session,
            ref=CustomerRef(email=parsed.sender, name=parsed.sender_name[:200] or None),
            actor=SYSTEM,
        )
    except (OmbudError, ValueError) as error:
        return hold("bad_sender", f"the sender {parsed.sender!r} cannot be a customer: {error}")
    # A customer created by this very email has sent nothing before and has no conversation to continue.
    if not created:
        recent = channels.inbound_count_since(
            session=session, customer_id=customer.id, since=utcnow() - channels.FLOOD_WINDOW
        )
        if recent >= config.flood_limit and not force:
            return hold("flood", f"{recent} messages from {parsed.sender} in the last 10 minutes")
    return _store(
        session=session,
        raw=raw,
        parsed=parsed,
        ref=ref,
        digest=digest,
        customer_id=customer.id,
        config=config,
        new_customer=created,
    )


def parse_for_intake(raw: bytes, *, config: EmailConfig) -> ParsedEmail:
    """Return ``raw`` parsed as the intake reads it (no more text than a message keeps)."""
    return parse_email(raw, max_text_chars=config.max_body_chars)


def _sender_owner(*, session: Session, parsed: ParsedEmail) -> int | None:
    """Return the id of the customer the email's From address belongs to, None for nobody yet."""
    if parsed.sender is None:
        return None
    try:
        return customers.email_owner(session=session, email=parsed.sender)
    except OmbudError:
        return None


# Quarantine reasons whose stored source is not the whole message (IMAP keeps an oversized mail's headers).
PARTIAL_SOURCES = frozenset({"too_large"})


def release(*, session: Session, item_id: int, actor: Principal, config: EmailConfig) -> Received:
    """Take a quarantined email in after all (an admin's decision); Conflict if it still cannot be."""
    item = channels.access_quarantined(session=session, principal=actor, item_id=item_id)
    if item.channel != CHANNEL:
        raise Conflict(f"quarantined item {item_id} is not an email", code="quarantine_wrong_channel")
    raw = channels.raw_source(session=session, sha256=item.raw_sha256) or b""
    if item.state is not QuarantineState.held:
        raise Conflict(
            f"quarantined item {item_id} is already {item.state.value}", code="quarantine_resolved"
        )
    if item.reason_code in PARTIAL_SOURCES:
        # Only the headers were kept: releasing them would make an empty message and mark the real
        # email as seen. The whole email is still on the server.
        raise Conflict(
            f"quarantined item {item_id} holds only the headers ({item.reason}); discard it, and take the "
            "email in from the mailbox once the size limit allows it",
            code="quarantine_unreleasable",
        )
    received = receive_email(session=session, raw=raw, source=item.source, config=config, force=True)
    if received.message_id is None:
        raise Conflict(
            f"quarantined item {item_id} still cannot be taken in ({received.reason}); discard it instead",
            code="quarantine_unreleasable",
        )
    channels.resolve_quarantined(
        session=session,
        item=item,
        state=QuarantineState.released,
        actor=actor,
        message_id=received.message_id,
    )
    return received


def _store(
    *,
    session: Session,
    raw: bytes,
    parsed: ParsedEmail,
    ref: str,
    digest: str,
    customer_id: int,
    config: EmailConfig,
    new_customer: bool = False,
) -> Received:
    channels.store_raw(session=session, data=raw)
    kept, dropped = _fit_attachments(parsed, config)
    body = parsed.new_text
    if len(body) > config.max_body_chars or parsed.truncated:
        body = body[: config.max_body_chars] + "\n[… cut: the whole email is in its source]"
    meta: dict[str, Any] = {
        "from": parsed.sender,
        "from_name": parsed.sender_name,
        "to": parsed.to,
        "cc": parsed.cc,
        "reply_to": parsed.reply_to,
        "subject": parsed.subject,
        "message_id": parsed.message_id,
        "auto_reply": parsed.auto_reply,
        "auto_reply_reason": parsed.auto_reply_reason,
        "forwarded": parsed.forwarded,
        "raw_sha256": digest,
    }
    if dropped:
        meta["dropped_attachments"] = dropped
    triage = bool(body.strip()) and not parsed.auto_reply
    outcome, ticket, message = channels.take_in(
        session=session,
        ticket=None if new_customer else _thread(session=session, parsed=parsed, customer_id=customer_id),
        incoming=channels.Incoming(
            customer_id=customer_id,
            channel=Channel.email,
            subject=_REPLY_PREFIX.sub("", _TICKET_TOKEN.sub("", parsed.subject)).strip(),
            body=body,
            body_html=parsed.html,
            attachments=kept,
            channel_meta=meta,
            triage=triage,
            # An out-of-office answer to "is it solved now?" is no new question.
            reopen=not parsed.auto_reply,
            ref=(CHANNEL, ref),
        ),
    )
    session.add(InboundEmail(message_id=message.id, raw_sha256=digest, full_text=parsed.text))
    session.flush()
    return Received(outcome=outcome, ticket_id=ticket.id, message_id=message.id)


def _thread(*, session: Session, parsed: ParsedEmail, customer_id: int) -> Ticket | None:
    """Return the ticket this email continues, or None for a new conversation.

    In-Reply-To first, then References from the newest back (Outlook may rewrite In-Reply-To but keeps
    References), then a ``[#123]`` token in the subject. A match counts only when the ticket is the
    sender's own: two customers answering one broadcast get a conversation each, and a guessed ticket
    number threads nobody into someone else's ticket.
    """
    refs = parsed.thread_refs()
    known = channels.find_refs(session=session, channel=CHANNEL, refs=refs)
    for ref in refs:
        row = known.get(ref)
        if row is not None and row.customer_id == customer_id:
            return session.get(Ticket, row.ticket_id)
    token = _TICKET_TOKEN.search(parsed.subject)
    if token:
        ticket = session.get(Ticket, int(token.group(1)))
        if ticket is not None and ticket.customer_id == customer_id:
            return ticket
    return None


def _fit_attachments(
    parsed: ParsedEmail, config: EmailConfig
) -> tuple[list[NewAttachment], list[dict[str, Any]]]:
    """Return the attachments within the limits, and a note on each one left out (the raw source still
    holds it)."""
    kept: list[NewAttachment] = []
    dropped: list[dict[str, Any]] = []
    for item in parsed.attachments:
        if item.size > config.max_attachment_bytes:
            reason = f"{item.size} bytes; the limit is {config.max_attachment_bytes}"
        elif len(kept) >= config.max_attachments:
            reason = f"more than {config.max_attachments} attachments"
        else:
            kept.append(
                NewAttachment(filename=item.filename, content_type=item.content_type, content=item.content)
            )
            continue
        dropped.append({"filename": item.filename, "size": item.size, "reason": reason})
    return kept, dropped


# -- outbound ---------------------------------------------------------------------------------------------
def outgoing_message_id(*, message_id: int, ticket_id: int, config: EmailConfig) -> str:
    """Return the Message-ID of reply ``message_id``: the same on every attempt, so a resend is one mail."""
    return f"ombud.{ticket_id}.{message_id}@{config.domain}"


class EmailAdapter:
    """Sends agents' replies by SMTP through the configured relay, threaded into the customer's mail."""

    name = CHANNEL

    def __init__(self, config: EmailConfig) -> None:
        self.config = config

    def prepare(self, *, session: Session, message_id: int) -> Outbound:
        found = feeds.reply_to_deliver(session=session, message_id=message_id)
        if found is None:
            raise Undeliverable(f"message {message_id} is not a reply waiting to be sent")
        message, ticket = found
        last = feeds.latest_customer_meta(session=session, ticket_id=ticket.id, channel=Channel.email)
        recipient = (
            _own_reply_to(session=session, customer_id=ticket.customer_id, meta=last)
            or last.get("from")
            or _email_of(session=session, customer_id=ticket.customer_id)
        )
        return self.compose(
            session=session, message=message, ticket=ticket, recipient=recipient, subject=last.get("subject")
        )

    def compose(
        self,
        *,
        session: Session,
        message: Message,
        ticket: Ticket,
        recipient: str | None,
        subject: str | None,
    ) -> Outbound:
        """Return ``message`` as an email to ``recipient``, threaded into what the ticket sent and received
        by email (the chat adapter uses this when a conversation goes on by email)."""
        if not self.config.relay_host:
            raise Undeliverable("no SMTP relay is configured: set OMBUD_SMTP_RELAY to host:port, then retry")
        if not recipient:
            raise Undeliverable("the customer has no email address to reply to")
        refs = channels.ticket_refs(session=session, channel=CHANNEL, ticket_id=ticket.id)
        chain = [row for row in refs if not row.ref.startswith("sha256:")]
        inbound = [row.ref for row in chain if row.direction is Direction.inbound]
        own_id = outgoing_message_id(message_id=message.id, ticket_id=ticket.id, config=self.config)
        mail = EmailMessage()
        mail["From"] = email.utils.formataddr((self.config.display_name, self.config.address))
        mail["To"] = recipient
        mail["Subject"] = _reply_subject(subject or ticket.subject, ticket.id)
        mail["Date"] = email.utils.format_datetime(message.created_at.astimezone(dt.UTC))
        mail["Message-ID"] = f"<{own_id}>"
        if inbound:
            mail["In-Reply-To"] = f"<{inbound[-1]}>"
        if chain:
            mail["References"] = " ".join(f"<{row.ref}>" for row in chain)
        mail["X-Ombud-Ticket"] = str(ticket.id)
        mail.set_content(message.body_text)
        if message.body_html:
            mail.add_alternative(message.body_html, subtype="html")
        for filename, content_type, data in feeds.attachment_contents(session=session, message_id=message.id):
            maintype, _, subtype = content_type.partition("/")
            mail.add_attachment(
                data, maintype=maintype or "application", subtype=subtype or "octet-stream", filename=filename
            )
        return Outbound(
            message_id=message.id,
            recipient=recipient,
            ref=own_id,
            # CRLF line ends (the SMTP policy): smtplib sends bytes as they are, and relays refuse bare LFs.
            payload=mail.as_bytes(policy=email.policy.SMTP),
            channel=CHANNEL,
        )

    def send(self, outbound: Outbound) -> None:
        config = self.config
        assert config.relay_host is not None
        try:
            with smtplib.SMTP(config.relay_host, config.relay_port, timeout=30) as client:
                if config.relay_starttls:
                    client.starttls()
                if config.relay_username:
                    client.login(config.relay_username, config.relay_password or "")
                refused = client.sendmail(config.address, [outbound.recipient], outbound.payload)
        except smtplib.SMTPRecipientsRefused as error:
            raise Undeliverable(f"the relay refused {outbound.recipient}: {error.recipients}") from None
        except smtplib.SMTPResponseException as error:
            detail = error.smtp_error
            text = f"the relay answered {error.smtp_code} " + (
                detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)
            )
            if 500 <= error.smtp_code < 600:
                raise Undeliverable(text) from None
            raise TryLater(text) from None
        except (OSError, smtplib.SMTPException) as error:
            raise TryLater(
                f"cannot reach the relay {config.relay_host}:{config.relay_port}: {error}"
            ) from None
        if refused:
            raise Undeliverable(f"the relay refused {outbound.recipient}: {refused}")

    def send_notice(self, *, to: str, subject: str, text: str, html: str | None = None) -> None:
        """Send an email from the desk's address to ``to`` (a portal sign-in link, a digest: not a ticket
        message), plain text, with ``html`` as the alternative part when given; raise Undeliverable
        without a relay, else what ``send`` raises."""
        if not self.config.relay_host:
            raise Undeliverable("no SMTP relay is configured: set OMBUD_SMTP_RELAY to host:port")
        mail = notice_email(
            sender=(self.config.display_name, self.config.address),
            to=to,
            subject=subject,
            text=text,
            html=html,
        )
        # No ticket message stands behind a notice; no message row has id 0.
        self.send(
            Outbound(message_id=0, recipient=to, ref=None, payload=mail.as_bytes(policy=email.policy.SMTP))
        )


def notice_email(
    *,
    sender: tuple[str, str],
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    """Return an automatic email (not a ticket message: a sign-in link, a survey, a digest) from ``sender``
    (display name, address) to ``to``: plain ``text``, with ``html`` as the alternative part when given,
    and ``headers`` added; marked Auto-Submitted."""
    name, address = sender
    mail = EmailMessage()
    mail["From"] = email.utils.formataddr((name, address))
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = email.utils.format_datetime(utcnow())
    mail["Message-ID"] = email.utils.make_msgid(domain=address.rpartition("@")[2] or "ombud.localhost")
    # RFC 3834: out-of-office robots must not answer it (their answer would become a ticket).
    mail["Auto-Submitted"] = "auto-generated"
    for header, value in (headers or {}).items():
        mail[header] = value
    mail.set_content(text)
    if html is not None:
        mail.add_alternative(html, subtype="html")
    return mail


def _own_reply_to(*, session: Session, customer_id: int, meta: dict[str, Any]) -> str | None:
    """The email's Reply-To when it is one of the ticket customer's own addresses, else None (the reply
    goes to From). Anyone can write a From header: an email forged with a customer's From, their ticket's
    Message-ID and a stranger's Reply-To would otherwise send the agent's answer to the stranger."""
    reply_to = meta.get("reply_to")
    if not isinstance(reply_to, str) or not reply_to:
        return None
    if reply_to == meta.get("from"):
        return reply_to
    return reply_to if customers.email_owner(session=session, email=reply_to) == customer_id else None


def _email_of(*, session: Session, customer_id: int) -> str | None:
    addresses = customers.identity_values(session=session, customer_id=customer_id, kind="email")
    return addresses[0] if addresses else None


def _reply_subject(subject: str, ticket_id: int) -> str:
    base = _TICKET_TOKEN.sub("", _REPLY_PREFIX.sub("", subject)).strip() or "Your request"
    return f"Re: {base} [#{ticket_id}]"


def email_source(*, session: Session, message_id: int) -> bytes | None:
    """Return the raw source of the email that became ``message_id`` (None if it was not an email)."""
    row = session.get(InboundEmail, message_id)
    return channels.raw_source(session=session, sha256=row.raw_sha256) if row is not None else None
