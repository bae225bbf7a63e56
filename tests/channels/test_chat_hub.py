"""The chat hub: events reach connections in this process, and through real Redis in another."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest

from ombud.channels.chat.hub import ChatHub, RedisChatHub

REDIS_URL = os.environ.get("OMBUD_TEST_REDIS_URL")


def test_local_hub_delivers_from_any_thread_and_drops_closed_subscriptions() -> None:
    hub = ChatHub()

    async def scenario() -> None:
        subscription = hub.subscribe("ticket:1")
        other = hub.subscribe("ticket:2")
        assert hub.listening("ticket:1")
        await asyncio.to_thread(hub.publish, "ticket:1", {"type": "message", "id": 7})
        assert await subscription.get(timeout=2) == {"type": "message", "id": 7}
        assert await other.get(timeout=0.05) is None
        subscription.close()
        assert not hub.listening("ticket:1")
        hub.publish("ticket:1", {"type": "message", "id": 8})
        other.close()

    asyncio.run(scenario())
    hub.agent_joined()
    hub.agent_joined()
    hub.agent_left()
    assert hub.agents_online() == 1


def test_a_slow_reader_loses_old_events_not_memory() -> None:
    hub = ChatHub()

    async def scenario() -> None:
        subscription = hub.subscribe("t")
        for number in range(1500):
            hub.publish("t", {"n": number})
        await asyncio.sleep(0.05)
        first = await subscription.get(timeout=1)
        assert first is not None and first["n"] == 500 and subscription.queue.qsize() == 999

    asyncio.run(scenario())


@pytest.mark.redis
def test_redis_hub_carries_events_and_presence_between_processes() -> None:
    assert REDIS_URL is not None
    prefix = f"ombud-test-{uuid.uuid4().hex[:8]}"
    server, worker = RedisChatHub(REDIS_URL, prefix), RedisChatHub(REDIS_URL, prefix)
    try:

        async def scenario() -> None:
            subscription = server.subscribe("ticket:42")
            for _ in range(100):  # the subscription reaches Redis asynchronously
                if worker.listening("ticket:42"):
                    break
                await asyncio.sleep(0.02)
            assert worker.listening("ticket:42") and not worker.listening("ticket:43")
            await asyncio.to_thread(worker.publish, "ticket:42", {"type": "message", "id": 1})
            assert await subscription.get(timeout=3) == {"type": "message", "id": 1}
            subscription.close()

        asyncio.run(scenario())
        server.agent_joined()
        assert worker.agents_online() == 1
        server.agent_left()
        assert worker.agents_online() == 0
        server.agent_joined()
    finally:
        server.close()  # a stopped process's agents no longer count
        assert worker.agents_online() == 0
        worker.close()
