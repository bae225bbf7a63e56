"""Who is calling (the principal) and the public shapes of users and teams."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from ombud.accounts.models import Role

STAFF_ROLES = frozenset({Role.admin, Role.lead, Role.agent, Role.advocate})
# Roles that act on tickets: reply to customers, change status, assign.
SERVICE_ROLES = frozenset({Role.admin, Role.lead, Role.agent})


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: a user with a role, a customer (portal), or the system itself."""

    kind: str  # "user" | "customer" | "system"
    id: int | None
    role: Role | None = None

    @property
    def is_customer(self) -> bool:
        return self.kind == "customer"

    @property
    def is_staff(self) -> bool:
        return self.kind == "system" or (self.kind == "user" and self.role in STAFF_ROLES)

    @property
    def is_admin(self) -> bool:
        return self.kind == "system" or (self.kind == "user" and self.role == Role.admin)

    @property
    def can_serve(self) -> bool:
        """Return whether this caller may reply to customers and change tickets."""
        return self.kind == "system" or (self.kind == "user" and self.role in SERVICE_ROLES)


SYSTEM = Principal(kind="system", id=None)


class TeamPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    email: str
    name: str
    role: Role
    active: bool
    created_at: dt.datetime
    teams: list[TeamPublic]


class MePublic(BaseModel):
    kind: str
    id: int | None
    role: Role | None
    name: str
    email: str | None
