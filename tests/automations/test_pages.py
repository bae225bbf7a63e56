"""The admin pages for automations and webhooks: forms with CSRF, errors shown on the page, dry runs
that change nothing, secrets shown once, the delivery log with redeliver."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient

from ombud.pagination import encode_cursor
from ombud.runtime import Runtime
from tests.conftest import Personas, new_ticket
from tests.web.workspace import sign_in


def _rule_form(csrf: str, **fields: str) -> dict[str, str]:
    form = {
        "csrf_token": csrf,
        "name": "Tag VIP tickets",
        "trigger": "event",
        "events": "ticket.created",
        "conditions": json.dumps({"all": [{"field": "tags", "op": "has", "value": "vip"}]}),
        "actions": json.dumps([{"type": "set_priority", "value": "urgent"}]),
        "enabled": "true",
        "intent": "save",
    }
    form.update(fields)
    return form


def test_admins_write_rules_try_them_and_read_their_log(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    vip = new_ticket(client, people.agent, tags=["vip"])
    csrf = sign_in(client, runtime, "admin@desk.test")
    page = client.get("/agent/automations")
    assert page.status_code == 200 and "No rules yet." in page.text
    assert 'href="/agent/automations"' in page.text  # the nav link, for admins

    missing_csrf = client.post("/agent/automations", data={**_rule_form(csrf), "csrf_token": "x"})
    assert missing_csrf.status_code == 403

    broken = client.post(
        "/agent/automations", data=_rule_form(csrf, actions='[{"type": "set_priority", "value": "huge"}]')
    )
    assert broken.status_code == 422
    assert "actions[0]: set_priority needs a value among" in broken.text
    assert "Tag VIP tickets" in broken.text  # the form keeps what was typed
    not_json = client.post("/agent/automations", data=_rule_form(csrf, conditions="{all: ["))
    assert not_json.status_code == 422 and "conditions: not valid JSON" in not_json.text

    tried = client.post("/agent/automations", data=_rule_form(csrf, intent="dry_run"))
    assert tried.status_code == 200
    assert (
        "Nothing was changed" in tried.text
        and f"#{vip['id']}" in tried.text
        and "normal → urgent" in tried.text
    )
    assert client.get("/api/v1/automations", headers=people.admin.headers).json() == []
    older = client.post(
        "/agent/automations", data=_rule_form(csrf, intent="dry_run", cursor=encode_cursor({"id": vip["id"]}))
    )
    assert older.status_code == 200 and "Looked at 0 tickets" in older.text  # the page after the last ticket

    saved = client.post("/agent/automations", data=_rule_form(csrf), follow_redirects=False)
    assert saved.status_code == 303
    rule_url = saved.headers["location"]
    rule_id = int(rule_url.rsplit("/", 1)[1])
    assert "This rule has not fired yet." in client.get(rule_url).text
    fired = new_ticket(client, people.agent, tags=["vip"])
    log = client.get(rule_url).text
    assert f"#{fired['id']}" in log and "set priority → urgent" in log
    ticket_page = client.get(f"/agent/tickets/{fired['id']}")
    assert ticket_page.status_code == 200
    panel = ticket_page.text.split('id="automations"', 1)[1].split("</section>", 1)[0]
    assert "Tag VIP tickets" in panel and "set priority → urgent" in panel
    assert 'id="automations"' not in client.get(f"/agent/tickets/{vip['id']}").text  # nothing fired there

    toggled = client.post(
        f"/agent/automations/{rule_id}/toggle", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert toggled.status_code == 303
    assert (
        client.get(f"/api/v1/automations/{rule_id}", headers=people.admin.headers).json()["enabled"] is False
    )

    renamed = client.post(rule_url, data=_rule_form(csrf, name="VIPs are urgent"), follow_redirects=False)
    assert renamed.status_code == 303
    assert client.get(f"/api/v1/automations/{rule_id}", headers=people.admin.headers).json()["name"] == (
        "VIPs are urgent"
    )
    deleted = client.post(
        f"/agent/automations/{rule_id}/delete", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert deleted.status_code == 303
    assert client.get(rule_url).status_code == 404


def test_agents_do_not_get_the_automation_pages(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    sign_in(client, runtime, "agent@desk.test")
    assert client.get("/agent/automations").status_code == 403
    assert client.get("/agent/webhooks").status_code == 403
    assert 'href="/agent/automations"' not in client.get("/agent/inbox").text


def test_admins_manage_webhooks_from_the_workspace(
    client: TestClient, runtime: Runtime, people: Personas
) -> None:
    csrf = sign_in(client, runtime, "admin@desk.test")
    assert "No endpoints yet." in client.get("/agent/webhooks").text
    refused = client.post(
        "/agent/webhooks",
        data={"csrf_token": csrf, "name": "Orders", "url": "ftp://orders.example.com", "events": "ticket.*"},
    )
    assert refused.status_code == 422 and "url must start with http:// or https://" in refused.text

    made = client.post(
        "/agent/webhooks",
        data={
            "csrf_token": csrf,
            "name": "Orders",
            "url": "http://127.0.0.1:9/hooks",
            "events": "ticket.created",
        },
    )
    assert made.status_code == 201
    secret = re.search(r'<code class="secret">(whsec_[^<]+)</code>', made.text)
    assert secret is not None
    endpoint = client.get("/api/v1/webhooks", headers=people.admin.headers).json()[0]
    page = client.get(f"/agent/webhooks/{endpoint['id']}")
    assert secret.group(1) not in page.text and secret.group(1)[-4:] in page.text  # shown once, then a hint

    test = client.post(
        f"/agent/webhooks/{endpoint['id']}/test", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert test.status_code == 303
    page = client.get(f"/agent/webhooks/{endpoint['id']}")
    assert "webhook.test" in page.text and "ConnectError" in page.text and "pending" in page.text
    delivery = client.get(
        f"/api/v1/webhooks/{endpoint['id']}/deliveries", headers=people.admin.headers
    ).json()
    first_id = delivery["items"][0]["id"]
    again = client.post(
        f"/agent/webhooks/deliveries/{first_id}/redeliver", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert again.status_code == 303
    assert f"(again of {first_id})" in client.get(f"/agent/webhooks/{endpoint['id']}").text

    rotated = client.post(f"/agent/webhooks/{endpoint['id']}/rotate", data={"csrf_token": csrf})
    fresh = re.search(r'<code class="secret">(whsec_[^<]+)</code>', rotated.text)
    assert fresh is not None and fresh.group(1) != secret.group(1)
    disabled = client.post(
        f"/agent/webhooks/{endpoint['id']}",
        data={"csrf_token": csrf, "name": "Orders", "url": "http://127.0.0.1:9/hooks", "events": "ticket.*"},
        follow_redirects=False,
    )
    assert disabled.status_code == 303
    shown = client.get(f"/api/v1/webhooks/{endpoint['id']}", headers=people.admin.headers).json()
    assert shown["enabled"] is False and shown["events"] == ["ticket.*"]
