"""Resolutions: proposing a concession (applied at once within policy, or
sent to a named approver), and deciding on it.

Every decision is audited with the ticket's id, so it is also published as an event (``resolution.*``,
``approval.*``) for the outbound webhooks and reports.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import column, func, select, table
from sqlalchemy.orm import Session

from ombud.accounts import service as accounts
from ombud.accounts.schemas import SYSTEM, Principal
from ombud.audit import service as audit
from ombud.customers import purchases
from ombud.customers import service as customers
from ombud.errors import Conflict, Forbidden, InvalidInput, NotFound
from ombud.resolutions import currencies as money
from ombud.resolutions import policy as rules
from ombud.resolutions.models import OPEN_STATUSES, Resolution, ResolutionStatus
from ombud.resolutions.policies import require_policy, require_staff
from ombud.resolutions.schemas import (
    Callout,
    ResolutionCreate,
    ResolutionPublic,
)
from ombud.storage.base import utcnow
from ombud.tickets import concerns
from ombud.tickets import service as tickets
from ombud.tickets.models import Concern, Ticket
from ombud.tickets.schemas import ConcernUpdate
from ombud.triage import service as triage
from ombud.webhooks import service as webhooks

# Statuses that count against a customer's per-period limit: granted, or on their way to it.
COUNTED = (
    ResolutionStatus.applied,
    ResolutionStatus.approved,
    ResolutionStatus.pending_approval,
)
MAX_LISTED = 500


# -- reading -------------------------------------------------------------------------------------------------
def granting_role(principal: Principal) -> str:
    if principal.kind != "user" or principal.role is None or principal.role.value not in rules.ROLE_RANK:
        raise Forbidden(
            "only agents, leads, advocates and admins may propose or approve concessions",
            code="role_forbidden",
        )
    return principal.role.value


def access_resolution(*, session: Session, principal: Principal, resolution_id: int) -> Resolution:
    """Return the resolution if ``principal`` (staff) may see it; NotFound or Forbidden otherwise."""
    require_staff(principal)
    found = session.get(Resolution, resolution_id)
    if found is None:
        raise NotFound(f"no resolution with id {resolution_id}", code="resolution_not_found")
    return found


def _lock_resolution(*, session: Session, principal: Principal, resolution_id: int) -> Resolution:
    """Return the resolution locked for a decision (``SELECT ... FOR UPDATE``, re-read from the database).

    Every deciding path (approve, reject, apply, cancel) goes through here, so two at once on the same row
    run one after the other and the second sees the status the first left: a concession is applied once.
    SQLite's writer lock (BEGIN IMMEDIATE) already serialises the write transactions.
    """
    require_staff(principal)
    found = session.scalars(
        select(Resolution)
        .where(Resolution.id == resolution_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if found is None:
        raise NotFound(f"no resolution with id {resolution_id}", code="resolution_not_found")
    return found


# The customers table, for a row lock only (a domain does not import another domain's models).
_CUSTOMERS = table("customers", column("id"))


def _lock_customer(*, session: Session, customer_id: int) -> None:
    """Lock the customer's row until the transaction ends: two concessions for the same customer are
    checked against the per-customer limit one after the other, each seeing the other's amount."""
    session.execute(select(_CUSTOMERS.c.id).where(_CUSTOMERS.c.id == customer_id).with_for_update())


def list_for_ticket(*, session: Session, principal: Principal, ticket_id: int) -> Sequence[Resolution]:
    require_staff(principal)
    tickets.access_ticket(session=session, principal=principal, ticket_id=ticket_id)
    return session.scalars(
        select(Resolution).where(Resolution.ticket_id == ticket_id).order_by(Resolution.id)
    ).all()


def pending_approvals(
    *, session: Session, principal: Principal, everyone: bool = False
) -> Sequence[Resolution]:
    """Return the requests waiting for ``principal`` (an admin may ask for everyone's), oldest first."""
    granting_role(principal)
    query = select(Resolution).where(Resolution.status == ResolutionStatus.pending_approval)
    if not (everyone and principal.is_admin):
        query = query.where(Resolution.approver_id == principal.id)
    return session.scalars(query.order_by(Resolution.created_at, Resolution.id).limit(MAX_LISTED)).all()


def past_concessions(
    *, session: Session, customer_id: int, exclude_id: int | None = None
) -> list[dict[str, Any]]:
    """Return the customer's earlier concessions (newest first): the context an approver sees."""
    query = select(Resolution).where(Resolution.customer_id == customer_id)
    if exclude_id is not None:
        query = query.where(Resolution.id != exclude_id)
    rows = session.scalars(query.order_by(Resolution.created_at.desc(), Resolution.id.desc()).limit(20)).all()
    return [
        {
            "id": r.id,
            "ticket_id": r.ticket_id,
            "kind": r.kind,
            "amount": str(money.from_minor(r.amount_minor, r.currency)),
            "currency": r.currency,
            "reason": r.reason,
            "status": r.status.value,
            "created_at": r.created_at.isoformat(),
        }
        for r in rows
    ]


def to_public(resolution: Resolution) -> ResolutionPublic:
    return ResolutionPublic(
        id=resolution.id,
        ticket_id=resolution.ticket_id,
        concern_id=resolution.concern_id,
        customer_id=resolution.customer_id,
        purchase_id=resolution.purchase_id,
        kind=resolution.kind,
        amount=money.from_minor(resolution.amount_minor, resolution.currency),
        currency=resolution.currency,
        base_amount=money.from_minor(resolution.base_minor, resolution.base_currency),
        base_currency=resolution.base_currency,
        reason=resolution.reason,
        intent=resolution.intent,
        note=resolution.note,
        status=resolution.status,
        rma_number=resolution.rma_number,
        reference=resolution.reference,
        policy_version=resolution.policy_version,
        policy_check=resolution.policy_check or {},
        proposed_by_id=resolution.proposed_by_id,
        approver_id=resolution.approver_id,
        decided_by_id=resolution.decided_by_id,
        decision_comment=resolution.decision_comment,
        decided_at=resolution.decided_at,
        applied_by_id=resolution.applied_by_id,
        applied_at=resolution.applied_at,
        came_back_at=resolution.came_back_at,
        came_back_ticket_id=resolution.came_back_ticket_id,
        created_at=resolution.created_at,
    )


def callouts(*, session: Session, resolution_id: int) -> list[Callout]:
    """Return the outbound webhook deliveries of the resolution's events (its calls to real systems)."""
    return [
        Callout(
            id=d.id,
            endpoint_id=d.endpoint_id,
            event_kind=d.event_kind,
            state=d.state.value,
            attempts=d.attempts,
            last_status=d.last_status,
            last_error=d.last_error,
            finished_at=d.finished_at,
        )
        for d in webhooks.deliveries_for_entity(
            session=session, entity_type="resolution", entity_id=resolution_id
        )
    ]


def _snapshot(resolution: Resolution) -> dict[str, Any]:
    """What the audit log and the events carry about a resolution (plain JSON).

    Amounts are JSON numbers (what reports and most receiving systems add up), with the exact value in
    minor units beside them (``amount_minor``: cents) for systems that must not round.
    """
    data = to_public(resolution).model_dump(mode="json", exclude={"policy_check", "callouts"})
    data["amount"] = float(money.from_minor(resolution.amount_minor, resolution.currency))
    data["base_amount"] = float(money.from_minor(resolution.base_minor, resolution.base_currency))
    data["amount_minor"] = resolution.amount_minor
    data["base_minor"] = resolution.base_minor
    return data


# -- the facts a check needs ---------------------------------------------------------------------------------
def period_total(
    *,
    session: Session,
    policy: rules.Policy,
    customer_id: int,
    now: dt.datetime,
    exclude_id: int | None = None,
) -> Decimal:
    """Return what the customer received (or is about to) in the policy's period, in its base currency.

    Converted with the policy's current rates; a currency it no longer lists counts as stored at the time.
    """
    since = now - dt.timedelta(days=policy.period_days)
    query = (
        select(
            Resolution.currency,
            Resolution.base_currency,
            func.sum(Resolution.amount_minor),
            func.sum(Resolution.base_minor),
        )
        .where(
            Resolution.customer_id == customer_id,
            Resolution.created_at >= since,
            Resolution.status.in_(COUNTED),
            Resolution.kind.in_(sorted(policy.period_kinds)),
        )
        .group_by(Resolution.currency, Resolution.base_currency)
    )
    if exclude_id is not None:
        query = query.where(Resolution.id != exclude_id)
    total = Decimal(0)
    for currency, base_currency, amount, base in session.execute(query):
        if currency in policy.rates:
            total += policy.to_base(money.from_minor(int(amount), currency), currency)
        elif base_currency == policy.base_currency:
            total += money.from_minor(int(base), base_currency)
    return total.quantize(Decimal("0.01"))


def _purchase(*, session: Session, customer_id: int, purchase_id: int | None) -> Any:
    if purchase_id is None:
        return None
    for bought in purchases.list_purchases(session=session, customer_id=customer_id):
        if bought.id == purchase_id:
            return bought
    raise InvalidInput(f"the customer has no purchase with id {purchase_id}", code="unknown_purchase")


def ticket_intent(*, session: Session, ticket: Ticket) -> str | None:
    """Return the top intent of the newest triaged customer message on the ticket (None before triage)."""
    messages = tickets.list_messages(session=session, ticket=ticket, principal=SYSTEM)
    results = triage.results_for(session=session, message_ids=[m.id for m in messages])
    for message in reversed(messages):
        concerns = (results.get(message.id) or {}).get("concerns") or []
        for concern in concerns:
            if concern.get("intents"):
                return str(concern["intents"][0]["label"])
    return None


def check_for(
    *,
    session: Session,
    policy: rules.Policy,
    role: str,
    customer_id: int,
    kind: str,
    amount: Decimal,
    currency: str,
    reason: str,
    purchased_at: dt.datetime | None,
    now: dt.datetime,
    exclude_id: int | None = None,
) -> rules.Check:
    """Return what the policy says of ``role`` granting this concession to the customer now."""
    return rules.check(
        policy,
        role=role,
        kind=kind,
        amount=amount,
        currency=currency,
        reason=reason,
        tier=customers.tier_of(session=session, customer_id=customer_id),
        period_total=period_total(
            session=session, policy=policy, customer_id=customer_id, now=now, exclude_id=exclude_id
        ),
        purchased_at=purchased_at,
        now=now,
    )


# -- proposing -----------------------------------------------------------------------------------------------
def propose(*, session: Session, ticket_id: int, data: ResolutionCreate, actor: Principal) -> Resolution:
    """Record a concession on the ticket: applied at once within the proposer's limits, otherwise an approval
    request to a named approver (or kept as a proposal with ``apply=False``)."""
    role = granting_role(actor)
    ticket = tickets.access_ticket(session=session, principal=actor, ticket_id=ticket_id)
    row, policy = require_policy(session=session)
    money.minor_units(data.currency)
    amount_minor = money.to_minor(data.amount, data.currency)
    bought = _purchase(session=session, customer_id=ticket.customer_id, purchase_id=data.purchase_id)
    concern = _concern(session=session, actor=actor, ticket=ticket, concern_id=data.concern_id)
    _lock_customer(session=session, customer_id=ticket.customer_id)
    now = utcnow()
    verdict = check_for(
        session=session,
        policy=policy,
        role=role,
        customer_id=ticket.customer_id,
        kind=data.kind,
        amount=data.amount,
        currency=data.currency,
        reason=data.reason,
        purchased_at=bought.purchased_at if bought is not None else None,
        now=now,
    )
    resolution = Resolution(
        ticket_id=ticket.id,
        concern_id=data.concern_id,
        customer_id=ticket.customer_id,
        purchase_id=data.purchase_id,
        kind=data.kind,
        amount_minor=amount_minor,
        currency=data.currency,
        base_minor=money.to_minor(
            verdict.base_amount.quantize(_quantum(policy.base_currency)), policy.base_currency
        ),
        base_currency=policy.base_currency,
        reason=data.reason,
        intent=data.intent
        or (concern.intent if concern else None)
        or ticket_intent(session=session, ticket=ticket),
        note=data.note,
        status=ResolutionStatus.proposed,
        rma_number=_rma_number(now) if data.kind == "return" else None,
        reference=data.reference,
        policy_version=row.version,
        policy_check={"check": verdict.as_dict(), "proposer_role": role},
        proposed_by_id=actor.id,
        created_at=now,
        updated_at=now,
    )
    session.add(resolution)
    session.flush()
    _audit(session, actor, "resolution.proposed", resolution)
    if not data.apply and data.approver_id is None:
        return resolution
    # Not applied at once: outside the limits, or the proposer asked a named approver to sign it off.
    if verdict.within and data.apply:
        _apply(session=session, resolution=resolution, actor=actor, now=now)
    else:
        approver = _choose_approver(
            session=session,
            policy=policy,
            ticket=ticket,
            verdict=verdict,
            kind=data.kind,
            proposer=actor,
            wanted=data.approver_id,
        )
        _request_approval(session=session, resolution=resolution, approver_id=approver, actor=actor)
    return resolution


def _concern(*, session: Session, actor: Principal, ticket: Ticket, concern_id: int | None) -> Concern | None:
    if concern_id is None:
        return None
    concern = concerns.access_concern(session=session, principal=actor, concern_id=concern_id)
    if concern.ticket_id != ticket.id:
        raise InvalidInput(f"concern {concern_id} is not on ticket {ticket.id}", code="concern_not_on_ticket")
    return concern


def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-money.minor_units(currency))


def _rma_number(now: dt.datetime) -> str:
    return f"RMA-{now:%y%m%d}-{secrets.token_hex(4).upper()}"


def _request_approval(
    *, session: Session, resolution: Resolution, approver_id: int, actor: Principal
) -> None:
    resolution.status = ResolutionStatus.pending_approval
    resolution.approver_id = approver_id
    check = dict(resolution.policy_check or {})
    # The context the approver decides with, frozen as it was asked.
    check["context"] = {
        "past_concessions": past_concessions(
            session=session, customer_id=resolution.customer_id, exclude_id=resolution.id
        ),
        "tier": customers.tier_of(session=session, customer_id=resolution.customer_id),
    }
    resolution.policy_check = check
    session.flush()
    _audit(session, actor, "approval.requested", resolution)


def _choose_approver(
    *,
    session: Session,
    policy: rules.Policy,
    ticket: Ticket,
    verdict: rules.Check,
    kind: str,
    proposer: Principal,
    wanted: int | None,
) -> int:
    """Return the approver: the one the proposer named, else the policy's, else the first lead, advocate or
    admin whose own limit covers the concession."""
    tier = customers.tier_of(session=session, customer_id=ticket.customer_id)

    def fits(role: str) -> bool:
        if verdict.over_period and role not in policy.period_approver_roles:
            return False
        return policy.limit_for(role=role, kind=kind, tier=tier) >= verdict.base_amount

    if wanted is not None:
        user = accounts.access_user(session=session, user_id=wanted)
        if user.role.value not in rules.APPROVER_ROLES:
            raise InvalidInput(f"{user.name} is not a lead, advocate or admin", code="invalid_approver")
        if user.id == proposer.id:
            raise InvalidInput(
                "name someone else: nobody approves their own request", code="invalid_approver"
            )
        return user.id
    if policy.approver is not None:
        named = accounts.get_user_by_email(session=session, email=policy.approver)
        if (
            named is not None
            and named.active
            and named.id != proposer.id
            and named.role.value in rules.APPROVER_ROLES
            and fits(named.role.value)
        ):
            return named.id
    candidates = [
        u
        for u in accounts.list_users(session=session)
        if u.active and u.id != proposer.id and u.role.value in rules.APPROVER_ROLES
    ]
    # The lowest rank that may approve first (a lead before an admin), the ticket's team first.
    candidates.sort(
        key=lambda u: (rules.ROLE_RANK[u.role.value], ticket.team_id not in {t.id for t in u.teams}, u.id)
    )
    for user in candidates:
        if fits(user.role.value):
            return user.id
    raise Conflict(
        "nobody's limit covers this concession: an admin raises the limits, or the amount is lowered",
        code="no_approver",
    )


def _apply(*, session: Session, resolution: Resolution, actor: Principal, now: dt.datetime) -> None:
    resolution.status = ResolutionStatus.applied
    resolution.applied_at = now
    resolution.applied_by_id = actor.id
    session.flush()
    if resolution.concern_id is not None:
        # The concern shows what resolved it (concerns need a serving role; an advocate's is linked by ombud).
        concern = concerns.access_concern(session=session, principal=SYSTEM, concern_id=resolution.concern_id)
        concerns.update_concern(
            session=session,
            concern=concern,
            changes=ConcernUpdate(resolution_ref=f"resolution {resolution.id}"),
            actor=actor if actor.can_serve else SYSTEM,
        )
    # Subscribed order and billing systems hear of it through the outbound webhooks (ombud.webhooks).
    _audit(session, actor, "resolution.applied", resolution)


def _audit(session: Session, actor: Principal, action: str, resolution: Resolution, **extra: Any) -> None:
    audit.record(
        session=session,
        actor=actor,
        action=action,
        entity_type="resolution",
        entity_id=resolution.id,
        customer_id=resolution.customer_id,
        ticket_id=resolution.ticket_id,
        after={**_snapshot(resolution), **extra},
    )


# -- deciding ------------------------------------------------------------------------------------------------
def approve(
    *, session: Session, resolution_id: int, actor: Principal, comment: str, apply: bool = True
) -> Resolution:
    """Approve a pending request (the named approver, or an admin), within the approver's own limits."""
    resolution = _pending_for_decision(session=session, resolution_id=resolution_id, actor=actor)
    role = granting_role(actor)
    _row, policy = require_policy(session=session)
    if resolution.currency not in policy.rates:
        raise Conflict(
            f"the policy in force no longer accepts {resolution.currency}", code="currency_not_accepted"
        )
    _lock_customer(session=session, customer_id=resolution.customer_id)
    now = utcnow()
    verdict = check_for(
        session=session,
        policy=policy,
        role=role,
        customer_id=resolution.customer_id,
        kind=resolution.kind,
        amount=money.from_minor(resolution.amount_minor, resolution.currency),
        currency=resolution.currency,
        reason=resolution.reason if resolution.reason in policy.reasons else next(iter(policy.reasons)),
        purchased_at=_purchased_at(session, resolution),
        now=now,
        exclude_id=resolution.id,
    )
    if verdict.base_amount > verdict.limit:
        raise Forbidden(
            f"{verdict.base_amount} {policy.base_currency} is over your own limit of {verdict.limit} "
            f"{policy.base_currency} for {resolution.kind}: pass it to an admin",
            code="over_approver_limit",
        )
    if verdict.over_period and role not in policy.period_approver_roles:
        raise Forbidden(
            "this takes the customer over the per-customer limit, which only "
            f"{', '.join(policy.period_approver_roles)} may approve",
            code="over_approver_limit",
        )
    resolution.status = ResolutionStatus.approved
    resolution.decided_by_id = actor.id
    resolution.decided_at = now
    resolution.decision_comment = comment
    session.flush()
    _audit(session, actor, "approval.approved", resolution, comment=comment)
    if apply:
        _apply(session=session, resolution=resolution, actor=actor, now=now)
    return resolution


def reject(*, session: Session, resolution_id: int, actor: Principal, comment: str) -> Resolution:
    """Refuse a pending request; the comment (required) tells the proposer why."""
    if not comment.strip():
        raise InvalidInput("say why it is rejected: the proposer reads it", code="comment_required")
    resolution = _pending_for_decision(session=session, resolution_id=resolution_id, actor=actor)
    resolution.status = ResolutionStatus.rejected
    resolution.decided_by_id = actor.id
    resolution.decided_at = utcnow()
    resolution.decision_comment = comment
    session.flush()
    _audit(session, actor, "approval.rejected", resolution, comment=comment)
    return resolution


def _pending_for_decision(*, session: Session, resolution_id: int, actor: Principal) -> Resolution:
    granting_role(actor)
    resolution = _lock_resolution(session=session, principal=actor, resolution_id=resolution_id)
    if resolution.status != ResolutionStatus.pending_approval:
        raise Conflict(
            f"resolution {resolution.id} is {resolution.status.value}, not waiting for approval",
            code="not_pending",
        )
    if resolution.proposed_by_id == actor.id:
        raise Forbidden("nobody approves their own request: a second person decides", code="own_request")
    if resolution.approver_id != actor.id and not actor.is_admin:
        raise Forbidden("this request waits for another approver (or an admin)", code="not_your_approval")
    return resolution


def _purchased_at(session: Session, resolution: Resolution) -> dt.datetime | None:
    bought = (
        _purchase(session=session, customer_id=resolution.customer_id, purchase_id=resolution.purchase_id)
        if resolution.purchase_id is not None
        else None
    )
    return bought.purchased_at if bought is not None else None


def apply_resolution(*, session: Session, resolution_id: int, actor: Principal) -> Resolution:
    """Apply an approved resolution, or a proposal (checked against the policy now, like a new one)."""
    role = granting_role(actor)
    resolution = _lock_resolution(session=session, principal=actor, resolution_id=resolution_id)
    now = utcnow()
    if resolution.status == ResolutionStatus.approved:
        _apply(session=session, resolution=resolution, actor=actor, now=now)
        return resolution
    if resolution.status != ResolutionStatus.proposed:
        raise Conflict(
            f"resolution {resolution.id} is {resolution.status.value}; it cannot be applied",
            code="not_applicable",
        )
    _row, policy = require_policy(session=session)
    _lock_customer(session=session, customer_id=resolution.customer_id)
    verdict = check_for(
        session=session,
        policy=policy,
        role=role,
        customer_id=resolution.customer_id,
        kind=resolution.kind,
        amount=money.from_minor(resolution.amount_minor, resolution.currency),
        currency=resolution.currency,
        reason=resolution.reason,
        purchased_at=_purchased_at(session, resolution),
        now=now,
        exclude_id=resolution.id,
    )
    resolution.policy_check = {"check": verdict.as_dict(), "proposer_role": role}
    if verdict.within:
        _apply(session=session, resolution=resolution, actor=actor, now=now)
    else:
        ticket = tickets.access_ticket(session=session, principal=actor, ticket_id=resolution.ticket_id)
        approver = _choose_approver(
            session=session,
            policy=policy,
            ticket=ticket,
            verdict=verdict,
            kind=resolution.kind,
            proposer=actor,
            wanted=None,
        )
        _request_approval(session=session, resolution=resolution, approver_id=approver, actor=actor)
    return resolution


def cancel(*, session: Session, resolution_id: int, actor: Principal, comment: str = "") -> Resolution:
    """Withdraw a resolution not yet applied (its proposer, a lead or an admin)."""
    role = granting_role(actor)
    resolution = _lock_resolution(session=session, principal=actor, resolution_id=resolution_id)
    if resolution.status not in OPEN_STATUSES:
        raise Conflict(
            f"resolution {resolution.id} is {resolution.status.value}; only an open one can be cancelled",
            code="not_cancellable",
        )
    if resolution.proposed_by_id != actor.id and rules.ROLE_RANK[role] < 2:
        raise Forbidden("only its proposer, a lead or an admin may cancel it", code="role_forbidden")
    resolution.status = ResolutionStatus.cancelled
    resolution.decision_comment = comment or resolution.decision_comment
    session.flush()
    _audit(session, actor, "resolution.cancelled", resolution, comment=comment)
    return resolution
