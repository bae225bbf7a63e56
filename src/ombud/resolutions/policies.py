"""The stored versions of the concession policy: the one in force, uploading (a refused one changes
nothing), putting an earlier one back, and the policy as plain data."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ombud.accounts import service as accounts
from ombud.accounts.schemas import Principal
from ombud.audit import service as audit
from ombud.errors import Conflict, Forbidden, NotFound
from ombud.resolutions import policy as rules
from ombud.resolutions.models import ConcessionPolicy
from ombud.resolutions.schemas import (
    PolicyPublic,
)
from ombud.storage.db import race_savepoint


# -- the policy ----------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=16)
def _parsed(source: str) -> rules.Policy:
    return rules.parse(source)


def active_policy(*, session: Session) -> tuple[ConcessionPolicy, rules.Policy] | None:
    """Return the policy in force (its row and its parsed rules), or None before the first upload."""
    row = session.scalar(
        select(ConcessionPolicy).where(ConcessionPolicy.active.is_(True)).order_by(ConcessionPolicy.id.desc())
    )
    return None if row is None else (row, _parsed(row.source))


def require_policy(*, session: Session) -> tuple[ConcessionPolicy, rules.Policy]:
    found = active_policy(session=session)
    if found is None:
        raise Conflict(
            "no concession policy yet: an admin uploads one (PUT /api/v1/resolutions/policy)",
            code="no_policy",
        )
    return found


def _require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("only an admin may change the concession policy", code="role_forbidden")


def upload_policy(*, session: Session, source: str, comment: str, actor: Principal) -> ConcessionPolicy:
    """Store ``source`` as the new active policy; PolicyError (the previous one stays) if it is refused."""
    _require_admin(actor)
    parsed = rules.parse(source)
    if parsed.approver is not None:
        user = accounts.get_user_by_email(session=session, email=parsed.approver)
        if user is None or not user.active or user.role.value not in rules.APPROVER_ROLES:
            raise rules.PolicyError(
                f"the policy was refused: approval.approver: {parsed.approver} is not an active lead, "
                "advocate or admin; the previous policy stays in force",
                details=[{"rule": "approval.approver", "line": None, "message": "not an approver"}],
            )
    version = (session.scalar(select(func.max(ConcessionPolicy.version))) or 0) + 1
    session.execute(update(ConcessionPolicy).where(ConcessionPolicy.active.is_(True)).values(active=False))
    row = ConcessionPolicy(
        version=version,
        source=source,
        comment=comment,
        active=True,
        uploaded_by_id=actor.id if actor.kind == "user" else None,
    )
    try:
        # Two admins saving at once (PostgreSQL): the second is told, not given a 500.
        with race_savepoint(session):
            session.add(row)
            session.flush()
    except IntegrityError:
        raise Conflict(
            "another policy was saved at the same moment; reload and try again", code="policy_conflict"
        ) from None
    audit.record(
        session=session,
        actor=actor,
        action="policy.uploaded",
        entity_type="concession_policy",
        entity_id=row.id,
        after={"version": version, "comment": comment},
    )
    return row


def activate_policy(*, session: Session, version: int, actor: Principal) -> ConcessionPolicy:
    """Put an earlier version back in force (a rollback)."""
    _require_admin(actor)
    row = session.scalar(select(ConcessionPolicy).where(ConcessionPolicy.version == version))
    if row is None:
        raise NotFound(f"no policy version {version}", code="policy_not_found")
    current = active_policy(session=session)
    session.execute(update(ConcessionPolicy).where(ConcessionPolicy.active.is_(True)).values(active=False))
    row.active = True
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="policy.activated",
        entity_type="concession_policy",
        entity_id=row.id,
        before={"version": current[0].version if current else None},
        after={"version": version},
    )
    return row


def list_policy_versions(*, session: Session, principal: Principal) -> Sequence[ConcessionPolicy]:
    """Return the accepted versions, newest first (staff)."""
    require_staff(principal)
    return session.scalars(
        select(ConcessionPolicy).order_by(ConcessionPolicy.version.desc()).limit(100)
    ).all()


def policy_public(*, session: Session, principal: Principal) -> PolicyPublic:
    """Return the policy in force with its source and summary (staff)."""
    require_staff(principal)
    row, parsed = require_policy(session=session)
    return PolicyPublic(
        id=row.id,
        version=row.version,
        comment=row.comment,
        active=row.active,
        uploaded_by_id=row.uploaded_by_id,
        created_at=row.created_at,
        source=row.source,
        summary=summary(parsed),
    )


def summary(policy: rules.Policy) -> dict[str, Any]:
    """Return the policy as plain data (the policy page's tables, the API)."""
    tiers = ["standard", *[t for t in policy.tiers() if t != "standard"]]
    return {
        "base_currency": policy.base_currency,
        "currencies": {code: str(rate) for code, rate in sorted(policy.rates.items())},
        "reasons": [
            {"name": r.name, "label": r.label, "second_person": r.second_person}
            for r in policy.reasons.values()
        ],
        "limits": {
            tier: {
                role: {kind: str(policy.limit_for(role=role, kind=kind, tier=tier)) for kind in rules.KINDS}
                for role in rules.ROLE_RANK
            }
            for tier in tiers
        },
        "per_customer": {
            "days": policy.period_days,
            "max": None if policy.period_max is None else str(policy.period_max),
            "tiers": {t: str(v) for t, v in policy.period_tier_max.items()},
            "approver_roles": list(policy.period_approver_roles),
            "kinds": sorted(policy.period_kinds),
        },
        "refund_windows": policy.windows,
        "approver": policy.approver,
        "came_back_days": policy.came_back_days,
    }


def require_staff(principal: Principal) -> None:
    if not principal.is_staff:
        raise Forbidden("only staff may see or grant concessions", code="role_forbidden")
