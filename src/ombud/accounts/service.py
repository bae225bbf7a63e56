"""Users, teams and API tokens: create them, and turn a bearer token into a principal."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ombud.accounts.models import ApiToken, Role, Team, User
from ombud.accounts.schemas import SYSTEM, Principal
from ombud.audit import service as audit
from ombud.errors import Conflict, InvalidInput, NotFound, Unauthorized
from ombud.storage.base import utcnow
from ombud.validation import normalise_email

TOKEN_PREFIX = "omb_"  # noqa: S105 - a visible prefix, so leaked tokens are easy to scan for


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_role(value: str) -> Role:
    """Return the role named ``value`` or raise InvalidInput listing the roles."""
    try:
        return Role(value)
    except ValueError:
        raise InvalidInput(
            f"unknown role {value!r}; use one of {', '.join(r.value for r in Role)}", code="invalid_role"
        ) from None


def get_user_by_email(*, session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == normalise_email(email)))


def access_user(*, session: Session, user_id: int) -> User:
    """Return the active user ``user_id`` or raise InvalidInput naming it (used to validate assignees)."""
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise InvalidInput(f"no active user with id {user_id}", code="unknown_user")
    return user


def access_team(*, session: Session, team_id: int) -> Team:
    team = session.get(Team, team_id)
    if team is None:
        raise InvalidInput(f"no team with id {team_id}", code="unknown_team")
    return team


def list_users(*, session: Session) -> Sequence[User]:
    return session.scalars(select(User).order_by(User.id)).all()


def list_teams(*, session: Session) -> Sequence[Team]:
    return session.scalars(select(Team).order_by(Team.name)).all()


def create_user(
    *, session: Session, email: str, role: Role, name: str | None = None, actor: Principal = SYSTEM
) -> User:
    """Create a user; raise Conflict if the email is taken."""
    address = normalise_email(email)
    if get_user_by_email(session=session, email=address) is not None:
        raise Conflict(f"a user with email {address} already exists", code="user_exists")
    user = User(email=address, name=name or address.split("@")[0], role=role, active=True)
    session.add(user)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="user.created",
        entity_type="user",
        entity_id=user.id,
        after={"email": user.email, "role": user.role.value, "name": user.name},
    )
    return user


def create_team(*, session: Session, name: str, actor: Principal = SYSTEM) -> Team:
    clean = name.strip()
    if not clean:
        raise InvalidInput("a team needs a name", code="invalid_team")
    if session.scalar(select(Team).where(Team.name == clean)) is not None:
        raise Conflict(f"a team named {clean!r} already exists", code="team_exists")
    team = Team(name=clean)
    session.add(team)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="team.created",
        entity_type="team",
        entity_id=team.id,
        after={"name": clean},
    )
    return team


def ensure_team(*, session: Session, name: str, actor: Principal = SYSTEM) -> Team:
    """Return the team called ``name``, creating it if needed."""
    found = session.scalar(select(Team).where(Team.name == name.strip()))
    return found if found is not None else create_team(session=session, name=name, actor=actor)


def add_to_team(*, session: Session, team: Team, user: User) -> None:
    if user not in team.members:
        team.members.append(user)
        session.flush()


def issue_token(
    *,
    session: Session,
    user_id: int | None = None,
    customer_id: int | None = None,
    name: str = "",
    token: str | None = None,
) -> str:
    """Create a bearer token for a user or a customer and return it; only its hash is kept."""
    if (user_id is None) == (customer_id is None):
        raise ValueError("a token belongs to exactly one user or one customer")
    plain = token or TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(token_hash=hash_token(plain), name=name, user_id=user_id, customer_id=customer_id))
    try:
        session.flush()
    except IntegrityError:
        raise Conflict("that token is already in use", code="token_exists") from None
    return plain


def revoke_token(*, session: Session, token: str, actor: Principal = SYSTEM) -> None:
    """Revoke one bearer token: every process refuses it from the next request on (each request looks the
    token up; nothing caches it). Raise NotFound when no live token matches."""
    found = session.scalar(
        select(ApiToken).where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None))
    )
    if found is None:
        raise NotFound("no live API token matches; it is unknown or already revoked", code="token_not_found")
    found.revoked_at = utcnow()
    session.flush()
    audit.record(
        session=session, actor=actor, action="token.revoked", entity_type="api_token", entity_id=found.id
    )


def revoke_tokens_of_user(*, session: Session, user_id: int, actor: Principal = SYSTEM) -> int:
    """Revoke every live token of a user (someone who left, a laptop that was lost); return how many."""
    found = session.scalars(
        select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
    ).all()
    now = utcnow()
    for row in found:
        row.revoked_at = now
        audit.record(
            session=session, actor=actor, action="token.revoked", entity_type="api_token", entity_id=row.id
        )
    session.flush()
    return len(found)


def authenticate(*, session: Session, token: str) -> Principal:
    """Return the principal a bearer token stands for, or raise Unauthorized."""
    row = session.execute(
        select(ApiToken.user_id, ApiToken.customer_id, User.role, User.active)
        .outerjoin(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None))
    ).one_or_none()
    if row is None:
        raise Unauthorized("unknown or revoked API token", code="invalid_token")
    user_id, customer_id, role, active = row
    if user_id is not None:
        if not active:
            raise Unauthorized("this user is deactivated", code="user_inactive")
        return Principal(kind="user", id=user_id, role=role)
    return Principal(kind="customer", id=customer_id)


def describe_principal(*, session: Session, principal: Principal) -> tuple[str, str | None]:
    """Return (name, email) for a principal, for `GET /me`."""
    if principal.kind == "user" and principal.id is not None:
        user = session.get(User, principal.id)
        if user is None:
            raise NotFound("user not found")
        return user.name, user.email
    return ("system", None) if principal.kind == "system" else ("customer", None)
