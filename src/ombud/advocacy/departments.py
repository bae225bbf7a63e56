"""Departments that fix causes: product, engineering, billing, logistics, policy, partner network...

Advocates, leads and admins configure them; every staff member reads them. A department names its owners
(active staff), an address for alerts and digests, optionally a webhook endpoint of :mod:`ombud.webhooks`
through which its outside tracker hears of its cases (endpoints are admins': only an admin attaches one),
and the intents that suggest it when a case is opened from a theme. Its ``inbound_secret`` verifies the
tracker's status callbacks; it is shown once, when the department is made or the secret rotated.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ombud.accounts import service as accounts
from ombud.accounts.schemas import STAFF_ROLES, Principal
from ombud.advocacy import access
from ombud.advocacy.models import Department
from ombud.audit import service as audit
from ombud.errors import Conflict, Forbidden, InvalidInput, NotFound, OmbudError
from ombud.storage.base import utcnow
from ombud.validation import normalise_email
from ombud.webhooks import service as webhooks

# The kinds offered in forms; the list is open: any short lower-case word is accepted.
DEFAULT_KINDS = ("product", "engineering", "billing", "logistics", "policy", "partner_network", "legal")
KIND_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
INTENT_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,99}$")
MAX_DEPARTMENTS = 200
FIELDS = ("name", "kind", "description", "owner_ids", "notify_email", "webhook_endpoint_id", "intents")


def new_secret() -> str:
    return "advsec_" + secrets.token_urlsafe(32)


def list_departments(*, session: Session, principal: Principal) -> Sequence[Department]:
    access.check_read(principal)
    return session.scalars(select(Department).order_by(Department.name, Department.id)).all()


def get_department(*, session: Session, department_id: int) -> Department | None:
    return session.get(Department, department_id)


def access_department(*, session: Session, principal: Principal, department_id: int) -> Department:
    access.check_read(principal)
    department = session.get(Department, department_id)
    if department is None:
        raise NotFound(f"no department with id {department_id}", code="department_not_found")
    return department


def _name(session: Session, raw: Any, department_id: int | None) -> str:
    name = " ".join(str(raw or "").split())
    if not name:
        raise InvalidInput("name: a department needs a name", code="invalid_input", details={"field": "name"})
    clash = session.scalar(select(Department.id).where(Department.name == name))
    if clash is not None and clash != department_id:
        raise Conflict(f"a department named {name!r} exists already (id {clash})", code="department_exists")
    return name


def _kind(raw: Any) -> str:
    kind = str(raw or "").strip().lower().replace(" ", "_").replace("-", "_")
    if not KIND_PATTERN.match(kind):
        raise InvalidInput(
            f"kind: {raw!r} is not a kind; use a short lower-case word such as " + ", ".join(DEFAULT_KINDS),
            code="invalid_department_kind",
            details={"field": "kind"},
        )
    return kind


def _owners(session: Session, raw: Any) -> list[int]:
    owners: list[int] = []
    for i, user_id in enumerate(raw or []):
        try:
            user = accounts.access_user(session=session, user_id=int(user_id))
        except OmbudError:
            raise InvalidInput(
                f"owner_ids[{i}]: no active user with id {user_id}",
                code="unknown_user",
                details={"path": f"owner_ids[{i}]"},
            ) from None
        if user.role not in STAFF_ROLES:
            raise InvalidInput(
                f"owner_ids[{i}]: user {user_id} is a {user.role.value}; owners must be staff",
                code="owner_not_staff",
                details={"path": f"owner_ids[{i}]"},
            )
        if user.id not in owners:
            owners.append(user.id)
    return owners


def _endpoint(session: Session, principal: Principal, endpoint_id: Any, current: int | None) -> int | None:
    """Check a new webhook endpoint for the department. Webhook endpoints are admins' (they may carry
    any event to any URL): only an admin attaches or changes one; anyone who edits the department may
    leave it as it is or remove it."""
    if endpoint_id is None:
        return None
    if int(endpoint_id) == current:
        return current
    if not principal.is_admin:
        raise Forbidden(
            "webhook_endpoint_id: only admins attach a webhook endpoint to a department",
            code="role_forbidden",
            details={"field": "webhook_endpoint_id"},
        )
    try:
        webhooks.access_endpoint(session=session, principal=principal, endpoint_id=int(endpoint_id))
    except OmbudError:
        raise InvalidInput(
            f"webhook_endpoint_id: no webhook endpoint with id {endpoint_id}; an admin makes one "
            "under /api/v1/webhooks",
            code="unknown_webhook_endpoint",
            details={"field": "webhook_endpoint_id"},
        ) from None
    return int(endpoint_id)


def _intents(raw: Any) -> list[str]:
    intents: list[str] = []
    for i, intent in enumerate(raw or []):
        value = str(intent).strip().lower()
        if not INTENT_PATTERN.match(value):
            raise InvalidInput(
                f"intents[{i}]: {intent!r} is not an intent name (lower-case, e.g. refund_request)",
                code="invalid_intent",
                details={"path": f"intents[{i}]"},
            )
        if value not in intents:
            intents.append(value)
    return intents


def _clean(
    session: Session,
    principal: Principal,
    fields: dict[str, Any],
    *,
    department_id: int | None,
    endpoint_id: int | None = None,
) -> dict[str, Any]:
    """Return ``fields`` checked and normalised, or raise InvalidInput naming the field to fix."""
    out: dict[str, Any] = {}
    if "name" in fields:
        out["name"] = _name(session, fields["name"], department_id)
    if "kind" in fields:
        out["kind"] = _kind(fields["kind"])
    if "description" in fields:
        out["description"] = str(fields["description"] or "").strip()
    if "owner_ids" in fields:
        out["owner_ids"] = _owners(session, fields["owner_ids"])
    if "notify_email" in fields:
        value = fields["notify_email"]
        out["notify_email"] = normalise_email(value) if value not in (None, "") else None
    if "webhook_endpoint_id" in fields:
        out["webhook_endpoint_id"] = _endpoint(session, principal, fields["webhook_endpoint_id"], endpoint_id)
    if "intents" in fields:
        out["intents"] = _intents(fields["intents"])
    return out


def create_department(*, session: Session, principal: Principal, fields: dict[str, Any]) -> Department:
    """Add a department with a fresh inbound secret (the caller shows ``inbound_secret`` once)."""
    access.check_advocate(principal)
    if "name" not in fields:
        raise InvalidInput("name: a department needs a name", code="invalid_input", details={"field": "name"})
    count = len(session.scalars(select(Department.id)).all())
    if count >= MAX_DEPARTMENTS:
        raise InvalidInput(f"at most {MAX_DEPARTMENTS} departments", code="too_many_departments")
    clean = _clean(
        session, principal, {key: fields[key] for key in FIELDS if key in fields}, department_id=None
    )
    now = utcnow()
    department = Department(inbound_secret=new_secret(), created_at=now, updated_at=now, **clean)
    session.add(department)
    session.flush()
    _audit(session, principal, department, "advocacy.department.created")
    return department


def update_department(
    *, session: Session, principal: Principal, department_id: int, changes: dict[str, Any]
) -> Department:
    """Change the fields given (name, kind, description, owner_ids, notify_email, webhook_endpoint_id,
    intents)."""
    access.check_advocate(principal)
    department = access_department(session=session, principal=principal, department_id=department_id)
    for key in ("name", "kind", "owner_ids", "intents"):
        if key in changes and changes[key] is None:
            raise InvalidInput(f"{key} cannot be null", code="invalid_input", details={"field": key})
    before = _view(department)
    clean = _clean(
        session,
        principal,
        {key: changes[key] for key in FIELDS if key in changes},
        department_id=department.id,
        endpoint_id=department.webhook_endpoint_id,
    )
    for key, value in clean.items():
        setattr(department, key, value)
    department.updated_at = utcnow()
    session.flush()
    _audit(session, principal, department, "advocacy.department.updated", before=before)
    return department


def rotate_secret(*, session: Session, principal: Principal, department_id: int) -> Department:
    """Replace the inbound secret: the tracker's callbacks signed with the old one are refused from now."""
    access.check_advocate(principal)
    department = access_department(session=session, principal=principal, department_id=department_id)
    department.inbound_secret = new_secret()
    department.updated_at = utcnow()
    session.flush()
    _audit(session, principal, department, "advocacy.department.secret_rotated")
    return department


def delete_department(*, session: Session, principal: Principal, department_id: int) -> None:
    """Remove a department; its cases stay, with no department."""
    access.check_advocate(principal)
    department = access_department(session=session, principal=principal, department_id=department_id)
    _audit(session, principal, department, "advocacy.department.deleted")
    session.delete(department)
    session.flush()


def suggest_for_intents(*, session: Session, intents: Sequence[str]) -> Department | None:
    """Return the department whose intents best cover ``intents`` (most common first), or None."""
    if not intents:
        return None
    weight: dict[str, float] = {}
    for rank, intent in enumerate(intents):
        weight.setdefault(intent, 1.0 / (rank + 1))
    best: tuple[float, int] | None = None
    found: Department | None = None
    for department in session.scalars(select(Department).order_by(Department.id)).all():
        score = sum(weight.get(intent, 0.0) for intent in department.intents or [])
        if score > 0 and (best is None or score > best[0]):
            best, found = (score, department.id), department
    return found


def secret_hint(department: Department) -> str:
    return "…" + department.inbound_secret[-4:]


def _view(department: Department) -> dict[str, Any]:
    return {key: getattr(department, key) for key in FIELDS}


def _audit(
    session: Session,
    principal: Principal,
    department: Department,
    action: str,
    *,
    before: dict[str, Any] | None = None,
) -> None:
    after = _view(department)
    if before is not None:
        changed = sorted(key for key in after if after[key] != before[key])
        before = {key: before[key] for key in changed}
        after = {key: after[key] for key in changed}
    audit.record(
        session=session,
        actor=principal,
        action=action,
        entity_type="advocacy_department",
        entity_id=department.id,
        before=before,
        after=after,
    )
