"""The offline sentence encoder (int8 MiniLM on onnxruntime) and its cache."""

from __future__ import annotations

import numpy as np

from ombud.triage.embed import MiniLM


def test_similar_requests_are_near_and_the_cache_never_changes_an_answer() -> None:
    encoder = MiniLM(cache_size=2, batch_size=2)  # smaller than the batch: entries are evicted mid-way
    texts = ["my card was declined", "the card got refused", "where is my parcel", "my card was declined"]
    vectors = encoder.embed_batch(texts)
    assert vectors.shape == (4, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3
    assert np.allclose(vectors[0], vectors[3])
    again = MiniLM().embed_batch(list(reversed(texts)))
    assert np.allclose(again[::-1], vectors, atol=1e-5)
