"""Helpers of the advocacy case tests: themes with members made directly (clustering is not what these
tests test), a local HTTP receiver for the department's tracker, and signed tracker callbacks."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fastapi.testclient import TestClient

from ombud.accounts.schemas import SYSTEM
from ombud.advocacy.models import Theme, ThemeCount, ThemeMember
from ombud.events import service as events
from ombud.runtime import Runtime
from ombud.storage.base import utcnow
from ombud.tickets.models import Concern
from ombud.webhooks import service as webhooks
from tests.conftest import Persona


def make_theme(
    runtime: Runtime,
    tickets: list[dict[str, Any]],
    *,
    label: str = "card declined at checkout",
    intent: str = "payment_failed",
    at: list[dt.datetime] | None = None,
) -> int:
    """Make a theme whose members are one concern on each of ``tickets`` (written at ``at``)."""
    now = utcnow()
    with runtime.database.session() as session:
        theme = Theme(
            label=label,
            key_phrases=label.split(),
            quotes=[{"concern_id": 0, "text": "My card is declined at checkout every time."}],
            centroid=b"\0" * 16,
            dimensions=4,
            size=len(tickets),
        )
        session.add(theme)
        session.flush()
        for i, ticket in enumerate(tickets):
            add_member(session, theme.id, ticket, intent=intent, at=at[i] if at else now)
        session.commit()
        return theme.id


def add_member(
    session: Any, theme_id: int, ticket: dict[str, Any], *, intent: str = "payment_failed", at: dt.datetime
) -> int:
    concern = Concern(ticket_id=ticket["id"], text=str(ticket["subject"]), intent=intent, source="agent")
    session.add(concern)
    session.flush()
    session.add(
        ThemeMember(
            concern_id=concern.id,
            theme_id=theme_id,
            ticket_id=ticket["id"],
            customer_id=ticket["customer_id"],
            text=str(ticket["subject"]),
            vector=b"\0" * 16,
            intent=intent,
            concern_at=at,
        )
    )
    hour = at.replace(minute=0, second=0, microsecond=0)
    count = session.get(ThemeCount, (theme_id, "", hour))
    if count is None:
        session.add(ThemeCount(theme_id=theme_id, segment="", hour=hour, count=1))
    else:
        count.count += 1
    session.flush()
    return int(concern.id)


def theme_grows(runtime: Runtime, theme_id: int, ticket: dict[str, Any]) -> None:
    """A new concern of ``ticket`` joins the theme, announced as the themes service does."""
    with runtime.database.session() as session:
        concern_id = add_member(session, theme_id, ticket, at=utcnow())
        events.emit(
            session=session,
            kind="advocacy.concern_themed",
            entity_type="concern",
            entity_id=concern_id,
            actor_type=SYSTEM.kind,
            actor_id=None,
            ticket_id=ticket["id"],
            customer_id=ticket["customer_id"],
            payload={
                "concern_id": concern_id,
                "theme_id": theme_id,
                "ticket_id": ticket["id"],
                "customer_id": ticket["customer_id"],
            },
        )
        session.commit()


def open_case(client: TestClient, who: Persona, **fields: Any) -> dict[str, Any]:
    response = client.post("/api/v1/advocacy/cases", json=fields, headers=who.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def get_case(client: TestClient, who: Persona, case_id: int) -> dict[str, Any]:
    response = client.get(f"/api/v1/advocacy/cases/{case_id}", headers=who.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def move(client: TestClient, who: Persona, case_id: int, status: str, **fields: Any) -> Any:
    return client.post(
        f"/api/v1/advocacy/cases/{case_id}/transition", json={"status": status, **fields}, headers=who.headers
    )


def department(client: TestClient, who: Persona, **fields: Any) -> dict[str, Any]:
    payload = {"name": "Payments", "kind": "billing", "intents": ["payment_failed"], **fields}
    response = client.post("/api/v1/advocacy/departments", json=payload, headers=who.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def signed_callback(
    client: TestClient, department_id: int, secret: str, payload: dict[str, Any], *, at: float | None = None
) -> Any:
    body = json.dumps(payload).encode()
    header = webhooks.sign(secret, int(at if at is not None else time.time()), body)
    return client.post(
        f"/api/v1/advocacy/departments/{department_id}/tracker",
        content=body,
        headers={"Content-Type": "application/json", "Ombud-Signature": header},
    )


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.body)
        return loaded


@dataclass
class Tracker:
    """A local HTTP endpoint standing in for a department's issue tracker; it records every request and
    answers with the scripted status codes in turn, then 200."""

    url: str
    script: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)


@contextlib.contextmanager
def running_tracker() -> Iterator[Tracker]:
    state = Tracker(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.received.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
            status = state.script.pop(0) if state.script else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
