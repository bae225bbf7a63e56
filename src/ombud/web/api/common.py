"""Small pieces shared by the API routers."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import Path
from pydantic import BaseModel, ConfigDict

IdPath = Annotated[int, Path(ge=1, le=2**63 - 1)]


class AuditEventPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    created_at: dt.datetime
    actor_type: str
    actor_id: int | None
    action: str
    entity_type: str
    entity_id: int
    ticket_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
