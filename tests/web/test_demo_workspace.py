"""The demo workspace (`ombud serve --demo`) shows every part of the workspace in its first minute: staff
sign in with the demo password, the inbox leads with the most pressing tickets, an abusive message is
marked, a systemic issue is visible, macros are there, and the customer 360 suggests something only to a
calm customer whose concerns are resolved."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from ombud.demo import DEMO_PASSWORD, load_demo
from ombud.runtime import Runtime
from tests.web.workspace import form_csrf


def _sign_in(client: TestClient, email: str) -> None:
    csrf = form_csrf(client.get("/login").text)
    response = client.post(
        "/login", data={"email": email, "password": DEMO_PASSWORD, "csrf_token": csrf}, follow_redirects=False
    )
    assert response.status_code == 303, response.text


def _ticket_id(inbox_html: str, subject: str) -> int:
    found = re.search(r'href="/agent/tickets/(\d+)\?view=\w+">' + re.escape(subject) + "<", inbox_html)
    assert found, subject
    return int(found.group(1))


def test_the_demo_shows_the_workspace_at_work(client: TestClient, runtime: Runtime) -> None:
    with runtime.database.session() as session:
        assert load_demo(session=session)
        session.commit()
    _sign_in(client, "agent@demo.ombud.test")
    inbox = client.get("/agent/inbox?view=all").text
    subjects = re.findall(r'href="/agent/tickets/\d+\?view=all">([^<]+)<', inbox)
    # The urgent repeat complaint leads; the four AirBrew 2 reports (on four channels) are all there.
    assert subjects[0] == "THIRD time writing - router still dropping connection"
    assert sum("AirBrew 2" in s for s in subjects) == 4
    assert "<strong>abusive</strong>" in inbox
    abusive = client.get(f"/agent/tickets/{_ticket_id(inbox, 'Useless as always')}?view=all").text
    assert 'class="abusive"' in abusive and "Conduct policy" in abusive  # the macro to answer it
    # Tom is upset and waiting: no sales pitch. Sam's wifi is fixed and he is happy: the extender.
    tom = client.get(
        f"/agent/tickets/{_ticket_id(inbox, 'THIRD time writing - router still dropping connection')}"
    ).text
    assert "Might also help" not in tom and "HomeHub router" in tom
    solved = client.get("/agent/inbox?view=solved").text
    sam = client.get(f"/agent/tickets/{_ticket_id(solved, 'Wifi drops in the bedroom')}?view=solved").text
    assert "Might also help" in sam and "Mesh Extender" in sam
    # The AirBrew 2 reports are an advocacy case with engineering: agents see it and what to tell meanwhile.
    airbrew = client.get(f"/agent/tickets/{_ticket_id(inbox, 'AirBrew 2 app logs me out')}?view=all").text
    assert "Known problem" in airbrew and "App and firmware" in airbrew
    assert "hold the" in airbrew and "clock button" in airbrew


def test_the_demo_advocate_sees_the_case_board(client: TestClient, runtime: Runtime) -> None:
    with runtime.database.session() as session:
        assert load_demo(session=session)
        session.commit()
    _sign_in(client, "advocate@demo.ombud.test")
    assert client.get("/agent/advocacy").status_code == 200
    board = client.get("/agent/advocacy/cases").text
    assert "AirBrew 2 app update logs customers out" in board
    departments = client.get("/agent/advocacy/departments").text
    for name in ("App and firmware", "Billing", "Logistics", "Returns and warranty policy"):
        assert name in departments
