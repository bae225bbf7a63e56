"""The advocacy pages in the workspace (dashboard, fairness, digest) and the overview API: who may see
them, what they show, and the errors.

Access, as decided: the dashboard is for every staff member (agents too: themes and cases are internal,
not secret); the fairness lists and the digests are for advocates, leads and admins; customers and
partners are refused everywhere."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ombud.advocacy.models import AdvocacyCase, CaseStatus, SpikeAlert
from ombud.runtime import Runtime
from ombud.storage.base import utcnow
from tests.advocacy import insight_builders as b
from tests.conftest import Personas, app_for
from tests.web.workspace import form_csrf, sign_in


def _setup(runtime: Runtime, client: TestClient, people: Personas, **department: Any) -> dict[str, int]:
    with runtime.database.session() as s:
        theme = b.theme(s, "Parcel <script>lost</script>")
        for i in range(5):
            b.ticket(s, customer_id=b.customer(s, f"d{i}@x.test"), at=b.ago(days=1 + i), theme_id=theme)
        s.add(
            SpikeAlert(
                theme_id=theme,
                metric="volume",
                started_at=b.ago(hours=5),
                detected_at=b.ago(hours=1),
                count=12,
                baseline=2.5,
                growth=3.8,
            )
        )
        s.add_all(
            [
                AdvocacyCase(title="Lost parcels", status=CaseStatus.in_progress, theme_id=theme),
                AdvocacyCase(title="Old", status=CaseStatus.verified),
            ]
        )
        s.commit()
    payload = {"name": "Logistics", "kind": "logistics", "intents": ["damaged_item"], **department}
    made = client.post("/api/v1/advocacy/departments", json=payload, headers=people.advocate.headers)
    assert made.status_code == 201, made.text
    return {"theme": theme, "department": int(made.json()["id"])}


def _browser(runtime: Runtime, email: str) -> TestClient:
    browser = TestClient(app_for(runtime), raise_server_exceptions=False)
    sign_in(browser, runtime, email)
    return browser


@pytest.mark.parametrize("role", ["advocate", "lead", "admin"])
def test_advocates_leads_and_admins_see_every_page(
    runtime: Runtime, client: TestClient, people: Personas, role: str
) -> None:
    ids = _setup(runtime, client, people, notify_email="logistics@northwind.example")
    with _browser(runtime, f"{role}@desk.test") as browser:
        home = browser.get("/agent/advocacy")
        assert home.status_code == 200, home.text
        assert '<a href="/agent/advocacy">Advocacy</a>' in home.text  # the nav link
        assert "Parcel &lt;script&gt;lost&lt;/script&gt;" in home.text and "<script>lost" not in home.text
        assert f'href="/agent/advocacy/themes/{ids["theme"]}"' in home.text
        assert (
            'class="sparkline"' in home.text and 'role="img"' in home.text and "stroke-dasharray" in home.text
        )
        assert "<strong>5</strong> concerns" in home.text
        assert (
            "open spikes in <strong>1</strong> theme (1 alert by" in home.text
            and "<strong>1</strong> open cases" in home.text
        )
        assert 'href="/agent/advocacy/fairness"' in home.text
        assert 'href="/agent/advocacy/departments"' in home.text
        for which in ("unequal", "repeat", "policy"):
            page = browser.get("/agent/advocacy/fairness", params={"list": which, "days": 30})
            assert page.status_code == 200, page.text
            assert "Fairness and consistency" in page.text
        index = browser.get("/agent/advocacy/digest")
        assert index.status_code == 200 and f'href="/agent/advocacy/digest/{ids["department"]}"' in index.text
        one = browser.get(f"/agent/advocacy/digest/{ids['department']}")
        assert one.status_code == 200
        assert "logistics@northwind.example" in one.text
        assert f"/api/v1/advocacy/departments/{ids['department']}/digest?format=csv" in one.text
        # The preview is the email itself, escaped into a sandboxed frame.
        preview = re.search(r'<iframe[^>]*sandbox srcdoc="([^"]*)"', one.text)
        assert preview and "&lt;!doctype html&gt;" in preview.group(1)
        download = browser.get(f"/api/v1/advocacy/departments/{ids['department']}/digest?format=html")
        assert download.status_code == 200 and download.text.startswith("<!doctype html>")


def test_agents_see_the_dashboard_but_not_fairness_or_digests(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    ids = _setup(runtime, client, people)
    with _browser(runtime, "agent@desk.test") as browser:
        home = browser.get("/agent/advocacy")
        assert home.status_code == 200
        assert '<a href="/agent/advocacy">Advocacy</a>' not in home.text  # not in an agent's nav
        assert 'href="/agent/advocacy/fairness"' not in home.text
        assert 'href="/agent/advocacy/departments"' not in home.text
        for path in (
            "/agent/advocacy/fairness",
            "/agent/advocacy/digest",
            f"/agent/advocacy/digest/{ids['department']}",
        ):
            assert browser.get(path).status_code == 403, path
    assert client.get("/api/v1/advocacy/overview", headers=people.agent.headers).status_code == 200


def test_customers_partners_and_strangers_are_refused(client: TestClient, people: Personas) -> None:
    for who in (people.customer, people.partner):
        response = client.get("/api/v1/advocacy/overview", headers=who.headers)
        assert response.status_code == 403 and response.json()["error"]["code"] == "role_forbidden"
    assert client.get("/api/v1/advocacy/overview").status_code == 401
    page = client.get("/agent/advocacy", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login?next=%2Fagent%2Fadvocacy")


def test_overview_api_counts(runtime: Runtime, client: TestClient, people: Personas) -> None:
    ids = _setup(runtime, client, people)
    found = client.get("/api/v1/advocacy/overview", headers=people.lead.headers).json()
    assert found["concerns_7_days"] == 5 and found["customers_7_days"] == 5 and found["previous_7_days"] == 0
    assert len(found["daily"]) == 28 and sum(d["count"] for d in found["daily"]) == 5
    assert [t["theme_id"] for t in found["top_themes"]] == [ids["theme"]]
    assert [t["theme_id"] for t in found["rising_themes"]] == [ids["theme"]]
    assert found["open_spikes"] == 1 and found["spikes"][0]["theme_label"] == "Parcel <script>lost</script>"
    assert found["spiking_themes"] == 1
    with runtime.database.session() as s:  # the same burst seen in a segment: one more alert, same theme
        s.add(
            SpikeAlert(
                theme_id=ids["theme"],
                metric="volume",
                segment="region:north",
                started_at=utcnow() - dt.timedelta(hours=5),
                detected_at=utcnow() - dt.timedelta(hours=1),
                count=9,
                baseline=1.0,
                growth=8.0,
            )
        )
        s.commit()
    found = client.get("/api/v1/advocacy/overview", headers=people.lead.headers).json()
    assert found["open_spikes"] == 2 and found["spiking_themes"] == 1
    assert found["cases_by_status"]["in_progress"] == 1 and found["cases_by_status"]["verified"] == 1
    assert found["cases_by_status"]["open"] == 0 and found["open_cases"] == 1


def test_send_now_from_the_page(runtime: Runtime, client: TestClient, people: Personas) -> None:
    ids = _setup(runtime, client, people)  # no notify email, no owners: nobody to send to
    url = f"/agent/advocacy/digest/{ids['department']}"
    with _browser(runtime, "advocate@desk.test") as browser:
        csrf = form_csrf(browser.get(url).text)
        forged = browser.post(f"{url}/send", data={"csrf_token": "nope"}, follow_redirects=False)
        assert forged.status_code == 403
        nobody = browser.post(f"{url}/send", data={"csrf_token": csrf}, follow_redirects=False)
        assert nobody.status_code == 422 and "no notify email and no active owner" in nobody.text
        changed = client.patch(
            f"/api/v1/advocacy/departments/{ids['department']}",
            json={"notify_email": "logistics@northwind.example"},
            headers=people.advocate.headers,
        )
        assert changed.status_code == 200, changed.text
        sent = browser.post(f"{url}/send", data={"csrf_token": csrf}, follow_redirects=False)
        assert sent.status_code == 303 and sent.headers["location"] == f"{url}?queued=1"
        after = browser.get(sent.headers["location"])
        assert "The digest is on its way." in after.text
        # The test runtime has no relay: the failure is shown on the page, and the next week waits.
        assert "OMBUD_SMTP_RELAY" in after.text
        due = re.search(r"(\d{4}-\d\d-\d\d \d\d:\d\d) UTC", after.text)
        assert due and dt.datetime.strptime(due.group(1), "%Y-%m-%d %H:%M") > dt.datetime.now(dt.UTC).replace(
            tzinfo=None
        )


def test_page_errors(runtime: Runtime, client: TestClient, people: Personas) -> None:
    with _browser(runtime, "advocate@desk.test") as browser:
        assert browser.get("/agent/advocacy/fairness", params={"list": "secret"}).status_code == 422
        assert browser.get("/agent/advocacy/fairness", params={"days": 0}).status_code == 422
        assert browser.get("/agent/advocacy/digest/99999").status_code == 404
        assert browser.get("/agent/advocacy/digest/0").status_code == 422


def _themes(runtime: Runtime, count: int, first: int) -> None:
    with runtime.database.session() as s:
        people = [b.customer(s, f"n{i}@x.test") for i in range(4)]
        for i in range(first, first + count):
            theme = b.theme(s, f"Theme number {i}")
            for j in range(1 + i % 4):
                b.ticket(s, customer_id=people[j], at=b.ago(days=1 + j, hours=i % 7), theme_id=theme)
        s.commit()


def test_the_dashboard_and_digest_take_as_many_queries_for_sixty_themes_as_for_a_few(
    runtime: Runtime, client: TestClient, people: Personas
) -> None:
    ids = _setup(runtime, client, people)
    _themes(runtime, 4, first=0)
    paths = ("/api/v1/advocacy/overview", f"/api/v1/advocacy/departments/{ids['department']}/digest")

    def count() -> list[int]:
        found = []
        for path in paths:
            with b.statements(runtime.database.engine) as seen:
                response = client.get(path, headers=people.lead.headers)
            assert response.status_code == 200, response.text
            assert len(response.json()["top_themes"]) == 5
            found.append(len(seen))
        return found

    few = count()
    _themes(runtime, 56, first=4)
    many = count()
    assert many == few, (few, many)  # no query per theme
    assert max(many) <= 30, many
