"""Closing the loop: when a case is fixed, every affected customer hears it, personally, on the channel
they used; then ombud checks that the theme stopped growing.

When an advocate moves a case to ``fixed`` (or confirms the fix note of a fix the tracker reported:
:func:`ombud.advocacy.cases.tell_customers`), :func:`start` makes one notice per affected customer
(the customers of the tickets it covers, once each; with ``notify_segment`` also the customers of the
case's segment who never wrote in about it) and a job per notice (:func:`send_notice`):

1. it skips customers who must not be contacted and says why: merged into another customer, opted out
   (the customer preference ``advocacy_notices`` set to false), abusive, whose last message was an
   auto-reply, or whose address sent spam lately (:mod:`ombud.tickets.contact`, shared with surveys);
2. it writes on their tickets (an internal note naming the case, the tag ``advocacy-case-<id>``; solved
   tickets stay solved);
3. it posts the personal message (their name, their ticket, what changed, in their language when the
   wording exists) as a public reply on their most recent covered ticket, so it goes out on that ticket's
   channel through the channel delivery jobs; a closed ticket, or one whose channel carries no replies
   (phone, API), and a customer who never wrote in get a new outbound email ticket when they have an
   email address;
4. it follows the reply's delivery: ``sent`` when the channel took it; when the channel gave up, it puts
   the reply back in the queue with a growing wait, and records ``failed`` with the reason after the last
   attempt. ``retry_at`` holds when the notice next needs looking at; the sweep finds lost timers.

When no notice is pending any more the case becomes ``customers_told`` and ``verify_due_at`` is set
(``advocacy_verify_days`` later). The verification job then compares the theme's concerns per day since
the fix with the same length of time before it: well below (at most half) means ``verified``; otherwise
the case stays, with a ``still_growing`` alert (audited, published) and another check later.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ombud.accounts.schemas import SYSTEM
from ombud.advocacy import cases
from ombud.advocacy.models import (
    AdvocacyCase,
    CaseNotice,
    CaseStatus,
    CaseTicket,
    NoticeState,
    Theme,
    ThemeMember,
    ThemeState,
)
from ombud.audit import service as audit
from ombud.channels import service as channels_service
from ombud.customers import service as customers
from ombud.customers.models import Customer, Purchase
from ombud.errors import OmbudError
from ombud.storage.base import utcnow
from ombud.storage.queue import defer, defer_in
from ombud.tickets import contact
from ombud.tickets import service as tickets
from ombud.tickets.models import AuthorType, Channel, DeliveryState, Message, Priority, Status, Ticket
from ombud.tickets.schemas import MessageCreate, TicketUpdate

NOTICE_JOB = "advocacy.notice"
TOLD_JOB = "advocacy.case_told"
VERIFY_JOB = "advocacy.case_verify"
MAX_ATTEMPTS = 4
FIRST_RETRY = dt.timedelta(minutes=5)
MAX_RETRY = dt.timedelta(hours=6)
# How soon to look again at a reply still on its way, and how long it may stay on its way.
POLL = dt.timedelta(minutes=1)
MAX_IN_FLIGHT = dt.timedelta(days=2)
# The customer preference that opts out of these messages (set with PATCH /api/v1/customers/{id}).
OPT_OUT_PREFERENCE = "advocacy_notices"
# "Well below": the rate after the fix at most this share of the rate before.
VERIFIED_SHARE = 0.5
MAX_SEGMENT_CUSTOMERS = 5000
NO_REPLY_CHANNELS = (Channel.phone, Channel.api)
RETRYING = "retrying: "

# ``{name}`` ``{ticket}`` ``{subject}`` ``{title}`` ``{fix_note}`` are replaced.
WORDING: dict[str, dict[str, str]] = {
    "en": {
        "greeting": "Hello {name},",
        "greeting_anonymous": "Hello,",
        "ticket": "You wrote to us about \u201c{subject}\u201d (ticket #{ticket}). "
        "We took it to the team that could fix it, and it is fixed now.",
        "segment": "Some of our customers had a problem with \u201c{title}\u201d, "
        "which may have affected you too. It is fixed now.",
        "changed": "What changed:",
        "thanks": "Thank you for telling us: it helped us fix it for everyone.",
        "subject": "Fixed: {title}",
    },
    "de": {
        "greeting": "Hallo {name},",
        "greeting_anonymous": "Hallo,",
        "ticket": "Sie haben uns zu \u201e{subject}\u201c geschrieben (Ticket #{ticket}). "
        "Wir haben das Problem an das zust\u00e4ndige Team gegeben, und es ist jetzt behoben.",
        "segment": "Einige unserer Kunden hatten ein Problem mit \u201e{title}\u201c, "
        "das auch Sie betroffen haben kann. Es ist jetzt behoben.",
        "changed": "Was sich ge\u00e4ndert hat:",
        "thanks": "Danke, dass Sie es uns gesagt haben: So konnten wir es f\u00fcr alle beheben.",
        "subject": "Behoben: {title}",
    },
    "fr": {
        "greeting": "Bonjour {name},",
        "greeting_anonymous": "Bonjour,",
        "ticket": "Vous nous avez \u00e9crit au sujet de \u00ab {subject} \u00bb "
        "(ticket n\u00b0{ticket}). Nous l\u2019avons transmis \u00e0 l\u2019\u00e9quipe "
        "concern\u00e9e, et c\u2019est maintenant corrig\u00e9.",
        "segment": "Certains de nos clients ont rencontr\u00e9 un probl\u00e8me avec "
        "\u00ab {title} \u00bb, qui a pu vous toucher aussi. C\u2019est maintenant corrig\u00e9.",
        "changed": "Ce qui a chang\u00e9 :",
        "thanks": "Merci de nous l\u2019avoir signal\u00e9 : cela nous a permis de le corriger pour tous.",
        "subject": "Corrig\u00e9 : {title}",
    },
    "es": {
        "greeting": "Hola, {name}:",
        "greeting_anonymous": "Hola:",
        "ticket": "Nos escribi\u00f3 sobre \u00ab{subject}\u00bb (ticket n.\u00ba {ticket}). "
        "Lo llevamos al equipo que pod\u00eda solucionarlo y ya est\u00e1 solucionado.",
        "segment": "Algunos de nuestros clientes tuvieron un problema con \u00ab{title}\u00bb "
        "que quiz\u00e1 tambi\u00e9n le afect\u00f3 a usted. Ya est\u00e1 solucionado.",
        "changed": "Qu\u00e9 ha cambiado:",
        "thanks": "Gracias por avisarnos: nos ayud\u00f3 a solucionarlo para todos.",
        "subject": "Solucionado: {title}",
    },
}


def tag_for(case_id: int) -> str:
    return f"advocacy-case-{case_id}"


# -- starting ---------------------------------------------------------------------------------------------
def start(*, session: Session, case: AdvocacyCase, renew: bool = True) -> list[CaseNotice]:
    """Make the notice of every affected customer and queue their jobs; queue the check that moves the
    case on when nobody is left to tell. ``renew`` (a new fix) also renews the notices of customers told
    about an earlier fix; without it (tickets added to a fixed case) only customers not yet told get one."""
    now = utcnow()
    covered = session.execute(
        select(CaseTicket.customer_id, CaseTicket.ticket_id, Ticket.channel, Ticket.created_at)
        .join(Ticket, Ticket.id == CaseTicket.ticket_id)
        .where(CaseTicket.case_id == case.id)
        .order_by(Ticket.created_at, Ticket.id)
    ).all()
    latest: dict[int, tuple[int | None, str]] = {}
    for customer_id, ticket_id, channel, _ in covered:
        latest[int(customer_id)] = (int(ticket_id), Channel(channel).value)  # the most recent wins
    if case.notify_segment and case.segment:
        for customer_id in segment_customers(
            session=session, segment=case.segment, limit=MAX_SEGMENT_CUSTOMERS
        ):
            latest.setdefault(customer_id, (None, Channel.email.value))
    existing = {
        n.customer_id: n
        for n in session.scalars(select(CaseNotice).where(CaseNotice.case_id == case.id)).all()
    }
    made: list[CaseNotice] = []
    for customer_id, (target_id, via) in latest.items():
        notice = existing.get(customer_id)
        if notice is None:
            notice = CaseNotice(case_id=case.id, customer_id=customer_id, created_at=now)
            session.add(notice)
        elif notice.state is NoticeState.pending or not renew:
            continue  # already on its way for this fix, or told about it
        notice.ticket_id, notice.channel = target_id, via
        notice.state, notice.reason, notice.message_id = NoticeState.pending, "", None
        notice.attempts, notice.retry_at, notice.sent_at = 0, now, None
        made.append(notice)
    session.flush()
    for notice in made:
        defer(session, NOTICE_JOB, notice_id=notice.id)
    defer(session, TOLD_JOB, case_id=case.id)
    return made


def segment_customers(*, session: Session, segment: dict[str, Any], limit: int) -> list[int]:
    """Return the customers matching ``segment`` (tier, product bought, region), oldest first."""
    query = select(Customer.id).where(Customer.merged_into_id.is_(None))
    if segment.get("tier"):
        query = query.where(Customer.tier == str(segment["tier"]))
    if segment.get("product"):
        query = query.where(
            Customer.id.in_(select(Purchase.customer_id).where(Purchase.product == str(segment["product"])))
        )
    ids = [
        int(i)
        for i in session.scalars(
            query.order_by(Customer.id).limit(limit * 2 if segment.get("region") else limit)
        )
    ]
    if segment.get("region"):
        region = str(segment["region"]).lower()
        members = set(
            session.scalars(
                select(ThemeMember.customer_id).where(
                    ThemeMember.customer_id.in_(ids), func.lower(ThemeMember.region) == region
                )
            )
        )
        found = []
        for customer in session.scalars(select(Customer).where(Customer.id.in_(ids)).order_by(Customer.id)):
            prefs_region = str((customer.preferences or {}).get("region") or "").lower()
            if customer.id in members or prefs_region == region:
                found.append(customer.id)
        ids = found[:limit]
    return ids


# -- one notice -------------------------------------------------------------------------------------------
def due_notice_ids(*, session: Session, limit: int) -> Sequence[int]:
    """Return pending notices due to be looked at (the sweep's finder), soonest first."""
    query = (
        select(CaseNotice.id)
        .where(CaseNotice.retry_at <= utcnow(), CaseNotice.state == NoticeState.pending)
        .order_by(CaseNotice.retry_at)
        .limit(limit)
    )
    return [int(i) for i in session.scalars(query).all()]


def send_notice(*, session: Session, notice_id: int, verify_days: int) -> None:
    """Do what notice ``notice_id`` needs now: post the message, follow its delivery, retry, or record why
    it was skipped or failed. Idempotent: a finished notice, or one not due yet, is left alone."""
    # Locked on PostgreSQL: the sweep and a retry timer may run the same notice at once, and only one of
    # them may post the message. (SQLite writers are one at a time already.)
    locking = session.get_bind().dialect.name == "postgresql"
    notice = session.get(CaseNotice, notice_id, with_for_update=locking or None, populate_existing=True)
    now = utcnow()
    if notice is None or notice.state is not NoticeState.pending:
        return
    if notice.retry_at is not None and notice.retry_at > now + dt.timedelta(seconds=1):
        return
    case = session.get(AdvocacyCase, notice.case_id)
    if case is None or case.status not in cases.FIXED_STATES or case.tell_started_at is None:
        _finish(notice, NoticeState.skipped, "case_reopened", now)
    elif notice.message_id is None:
        _post_guarded(session, case, notice, now)
    else:
        _follow(session, notice, now)
    session.flush()
    if notice.state is not NoticeState.pending and case is not None:
        check_told(session=session, case_id=case.id, verify_days=verify_days)


def _finish(notice: CaseNotice, state: NoticeState, reason: str, now: dt.datetime) -> None:
    notice.state, notice.reason, notice.retry_at = state, reason[:200], None
    if state is NoticeState.sent:
        notice.sent_at = now


def why_not(*, session: Session, customer: Customer, ticket_ids: Sequence[int]) -> str:
    """Return why ``customer`` must not be told ("" when they may be): merged into another customer,
    opted out (``preferences.advocacy_notices`` is false), or what blocks every unasked message
    (:func:`ombud.tickets.contact.blocked_reason`: abusive, auto-reply, spam sender)."""
    if customer.merged_into_id is not None:
        return "merged"
    if (customer.preferences or {}).get(OPT_OUT_PREFERENCE) is False:
        return "opted_out"
    return contact.blocked_reason(session=session, customer_id=customer.id, ticket_ids=ticket_ids)


def _language(session: Session, ticket_ids: Sequence[int]) -> str:
    """The language of the customer's latest triaged message with wording for it, else English."""
    return contact.language_of(session=session, ticket_ids=ticket_ids, known=WORDING, default="en")


def compose(
    *, words: dict[str, str], name: str, ticket: Ticket | None, case: AdvocacyCase, wrote_in: bool
) -> str:
    """Return the personal message: greeting with their name, their ticket, what changed."""
    values = {
        "name": name,
        "ticket": str(ticket.id) if ticket is not None else "",
        "subject": ticket.subject if ticket is not None else "",
        "title": case.title,
    }
    greeting = contact.fill(words["greeting"] if name else words["greeting_anonymous"], values)
    lead = contact.fill(words["ticket"] if wrote_in else words["segment"], values)
    return f"{greeting}\n\n{lead}\n\n{words['changed']}\n{case.fix_note.strip()}\n\n{words['thanks']}\n"


def _post_guarded(session: Session, case: AdvocacyCase, notice: CaseNotice, now: dt.datetime) -> None:
    """Post the notice in a savepoint: an unexpected error undoes only the posting, and the attempt is
    counted (failed after MAX_ATTEMPTS, else retried later), so a notice that always breaks ends as
    failed instead of being retried for ever while its case waits."""
    try:
        with session.begin_nested():
            _post(session, case, notice, now)
    except Exception as exc:
        session.refresh(notice)
        notice.attempts += 1
        error = f"{type(exc).__name__}: {exc}"
        if notice.attempts >= MAX_ATTEMPTS:
            _finish(notice, NoticeState.failed, f"gave up after {notice.attempts} attempts: {error}", now)
        else:
            wait = min(FIRST_RETRY * 2 ** (notice.attempts - 1), MAX_RETRY)
            notice.reason, notice.retry_at = (RETRYING + error)[:200], now + wait
            defer_in(session, NOTICE_JOB, wait, notice_id=notice.id)


def _post(session: Session, case: AdvocacyCase, notice: CaseNotice, now: dt.datetime) -> None:
    customer = session.get(Customer, notice.customer_id)
    if customer is None:
        _finish(notice, NoticeState.skipped, "customer_gone", now)
        return
    covered = [
        int(t)
        for t in session.scalars(
            select(CaseTicket.ticket_id).where(
                CaseTicket.case_id == case.id, CaseTicket.customer_id == customer.id
            )
        )
    ]
    reason = why_not(session=session, customer=customer, ticket_ids=covered)
    if reason:
        _finish(notice, NoticeState.skipped, reason, now)
        return
    _update_tickets(session, case, covered)
    words = WORDING[_language(session, covered)]
    wrote_in = notice.ticket_id is not None
    ticket = session.get(Ticket, notice.ticket_id) if notice.ticket_id is not None else None
    target = ticket
    if target is None or target.status is Status.closed or target.channel in NO_REPLY_CHANNELS:
        if not customers.identity_values(session=session, customer_id=customer.id, kind="email"):
            why = (
                "no_email_address"
                if target is None
                else ("ticket_closed" if target.status is Status.closed else "channel_cannot_carry_message")
            )
            _finish(notice, NoticeState.skipped, why, now)
            return
        # The new ticket carries only this message: it is not one of the case's tickets (it would count
        # as a customer's concern and be picked as their latest ticket after a reopen); the notice names it.
        target = tickets.start_ticket(
            session=session,
            customer_id=customer.id,
            subject=contact.fill(words["subject"], {"title": case.title})[:500],
            channel=Channel.email,
            ticket_priority=Priority.low,
            team_id=None,
            actor=SYSTEM,
        )
        outbound = target
        notice.ticket_id, notice.channel = target.id, Channel.email.value
    else:
        outbound = None
    body = compose(
        words=words, name=customer.name.strip(), ticket=ticket or target, case=case, wrote_in=wrote_in
    )
    try:
        message = tickets.add_message(
            session=session,
            ticket=target,
            data=MessageCreate(body=body, internal=False),
            actor=SYSTEM,
            limits=tickets.Limits(),
        )
    except OmbudError as exc:
        _finish(notice, NoticeState.failed, exc.message, now)
        return
    if outbound is not None:
        # Nothing to answer: solved at once, so it does not wait in the inbox (a reply reopens it).
        tickets.update_ticket(
            session=session,
            ticket=outbound,
            changes=TicketUpdate(status=Status.solved, tags=[tag_for(case.id)]),
            actor=SYSTEM,
        )
    notice.message_id = message.id
    notice.attempts += 1
    notice.retry_at = now  # due at once: the job looks at the delivery right after this commits
    notice.channel = target.channel.value
    # Looked at again as soon as this commits: by then the delivery job has usually run.
    defer(session, NOTICE_JOB, notice_id=notice.id)
    audit.record(
        session=session,
        actor=SYSTEM,
        action="advocacy.notice.posted",
        entity_type="advocacy_notice",
        entity_id=notice.id,
        customer_id=customer.id,
        ticket_id=target.id,
        after={"case_id": case.id, "message_id": message.id, "channel": notice.channel},
        publish=False,
    )


def _update_tickets(session: Session, case: AdvocacyCase, ticket_ids: Sequence[int]) -> None:
    """Note the case on each ticket and tag it (closed tickets get the note only; statuses stay)."""
    tag = tag_for(case.id)
    body = (
        f"Advocacy case #{case.id} \u201c{case.title}\u201d is fixed: {case.fix_note.strip()}\n"
        "The customer is told in a personal message."
    )
    for ticket_id in ticket_ids:
        ticket = session.get(Ticket, ticket_id)
        if ticket is None or tag in ticket.tag_names:
            continue
        noted = session.scalar(
            select(Message.id)
            .where(
                Message.ticket_id == ticket.id,
                Message.author_type == AuthorType.system,
                Message.internal.is_(True),
                Message.body_text == body,
            )
            .limit(1)
        )
        if noted is not None:
            continue  # a closed ticket (no tag) told of this very fix already
        tickets.add_system_note(session=session, ticket=ticket, body=body)
        if ticket.status is not Status.closed:
            tickets.update_ticket(
                session=session,
                ticket=ticket,
                changes=TicketUpdate(tags=[*ticket.tag_names, tag]),
                actor=SYSTEM,
            )


def _follow(session: Session, notice: CaseNotice, now: dt.datetime) -> None:
    message = session.get(Message, notice.message_id)
    state = message.delivery_state if message is not None else None
    if state is DeliveryState.sent:
        _finish(notice, NoticeState.sent, "", now)
        return
    if state is DeliveryState.none:
        _finish(notice, NoticeState.failed, "the ticket's channel has no way to send messages", now)
        return
    if state in (DeliveryState.failed, DeliveryState.bounced):
        delivery = channels_service.delivery_of(session=session, message_id=notice.message_id or 0)
        error = (delivery.last_error if delivery is not None else "") or state.value
        if notice.reason.startswith(RETRYING):
            # The wait is over: put the reply back in the channel's queue and follow it again.
            channels_service.retry_delivery(session=session, message_id=notice.message_id or 0, actor=SYSTEM)
            notice.attempts += 1
            notice.reason, notice.retry_at = "", now
            defer(session, NOTICE_JOB, notice_id=notice.id)
        elif notice.attempts >= MAX_ATTEMPTS:
            _finish(notice, NoticeState.failed, f"gave up after {notice.attempts} attempts: {error}", now)
        else:
            wait = min(FIRST_RETRY * 2 ** (notice.attempts - 1), MAX_RETRY)
            notice.reason, notice.retry_at = (RETRYING + error)[:200], now + wait
            defer_in(session, NOTICE_JOB, wait, notice_id=notice.id)
        return
    if message is None:
        _finish(notice, NoticeState.failed, "the message was removed", now)
        return
    if message.created_at < now - MAX_IN_FLIGHT:
        _finish(
            notice,
            NoticeState.failed,
            f"the channel did not send it within {MAX_IN_FLIGHT.days} days "
            f"(still {state.value if state is not None else 'unknown'})",
            now,
        )
        return
    # Still on its way (the channel retries by itself): look again later.
    notice.retry_at = now + POLL
    defer_in(session, NOTICE_JOB, POLL, notice_id=notice.id)


# -- the case moves on ------------------------------------------------------------------------------------
def check_told(*, session: Session, case_id: int, verify_days: int) -> None:
    """Move a fixed case to customers_told once no notice is pending; set when to verify it."""
    case = session.get(AdvocacyCase, case_id)
    if case is None or case.status is not CaseStatus.fixed or case.tell_started_at is None:
        return
    pending = session.scalar(
        select(func.count()).where(CaseNotice.case_id == case.id, CaseNotice.state == NoticeState.pending)
    )
    if pending:
        return
    now = utcnow()
    counts = cases.notice_counts(session=session, case_id=case.id)
    case.told_at = now
    case.verify_due_at = now + dt.timedelta(days=verify_days) if case.theme_id is not None else None
    cases.set_status_by_loop(
        session=session, case=case, status=CaseStatus.customers_told, extra={"notices": counts}
    )


def untold_case_ids(*, session: Session, limit: int) -> Sequence[int]:
    """Return fixed cases with no pending notice left (the sweep's finder: two notices finishing at once
    on two workers may each have seen the other still pending)."""
    pending = select(CaseNotice.id).where(
        CaseNotice.case_id == AdvocacyCase.id, CaseNotice.state == NoticeState.pending
    )
    query = (
        select(AdvocacyCase.id)
        .where(
            AdvocacyCase.status == CaseStatus.fixed,
            AdvocacyCase.tell_started_at.is_not(None),
            ~pending.exists(),
        )
        .order_by(AdvocacyCase.id)
        .limit(limit)
    )
    return [int(i) for i in session.scalars(query).all()]


def due_verify_ids(*, session: Session, limit: int) -> Sequence[int]:
    query = (
        select(AdvocacyCase.id)
        .where(AdvocacyCase.verify_due_at <= utcnow(), AdvocacyCase.status == CaseStatus.customers_told)
        .order_by(AdvocacyCase.verify_due_at)
        .limit(limit)
    )
    return [int(i) for i in session.scalars(query).all()]


def measured_theme(session: Session, theme_id: int) -> Theme | None:
    """Return the theme whose concerns measure the case of ``theme_id``: the theme itself, or the theme it
    was merged into (following merges); None when it is gone."""
    theme = session.get(Theme, theme_id)
    for _ in range(20):
        if theme is None or theme.merged_into_id is None:
            return theme
        theme = session.get(Theme, theme.merged_into_id)
    return theme


def theme_rates(
    *, session: Session, theme_ids: Sequence[int], fixed_at: dt.datetime, now: dt.datetime
) -> tuple[float, float]:
    """Return the concerns per day of ``theme_ids`` before and after ``fixed_at`` (equal windows, at
    least a day)."""
    span = max(now - fixed_at, dt.timedelta(days=1))

    def count(since: dt.datetime, until: dt.datetime) -> int:
        return int(
            session.scalar(
                select(func.count()).where(
                    ThemeMember.theme_id.in_(list(theme_ids)),
                    ThemeMember.concern_at >= since,
                    ThemeMember.concern_at < until,
                )
            )
            or 0
        )

    days = span.total_seconds() / 86400
    return count(fixed_at - span, fixed_at) / days, count(fixed_at, fixed_at + span) / days


def verify_case(*, session: Session, case_id: int, verify_days: int) -> None:
    """Verify a told case whose check is due: the theme stopped growing after the fix, or it did not (an
    alert, and another check later)."""
    case = session.get(AdvocacyCase, case_id)
    now = utcnow()
    if (
        case is None
        or case.status is not CaseStatus.customers_told
        or case.verify_due_at is None
        or case.verify_due_at > now + dt.timedelta(seconds=1)
    ):
        return
    if case.theme_id is None or case.fixed_at is None:
        case.verify_due_at = None  # nothing to measure: an advocate verifies it by hand
        return
    measured = measured_theme(session, case.theme_id)
    if measured is None or measured.state is ThemeState.retired:
        # Re-clustering left the theme no members: nothing honest to compare; an advocate decides.
        finding: dict[str, Any] = {
            "checked_at": now.isoformat(),
            "result": "cannot_verify",
            "reason": "the theme is gone" if measured is None else f"theme {measured.id} was retired",
        }
        case.evidence = {**(case.evidence or {}), "verification": finding}
        case.verify_due_at, case.updated_at = None, now
        session.flush()
        cases.publish_alert(session=session, case=case, action="cannot_verify", extra=finding)
        return
    # After a merge the concerns of the theme it went into are counted (both windows alike), so a
    # problem that carried on under the merged theme is not taken for fixed.
    theme_ids = sorted({case.theme_id, measured.id})
    before, after = theme_rates(session=session, theme_ids=theme_ids, fixed_at=case.fixed_at, now=now)
    stopped = after <= before * VERIFIED_SHARE if before > 0 else after == 0
    finding = {
        "checked_at": now.isoformat(),
        "theme_id": measured.id,
        "per_day_before": round(before, 3),
        "per_day_after": round(after, 3),
        "result": "verified" if stopped else "still_growing",
    }
    case.evidence = {**(case.evidence or {}), "verification": finding}
    if stopped:
        case.verified_at, case.verify_due_at = now, None
        cases.set_status_by_loop(session=session, case=case, status=CaseStatus.verified, extra=finding)
    else:
        case.verify_due_at = now + dt.timedelta(days=verify_days)
        case.updated_at = now
        session.flush()
        cases.publish_alert(session=session, case=case, action="still_growing", extra=finding)
