"""The built-in triage components, in pipeline order. Each says why: the cue words, the nearest examples
or the history fact behind its answer."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ombud.triage import cues, entities, text
from ombud.triage.pipeline import Doc, register_component

if TYPE_CHECKING:
    from ombud.triage.classifier import TextClassifier
    from ombud.triage.engine import Models

URGENCY_LEVELS = ("low", "normal", "high", "urgent")
CONCERN_LIMIT = 8
# A later piece of a message is a concern of its own only if its best intent is at least this sure;
# a weaker one ("and I need it by Friday") adds detail to the concern before it.
STANDALONE = 0.35
_SECOND_PERSON = re.compile(r"\b(?:you|your|you're|youre|ur|u)\b", re.IGNORECASE)


def noisy_or(weights: Sequence[float]) -> float:
    """Return the chance that at least one of several independent signals is right."""
    remaining = 1.0
    for weight in weights:
        remaining *= 1.0 - max(0.0, min(1.0, weight))
    return 1.0 - remaining


@register_component("language")
class Language:
    name: ClassVar[str] = "language"
    requires: ClassVar[tuple[str, ...]] = ("text",)
    assigns: ClassVar[tuple[str, ...]] = ("language",)

    def __init__(self, models: Models) -> None:
        self.models = models

    def predict(self, docs: Sequence[Doc]) -> list[Any]:
        identifier = self.models.language_identifier()
        return [identifier.classify(doc.text) for doc in docs]

    def set_annotations(self, docs: Sequence[Doc], results: list[Any]) -> None:
        for doc, (code, confidence) in zip(docs, results, strict=True):
            doc.annotations["language"] = code
            doc.explanations["language"] = {"confidence": round(float(confidence), 3)}


@register_component("entities")
class Entities:
    name: ClassVar[str] = "entities"
    requires: ClassVar[tuple[str, ...]] = ("text", "context")
    assigns: ClassVar[tuple[str, ...]] = ("entities",)

    def __init__(self, models: Models) -> None:
        self.models = models

    def predict(self, docs: Sequence[Doc]) -> list[Any]:
        return [entities.extract(doc.text, catalogue=doc.context.catalogue) for doc in docs]

    def set_annotations(self, docs: Sequence[Doc], results: list[Any]) -> None:
        for doc, found in zip(docs, results, strict=True):
            doc.annotations["entities"] = found


@register_component("concerns")
class Concerns:
    """Splits the message into concerns and gives each its intents; merges neighbours that are about the
    same thing, and a piece no intent fits joins the concern before it."""

    name: ClassVar[str] = "concerns"
    requires: ClassVar[tuple[str, ...]] = ("text",)
    assigns: ClassVar[tuple[str, ...]] = ("concerns", "out_of_scope")

    def __init__(self, models: Models) -> None:
        self.models = models

    def predict(self, docs: Sequence[Doc]) -> list[Any]:
        model = self.models.intent()  # taken once: another thread may make a new model live meanwhile
        pieces = [self._pieces(doc.text) for doc in docs]
        flat = [piece.text for doc_pieces in pieces for piece in doc_pieces]
        probabilities = model.predict_proba(flat)
        out: list[Any] = []
        position = 0
        for doc, doc_pieces in zip(docs, pieces, strict=True):
            rows = probabilities[position : position + len(doc_pieces)]
            position += len(doc_pieces)
            out.append((model, self._group(model, doc_pieces, rows, doc.text)))
        return out

    @staticmethod
    def _pieces(message: str) -> list[text.Segment]:
        found = text.segments(message)
        if len(found) > CONCERN_LIMIT * 2:
            # A very long message: keep its first pieces as concerns and classify the rest as one.
            rest = found[CONCERN_LIMIT * 2 - 1 :]
            found = [
                *found[: CONCERN_LIMIT * 2 - 1],
                text.Segment(" ".join(s.text for s in rest), rest[0].start),
            ]
        return found or [text.Segment(message.strip(), 0)]

    @staticmethod
    def _group(
        model: TextClassifier, pieces: list[text.Segment], rows: np.ndarray, message: str
    ) -> list[dict[str, Any]]:
        def joined(first: dict[str, Any], second_start: int, second_text: str) -> str:
            # The customer's own words from the first piece to the end of the second ("... late and I
            # need ..."), when both point back into the message; else the two side by side.
            end = second_start + len(second_text)
            inside = (
                message.startswith(first["text"], first["start"]) and message[second_start:end] == second_text
            )
            return message[first["start"] : end] if inside else f"{first['text']} {second_text}"

        concerns: list[dict[str, Any]] = []
        for piece, row in zip(pieces, rows, strict=True):
            decided = model.decide(row)
            labels = {label for label, _ in decided}
            last = concerns[-1] if concerns else None
            weak = not model.multilabel_ and (not decided or decided[0][1] < STANDALONE)
            if last is not None and (weak or labels & {i["label"] for i in last["intents"]}):
                decided = [] if weak else decided
                last["text"] = joined(last, piece.start, piece.text)
                merged = {i["label"]: i["confidence"] for i in last["intents"]}
                for label, confidence in decided:
                    merged[label] = max(confidence, merged.get(label, 0.0))
                last["intents"] = [{"label": k, "confidence": v} for k, v in merged.items()]
                last["_rows"].append(row)
                continue
            concerns.append(
                {
                    "text": piece.text,
                    "start": piece.start,
                    "intents": [{"label": label, "confidence": confidence} for label, confidence in decided],
                    "_rows": [row],
                }
            )
        if len(concerns) > 1 and not concerns[0]["intents"]:
            # A leading piece nothing fits ("I ordered a kettle last week.") is context for the next one.
            first = concerns.pop(0)
            concerns[0]["text"] = joined(first, concerns[0]["start"], concerns[0]["text"])
            concerns[0]["start"] = first["start"]
        return concerns[:CONCERN_LIMIT]

    def set_annotations(self, docs: Sequence[Doc], results: list[Any]) -> None:
        if not results:
            return
        model = results[0][0]
        results = [concerns for _, concerns in results]
        flat = [concern for concerns in results for concern in concerns]
        for concern in flat:
            concern.pop("_rows")
            concern["text"] = entities.redact(concern["text"])
            concern["intents"].sort(key=lambda i: -i["confidence"])
            for intent in concern["intents"]:
                intent["confidence"] = round(float(intent["confidence"]), 3)
        texts = [c["text"] for c in flat]
        tops = [c["intents"][0]["label"] if c["intents"] else None for c in flat]
        version = self.models.intent_version()
        why = list(zip(model.explain(texts, tops), self.models.examples(model, texts, tops), strict=True))
        position = 0
        for doc, concerns in zip(docs, results, strict=True):
            mine, position = why[position : position + len(concerns)], position + len(concerns)
            explained = [{"cue_words": words, "examples": examples} for words, examples in mine]
            doc.annotations["concerns"] = concerns
            doc.annotations["out_of_scope"] = not any(c["intents"] for c in concerns)
            doc.explanations["concerns"] = explained
            doc.explanations["intent_model"] = version


@register_component("emotion")
class Emotion:
    name: ClassVar[str] = "emotion"
    requires: ClassVar[tuple[str, ...]] = ("text",)
    assigns: ClassVar[tuple[str, ...]] = ("emotion", "sentiment")

    def __init__(self, models: Models) -> None:
        self.models = models

    def predict(self, docs: Sequence[Doc]) -> list[Any]:
        texts = [doc.text for doc in docs]
        return list(
            zip(
                self.models.shipped("emotion").predict_proba(texts),
                self.models.shipped("sentiment").predict_proba(texts),
                strict=True,
            )
        )

    def set_annotations(self, docs: Sequence[Doc], results: list[Any]) -> None:
        emotion, sentiment = self.models.shipped("emotion"), self.models.shipped("sentiment")
        for doc, (emotion_row, sentiment_row) in zip(docs, results, strict=True):
            scores = {
                label: round(float(p), 3) for label, p in zip(emotion.labels_, emotion_row, strict=True)
            }
            polarity = dict(zip(sentiment.labels_, sentiment_row, strict=True))
            doc.annotations["emotion"] = {"label": max(scores, key=scores.__getitem__), "scores": scores}
            doc.annotations["sentiment"] = round(float(polarity["positive"] - polarity["negative"]), 3)
        texts = [doc.text for doc in docs]
        emotions = emotion.explain(texts, [doc["emotion"]["label"] for doc in docs])
        tones = sentiment.explain(texts, ["negative" if doc["sentiment"] < 0 else "positive" for doc in docs])
        for doc, emotion_words, tone_words in zip(docs, emotions, tones, strict=True):
            doc.explanations["emotion"] = {"cue_words": emotion_words}
            doc.explanations["sentiment"] = {"cue_words": tone_words}


@register_component("abuse")
class Abuse:
    """Abuse aimed at the agent: insults, threats, harassment. Swearing about a situation ("this damn
    card") is not abuse; the customer's concern is handled either way."""

    name: ClassVar[str] = "abuse"
    requires: ClassVar[tuple[str, ...]] = ("text",)
    assigns: ClassVar[tuple[str, ...]] = ("abusive",)
    THRESHOLD = 0.85

    def __init__(self, models: Models) -> None:
        self.models = models

    def predict(self, docs: Sequence[Doc]) -> list[Any]:
        model = self.models.shipped("abuse")
        column = model.labels_.index("offensive")
        probabilities = model.predict_proba([doc.text for doc in docs])[:, column]
        return [
            (float(p), cues.fired(cues.ABUSE_CUES, doc.text))
            for doc, p in zip(docs, probabilities, strict=True)
        ]

    def set_annotations(self, docs: Sequence[Doc], results: list[Any]) -> None:
        model = self.models.shipped("abuse")
        words = model.explain([d.text for d in docs], ["offensive" if p >= 0.5 else None for p, _ in results])
        for doc, (probability, fired), offensive_words in zip(docs, results, words, strict=True):
            aimed = bool(_SECOND_PERSON.search(doc.text))
            abusive = bool(fired) or (probability >= self.THRESHOLD and aimed)
            doc.annotations["abusive"] = abusive
            doc.explanations["abuse"] = {
                "offensive_probability": round(probability, 3),
                "aimed_at_agent": aimed,
                "cues": [{"cue": cue.name, "words": words} for cue, words in fired],
                "cue_words": offensive_words,
            }


@register_component("frustration")
class Frustration:
    name: ClassVar[str] = "frustration"
    requires: ClassVar[tuple[str, ...]] = ("text", "context", "sentiment", "emotion")
    assigns: ClassVar[tuple[str, ...]] = ("frustration",)

    def __init__(self, models: Models) -> None:
        self.models = models

    def predict(self, docs: Sequence[Doc]) -> list[Any]:
        return [self._score(doc) for doc in docs]

    @staticmethod
    def _score(doc: Doc) -> tuple[float, list[dict[str, Any]]]:
        reasons: list[dict[str, Any]] = []
        weights: list[float] = []

        def because(reason: str, weight: float, **detail: Any) -> None:
            weights.append(weight)
            reasons.append({"reason": reason, "weight": round(weight, 2), **detail})

        for cue, words in cues.fired(cues.FRUSTRATION_CUES, doc.text):
            because(cue.name, cue.weight, words=words)
        shouting = cues.shouting(doc.text)
        if shouting >= 0.15:
            because("shouting", min(0.6 * shouting + 0.1, 0.5))
        if doc["sentiment"] < -0.2:
            because("negative_tone", 0.3 * -doc["sentiment"])
        anger = doc["emotion"]["scores"].get("anger", 0.0)
        if anger >= 0.5:
            because("anger", 0.25 * anger)
        context = doc.context
        if context.contacts_30d >= 2:
            because(
                "contacts_last_30_days", min(0.1 * context.contacts_30d, 0.35), count=context.contacts_30d
            )
        others = [t for t in context.open_tickets if t.id != context.ticket_id]
        if others:
            because("other_unresolved_tickets", min(0.15 * len(others), 0.3), tickets=[t.id for t in others])
        if context.waiting_minutes >= 240:
            hours = context.waiting_minutes // 60
            because("waiting", min(context.waiting_minutes / (48 * 60), 1.0) * 0.3, hours=hours)
        return round(noisy_or(weights), 3), reasons

    def set_annotations(self, docs: Sequence[Doc], results: list[Any]) -> None:
        for doc, (score, reasons) in zip(docs, results, strict=True):
            doc.annotations["frustration"] = score
            doc.explanations["frustration"] = reasons


@register_component("urgency")
class Urgency:
    name: ClassVar[str] = "urgency"
    requires: ClassVar[tuple[str, ...]] = ("text", "entities", "frustration", "sentiment")
    assigns: ClassVar[tuple[str, ...]] = ("urgency",)
    BIG_AMOUNT = 500.0

    def __init__(self, models: Models) -> None:
        self.models = models

    def predict(self, docs: Sequence[Doc]) -> list[Any]:
        return [self._level(doc) for doc in docs]

    def _level(self, doc: Doc) -> dict[str, Any]:
        reasons: list[str] = []
        evidence: list[dict[str, Any]] = []
        weights: list[float] = []
        for cue, words in cues.fired(cues.URGENCY_CUES, doc.text):
            reasons.append(cue.name)
            evidence.append({"reason": cue.name, "words": words})
            weights.append(cue.weight)
        amounts = [e for e in doc["entities"] if e.type == "amount" and (e.amount or 0) >= self.BIG_AMOUNT]
        if amounts:
            if "money_at_stake" not in reasons:
                reasons.append("money_at_stake")
            evidence.append({"reason": "money_at_stake", "words": amounts[0].value})
            weights.append(0.3)
        if doc["frustration"] >= 0.7:
            reasons.append("high_frustration")
            evidence.append({"reason": "high_frustration", "words": str(doc["frustration"])})
            weights.append(0.5)  # a customer about to leave or go public: answer soon
        score = noisy_or(weights)
        if "safety" in reasons or score >= 0.8:
            level = "urgent"
        elif score >= 0.45:
            level = "high"
        elif score > 0 or doc["sentiment"] < 0.3:
            level = "normal"
        else:
            level = "low"
        return {"level": level, "reasons": reasons, "score": round(score, 3), "evidence": evidence}

    def set_annotations(self, docs: Sequence[Doc], results: list[Any]) -> None:
        for doc, result in zip(docs, results, strict=True):
            doc.explanations["urgency"] = {"score": result.pop("score"), "evidence": result.pop("evidence")}
            doc.annotations["urgency"] = result


@register_component("unspoken")
class Unspoken:
    """Concerns the customer likely has but did not write, from their history and from what their stated
    intents usually bring with them (the intent model's ``implies``)."""

    name: ClassVar[str] = "unspoken"
    requires: ClassVar[tuple[str, ...]] = ("text", "context", "concerns", "frustration")
    assigns: ClassVar[tuple[str, ...]] = ("unspoken",)

    def __init__(self, models: Models) -> None:
        self.models = models

    def predict(self, docs: Sequence[Doc]) -> list[Any]:
        implies = self.models.implications()
        return [self._infer(doc, implies) for doc in docs]

    @staticmethod
    def _infer(doc: Doc, implies: dict[str, list[str]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        context = doc.context
        stated = {i["label"] for c in doc["concerns"] for i in c["intents"]}
        for ticket in context.open_tickets:
            if ticket.id != context.ticket_id and f"#{ticket.id}" not in doc.text:
                out.append(
                    {
                        "concern": f"An update on open ticket #{ticket.id} ({ticket.subject})",
                        "reason": f"ticket #{ticket.id} is still {ticket.status}",
                        "source": "history",
                    }
                )
        repeated = sorted({(tid, label) for tid, label in context.recent_intents if label in stated})
        for ticket_id, label in repeated[:3]:
            if ticket_id != context.ticket_id:
                out.append(
                    {
                        "concern": f"The earlier answer about {label.replace('_', ' ')} did not solve it",
                        "reason": f"ticket #{ticket_id} in the last 30 days had the same intent",
                        "source": "history",
                    }
                )
        for label in sorted(stated):
            for implied in implies.get(label, []):
                out.append(
                    {
                        "concern": implied,
                        "reason": f"usually comes with {label.replace('_', ' ')}",
                        "source": "intent",
                    }
                )
        if context.waiting_minutes >= 24 * 60:
            out.append(
                {
                    "concern": "An apology and a clear time for the answer",
                    "reason": f"waiting {context.waiting_minutes // 60} hours for a reply",
                    "source": "history",
                }
            )
        if doc["frustration"] >= 0.6 and any(
            r["reason"] == "leave_threat" for r in doc.explanations["frustration"]
        ):
            out.append(
                {
                    "concern": "Reassurance that staying is worth it",
                    "reason": "threatens to leave",
                    "source": "message",
                }
            )
        return out

    def set_annotations(self, docs: Sequence[Doc], results: list[Any]) -> None:
        for doc, found in zip(docs, results, strict=True):
            doc.annotations["unspoken"] = found


DEFAULT_COMPONENTS = (
    "language",
    "entities",
    "concerns",
    "emotion",
    "abuse",
    "frustration",
    "urgency",
    "unspoken",
)
