"""Shared fixtures of the advocacy tests: themed concerns made the real way (tickets through the API, triage
and the concerns consumer), a synthetic embedder for tests whose behaviour does not depend on meaning, and
direct inserts of history (hours and weeks of concerns) that would take too long to make through the API."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient

from ombud.triage.embed import Embedder
from tests.channels.conftest import Relay, running_relay
from tests.conftest import Persona, Personas, new_ticket

# Customers who write in, by email; the first one is the shared persona "customer".
CUSTOMER_EMAILS = tuple(f"customer{i}@example.net" for i in range(40))


class HashEmbedder(Embedder):
    """Deterministic unit vectors from a text's words (bag of hashed words): texts sharing most words are
    close, texts sharing none are far. For tests where meaning does not matter."""

    name = "hash-words"
    dimensions = 384

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                digest = hashlib.blake2b(word.strip(".,!?").encode(), digest_size=4).digest()
                out[row, int.from_bytes(digest, "big") % self.dimensions] += 1.0
            norm = float(np.linalg.norm(out[row]))
            out[row] = out[row] / norm if norm else out[row]
        return out


@pytest.fixture
def relay() -> Iterator[Relay]:
    """The SMTP relay of tests/channels, for the tests that send email (digests, alerts, the loop)."""
    with running_relay() as found:
        yield found


@pytest.fixture
def hash_embedder() -> HashEmbedder:
    return HashEmbedder()


def write_in(
    client: TestClient, who: Persona, body: str, *, email: str, subject: str = "Help", channel: str = "email"
) -> dict[str, object]:
    """A customer writes in (a ticket made by staff through the API on their behalf); triage, the concerns
    consumer and the advocacy consumer all run before this returns (the test queue is synchronous)."""
    return new_ticket(client, who, customer={"email": email}, subject=subject, body=body, channel=channel)


def hours_ago(hours: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)


__all__ = ["CUSTOMER_EMAILS", "HashEmbedder", "Personas", "hours_ago", "write_in"]
