"""Deactivating a staff user who left: signed out of every browser, tokens refused, no sign-in, nothing
new routed to them, their open tickets counted for reassignment; activating lets them sign in again."""

from __future__ import annotations

from click.testing import CliRunner
from fastapi.testclient import TestClient

from ombud.audit.models import AuditEvent
from ombud.cli.main import main
from ombud.runtime import Runtime
from tests.conftest import Personas, new_ticket
from tests.web.workspace import PASSWORD, form_csrf, sign_in


def _cli(runtime: Runtime, *args: str) -> tuple[int, str]:
    url = runtime.database.engine.url.render_as_string(hide_password=False)
    done = CliRunner().invoke(main, [*args, "--database", url])
    return done.exit_code, done.output


def _password_sign_in(client: TestClient, email: str) -> int:
    form = client.get("/login")
    answer = client.post(
        "/login",
        data={"email": email, "password": PASSWORD, "csrf_token": form_csrf(form.text), "next": "/agent"},
        follow_redirects=False,
    )
    return answer.status_code


def test_a_deactivated_user_is_locked_out_everywhere_and_can_come_back(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    ticket = new_ticket(client, people.agent)
    assigned = client.patch(
        f"/api/v1/tickets/{ticket['id']}", json={"assignee_id": people.agent.id}, headers=people.lead.headers
    )
    assert assigned.status_code == 200, assigned.text
    sign_in(client, runtime, "agent@desk.test")
    assert client.get("/agent/inbox").status_code == 200

    code, output = _cli(runtime, "user", "deactivate", "agent@desk.test")
    assert code == 0, output
    assert "agent@desk.test is deactivated; revoked 1 token(s)" in output
    assert "1 open ticket(s) are still assigned to them" in output

    # The browser that was signed in is out at once, the token is refused, the password no longer works.
    refused = client.get("/agent/inbox", follow_redirects=False)
    assert refused.status_code == 303 and refused.headers["location"].startswith("/login")
    assert client.get("/api/v1/me", headers=people.agent.headers).status_code == 401
    assert _password_sign_in(client, "agent@desk.test") != 303
    # Nobody can give them new work.
    moved = client.patch(
        f"/api/v1/tickets/{ticket['id']}", json={"assignee_id": people.agent.id}, headers=people.lead.headers
    )
    assert moved.status_code in (409, 422), moved.text
    # Deactivating twice changes nothing and says so truthfully.
    code, output = _cli(runtime, "user", "deactivate", "agent@desk.test")
    assert code == 0 and "revoked 0 token(s)" in output
    code, output = _cli(runtime, "user", "deactivate", "nobody@desk.test")
    assert code == 1 and "user_not_found" in output

    code, output = _cli(runtime, "user", "activate", "agent@desk.test")
    assert code == 0 and "is active again" in output
    assert _password_sign_in(client, "agent@desk.test") == 303
    # The revoked token stays revoked.
    assert client.get("/api/v1/me", headers=people.agent.headers).status_code == 401
    with runtime.database.session() as session:
        actions = [
            row.action
            for row in session.query(AuditEvent)
            .filter(AuditEvent.entity_type == "user")
            .order_by(AuditEvent.id)
            if row.action in ("user.deactivated", "user.activated")
        ]
    assert actions == ["user.deactivated", "user.activated"]
