"""Routing tests: the shared cast's team with members, and a check that the routing consumer never failed
(a consumer's error is logged and recorded on the event, not raised: a test would not see it otherwise)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from ombud.events.models import Event
from ombud.runtime import Runtime


@pytest.fixture(autouse=True)
def routing_never_fails(runtime: Runtime) -> Iterator[None]:
    yield
    with runtime.database.session(write=False) as session:
        failed = [
            (row.kind, row.errors)
            for row in session.scalars(select(Event).where(Event.errors.is_not(None)))
            if row.errors and "routing" in row.errors
        ]
    assert failed == []
