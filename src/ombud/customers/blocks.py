"""Sender blocks: a lead or an admin blocks a customer (every identity of theirs) or one identity value (an
email address, ``@domain``, a phone number or a social handle), with a reason and an optional expiry.

A block is not a mute: every channel asks :func:`blocked_reason` as soon as it knows the sender, before
it stores anything, and drops what a blocked sender sends (no raw source, no customer, no ticket, no
triage, no automatic answer), counting the drop on the block row. Lifting a block keeps the row.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Sequence
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import and_, or_, select, tuple_, update
from sqlalchemy.orm import Session

from ombud.accounts.models import Role
from ombud.accounts.schemas import Principal
from ombud.audit import service as audit
from ombud.customers.models import Customer, Identity, IdentityKind, SenderBlock
from ombud.errors import Conflict, Forbidden, InvalidInput, NotFound, OmbudError
from ombud.pagination import cursor_id, decode_cursor, encode_cursor
from ombud.storage.base import MAX_ID, utcnow
from ombud.validation import CleanText, normalise_email, normalise_handle, normalise_phone

log = logging.getLogger(__name__)

ValueKind = Literal["email", "domain", "phone", "handle"]
BlockState = Literal["active", "lifted", "expired"]
_DOMAIN = re.compile(r"^@?(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
BLOCKING_ROLES = frozenset({Role.lead, Role.admin})


class SenderBlocked(Forbidden):
    """The sender is blocked. The message is neutral on purpose: it tells an abuser nothing to work around."""

    code = "sender_blocked"

    def __init__(self, message: str = "we cannot accept messages from this sender", **kwargs: object) -> None:
        super().__init__(message, code="sender_blocked")


class BlockCreate(BaseModel):
    """A block of one customer (``customer_id``) or of one identity value (``kind`` and ``value``)."""

    model_config = ConfigDict(extra="forbid")

    customer_id: int | None = Field(default=None, ge=1, le=MAX_ID, description="Block every identity.")
    kind: ValueKind | None = Field(default=None, description="Block one value instead of a customer.")
    value: str | None = Field(
        default=None,
        max_length=320,
        description='An email address, "@domain" (every address there), an E.164 phone number or a handle.',
    )
    reason: CleanText = Field(min_length=1, max_length=2000)
    expires_at: AwareDatetime | None = Field(default=None, description="Empty: until lifted.")
    ticket_id: int | None = Field(default=None, ge=1, le=MAX_ID, description="The ticket that led to it.")


class BlockPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: int | None
    kind: Literal["customer", "email", "domain", "phone", "handle"]
    value: str | None
    reason: str
    ticket_id: int | None
    created_by_id: int | None
    created_at: dt.datetime
    expires_at: dt.datetime | None
    lifted_at: dt.datetime | None
    lifted_by_id: int | None
    dropped_count: int
    last_dropped_at: dt.datetime | None
    state: BlockState


class BlockPage(BaseModel):
    items: list[BlockPublic]
    next_cursor: str | None


def state_of(block: SenderBlock, now: dt.datetime | None = None) -> BlockState:
    if block.lifted_at is not None:
        return "lifted"
    if block.expires_at is not None and block.expires_at <= (now or utcnow()):
        return "expired"
    return "active"


def public(block: SenderBlock) -> BlockPublic:
    return BlockPublic(
        id=block.id,
        customer_id=block.customer_id,
        kind=block.identity_kind or "customer",
        value=block.value,
        reason=block.reason,
        ticket_id=block.ticket_id,
        created_by_id=block.created_by_id,
        created_at=block.created_at,
        expires_at=block.expires_at,
        lifted_at=block.lifted_at,
        lifted_by_id=block.lifted_by_id,
        dropped_count=block.dropped_count or 0,
        last_dropped_at=block.last_dropped_at,
        state=state_of(block),
    )


# -- permissions ------------------------------------------------------------------------------------------
def check_blocker(actor: Principal) -> None:
    if actor.kind == "system" or (actor.kind == "user" and actor.role in BLOCKING_ROLES):
        return
    raise Forbidden("only leads and admins may block senders or lift blocks", code="role_forbidden")


def _check_staff(principal: Principal) -> None:
    if not principal.is_staff:
        raise Forbidden("your role may not see sender blocks", code="role_forbidden")


def can_block(principal: Principal) -> bool:
    return principal.kind == "user" and principal.role in BLOCKING_ROLES


# -- values -----------------------------------------------------------------------------------------------
def normalise_value(kind: ValueKind, value: str) -> str:
    """Return ``value`` as blocks store and match it, or raise InvalidInput."""
    if kind == "email":
        return normalise_email(value)
    if kind == "phone":
        return normalise_phone(value)
    if kind == "handle":
        return normalise_handle(value)
    domain = value.strip().lower().lstrip("@")
    if not domain.isascii():
        # "@bücher.example" as mail carries it ("@xn--bcher-kva.example"), which is what a sender matches.
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise InvalidInput(
                f"{value!r} is not a domain such as @example.com", code="invalid_domain"
            ) from None
    if not _DOMAIN.match(domain):
        raise InvalidInput(f"{value!r} is not a domain such as @example.com", code="invalid_domain")
    return "@" + domain.lstrip("@")


def _quiet(kind: ValueKind, value: str | None) -> str | None:
    """The normalised value, or None for one that cannot be normalised (it cannot be blocked either)."""
    if not value:
        return None
    try:
        return normalise_value(kind, value)
    except (OmbudError, ValueError):
        return None


def _candidates(kind: str, value: str) -> list[tuple[str, str]]:
    pairs = [(kind, value)]
    if kind == "email":
        local, _, domain = value.rpartition("@")
        if "+" in local:
            # "rage+1@x" is the mailbox of "rage@x": a sub-address is no way around a block of it.
            pairs.append(("email", f"{local.partition('+')[0]}@{domain}"))
        # "@example.com" stops its subdomains too (a.mail.example.com), never a bare top-level domain.
        labels = domain.split(".")
        pairs.extend(("domain", "@" + ".".join(labels[i:])) for i in range(len(labels) - 1))
    elif kind == "handle" and ":" in value:
        # Social handles are stored as "endpoint:handle"; a block may name the bare handle too.
        pairs.append(("handle", value.partition(":")[2]))
    return pairs


def _active_clause(now: dt.datetime) -> object:
    return and_(
        SenderBlock.lifted_at.is_(None),
        or_(SenderBlock.expires_at.is_(None), SenderBlock.expires_at > now),
    )


# -- enforcement ------------------------------------------------------------------------------------------
def blocked_reason(
    *,
    session: Session,
    channel: str,
    customer_id: int | None = None,
    email: str | None = None,
    phone: str | None = None,
    handle: str | None = None,
) -> SenderBlock | None:
    """Return the active block that stops this sender, or None. Reads only: nothing is created.

    A block of a customer stops each of their identities; a value block stops that value wherever it
    comes from (an ``@domain`` block stops every address at the domain).
    """
    now = utcnow()
    active = _active_clause(now)
    # The common case is no block at all: one cheap query and done.
    if session.scalar(select(SenderBlock.id).where(active).limit(1)) is None:  # type: ignore[arg-type]
        return None
    pairs: list[tuple[str, str]] = []
    for kind, raw in (("email", email), ("phone", phone), ("handle", handle)):
        clean = _quiet(kind, raw)  # type: ignore[arg-type]
        if clean is not None:
            pairs.extend(_candidates(kind, clean))
    customers: set[int] = {customer_id} if customer_id is not None else set()
    if customer_id is not None:
        for kind, value in session.execute(
            select(Identity.kind, Identity.value).where(Identity.customer_id == customer_id)
        ):
            if kind is not IdentityKind.visitor:
                pairs.extend(_candidates(kind.value, value))
    owned = [(IdentityKind(k), v) for k, v in pairs if k != "domain"]
    if owned:
        customers.update(
            session.scalars(
                select(Identity.customer_id).where(tuple_(Identity.kind, Identity.value).in_(owned))
            )
        )
    matches = []
    if customers:
        matches.append(and_(SenderBlock.identity_kind.is_(None), SenderBlock.customer_id.in_(customers)))
    if pairs:
        matches.append(tuple_(SenderBlock.identity_kind, SenderBlock.value).in_(sorted(set(pairs))))
    if not matches:
        return None
    return session.scalar(
        select(SenderBlock).where(active, or_(*matches)).order_by(SenderBlock.id).limit(1)  # type: ignore[arg-type]
    )


def count_drop(*, session: Session, block: SenderBlock, channel: str) -> None:
    """Count one dropped message on ``block`` (a single UPDATE: concurrent drops all count)."""
    now = utcnow()
    session.execute(
        update(SenderBlock)
        .where(SenderBlock.id == block.id)
        .values(dropped_count=SenderBlock.dropped_count + 1, last_dropped_at=now)
    )
    session.expire(block, ["dropped_count", "last_dropped_at"])
    # No address or name in the log: the block id leads to them for whoever may see it.
    log.info("dropped a message on channel %s from a blocked sender (block %s)", channel, block.id)


def drop_if_blocked(
    *,
    session: Session,
    channel: str,
    customer_id: int | None = None,
    email: str | None = None,
    phone: str | None = None,
    handle: str | None = None,
) -> SenderBlock | None:
    """Return the block that stops this sender after counting the drop; None when nothing blocks them."""
    block = blocked_reason(
        session=session, channel=channel, customer_id=customer_id, email=email, phone=phone, handle=handle
    )
    if block is not None:
        count_drop(session=session, block=block, channel=channel)
    return block


def refuse_if_blocked(
    *,
    session: Session,
    channel: str,
    customer_id: int | None = None,
    email: str | None = None,
    phone: str | None = None,
    handle: str | None = None,
) -> None:
    """Raise SenderBlocked (403 ``sender_blocked``) for a blocked sender of an interactive channel, after
    counting the drop (commit before answering to keep the count)."""
    if drop_if_blocked(
        session=session, channel=channel, customer_id=customer_id, email=email, phone=phone, handle=handle
    ):
        raise SenderBlocked()


# -- managing blocks --------------------------------------------------------------------------------------
def create_block(*, session: Session, actor: Principal, data: BlockCreate) -> SenderBlock:
    """Block a customer or one value (leads and admins); Conflict when the same block is already active."""
    check_blocker(actor)
    now = utcnow()
    if (data.customer_id is None) == (data.kind is None):
        raise InvalidInput(
            "block either a customer (customer_id) or one value (kind and value), not both",
            code="invalid_block",
        )
    if data.expires_at is not None and data.expires_at <= now:
        raise InvalidInput("expires_at must be in the future", code="invalid_expiry")
    kind: str | None = None
    value: str | None = None
    customer_id = data.customer_id
    if data.kind is not None:
        if not data.value or not data.value.strip():
            raise InvalidInput(f"give the {data.kind} to block in value", code="invalid_block")
        kind, value = data.kind, normalise_value(data.kind, data.value)
        if kind != "domain":
            customer_id = session.scalar(
                select(Identity.customer_id).where(
                    Identity.kind == IdentityKind(kind), Identity.value == value
                )
            )
    elif session.get(Customer, data.customer_id) is None:
        raise NotFound(f"no customer with id {data.customer_id}", code="customer_not_found")
    same = select(SenderBlock.id).where(_active_clause(now))  # type: ignore[arg-type]
    same = (
        same.where(SenderBlock.identity_kind == kind, SenderBlock.value == value)
        if kind is not None
        else same.where(SenderBlock.identity_kind.is_(None), SenderBlock.customer_id == customer_id)
    )
    existing = session.scalar(same.limit(1))
    if existing is not None:
        raise Conflict(
            f"this sender is already blocked (block {existing}); lift it first to change it",
            code="block_exists",
            details={"block_id": existing},
        )
    block = SenderBlock(
        customer_id=customer_id,
        identity_kind=kind,
        value=value,
        reason=data.reason.strip(),
        ticket_id=data.ticket_id,
        created_by_id=actor.id,
        created_at=now,
        expires_at=data.expires_at,
        dropped_count=0,
    )
    session.add(block)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="sender.blocked",
        entity_type="sender_block",
        entity_id=block.id,
        customer_id=customer_id,
        after={
            "kind": kind or "customer",
            "value": value,
            "reason": block.reason,
            "expires_at": block.expires_at.isoformat() if block.expires_at else None,
            "ticket_id": data.ticket_id,
        },
        publish=False,
    )
    return block


def access_block(*, session: Session, principal: Principal, block_id: int) -> SenderBlock:
    _check_staff(principal)
    block = session.get(SenderBlock, block_id)
    if block is None:
        raise NotFound(f"no sender block with id {block_id}", code="block_not_found")
    return block


def lift_block(*, session: Session, actor: Principal, block_id: int) -> SenderBlock:
    """Undo a block (leads and admins): the row stays, with who lifted it and when."""
    check_blocker(actor)
    block = access_block(session=session, principal=actor, block_id=block_id)
    state = state_of(block)
    if state != "active":
        raise Conflict(f"block {block_id} is already {state}", code="block_not_active")
    block.lifted_at = utcnow()
    block.lifted_by_id = actor.id
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="sender.unblocked",
        entity_type="sender_block",
        entity_id=block.id,
        customer_id=block.customer_id,
        before={"kind": block.identity_kind or "customer", "value": block.value},
        after={"dropped_count": block.dropped_count},
        publish=False,
    )
    return block


def list_blocks(
    *,
    session: Session,
    principal: Principal,
    state: BlockState | None = None,
    customer_id: int | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> BlockPage:
    """Return a page of blocks, newest first (every staff member may look)."""
    _check_staff(principal)
    if not 1 <= limit <= 200:
        raise InvalidInput("limit must be between 1 and 200", code="invalid_limit")
    now = utcnow()
    query = select(SenderBlock)
    if state == "active":
        query = query.where(_active_clause(now))  # type: ignore[arg-type]
    elif state == "lifted":
        query = query.where(SenderBlock.lifted_at.is_not(None))
    elif state == "expired":
        query = query.where(
            SenderBlock.lifted_at.is_(None),
            SenderBlock.expires_at.is_not(None),
            SenderBlock.expires_at <= now,
        )
    if customer_id is not None:
        query = query.where(SenderBlock.customer_id == customer_id)
    if cursor is not None:
        query = query.where(SenderBlock.id < cursor_id(decode_cursor(cursor, required=("id",))))
    rows: Sequence[SenderBlock] = session.scalars(
        query.order_by(SenderBlock.id.desc()).limit(limit + 1)
    ).all()
    items = rows[:limit]
    return BlockPage(
        items=[public(row) for row in items],
        next_cursor=encode_cursor({"id": items[-1].id}) if len(rows) > limit else None,
    )


def blocks_of_customer(*, session: Session, customer_id: int) -> list[SenderBlock]:
    """Return the customer's active blocks (whole-customer and value blocks), for the ticket page."""
    return list(
        session.scalars(
            select(SenderBlock)
            .where(_active_clause(utcnow()), SenderBlock.customer_id == customer_id)  # type: ignore[arg-type]
            .order_by(SenderBlock.id)
        )
    )
