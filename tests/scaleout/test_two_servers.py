"""Two real `ombud serve` processes and one `ombud worker` on PostgreSQL and Redis behave as one desk: what
one server takes in, the other lists, searches and pushes live; the background work runs in the worker;
rate limits count across both; a knowledge article written through one is found by the other's search."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from tests.scaleout.conftest import bench

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

CHAT_VISITOR_LIMIT = 6


def _client(process: Any, headers: dict[str, str] | None = None) -> httpx.Client:
    return httpx.Client(base_url=process.base, headers=headers or {}, timeout=90, trust_env=False)


def _wait(condition: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    assert bench.wait_until(condition, timeout=timeout, interval=0.1), f"timed out waiting until {what}"


def _sign_in(browser: httpx.Client, email: str, password: str) -> None:
    form = browser.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert csrf, form.text
    answer = browser.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf.group(1), "next": "/agent/inbox"},
    )
    assert answer.status_code == 303, answer.text


def test_two_servers_and_a_worker_act_as_one_desk(cluster_factory: Any) -> None:
    cluster = cluster_factory(OMBUD_CHAT_VISITOR_LIMIT=str(CHAT_VISITOR_LIMIT))
    admin_token = cluster.ombud("user", "add", "admin@scale.test", "--role", "admin").strip().splitlines()[-1]
    password = "scale-out-password-" + uuid.uuid4().hex[:8]
    done = subprocess.run(
        [bench.OMBUD, "user", "password", "agent@scale.test", "--password-stdin"],
        env=cluster.env,
        input=password + "\n",
        capture_output=True,
        text=True,
        timeout=300,  # Argon2 on a busy machine
    )
    assert done.returncode == 0, done.stderr
    a, b = cluster.add_server("a"), cluster.add_server("b")
    worker = cluster.add_worker("worker")
    cluster.start("a", wait=False)
    cluster.start("b", wait=False)
    cluster.wait_ready("a")
    cluster.wait_ready("b")
    headers = cluster.headers
    admin = {"Authorization": f"Bearer {admin_token}"}

    with _client(a, headers) as on_a, _client(b, headers) as on_b:
        # B's knowledge index is built now, on an empty knowledge base: later it must follow the database.
        assert on_b.get("/api/v1/kb/search", params={"q": "anything"}).json()["hits"] == []

        # -- a ticket taken in by A is on B at once; its background work waits for a worker ---------------
        created = on_a.post(
            "/api/v1/tickets",
            json={
                "customer": {"email": "ada@customers.test"},
                "channel": "web",
                "subject": "Parcel never came",
                "body": "My parcel never arrived and I want my money back. Reference zebrafinch42.",
            },
        )
        assert created.status_code == 201, created.text
        ticket_id = created.json()["id"]
        assert on_b.get(f"/api/v1/tickets/{ticket_id}").json()["id"] == ticket_id
        assert ticket_id in [t["id"] for t in on_b.get("/api/v1/tickets").json()["items"]]
        # The servers run --no-worker: nothing triages or indexes the message until a worker runs.
        time.sleep(2)
        pending = "SELECT count(*) FROM messages WHERE triaged_at IS NULL OR indexed_at IS NULL"
        assert cluster.scalar(pending) == 1, "a server ran a background job"
        cluster.start("worker")
        _wait(lambda: cluster.scalar(pending) == 0, "the worker triaged and indexed the message")
        found = on_b.get("/api/v1/tickets", params={"q": "zebrafinch42"}).json()["items"]
        assert [t["id"] for t in found] == [ticket_id]
        triage = on_b.get(f"/api/v1/tickets/{ticket_id}").json()["messages"][0]
        assert triage.get("triage"), triage  # the worker's result, read through the other server

        # -- a knowledge article published through A is found by B's search, by meaning alone -------------
        with _client(a, admin) as admin_on_a:
            article = admin_on_a.post(
                "/api/v1/kb/articles",
                json={
                    "title": "Resetting your password",
                    "body": "Open the sign-in page, choose *Forgot password* and follow the emailed link.",
                    "status": "published",
                    "example_questions": ["How do I reset my password?"],
                },
            )
        assert article.status_code == 201, article.text
        indexed = "SELECT count(*) FROM kb_articles WHERE indexed_hash = content_hash"
        _wait(lambda: cluster.scalar(indexed) == 1, "the worker indexed the article")
        # No word in common with the article: only B's vector index can find it.
        hits = on_b.get("/api/v1/kb/search", params={"q": "forgot my login credentials"}).json()["hits"]
        assert [h["article_id"] for h in hits] == [article.json()["id"]], hits

        # -- chat: a line sent through A reaches an agent's WebSocket on B; B's agent counts on A ----------
        ws_url = b.base.replace("http://", "ws://") + "/api/v1/chat/ws"
        with connect(ws_url, open_timeout=90) as agent_socket:
            agent_socket.send(json.dumps({"type": "hello", "token": cluster.token}))
            welcome = json.loads(agent_socket.recv(timeout=90))
            assert welcome["type"] == "welcome", welcome
            visitor = on_a.post("/chat/api/visitors", json={"name": "Grace"}).json()
            visitor_headers = {"X-Chat-Token": visitor["token"]}
            _wait(
                lambda: (
                    on_a.get("/chat/api/conversation", headers=visitor_headers).json()["agents_online"] == 1
                ),
                "server A counted the agent connected to B",
                timeout=60,
            )
            line = on_a.post(
                "/chat/api/messages",
                json={"text": "Is anyone there? My card was blocked.", "client_id": "line-1"},
                headers=visitor_headers,
            )
            assert line.status_code == 201, line.text
            deadline = time.monotonic() + 60
            while True:
                event = json.loads(agent_socket.recv(timeout=max(0.1, deadline - time.monotonic())))
                if event.get("type") == "message" and "card was blocked" in json.dumps(event):
                    break
        chat_ticket, line_id = event["ticket_id"], event["id"]

        # ... and an agent's reply through B, sent by the worker's delivery job, wakes the visitor's long
        # poll waiting on A (worker -> Redis -> server A).
        polled: list[dict[str, Any]] = []

        def long_poll() -> None:
            with _client(a) as visitor_on_a:
                polled.append(
                    visitor_on_a.get(
                        "/chat/api/conversation",
                        params={"after": line_id, "wait": 30},
                        headers=visitor_headers,
                    ).json()
                )

        poller = threading.Thread(target=long_poll)
        poller.start()
        time.sleep(1.5)  # the poll is waiting on A before the reply exists
        reply = on_b.post(f"/api/v1/tickets/{chat_ticket}/messages", json={"body": "Unblocked it for you."})
        assert reply.status_code == 201, reply.text
        poller.join(timeout=90)
        assert polled and [m["body"] for m in polled[0]["messages"]] == ["Unblocked it for you."], polled

        # -- live update: B's workspace poll sees a ticket A just took in; a session works on both -------
        with _client(b) as browser_b:
            _sign_in(browser_b, "agent@scale.test", password)
            before = browser_b.get("/agent/inbox/latest").json()["latest"]
            more = on_a.post(
                "/api/v1/tickets",
                json={"customer": {"email": "lin@customers.test"}, "subject": "Hello", "body": "Any news?"},
            )
            assert more.status_code == 201, more.text
            assert browser_b.get("/agent/inbox/latest").json()["latest"] > before
            with _client(a) as browser_a:
                browser_a.cookies = browser_b.cookies
                assert browser_a.get("/agent/inbox").status_code == 200

        # -- a rate limit counts across both servers, also when they are asked at the same moment --------
        used = cluster.scalar("SELECT count(*) FROM rate_hits WHERE key LIKE 'chat-visitor:%'")
        answers: list[int] = []
        barrier = threading.Barrier(12)

        def start_visitor(process: Any) -> None:
            with _client(process) as client:
                barrier.wait(timeout=30)
                answers.append(client.post("/chat/api/visitors", json={}).status_code)

        threads = [threading.Thread(target=start_visitor, args=((a, b)[i % 2],)) for i in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(answers) == [201] * (CHAT_VISITOR_LIMIT - used) + [429] * (
            12 - CHAT_VISITOR_LIMIT + used
        )
    assert worker.alive() and a.alive() and b.alive(), cluster.log_tail()
