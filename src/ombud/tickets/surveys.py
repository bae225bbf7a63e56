"""Satisfaction surveys: a CSAT question (1-5, with an optional NPS 0-10) sent once per ticket after it is
solved, on the channel the customer used, and the answers, which land on the ticket as its rating.

The ``surveys`` event consumer schedules a survey when a ticket becomes solved (one row per ticket, so never
twice), and holds it again if the ticket reopens before it goes out. The ``surveys.send`` job sends it
when due: it first checks the customer may be asked (not opted out, not abusive, not a spam or flood
sender, not an auto-responder, actually served) and records why not when they may not. Email and web-form
customers get an email with a link; chat and social conversations get a message with the link (delivered
and tracked like any reply); phone and API tickets have no way to carry a link, which is recorded too.

The link carries a 256-bit random token of which only the SHA-256 is stored: it cannot be guessed, and a
database dump does not reveal working links. It works without signing in, until it expires.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import enum
import hashlib
import html
import secrets
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import Enum, ForeignKey, Index, Integer, String, Text, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from ombud.accounts.schemas import SYSTEM, Principal
from ombud.audit import service as audit
from ombud.customers import service as customers
from ombud.errors import Conflict, Forbidden, InvalidInput, NotFound
from ombud.events.service import EventRecord
from ombud.storage.base import Base, Id, Json, UTCDateTime, utcnow
from ombud.storage.db import race_savepoint
from ombud.storage.queue import defer, defer_in
from ombud.tickets import contact, ratings
from ombud.tickets import service as tickets
from ombud.tickets.models import AuthorType, Channel, Message, Status, Ticket
from ombud.tickets.schemas import MessageCreate

SEND_JOB = "surveys.send"
MAX_ATTEMPTS = 6
FIRST_RETRY = dt.timedelta(minutes=1)
MAX_RETRY = dt.timedelta(hours=2)
# Quarantine reasons that mark a sender as a source of junk, not a customer to ask for feedback.
SPAM_REASONS = contact.SPAM_REASONS
SPAM_MEMORY = contact.SPAM_MEMORY
LINK_CHANNELS = {
    Channel.email: "email",
    Channel.web: "email",
    Channel.chat: "message",
    Channel.social: "message",
}


class SurveyState(enum.StrEnum):
    scheduled = "scheduled"  # waiting for due_at (or its next retry)
    held = "held"  # the ticket reopened before it went out; scheduled again when it is solved again
    sent = "sent"  # emailed, or posted in the conversation (see message_id for its delivery)
    answered = "answered"
    skipped = "skipped"  # never sent: reason says why (opted_out, abusive, spam_sender...)
    failed = "failed"  # could not be sent: reason and last_error say why


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=20, validate_strings=True)


class Survey(Base):
    __tablename__ = "surveys"
    __table_args__ = (
        # The sweep's question: which surveys are due to go out?
        Index(
            "ix_surveys_due",
            "due_at",
            sqlite_where=text("state = 'scheduled'"),
            postgresql_where=text("state = 'scheduled'"),
        ),
        Index("ix_surveys_customer_id", "customer_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    # Unique: one survey per ticket, ever.
    ticket_id: Mapped[int] = mapped_column(Id, ForeignKey("tickets.id", ondelete="CASCADE"), unique=True)
    customer_id: Mapped[int] = mapped_column(Id, ForeignKey("customers.id", ondelete="CASCADE"))
    state: Mapped[SurveyState] = mapped_column(_enum(SurveyState), default=SurveyState.scheduled)
    reason: Mapped[str] = mapped_column(String(40), default="")
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # How it went out: "email", "message" (in the conversation) or "" (not sent).
    via: Mapped[str] = mapped_column(String(20), default="")
    recipient: Mapped[str] = mapped_column(String(320), default="")
    language: Mapped[str] = mapped_column(String(10), default="en")
    token_digest: Mapped[str | None] = mapped_column(String(64), unique=True)
    message_id: Mapped[int | None] = mapped_column(Id, ForeignKey("messages.id", ondelete="SET NULL"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    with_nps: Mapped[bool] = mapped_column(default=False)
    score: Mapped[int | None] = mapped_column(Integer)
    nps: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class SurveySetup(Base):
    """The admin's survey configuration (one row, id 1): on or off, delay, expiry, NPS, wording."""

    __tablename__ = "survey_setup"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    config: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(Id, ForeignKey("users.id", ondelete="SET NULL"))


# -- configuration ----------------------------------------------------------------------------------------
class SurveyWording(BaseModel):
    """What the survey says in one language. ``{ticket}`` and ``{subject}`` are replaced."""

    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, max_length=200)
    intro: str = Field(min_length=1, max_length=2000)
    question: str = Field(min_length=1, max_length=300)
    comment_label: str = Field(min_length=1, max_length=200)
    nps_question: str = Field(min_length=1, max_length=300)
    thank_you: str = Field(min_length=1, max_length=2000)
    submit: str = Field(min_length=1, max_length=60)


DEFAULT_WORDING: dict[str, SurveyWording] = {
    "en": SurveyWording(
        subject="How did we do? [#{ticket}]",
        intro="We have solved your request \u201c{subject}\u201d. We would love to know how we did.",
        question="How satisfied are you with the help you received?",
        comment_label="Anything you would like to tell us? (optional)",
        nps_question="How likely are you to recommend us to a friend or colleague?",
        thank_you="Thank you for your feedback! It helps us serve you better.",
        submit="Send",
    ),
    "de": SurveyWording(
        subject="Wie zufrieden waren Sie? [#{ticket}]",
        intro="Ihre Anfrage \u201e{subject}\u201c ist gel\u00f6st. Wie zufrieden waren Sie mit uns?",
        question="Wie zufrieden sind Sie mit der Hilfe, die Sie erhalten haben?",
        comment_label="M\u00f6chten Sie uns noch etwas sagen? (optional)",
        nps_question="Wie wahrscheinlich ist es, dass Sie uns weiterempfehlen?",
        thank_you="Vielen Dank f\u00fcr Ihre R\u00fcckmeldung!",
        submit="Senden",
    ),
    "fr": SurveyWording(
        subject="Votre avis sur notre aide [#{ticket}]",
        intro="Votre demande \u00ab {subject} \u00bb est r\u00e9solue. "
        "Qu\u2019avez-vous pens\u00e9 de notre aide ?",
        question="Dans quelle mesure \u00eates-vous satisfait de l\u2019aide re\u00e7ue ?",
        comment_label="Souhaitez-vous nous dire quelque chose ? (facultatif)",
        nps_question="Quelle est la probabilit\u00e9 que vous nous recommandiez ?",
        thank_you="Merci pour votre avis !",
        submit="Envoyer",
    ),
    "es": SurveyWording(
        subject="\u00bfC\u00f3mo lo hicimos? [#{ticket}]",
        intro="Hemos resuelto su solicitud \u00ab{subject}\u00bb. "
        "\u00bfQu\u00e9 le pareci\u00f3 nuestra ayuda?",
        question="\u00bfQu\u00e9 tan satisfecho est\u00e1 con la ayuda recibida?",
        comment_label="\u00bfAlgo que quiera contarnos? (opcional)",
        nps_question="\u00bfQu\u00e9 probabilidad hay de que nos recomiende?",
        thank_you="\u00a1Gracias por su opini\u00f3n!",
        submit="Enviar",
    ),
}


class SurveyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="Send surveys after a solve.")
    delay_minutes: int = Field(
        default=60, ge=0, le=30 * 24 * 60, description="Wait this long after the solve (0: at once)."
    )
    expires_days: int = Field(default=14, ge=1, le=365, description="The link works this many days.")
    nps: bool = Field(default=False, description="Also ask the NPS question (0-10).")
    default_language: str = Field(default="en", pattern=r"^[a-z]{2,3}$")
    wording: dict[str, SurveyWording] = Field(
        default_factory=lambda: dict(DEFAULT_WORDING),
        description="Wording per language (ISO 639-1 code); the ticket's triaged language picks one.",
    )

    @field_validator("wording")
    @classmethod
    def _languages(cls, value: dict[str, SurveyWording]) -> dict[str, SurveyWording]:
        for code in value:
            if not (2 <= len(code) <= 3 and code.isascii() and code.isalpha() and code.islower()):
                raise ValueError(f"wording language {code!r} is not a lower-case ISO 639 code such as 'en'")
        return value

    def words(self, language: str) -> SurveyWording:
        return (
            self.wording.get(language)
            or self.wording.get(self.default_language)
            or DEFAULT_WORDING.get(language)
            or DEFAULT_WORDING["en"]
        )


def get_config(*, session: Session) -> SurveyConfig:
    """Return the survey configuration (the defaults until an admin sets one)."""
    row = session.get(SurveySetup, 1)
    return SurveyConfig() if row is None else SurveyConfig.model_validate(row.config or {})


def set_config(*, session: Session, actor: Principal, data: dict[str, Any]) -> SurveyConfig:
    """Replace the survey configuration (admins); the wording given replaces the built-in languages."""
    if not actor.is_admin:
        raise Forbidden("only admins may configure surveys", code="role_forbidden")
    try:
        config = SurveyConfig.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "config"
        raise InvalidInput(f"{where}: {first['msg']}", code="invalid_survey_config") from None
    if config.default_language not in config.wording:
        raise InvalidInput(
            f"default_language {config.default_language!r} has no wording; add it under wording",
            code="invalid_survey_config",
        )
    row = session.get(SurveySetup, 1)
    before = None if row is None else dict(row.config or {})
    if row is None:
        row = SurveySetup(id=1)
        session.add(row)
    row.config = config.model_dump(mode="json")
    row.updated_at = utcnow()
    row.updated_by_id = actor.id if actor.kind == "user" else None
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="surveys.configured",
        entity_type="survey_setup",
        entity_id=1,
        before=before,
        after=row.config,
    )
    return config


# -- scheduling (the ``surveys`` consumer) ------------------------------------------------------------------
def on_event(*, session: Session, event: EventRecord) -> None:
    """Schedule a survey when a ticket becomes solved; hold a waiting one when the ticket reopens."""
    if event.ticket_id is None or event.kind not in ("ticket.updated", "message.added"):
        return
    after = (event.payload or {}).get("after") or {}
    changed = after.get("ticket", {}) if event.kind == "message.added" else after
    status = changed.get("status") if isinstance(changed, dict) else None
    if status in (Status.solved.value, Status.closed.value):
        # Closed straight from open counts as a solve; a survey already scheduled or sent is left alone.
        schedule(session=session, ticket_id=event.ticket_id, at=event.created_at)
    elif status in (Status.new.value, Status.open.value, Status.pending.value, Status.on_hold.value):
        survey = survey_for(session=session, ticket_id=event.ticket_id)
        if survey is not None and survey.state is SurveyState.scheduled:
            survey.state, survey.due_at = SurveyState.held, None
            session.flush()


def schedule(*, session: Session, ticket_id: int, at: dt.datetime | None = None) -> Survey | None:
    """Schedule the ticket's survey (once per ticket: a held one is rescheduled, any other left alone)."""
    config = get_config(session=session)
    if not config.enabled:
        return None
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        return None
    delay = dt.timedelta(minutes=config.delay_minutes)
    due = (at or utcnow()) + delay
    survey = survey_for(session=session, ticket_id=ticket_id)
    if survey is None:
        survey = Survey(
            ticket_id=ticket_id, customer_id=ticket.customer_id, state=SurveyState.scheduled, due_at=due
        )
        try:
            with race_savepoint(session):
                session.add(survey)
                session.flush()
        except IntegrityError:
            return survey_for(session=session, ticket_id=ticket_id)
    elif survey.state is SurveyState.held:
        survey.state, survey.due_at = SurveyState.scheduled, due
        session.flush()
    else:
        return survey
    wait = due - utcnow()
    if wait > dt.timedelta(0):
        defer_in(session, SEND_JOB, wait, survey_id=survey.id)
    else:
        defer(session, SEND_JOB, survey_id=survey.id)
    return survey


def survey_for(*, session: Session, ticket_id: int) -> Survey | None:
    return session.scalar(select(Survey).where(Survey.ticket_id == ticket_id))


def due_survey_ids(*, session: Session, limit: int) -> list[int]:
    """Return the ids of surveys due to go out (for the sweep)."""
    rows = session.scalars(
        select(Survey.id)
        .where(Survey.state == SurveyState.scheduled, Survey.due_at <= utcnow())
        .order_by(Survey.due_at)
        .limit(limit)
    )
    return [int(i) for i in rows]


# -- sending (the ``surveys.send`` job) ---------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    """What the send job does for one due survey: ``outcome`` skipped/held/failed at once, or send."""

    survey_id: int
    outcome: SurveyState | None = None
    reason: str = ""
    via: str = ""
    recipient: str = ""
    language: str = "en"
    token: str = ""
    email: EmailMessage | None = None
    chat_text: str = ""
    with_nps: bool = False


def plan_send(  # noqa: PLR0911 (one return per way a survey can end)
    *, session: Session, survey_id: int, base_url: str, sender: tuple[str, str]
) -> Plan | None:
    """Return what to do for a due survey (reading only; no network), or None when nothing is due."""
    survey = session.get(Survey, survey_id)
    now = utcnow()
    if survey is None or survey.state is not SurveyState.scheduled or (survey.due_at and survey.due_at > now):
        return None
    ticket = session.get(Ticket, survey.ticket_id)
    if ticket is None:
        return None
    if ticket.status not in (Status.solved, Status.closed):
        return Plan(survey_id=survey_id, outcome=SurveyState.held, reason="reopened")
    config = get_config(session=session)
    if not config.enabled:
        return Plan(survey_id=survey_id, outcome=SurveyState.skipped, reason="disabled")
    why_not = _why_not(session, ticket)
    if why_not:
        return Plan(survey_id=survey_id, outcome=SurveyState.skipped, reason=why_not)
    via = LINK_CHANNELS.get(ticket.channel)
    if via is None:
        return Plan(survey_id=survey_id, outcome=SurveyState.skipped, reason="channel_cannot_carry_link")
    if via == "message" and ticket.status is Status.closed:
        return Plan(survey_id=survey_id, outcome=SurveyState.skipped, reason="ticket_closed")
    language = _language(session, ticket, config)
    words = config.words(language)
    token = secrets.token_urlsafe(32)
    link = f"{base_url.rstrip('/')}/survey/{token}"
    fill = {"ticket": str(ticket.id), "subject": ticket.subject}
    if via == "message":
        body = f"{contact.fill(words.intro, fill)}\n{contact.fill(words.question, fill)} {link}"
        return Plan(
            survey_id=survey_id, via=via, language=language, token=token, chat_text=body, with_nps=config.nps
        )
    recipient = _email_address(session, ticket)
    if not recipient:
        return Plan(survey_id=survey_id, outcome=SurveyState.skipped, reason="no_address")
    mail = _compose(words=words, fill=fill, link=link, to=recipient, sender=sender, ticket_id=ticket.id)
    return Plan(
        survey_id=survey_id,
        via=via,
        recipient=recipient,
        language=language,
        token=token,
        email=mail,
        with_nps=config.nps,
    )


def _why_not(session: Session, ticket: Ticket) -> str:
    """Return why this ticket's customer must not be surveyed ("" when they may be)."""
    customer = customers.access_customer(session=session, principal=SYSTEM, customer_id=ticket.customer_id)
    prefs = customer.preferences or {}
    if prefs.get("surveys") is False or prefs.get("no_surveys") is True:
        return "opted_out"
    agents = session.scalar(
        select(Message.id)
        .where(
            Message.ticket_id == ticket.id,
            Message.internal.is_(False),
            Message.author_type == AuthorType.agent,
        )
        .limit(1)
    )
    if agents is None:
        return "nothing_to_rate"
    return contact.blocked_reason(session=session, customer_id=ticket.customer_id, ticket_ids=[ticket.id])


def _language(session: Session, ticket: Ticket, config: SurveyConfig) -> str:
    """The language of the customer's latest triaged message with wording for it, else the default."""
    return contact.language_of(
        session=session, ticket_ids=[ticket.id], known=config.wording, default=config.default_language
    )


def _email_address(session: Session, ticket: Ticket) -> str:
    meta = session.scalar(
        select(Message.channel_meta)
        .where(
            Message.ticket_id == ticket.id,
            Message.author_type == AuthorType.customer,
            Message.channel == Channel.email,
        )
        .order_by(Message.id.desc())
        .limit(1)
    )
    meta = meta or {}
    found = meta.get("reply_to") or meta.get("from")
    if found:
        return str(found)
    addresses = customers.identity_values(session=session, customer_id=ticket.customer_id, kind="email")
    return addresses[0] if addresses else ""


def _compose(
    *, words: SurveyWording, fill: dict[str, str], link: str, to: str, sender: tuple[str, str], ticket_id: int
) -> EmailMessage:
    name, address = sender
    mail = EmailMessage()
    mail["From"] = email.utils.formataddr((name, address))
    mail["To"] = to
    mail["Subject"] = contact.fill(words.subject, fill)
    mail["Date"] = email.utils.format_datetime(utcnow())
    mail["Message-ID"] = email.utils.make_msgid(domain=address.rpartition("@")[2] or "ombud.localhost")
    # RFC 3834: out-of-office robots must not answer it (their answer would become a ticket).
    mail["Auto-Submitted"] = "auto-generated"
    mail["X-Ombud-Ticket"] = str(ticket_id)
    mail["X-Ombud-Survey"] = "csat"
    intro, question = contact.fill(words.intro, fill), contact.fill(words.question, fill)
    scale = "\n".join(f"  {score}: {link}?score={score}" for score in range(5, 0, -1))
    mail.set_content(f"{intro}\n\n{question}\n\n{scale}\n\n{link}\n")
    # One element a line: SMTP refuses lines over 998 octets.
    buttons = "\n".join(
        f'<a href="{html.escape(link)}?score={score}" style="display:inline-block;margin:0 4px;'
        f'padding:10px 16px;border:1px solid #888;border-radius:6px;text-decoration:none;color:#111">'
        f"{score}</a>"
        for score in range(1, 6)
    )
    mail.add_alternative(
        f"<p>{html.escape(intro)}</p>\n<p>{html.escape(question)}</p>\n<p>{buttons}</p>\n"
        f'<p style="color:#555">1 = poor, 5 = excellent. '
        f'<a href="{html.escape(link)}">{html.escape(link)}</a></p>',
        subtype="html",
    )
    return mail


def record_send(*, session: Session, plan: Plan, error: str = "", retry: bool = False) -> dt.timedelta | None:
    """Record what became of ``plan`` (sent, skipped, held, failed, or retry); post the chat message.
    Return the delay until the next attempt when there is one."""
    survey = session.get(Survey, plan.survey_id)
    if survey is None or survey.state is not SurveyState.scheduled:
        return None  # another worker finished it meanwhile
    now = utcnow()
    if plan.outcome is SurveyState.held:
        survey.state, survey.due_at = SurveyState.held, None
    elif plan.outcome is not None:
        survey.state, survey.reason, survey.due_at = plan.outcome, plan.reason, None
    elif error:
        survey.attempts += 1
        survey.last_error = error[:2000]
        if retry and survey.attempts < MAX_ATTEMPTS:
            wait: dt.timedelta = min(FIRST_RETRY * 2 ** (survey.attempts - 1), MAX_RETRY)
            survey.due_at = now + wait
            session.flush()
            return wait
        survey.state, survey.reason, survey.due_at = SurveyState.failed, "undeliverable", None
    else:
        survey.attempts += 1
        if plan.via == "message":
            ticket = session.get(Ticket, survey.ticket_id)
            if ticket is None or ticket.status is Status.closed:
                # Closed since the plan was made: a closed conversation takes no more messages.
                survey.state, survey.reason, survey.due_at = SurveyState.skipped, "ticket_closed", None
                session.flush()
                return None
            message = tickets.add_message(
                session=session,
                ticket=ticket,
                data=MessageCreate(body=plan.chat_text, internal=False),
                actor=SYSTEM,
                limits=tickets.Limits(),
            )
            survey.message_id = message.id
        _sent(survey, plan, now, get_config(session=session))
    session.flush()
    return None


def _sent(survey: Survey, plan: Plan, now: dt.datetime, config: SurveyConfig) -> None:
    survey.state = SurveyState.sent
    survey.via, survey.recipient, survey.language = plan.via, plan.recipient[:320], plan.language
    survey.token_digest = digest(plan.token)
    survey.with_nps = plan.with_nps
    survey.sent_at, survey.due_at = now, None
    survey.expires_at = now + dt.timedelta(days=config.expires_days)
    survey.last_error = ""


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


# -- answering ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Opened:
    survey: Survey
    ticket: Ticket
    words: SurveyWording
    expired: bool


def open_survey(*, session: Session, token: str) -> Opened:
    """Return the survey a link's token opens; NotFound for a token that is not one of ours."""
    if not 20 <= len(token) <= 100:
        raise NotFound(
            "this survey link is not valid; use the link from your message", code="survey_not_found"
        )
    survey = session.scalar(select(Survey).where(Survey.token_digest == digest(token)))
    if survey is None:
        raise NotFound(
            "this survey link is not valid; use the link from your message", code="survey_not_found"
        )
    ticket = session.get(Ticket, survey.ticket_id)
    assert ticket is not None
    config = get_config(session=session)
    expired = survey.expires_at is not None and survey.expires_at <= utcnow()
    return Opened(survey=survey, ticket=ticket, words=config.words(survey.language), expired=expired)


def answer(*, session: Session, token: str, score: int, comment: str = "", nps: int | None = None) -> Survey:
    """Store the customer's answer (a later answer through the same link replaces it, like a rating);
    the score and comment become the ticket's rating, source "survey"."""
    opened = open_survey(session=session, token=token)
    survey = opened.survey
    if opened.expired:
        raise Conflict("this survey has expired; thank you all the same", code="survey_expired")
    if nps is not None and not survey.with_nps:
        raise InvalidInput("this survey does not ask the NPS question; leave nps out", code="invalid_rating")
    customer = Principal(kind="customer", id=survey.customer_id)
    ratings.store_rating(
        session=session,
        ticket=opened.ticket,
        score=score,
        comment=comment,
        actor=customer,
        source="survey",
        nps=nps,
        with_nps=survey.with_nps,
    )
    survey.state = SurveyState.answered
    survey.score, survey.nps, survey.comment = score, nps, comment.strip()
    survey.answered_at = utcnow()
    session.flush()
    return survey


# -- reading ------------------------------------------------------------------------------------------------
class SurveyPublic(BaseModel):
    """A ticket's survey as staff see it: where it is, how it went out, and the answer."""

    model_config = ConfigDict(from_attributes=True)
    ticket_id: int
    state: SurveyState
    reason: str
    via: str
    recipient: str
    language: str
    message_id: int | None
    attempts: int
    last_error: str
    with_nps: bool
    score: int | None
    nps: int | None
    comment: str
    due_at: dt.datetime | None
    sent_at: dt.datetime | None
    expires_at: dt.datetime | None
    answered_at: dt.datetime | None


def access_survey(*, session: Session, principal: Principal, ticket_id: int) -> Survey:
    """Return the ticket's survey for staff; NotFound when none was scheduled."""
    tickets.access_ticket(session=session, principal=principal, ticket_id=ticket_id)
    if not principal.is_staff:
        raise Forbidden("only staff see a ticket's survey", code="role_forbidden")
    survey = survey_for(session=session, ticket_id=ticket_id)
    if survey is None:
        raise NotFound(
            f"ticket {ticket_id} has no survey (it is sent after a solve)", code="survey_not_found"
        )
    return survey
