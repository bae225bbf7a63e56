"""A process whose first knowledge-base work is a search (the vector index before any embedding) must not
crash: usearch makes its kernels' symbols global, and onnxruntime loaded after that segfaulted."""

from __future__ import annotations

import subprocess
import sys

SEARCH_FIRST = """
from ombud.knowledge.index import VectorIndex
index = VectorIndex(384)
index._new_index()
from ombud.triage.embed import MiniLM
print(MiniLM().embed_batch(["where is my parcel"]).shape)
"""


def test_the_vector_index_then_the_encoder_in_a_fresh_process() -> None:
    done = subprocess.run([sys.executable, "-c", SEARCH_FIRST], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "(1, 384)"
