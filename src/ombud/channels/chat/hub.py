"""Real-time fan-out of chat events (a new line, typing, read) to the connections that wait for them.

Connections live on the web server's event loop; events come from request handlers and from the delivery
job, on any thread, so ``publish`` is thread-safe. ``ChatHub`` serves one process: the embedded default,
where jobs run inside ``ombud serve``. ``RedisChatHub`` also carries events and presence between
processes through Redis pub/sub, for ``ombud worker`` processes and several servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
import uuid
from collections import defaultdict
from typing import Any

import redis

log = logging.getLogger(__name__)

AGENTS = "agents"  # every agent connection: new customer lines and typing on any chat
PRESENCE = "presence"  # every visitor connection: whether an agent is there to answer
QUEUE_LIMIT = 1000  # a connection that stops reading loses its oldest events, never the server's memory


def ticket_topic(ticket_id: int) -> str:
    return f"ticket:{ticket_id}"


def visitor_topic(public_id: str) -> str:
    """A visitor's own lines, for its other tabs and long polls (its first line opens the ticket)."""
    return f"visitor:{public_id}"


class Subscription:
    """Events for one connection, read with ``await get()`` on the loop that subscribed."""

    def __init__(self, hub: ChatHub, topics: set[str]) -> None:
        self.hub = hub
        self.topics = topics
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=QUEUE_LIMIT)

    async def get(self, timeout: float | None = None) -> dict[str, Any] | None:
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None

    def _put(self, event: dict[str, Any]) -> None:
        if self.queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
        self.queue.put_nowait(event)

    def deliver(self, event: dict[str, Any]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed: the connection is gone
            self.loop.call_soon_threadsafe(self._put, event)

    def add_topic(self, topic: str) -> None:
        self.hub._add(self, topic)

    def close(self) -> None:
        self.hub.unsubscribe(self)


class ChatHub:
    """Subscriptions by topic in this process, and how many agents are connected."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._topics: dict[str, set[Subscription]] = defaultdict(set)
        self._agents = 0

    # -- subscriptions ----------------------------------------------------------------------------------
    def subscribe(self, *topics: str) -> Subscription:
        """Subscribe the calling coroutine's connection (call it on the event loop)."""
        subscription = Subscription(self, set())
        for topic in topics:
            self._add(subscription, topic)
        return subscription

    def _add(self, subscription: Subscription, topic: str) -> None:
        with self._lock:
            first = not self._topics[topic]
            self._topics[topic].add(subscription)
            subscription.topics.add(topic)
        if first:
            self._first_listener(topic)

    def unsubscribe(self, subscription: Subscription) -> None:
        emptied = []
        with self._lock:
            for topic in subscription.topics:
                listeners = self._topics.get(topic)
                if listeners is not None:
                    listeners.discard(subscription)
                    if not listeners:
                        del self._topics[topic]
                        emptied.append(topic)
            subscription.topics = set()
        for topic in emptied:
            self._last_listener_gone(topic)

    def publish(self, topic: str, event: dict[str, Any]) -> None:
        """Send ``event`` to every connection subscribed to ``topic`` (from any thread)."""
        self._dispatch(topic, event)

    def _dispatch(self, topic: str, event: dict[str, Any]) -> None:
        with self._lock:
            listeners = list(self._topics.get(topic, ()))
        for subscription in listeners:
            subscription.deliver(event)

    def listening(self, topic: str) -> bool:
        """Whether any connection (in any process, for the Redis hub) waits on ``topic``."""
        with self._lock:
            return bool(self._topics.get(topic))

    # -- agents' presence -------------------------------------------------------------------------------
    def agent_joined(self) -> None:
        with self._lock:
            self._agents += 1
        self._presence_changed()

    def agent_left(self) -> None:
        with self._lock:
            self._agents = max(0, self._agents - 1)
        self._presence_changed()

    def agents_online(self) -> int:
        with self._lock:
            return self._agents

    # -- hooks for the Redis hub ------------------------------------------------------------------------
    def _first_listener(self, topic: str) -> None:
        pass

    def _last_listener_gone(self, topic: str) -> None:
        pass

    def _presence_changed(self) -> None:
        pass

    def close(self) -> None:
        pass


class RedisChatHub(ChatHub):
    """A ChatHub whose events and agent presence cross processes through Redis.

    Each process subscribes to the Redis channels of the topics its own connections wait on, so Redis's
    NUMSUB tells whether a visitor is connected anywhere. Presence is a hash of agent counts per process,
    each kept alive by a key that expires when its process stops refreshing it.
    """

    HEARTBEAT_SECONDS = 10

    def __init__(self, url: str, prefix: str) -> None:
        super().__init__()
        # Bounded waits: these calls run on the web server's loop, which a silent Redis must not freeze.
        self._redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=3)
        self._prefix = f"{prefix}:chat:"
        self._process = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        # Any: redis-py typed pubsub() only from 8.x; this works with the older and the newer stubs alike.
        pubsub: Any = self._redis.pubsub
        self._pubsub: Any = pubsub(ignore_subscribe_messages=True)
        # One connection, two threads (subscribing on the loop, reading here): take turns.
        self._pubsub_lock = threading.Lock()
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read, name="ombud-chat-redis", daemon=True)
        self._beater = threading.Thread(target=self._beat, name="ombud-chat-presence", daemon=True)
        self._started = False

    def _start(self) -> None:
        """Connect the subscriber on first need: a process that only publishes (a worker) never does."""
        with self._pubsub_lock:
            if self._started:
                return
            self._started = True
        self._reader.start()
        self._beater.start()

    def publish(self, topic: str, event: dict[str, Any]) -> None:
        try:
            self._redis.publish(self._prefix + topic, json.dumps(event))
        except redis.RedisError:
            log.warning("chat event for %s not sent through Redis; delivering locally", topic, exc_info=True)
            self._dispatch(topic, event)

    def listening(self, topic: str) -> bool:
        try:
            counts = self._redis.pubsub_numsub(self._prefix + topic)
        except redis.RedisError:
            return super().listening(topic)
        return any(int(count) > 0 for _, count in counts)

    def agents_online(self) -> int:
        try:
            counts = self._redis.hgetall(self._prefix + "agents")
            total = 0
            for process, count in counts.items():
                name = process.decode() if isinstance(process, bytes) else str(process)
                if self._redis.exists(self._prefix + "alive:" + name):
                    total += int(count)
            return total
        except redis.RedisError:
            return super().agents_online()

    def _first_listener(self, topic: str) -> None:
        self._start()
        try:
            with self._pubsub_lock:
                self._pubsub.subscribe(self._prefix + topic)
        except redis.RedisError:
            log.warning("cannot subscribe to chat events for %s through Redis", topic, exc_info=True)

    def _last_listener_gone(self, topic: str) -> None:
        with self._pubsub_lock, contextlib.suppress(redis.RedisError):
            self._pubsub.unsubscribe(self._prefix + topic)

    def _presence_changed(self) -> None:
        self._start()
        with contextlib.suppress(redis.RedisError):
            self._redis.hset(self._prefix + "agents", self._process, super().agents_online())
            self._redis.set(self._prefix + "alive:" + self._process, 1, ex=self.HEARTBEAT_SECONDS * 3)

    def _beat(self) -> None:
        while not self._stop.wait(self.HEARTBEAT_SECONDS):
            self._presence_changed()

    def _read(self) -> None:
        while not self._stop.is_set():
            if not self._pubsub.subscribed:
                self._stop.wait(0.05)  # nothing subscribed yet (or any more): nothing to read
                continue
            try:
                with self._pubsub_lock:
                    message = self._pubsub.get_message(timeout=0.01)
            except (redis.RedisError, ValueError):
                if self._stop.wait(1.0):
                    return
                continue
            if message is None:
                self._stop.wait(0.005)  # let a subscribe on the loop thread take the lock
                continue
            if message.get("type") != "message":
                continue
            channel = message["channel"].decode()
            try:
                event = json.loads(message["data"])
            except ValueError:
                continue
            self._dispatch(channel.removeprefix(self._prefix), event)

    def close(self) -> None:
        self._stop.set()
        if self._started:
            self._reader.join(timeout=5)
        with contextlib.suppress(redis.RedisError):
            self._redis.hdel(self._prefix + "agents", self._process)
            self._redis.delete(self._prefix + "alive:" + self._process)
            self._pubsub.close()
            self._redis.close()
