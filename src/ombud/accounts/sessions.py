"""Browser sign-in: staff with a password (Argon2id), customers with a one-time link sent by email, and
the sessions both get (a random cookie token and a CSRF token; only the cookie token's hash is stored)."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ombud.accounts.models import LoginLink, User, WebSession
from ombud.accounts.schemas import SYSTEM, Principal
from ombud.accounts.service import hash_token, revoke_tokens_of_user
from ombud.audit import service as audit
from ombud.customers import service as customers
from ombud.errors import InvalidInput, Unauthorized
from ombud.storage.base import utcnow
from ombud.validation import normalise_email

STAFF_SESSION = dt.timedelta(hours=12)
CUSTOMER_SESSION = dt.timedelta(days=7)
LOGIN_LINK_LIFETIME = dt.timedelta(minutes=30)
MIN_PASSWORD = 10
MAX_PASSWORD = 1000

_HASHER = PasswordHasher()
# Verified when the email is unknown, so a wrong address costs the same time as a wrong password.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class SignedIn:
    """A new session: the cookie's token (shown once) and the CSRF token forms must echo."""

    token: str
    csrf_token: str
    expires_at: dt.datetime


@dataclass(frozen=True)
class BrowserSession:
    principal: Principal
    csrf_token: str


def set_password(*, session: Session, user: User, password: str, actor: Principal = SYSTEM) -> None:
    """Set ``user``'s password (Argon2id); raise InvalidInput when it is too short or too long."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(
            f"a password needs {MIN_PASSWORD} to {MAX_PASSWORD} characters", code="weak_password"
        )
    user.password_hash = _HASHER.hash(password)
    # A new password signs out every browser that used the old one.
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    session.flush()
    audit.record(
        session=session, actor=actor, action="user.password_set", entity_type="user", entity_id=user.id
    )


def verify_password(*, session: Session, email: str, password: str) -> int:
    """Return the id of the active user with this email and password, or raise Unauthorized (the same
    answer, after the same work, whichever of the two was wrong). Reads only: run it in a read session,
    since hashing takes a good part of a second."""
    try:
        address = normalise_email(email)
    except InvalidInput:
        address = ""
    user = session.scalar(select(User).where(User.email == address)) if address else None
    stored = user.password_hash if user is not None and user.active else None
    try:
        _HASHER.verify(stored or _DUMMY_HASH, password)
        ok = stored is not None
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or user is None:
        raise Unauthorized("wrong email or password", code="invalid_credentials")
    return user.id


def set_active(*, session: Session, user: User, active: bool, actor: Principal = SYSTEM) -> int:
    """Deactivate a staff user (someone who left) or let them back in; return how many API tokens a
    deactivation revoked. A deactivated user is signed out of every browser at once, their tokens stop
    working on every server process, they cannot sign in, and routing gives them nothing new. Their name
    stays on what they did; tickets assigned to them stay assigned until a lead moves them. Activating
    again issues no token: add one with `ombud user add` or set a password to sign in."""
    if user.active == active:
        return 0
    user.active = active
    revoked = 0
    if not active:
        session.execute(delete(WebSession).where(WebSession.user_id == user.id))
        revoked = revoke_tokens_of_user(session=session, user_id=user.id, actor=actor)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="user.activated" if active else "user.deactivated",
        entity_type="user",
        entity_id=user.id,
    )
    return revoked


def start_session(
    *, session: Session, user_id: int | None = None, customer_id: int | None = None
) -> SignedIn:
    """Open a browser session for a user or a customer."""
    if (user_id is None) == (customer_id is None):
        raise ValueError("a session belongs to exactly one user or one customer")
    token = secrets.token_urlsafe(32)
    now = utcnow()
    # Ended sessions go when their owner signs in again: the table holds only live ones and a few more.
    owner = WebSession.user_id == user_id if user_id is not None else WebSession.customer_id == customer_id
    session.execute(delete(WebSession).where(owner, WebSession.expires_at <= now))
    expires = now + (STAFF_SESSION if user_id is not None else CUSTOMER_SESSION)
    row = WebSession(
        token_hash=hash_token(token),
        csrf_token=secrets.token_urlsafe(32),
        user_id=user_id,
        customer_id=customer_id,
        created_at=now,
        last_seen_at=now,
        expires_at=expires,
    )
    session.add(row)
    session.flush()
    return SignedIn(token=token, csrf_token=row.csrf_token, expires_at=expires)


def find_session(*, session: Session, token: str) -> BrowserSession:
    """Return the live session a cookie token names, or raise Unauthorized."""
    row = session.execute(
        select(WebSession, User.role, User.active)
        .outerjoin(User, User.id == WebSession.user_id)
        .where(WebSession.token_hash == hash_token(token))
    ).one_or_none()
    now = utcnow()
    if row is None or row[0].expires_at <= now:
        raise Unauthorized("your session has ended; sign in again", code="session_expired")
    web, role, active = row
    if web.user_id is not None:
        if not active:
            raise Unauthorized("this user is deactivated", code="user_inactive")
        principal = Principal(kind="user", id=web.user_id, role=role)
    else:
        principal = Principal(kind="customer", id=web.customer_id)
    return BrowserSession(principal=principal, csrf_token=web.csrf_token)


def end_session(*, session: Session, token: str) -> None:
    session.execute(delete(WebSession).where(WebSession.token_hash == hash_token(token)))


def issue_login_link(*, session: Session, email: str) -> tuple[str, int] | None:
    """Return (token, customer id) of a new one-time portal link for the customer with this email, or None
    when no customer has it (the page says the same either way, so addresses cannot be probed)."""
    address = normalise_email(email)
    customer_id = customers.email_owner(session=session, email=address)
    if customer_id is None:
        return None
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        LoginLink(
            token_hash=hash_token(token),
            customer_id=customer_id,
            email=address,
            created_at=now,
            expires_at=now + LOGIN_LINK_LIFETIME,
        )
    )
    session.flush()
    return token, customer_id


def redeem_login_link(*, session: Session, token: str) -> int:
    """Use a portal link once and return its customer's id; raise Unauthorized when it is unknown, used
    or expired."""
    now = utcnow()
    used = session.execute(
        update(LoginLink)
        .where(
            LoginLink.token_hash == hash_token(token),
            LoginLink.used_at.is_(None),
            LoginLink.expires_at > now,
        )
        .values(used_at=now)
        .returning(LoginLink.customer_id, LoginLink.email)
    ).one_or_none()
    if used is None:
        raise Unauthorized(
            "this sign-in link is used, expired or unknown; ask for a new one", code="invalid_login_link"
        )
    customer_id, address = used
    # The customer may have been merged into another since the link was sent: the address moved with it.
    owner = customers.email_owner(session=session, email=address)
    return owner if owner is not None else int(customer_id)
