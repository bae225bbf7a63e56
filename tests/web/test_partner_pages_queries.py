"""The partner network's list pages read the same number of statements however many partners,
technicians and work orders there are (no query per row)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import event

from ombud.runtime import Runtime
from tests.conftest import Personas
from tests.partners.conftest import make_partner, partner_user, work_order
from tests.web.test_partner_portal import browser, partner_sign_in
from tests.web.workspace import sign_in


def statements(client: TestClient, runtime: Runtime, url: str) -> int:
    seen: list[str] = []

    def listen(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    event.listen(runtime.database.engine, "before_cursor_execute", listen)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(runtime.database.engine, "before_cursor_execute", listen)
    return len(seen)


def test_list_pages_cost_a_fixed_number_of_queries(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    a = make_partner(runtime, "A Repairs", people.partner.id)
    work_order(client, people)
    with browser(runtime) as staff, browser(runtime) as tech:
        sign_in(staff, runtime, "agent@desk.test")
        partner_sign_in(tech, runtime, "partner@desk.test")
        staff_pages = (
            "/agent/partners",
            "/agent/work-orders",
            f"/agent/partners/{a}",
            "/agent/partner-feedback",
        )
        before = [statements(staff, runtime, url) for url in staff_pages]
        home_before = statements(tech, runtime, "/partner")
        for n in range(4):
            user = partner_user(runtime, f"tech{n}@partners.test", name=f"Tech {n}")
            make_partner(runtime, f"Other {n}", user.id, areas=["99"])
            work_order(client, people)
        assert [statements(staff, runtime, url) for url in staff_pages] == before
        assert statements(tech, runtime, "/partner") == home_before
