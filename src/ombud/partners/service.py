"""Partner companies and their technicians: skills, service areas, daily capacity, working hours and time
off. Admins and leads manage them; all staff read them; a partner user reads only their own company."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ombud.accounts import service as accounts
from ombud.accounts.models import Role, User
from ombud.accounts.schemas import Principal
from ombud.audit import service as audit
from ombud.errors import Conflict, InvalidInput, NotFound
from ombud.partners import access, core
from ombud.partners.models import Partner, Technician, TechnicianTimeOff
from ombud.partners.schemas import (
    PartnerCreate,
    PartnerUpdate,
    TechnicianPublic,
    TechnicianSet,
    TimeOffPublic,
)

WEEKDAYS = core.WEEKDAYS
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")
MAX_TIME_OFF = dt.timedelta(days=366)


# -- partners ------------------------------------------------------------------------------------------------
def list_partners(*, session: Session, principal: Principal) -> Sequence[Partner]:
    """Every partner for staff; a partner user gets only their own company."""
    access.check_partner_or_staff(principal)
    query = select(Partner).order_by(Partner.name, Partner.id)
    if not principal.is_staff:
        query = query.where(Partner.id == access.own_partner_id(session=session, principal=principal))
    return session.scalars(query).all()


def access_partner(*, session: Session, principal: Principal, partner_id: int) -> Partner:
    access.check_partner_or_staff(principal)
    found = session.get(Partner, partner_id)
    if found is None:
        raise NotFound(f"no partner with id {partner_id}", code="partner_not_found")
    access.check_partner_access(session=session, principal=principal, partner_id=partner_id)
    return found


def _check_name(session: Session, name: str, partner_id: int | None) -> None:
    query = select(Partner.id).where(func.lower(Partner.name) == name.lower())
    if partner_id is not None:
        query = query.where(Partner.id != partner_id)
    if session.scalar(query) is not None:
        raise Conflict(f"a partner named {name!r} exists already", code="partner_exists")


def create_partner(*, session: Session, actor: Principal, data: PartnerCreate) -> Partner:
    access.check_manager(actor)
    _check_name(session, data.name, None)
    partner = Partner(
        name=data.name, email=data.email, phone=data.phone, notes=data.notes, active=data.active
    )
    session.add(partner)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(f"a partner named {data.name!r} exists already", code="partner_exists") from None
    audit.record(
        session=session,
        actor=actor,
        action="partner.created",
        entity_type="partner",
        entity_id=partner.id,
        after={"name": partner.name},
    )
    return partner


def update_partner(*, session: Session, actor: Principal, partner_id: int, data: PartnerUpdate) -> Partner:
    access.check_manager(actor)
    partner = access_partner(session=session, principal=actor, partner_id=partner_id)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("name") is None:
        changes.pop("name", None)
    if "name" in changes:
        _check_name(session, changes["name"], partner.id)
    before = {key: getattr(partner, key) for key in changes}
    for key, value in changes.items():
        setattr(
            partner, key, value if value is not None or key in ("email", "phone") else getattr(partner, key)
        )
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="partner.updated",
        entity_type="partner",
        entity_id=partner.id,
        before=before,
        after={key: getattr(partner, key) for key in changes},
    )
    return partner


# -- technicians ---------------------------------------------------------------------------------------------
def check_working_hours(hours: dict[str, Any]) -> dict[str, list[list[str]]]:
    """Return the working hours cleaned, or raise 422 ``invalid_working_hours``."""
    clean: dict[str, list[list[str]]] = {}
    for day, spans in hours.items():
        if day not in WEEKDAYS:
            raise InvalidInput(
                f"unknown weekday {day!r}; use {', '.join(WEEKDAYS)}", code="invalid_working_hours"
            )
        if not isinstance(spans, list):
            raise InvalidInput(f"{day}: give a list of [start, end] spans", code="invalid_working_hours")
        cleaned: list[list[str]] = []
        for span in spans:
            if (
                not isinstance(span, list)
                or len(span) != 2
                or not all(isinstance(t, str) and _TIME.match(t) for t in span)
            ):
                raise InvalidInput(
                    f'{day}: each span is ["HH:MM", "HH:MM"], got {span!r}', code="invalid_working_hours"
                )
            if span[0] >= span[1]:
                raise InvalidInput(f"{day}: {span[0]} is not before {span[1]}", code="invalid_working_hours")
            cleaned.append([span[0], span[1]])
        cleaned.sort()
        for earlier, later in itertools.pairwise(cleaned):
            if later[0] < earlier[1]:
                raise InvalidInput(f"{day}: the spans overlap", code="invalid_working_hours")
        if cleaned:
            clean[day] = cleaned
    return clean


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"unknown time zone {name!r}, e.g. Europe/Berlin", code="unknown_timezone"
        ) from None
    return name


def technicians_of(*, session: Session, partner_id: int) -> Sequence[Technician]:
    return session.scalars(
        select(Technician).where(Technician.partner_id == partner_id).order_by(Technician.user_id)
    ).all()


def technician_public(*, session: Session, technician: Technician) -> TechnicianPublic:
    user = session.get(User, technician.user_id)
    return TechnicianPublic(
        user_id=technician.user_id,
        partner_id=technician.partner_id,
        name=user.name if user else "",
        email=user.email if user else "",
        skills=list(technician.skills or []),
        areas=list(technician.areas or []),
        capacity_per_day=technician.capacity_per_day,
        working_hours=dict(technician.working_hours or {}),
        timezone=technician.timezone,
        active=technician.active,
    )


def list_technicians(*, session: Session, principal: Principal, partner_id: int) -> list[TechnicianPublic]:
    access_partner(session=session, principal=principal, partner_id=partner_id)
    return [
        technician_public(session=session, technician=t)
        for t in technicians_of(session=session, partner_id=partner_id)
    ]


def technicians_by_partner(
    *, session: Session, principal: Principal, partner_ids: Sequence[int]
) -> dict[int, list[TechnicianPublic]]:
    """Staff's list of partners: each partner's technicians in one query (not one per partner)."""
    access.check_staff(principal)
    found: dict[int, list[TechnicianPublic]] = {pid: [] for pid in partner_ids}
    if not partner_ids:
        return found
    rows = session.execute(
        select(Technician, User)
        .join(User, User.id == Technician.user_id)
        .where(Technician.partner_id.in_(list(partner_ids)))
        .order_by(Technician.user_id)
    ).all()
    for technician, _user in rows:  # the user is in the identity map now: technician_public reads it there
        found[technician.partner_id].append(technician_public(session=session, technician=technician))
    return found


def set_technician(*, session: Session, actor: Principal, user_id: int, data: TechnicianSet) -> Technician:
    """Make partner-role user ``user_id`` a technician of ``data.partner_id`` or change their calendar."""
    access.check_manager(actor)
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user with id {user_id}", code="user_not_found")
    if user.role != Role.partner:
        raise InvalidInput(
            f"user {user_id} has the role {user.role.value}; technicians have the partner role",
            code="not_a_partner_user",
        )
    if session.get(Partner, data.partner_id) is None:
        raise NotFound(f"no partner with id {data.partner_id}", code="partner_not_found")
    hours = check_working_hours(data.working_hours)
    timezone = check_timezone(data.timezone)
    technician = session.get(Technician, user_id)
    before = technician_public(session=session, technician=technician).model_dump() if technician else None
    if technician is None:
        technician = Technician(user_id=user_id, partner_id=data.partner_id)
        session.add(technician)
    technician.partner_id = data.partner_id
    technician.skills = sorted(set(data.skills))
    technician.areas = sorted(set(data.areas))
    technician.capacity_per_day = data.capacity_per_day
    technician.working_hours = hours
    technician.timezone = timezone
    technician.active = data.active
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="technician.set",
        entity_type="technician",
        entity_id=user_id,
        before=before,
        after=technician_public(session=session, technician=technician).model_dump(),
    )
    return technician


def access_technician(*, session: Session, principal: Principal, user_id: int) -> Technician:
    access.check_partner_or_staff(principal)
    technician = session.get(Technician, user_id)
    if technician is None:
        raise NotFound(f"user {user_id} is no technician", code="technician_not_found")
    try:
        access.check_partner_access(session=session, principal=principal, partner_id=technician.partner_id)
    except NotFound:
        raise NotFound(f"user {user_id} is no technician", code="technician_not_found") from None
    return technician


def add_time_off(
    *,
    session: Session,
    actor: Principal,
    user_id: int,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    reason: str = "",
) -> TechnicianTimeOff:
    """Block a technician's calendar: managers for anyone, a partner user for themselves."""
    technician = access_technician(session=session, principal=actor, user_id=user_id)
    if not actor.is_staff and actor.id != user_id:
        raise NotFound(f"user {user_id} is no technician", code="technician_not_found")
    if actor.is_staff:
        access.check_manager(actor)
    starts_at, ends_at = core.utc(starts_at, "start"), core.utc(ends_at, "end")
    if ends_at <= starts_at:
        raise InvalidInput("the time off must end after it starts", code="invalid_time_off")
    if ends_at - starts_at > MAX_TIME_OFF:
        raise InvalidInput("at most a year of time off at once", code="invalid_time_off")
    row = TechnicianTimeOff(
        user_id=technician.user_id,
        starts_at=starts_at,
        ends_at=ends_at,
        reason=reason,
    )
    session.add(row)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="technician.time_off_added",
        entity_type="technician",
        entity_id=user_id,
        after={"starts_at": row.starts_at.isoformat(), "ends_at": row.ends_at.isoformat(), "reason": reason},
    )
    return row


def time_off_of(*, session: Session, user_id: int, since: dt.datetime | None = None) -> list[TimeOffPublic]:
    query = select(TechnicianTimeOff).where(TechnicianTimeOff.user_id == user_id)
    if since is not None:
        query = query.where(TechnicianTimeOff.ends_at > since)
    rows = session.scalars(query.order_by(TechnicianTimeOff.starts_at)).all()
    return [TimeOffPublic.model_validate(row) for row in rows]


def user_names(*, session: Session, user_ids: Sequence[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    return {
        row[0]: row[1]
        for row in session.execute(select(User.id, User.name).where(User.id.in_(set(user_ids))))
    }


def require_user(*, session: Session, user_id: int) -> User:
    return accounts.access_user(session=session, user_id=user_id)
