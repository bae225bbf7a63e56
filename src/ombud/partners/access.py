"""Who may see and do what in the field partner network.

- Staff (admin, lead, agent, advocate) see every partner, work order, photo, update and feedback item;
  admins and leads manage partners and technicians; staff who can serve (admin, lead, agent) create and
  act on work orders (acting for a partner is recorded as the staff member).
- A partner user (a technician) sees only their own partner's work orders, photos, updates, feedback and
  scorecard — never tickets, other customers or internal ticket notes. Anything else answers 404.
- A customer sees only the work orders on their own tickets, and only the customer-facing fields.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ombud.accounts.models import Role
from ombud.accounts.schemas import Principal
from ombud.errors import Forbidden, NotFound
from ombud.partners.models import Technician, WorkOrder

MANAGING_ROLES = frozenset({Role.admin, Role.lead})


def is_partner(principal: Principal) -> bool:
    return principal.kind == "user" and principal.role == Role.partner


def partner_id_of(*, session: Session, user_id: int) -> int | None:
    """Return the partner company the user is a technician of (None: not a technician)."""
    return session.scalar(select(Technician.partner_id).where(Technician.user_id == user_id))


def check_staff(principal: Principal) -> None:
    """Raise 403 ``role_forbidden`` unless the caller is staff."""
    if not principal.is_staff:
        raise Forbidden("only staff may do this", code="role_forbidden")


def check_manager(principal: Principal) -> None:
    """Raise 403 ``role_forbidden`` unless the caller may manage partners and technicians."""
    if not (principal.is_admin or (principal.kind == "user" and principal.role in MANAGING_ROLES)):
        raise Forbidden("only admins and leads may manage partners and technicians", code="role_forbidden")


def check_server(principal: Principal) -> None:
    """Raise 403 ``role_forbidden`` unless the caller is staff who can serve (admin, lead, agent)."""
    if not principal.can_serve:
        raise Forbidden("only admins, leads and agents may do this", code="role_forbidden")


def check_partner_or_staff(principal: Principal) -> None:
    if not (principal.is_staff or is_partner(principal)):
        raise Forbidden("your role may not see the partner network", code="role_forbidden")


def own_partner_id(*, session: Session, principal: Principal) -> int:
    """Return the caller's partner id (a partner user); 403 ``not_a_technician`` if not linked to one."""
    if not is_partner(principal) or principal.id is None:
        raise Forbidden("only partner users have a partner", code="role_forbidden")
    found = partner_id_of(session=session, user_id=principal.id)
    if found is None:
        raise Forbidden("your user is not a technician of any partner", code="not_a_technician")
    return found


def can_see_work_order(*, session: Session, principal: Principal, work_order: WorkOrder) -> bool:
    if principal.is_staff:
        return True
    if is_partner(principal) and principal.id is not None:
        mine = partner_id_of(session=session, user_id=principal.id)
        return mine is not None and work_order.partner_id == mine
    if principal.is_customer:
        return work_order.customer_id == principal.id
    return False


def check_work_order(
    *, session: Session, principal: Principal, work_order: WorkOrder | None, work_order_id: int
) -> WorkOrder:
    """Return the work order if the caller may see it; 404 ``work_order_not_found`` otherwise."""
    if work_order is None or not can_see_work_order(
        session=session, principal=principal, work_order=work_order
    ):
        raise NotFound(f"no work order with id {work_order_id}", code="work_order_not_found")
    return work_order


def check_partner_access(*, session: Session, principal: Principal, partner_id: int) -> None:
    """Staff see every partner; a partner user only their own (others: 404 ``partner_not_found``)."""
    if principal.is_staff:
        return
    if is_partner(principal) and principal.id is not None:
        if partner_id_of(session=session, user_id=principal.id) == partner_id:
            return
        raise NotFound(f"no partner with id {partner_id}", code="partner_not_found")
    raise Forbidden("your role may not see partners", code="role_forbidden")
