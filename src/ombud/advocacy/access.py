"""Who may see and do what in advocacy.

Every staff member may read themes and cases (an agent sees on a ticket that it belongs to an open case);
advocates, leads and admins change them: edit themes, open and move cases, configure departments.
"""

from __future__ import annotations

from ombud.accounts.models import Role
from ombud.accounts.schemas import Principal
from ombud.errors import Forbidden

ADVOCACY_ROLES = frozenset({Role.admin, Role.lead, Role.advocate})


def can_advocate(principal: Principal) -> bool:
    return principal.kind == "system" or (principal.kind == "user" and principal.role in ADVOCACY_ROLES)


def check_read(principal: Principal) -> None:
    """Themes, spikes and cases are internal: staff only."""
    if not principal.is_staff:
        raise Forbidden("advocacy is internal; your role may not read it", code="role_forbidden")


def check_advocate(principal: Principal) -> None:
    """Changing themes, cases and departments: advocates, leads and admins."""
    if not can_advocate(principal):
        raise Forbidden("only advocates, leads and admins may change advocacy data", code="role_forbidden")
