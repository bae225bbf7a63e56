"""The workspace's theme pages: the explorer, a theme's page with its figures and edit forms, the spikes
page; advocates edit through the forms (with CSRF), agents only read."""

from __future__ import annotations

from fastapi.testclient import TestClient

from ombud.runtime import Runtime
from tests.advocacy.test_alerts import burst
from tests.advocacy.test_themes import members, theme_of, write_history
from tests.conftest import Personas
from tests.web.workspace import form_csrf, sign_in


def test_advocate_explores_and_edits_themes_in_the_workspace(
    client: TestClient, people: Personas, runtime: Runtime
) -> None:
    write_history(client, people)
    charged = theme_of(client, people.advocate, "charged twice for my order A-1001")
    crash = theme_of(client, people.advocate, "The app keeps crashing")
    csrf = sign_in(client, runtime, "advocate@desk.test")

    page = client.get("/agent/advocacy/themes")
    assert page.status_code == 200, page.text
    assert f'href="/agent/advocacy/themes/{charged["id"]}"' in page.text
    assert "<svg" in page.text  # the sparklines
    assert "Re-cluster now" in page.text
    assert (
        client.get("/agent/advocacy/themes", params={"q": "nothing like this"}).text.count(
            "/agent/advocacy/themes/"
        )
        == 0
    )

    detail = client.get(f"/agent/advocacy/themes/{charged['id']}")
    assert detail.status_code == 200, detail.text
    html = detail.text
    assert "Customers affected</dt><dd>4" in html
    assert "You took the money twice for my order" in html
    assert "<svg" in html and "Concerns per day" in html
    assert f'action="/agent/advocacy/themes/{charged["id"]}/rename"' in html

    renamed = client.post(
        f"/agent/advocacy/themes/{charged['id']}/rename",
        data={"name": "Double charges", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert renamed.status_code == 303, renamed.text
    after = client.get(renamed.headers["location"]).text
    assert "<h1>Double charges</h1>" in after and "Theme renamed." in after

    forged = client.post(
        f"/agent/advocacy/themes/{charged['id']}/rename", data={"name": "Forged", "csrf_token": "x"}
    )
    assert forged.status_code == 403

    concern = members(client, people.advocate, crash["id"])[0]["concern_id"]
    moved = client.post(
        f"/agent/advocacy/members/{concern}/move",
        data={"theme_id": charged["id"], "back": crash["id"], "csrf_token": csrf},
        follow_redirects=False,
    )
    assert moved.status_code == 303, moved.text
    assert concern in [m["concern_id"] for m in members(client, people.advocate, charged["id"])]

    merged = client.post(
        f"/agent/advocacy/themes/{charged['id']}/merge",
        data={"source_ids": str(crash["id"]), "csrf_token": csrf},
        follow_redirects=False,
    )
    assert merged.status_code == 303, merged.text
    gone = client.get(f"/agent/advocacy/themes/{crash['id']}").text
    assert "Merged into" in gone and 'action="/agent/advocacy/themes/' not in gone.split("Concerns</h2>")[0]

    bad = client.post(
        f"/agent/advocacy/themes/{charged['id']}/split",
        data={"concern_ids": "12 abc", "csrf_token": csrf},
    )
    assert bad.status_code == 422


def test_spikes_page_and_what_an_agent_may_do(client: TestClient, people: Personas, runtime: Runtime) -> None:
    burst(client, people, 10)
    csrf = sign_in(client, runtime, "agent@desk.test")
    page = client.get("/agent/advocacy/spikes")
    assert page.status_code == 200, page.text
    assert "Sample messages" in page.text and "<svg" in page.text
    assert "/acknowledge" not in page.text  # agents read; advocates decide
    theme_id = theme_of(client, people.agent, "charged twice")["id"]
    detail = client.get(f"/agent/advocacy/themes/{theme_id}").text
    assert "Edit the theme" not in detail
    refused = client.post(
        f"/agent/advocacy/themes/{theme_id}/rename", data={"name": "Mine", "csrf_token": csrf}
    )
    assert refused.status_code == 403

    client.cookies.clear()
    csrf = sign_in(client, runtime, "advocate@desk.test")
    page = client.get("/agent/advocacy/spikes")
    spike_id = page.text.split('action="/agent/advocacy/spikes/')[1].split("/")[0]
    done = client.post(
        f"/agent/advocacy/spikes/{spike_id}/acknowledge",
        data={"csrf_token": form_csrf(page.text)},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    listed = client.get("/agent/advocacy/spikes", params={"state": "acknowledged"}).text
    assert f"/agent/advocacy/spikes/{spike_id}/dismiss" in listed
    dismissed = client.post(
        f"/agent/advocacy/spikes/{spike_id}/dismiss", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert dismissed.status_code == 303, dismissed.text
    assert (
        f"/agent/advocacy/spikes/{spike_id}/reopen"
        in client.get("/agent/advocacy/spikes", params={"state": "dismissed"}).text
    )
