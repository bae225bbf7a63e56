"""A department's outside issue tracker: the case events it is owed (signed outbound webhooks, through
:mod:`ombud.webhooks`) and its signed status callbacks, which move the case like an advocate would."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from ombud.accounts.schemas import SYSTEM, Principal
from ombud.advocacy import cases
from ombud.advocacy.case_schemas import TrackerCallback
from ombud.advocacy.models import AdvocacyCase, CaseStatus, Department
from ombud.errors import Conflict, InvalidInput, NotFound, OmbudError, Unauthorized
from ombud.events.service import EventRecord
from ombud.storage.base import utcnow
from ombud.webhooks import service as webhooks

TRACKER_TOLERANCE = 300
SIGNATURE_T = re.compile(r"[0-9]{1,12}")
SIGNATURE_V1 = re.compile(r"[0-9a-f]{64}")


def department_principal(department: Department) -> Principal:
    """The actor of a change the department's tracker made (audit and events name the department)."""
    return Principal(kind="department", id=department.id)


def deliver_to_department(*, session: Session, event: EventRecord, base_url: str = "") -> None:
    """The ``advocacy-tracker`` consumer (after ``webhooks``): hand each ``advocacy.case.*`` event to the
    webhook endpoint of the case's department, unless that endpoint subscribed to it anyway (then the
    webhooks consumer recorded the delivery). Other departments' endpoints hear nothing of it. The issue's
    ``url`` is made absolute with ``base_url`` so the tracker can link back."""
    if not event.kind.startswith(cases.EVENT_PREFIX):
        return
    department_info = (event.payload.get("issue") or {}).get("department") or {}
    department = session.get(Department, department_info.get("id")) if department_info.get("id") else None
    if department is None or department.webhook_endpoint_id is None:
        return
    try:
        endpoint = webhooks.access_endpoint(
            session=session, principal=SYSTEM, endpoint_id=department.webhook_endpoint_id
        )
    except OmbudError:
        return
    if not endpoint.enabled or webhooks.subscribed(endpoint.events, event.kind):
        return
    if any(
        d.endpoint_id == endpoint.id
        for d in webhooks.deliveries_for_event(session=session, event_id=event.id)
    ):
        return  # recorded before a crash stopped the dispatch from being marked
    data = dict(event.payload)
    issue = dict(data.get("issue") or {})
    if base_url and str(issue.get("url", "")).startswith("/"):
        issue["url"] = base_url.rstrip("/") + str(issue["url"])
    data["issue"] = issue
    webhooks.deliver_event(session=session, endpoint=endpoint, event=event, data=data)


def callback(
    *, session: Session, department_id: int, body: bytes, signature: str, now: float | None = None
) -> AdvocacyCase:
    """Apply a status callback from the department's outside tracker.

    The body must be signed with the department's inbound secret like ombud's own deliveries
    (``Ombud-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>." + body>``), within
    TRACKER_TOLERANCE seconds, and not seen before (a replay is refused).
    """

    query = select(Department).where(Department.id == department_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    department = session.scalar(query)
    if department is None:
        raise NotFound(f"no department with id {department_id}", code="department_not_found")
    parts = dict(item.strip().split("=", 1) for item in (signature or "").split(",") if "=" in item)
    clock = now if now is not None else utcnow().timestamp()
    # Shapes checked before any arithmetic or comparison: a header is any Latin-1 text.
    stamp = int(parts["t"]) if SIGNATURE_T.fullmatch(parts.get("t", "")) else None
    if stamp is None or not SIGNATURE_V1.fullmatch(parts.get("v1", "")):
        raise Unauthorized(
            "the Ombud-Signature header is missing or malformed; send t=<unix time>,v1=<hex HMAC-SHA256>",
            code="tracker_bad_signature",
        )
    if not webhooks.verify(department.inbound_secret, signature, body, tolerance=10**12, now=clock):
        raise Unauthorized(
            'the signature does not match the body; sign "<t>." + body with the department\'s inbound secret',
            code="tracker_bad_signature",
        )
    if abs(clock - stamp) > TRACKER_TOLERANCE:
        raise Unauthorized(
            f"the signature is older than {TRACKER_TOLERANCE} seconds (or from the future); sign it again",
            code="tracker_stale_signature",
        )
    seen_key = f"{stamp}:{parts['v1']}"
    seen = [item for item in department.inbound_seen or [] if _seen_fresh(item, clock)]
    if seen_key in seen:
        raise Conflict("this callback was received already (a replay)", code="tracker_replay")
    try:
        data = TrackerCallback.model_validate_json(body)
    except ValueError as exc:
        raise InvalidInput(
            f"the callback body is not valid: {exc}".splitlines()[0][:300]
            + '; send {"case_id" or "external_ref", "state": acknowledged|in_progress|fixed|closed}',
            code="invalid_tracker_callback",
        ) from None
    case = _case_for_callback(session, department, data.case_id, data.external_ref)
    department.inbound_seen = [*seen, seen_key]
    actor = department_principal(department)
    if data.url:
        case.external_url = data.url
    if data.external_ref and not case.external_ref:
        case.external_ref = data.external_ref
    state = CaseStatus(data.state)
    if state is CaseStatus.closed and case.status in cases.FIXED_STATES:
        # Trackers close an issue once it is fixed: the case already went past that; nothing to do.
        session.flush()
        return case
    cases.move_case(
        session,
        actor,
        case,
        state,
        fix_note=data.fix_note,
        comment=data.comment,
        idempotent=True,
        extra={"via": "tracker", "department_id": department.id},
        # A fix reported from outside is not sent to customers until an advocate confirms the note.
        tell=False,
    )
    session.flush()
    return case


def _seen_fresh(item: str, clock: float) -> bool:
    stamp, _, _ = item.partition(":")
    try:
        return abs(clock - int(stamp)) <= TRACKER_TOLERANCE
    except ValueError:
        return False


def _case_for_callback(
    session: Session, department: Department, case_id: int | None, external_ref: str | None
) -> AdvocacyCase:
    case: AdvocacyCase | None = None
    if case_id is not None:
        case = cases.locked_case(session, case_id)
    elif external_ref:
        found = session.scalar(
            select(AdvocacyCase.id)
            .where(AdvocacyCase.external_ref == external_ref, AdvocacyCase.department_id == department.id)
            .order_by(AdvocacyCase.id.desc())
            .limit(1)
        )
        case = cases.locked_case(session, found) if found is not None else None
    else:
        raise InvalidInput("give case_id or external_ref", code="invalid_tracker_callback")
    if case is None or case.department_id != department.id:
        raise NotFound(
            f"no case {case_id or external_ref!r} of department {department.id}", code="case_not_found"
        )
    return case
