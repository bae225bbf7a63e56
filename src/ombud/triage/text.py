"""Splitting a message into the pieces a customer meant separately.

Sentences first, then clauses joined by words that start a new request ("and also", "another thing",
"plus", "but"). Greetings, thanks and sign-offs are not concerns. Consecutive short chat lines are merged
before any of this, because "hi" / "my card" / "it got declined" is one sentence typed in three sends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A sentence ends at . ! ? (possibly repeated) or a line break, except inside numbers ("12.50").
# Every alternative that starts with whitespace starts only where a run of whitespace starts ((?<!\s))
# and takes it possessively (*+, ++): otherwise a message padded with 20,000 spaces takes minutes.
_SENTENCE_END = re.compile(r"(?<=[.!?])(?<!\d\.)\s++|(?<!\s)[^\S\n]*+\n\s*+")
_CLAUSE_BREAK = re.compile(
    r"(?<!\s)\s*+[;,]\s*+(?:and\s+)?(?:also|plus|additionally|separately)\b[,:]?\s*+"
    r"|(?<!\s)\s++and\s+also\b[,:]?\s*+"
    r"|[;,]?+(?<!\s)\s++(?:another\s+thing(?:\s+is)?|on\s+top\s+of\s+that|apart\s+from\s+that)\b[,:]?\s*+"
    r"|[;,]?+(?<!\s)\s++(?:and|but)\s++(?=(?:i|my|can|could|how|why|what|when|where|is|are|do|does|please)\b)",
    re.IGNORECASE,
)
_LEADING_CONNECTOR = re.compile(r"^(?:also|plus|additionally|and|another\s+thing(?:\s+is)?)\b[,:]?\s*", re.I)
_PLEASANTRY = re.compile(
    r"^(?:(?:hi|hello|hey|dear|good\s+(?:morning|afternoon|evening)|greetings)(?:\s+(?:there|team|all|"
    r"support|sir|madam|[A-Z][a-z]+))?|thanks?(?:\s+you)?(?:\s+(?:so|very)\s+much)?(?:\s+in\s+advance)?|"
    r"thx|cheers|regards|best(?:\s+regards)?|kind\s+regards|sincerely|br|ok(?:ay)?|yes|no|please)"
    r"[\s,.!:;-]*$",
    re.IGNORECASE,
)
_LEADING_GREETING = re.compile(
    r"^(?:hi|hello|hey|dear|good\s+(?:morning|afternoon|evening))(?:\s+(?:there|team|all|support|[A-Z][a-z]+))?"
    r"\s*[,!.:-]+\s*",
    re.IGNORECASE,
)
_SIGN_OFF_WORDS = (
    r"(?:many\s+)?(?:thanks?(?:\s+you)?(?:\s+(?:so|very)\s+much)?(?:\s+in\s+advance)?|regards|"
    r"best(?:\s+(?:regards|wishes))?|kind\s+regards|cheers|sincerely|yours(?:\s+(?:truly|sincerely))?)"
)
# A sign-off ends the message: on a line of its own (a name may follow on the next line), or after the
# last sentence followed by nothing but a name ("... arrives. Regards, Ann"). "Thanks but the box was
# damaged" is not one.
_SIGN_OFF = re.compile(
    rf"(?:(?<=\n)|^)[^\S\n]*+{_SIGN_OFF_WORDS}[,.!]*+[^\S\n]*+(?:\n[^\S\n]*+[\w.\- ]{{0,40}})?\s*+$"
    rf"|(?<=[.!?])[^\S\n]++{_SIGN_OFF_WORDS}[,.!]?[^\S\n]*+(?:[A-Z][\w.\-]*(?:[^\S\n]+[A-Z][\w.\-]*){{0,2}})?\s*+$",
    re.IGNORECASE,
)
_QUOTE_LINE = re.compile(r"^\s*>")
_ON_WROTE = re.compile(r"^On .{4,200} wrote:\s*$", re.MULTILINE)

MIN_CLAUSE_WORDS = 3
# Triage reads this much of a message (the API's own limit for loose text): enough for any request.
MAX_CHARS = 20_000
SHORT_CHAT_LINE_WORDS = 8


@dataclass(frozen=True)
class Segment:
    """A piece of the message: its text and where it starts in the (cleaned) message text."""

    text: str
    start: int


def strip_quoted(text: str) -> str:
    """Return ``text`` without an email's quoted earlier conversation ("> ..." lines, "On ... wrote:")."""
    match = _ON_WROTE.search(text)
    if match:
        text = text[: match.start()]
    return "\n".join(line for line in text.splitlines() if not _QUOTE_LINE.match(line)).strip()


def merge_chat_lines(lines: list[str]) -> str:
    """Join consecutive chat lines into sentences: a short line without end punctuation runs on."""
    merged: list[str] = []
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if (
            merged
            and not merged[-1].endswith((".", "!", "?"))
            and (len(merged[-1].split()) < SHORT_CHAT_LINE_WORDS or len(line.split()) < SHORT_CHAT_LINE_WORDS)
        ):
            merged[-1] = f"{merged[-1]} {line}"
        else:
            merged.append(line)
    return "\n".join(merged)


def is_pleasantry(text: str) -> bool:
    return bool(_PLEASANTRY.match(text.strip()))


def segments(text: str) -> list[Segment]:
    """Return the sentences and request-clauses of ``text`` in order, pleasantries left out."""
    out: list[Segment] = []
    text = text[:MAX_CHARS]
    sign_off = _SIGN_OFF.search(text)
    if sign_off and sign_off.start() > 0:
        text = text[: sign_off.start()]
    for raw_sentence, raw_start in _split(_SENTENCE_END, text, 0):
        sentence, start = raw_sentence, raw_start
        greeting = _LEADING_GREETING.match(sentence)
        if greeting and greeting.end() < len(sentence):
            sentence, start = sentence[greeting.end() :], start + greeting.end()
        connector = _LEADING_CONNECTOR.match(sentence)
        if connector and connector.end() < len(sentence):
            sentence, start = sentence[connector.end() :], start + connector.end()
        for clause, clause_start in _split(_CLAUSE_BREAK, sentence, start):
            if out and len(clause.split()) < MIN_CLAUSE_WORDS and not is_pleasantry(clause):
                # Too short to be a request of its own ("and the app"): it continues the last piece.
                last = out[-1]
                out[-1] = Segment(f"{last.text} {clause}", last.start)
                continue
            out.append(Segment(clause, clause_start))
    return [s for s in out if not is_pleasantry(s.text) and any(c.isalnum() for c in s.text)]


def _split(pattern: re.Pattern[str], text: str, offset: int) -> list[tuple[str, int]]:
    pieces: list[tuple[str, int]] = []
    position = 0
    for match in pattern.finditer(text):
        _append(pieces, text, position, match.start(), offset)
        position = match.end()
    _append(pieces, text, position, len(text), offset)
    return pieces


def _append(pieces: list[tuple[str, int]], text: str, start: int, end: int, offset: int) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if stripped:
        pieces.append((stripped, offset + start + piece.index(stripped[0])))
