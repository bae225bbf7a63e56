"""Tone rewrites of a reply: friendlier, more formal, simpler. Rule-based and deterministic (the same text
gives the same rewrite), and numbers, order references, amounts, links and email addresses are never
changed: they are set aside before any rule runs and put back after. With the assistant's model
configured, the model may rewrite instead, but its text is used only if every one of those details
survived it."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import partial

from ombud.assist.check import GlossaryEntry
from ombud.assist.schemas import Tone
from ombud.knowledge.assistant import AssistantConfig, ask_model

LONG_SENTENCE = 20  # words; plain-language guides put the average at 15-20

_PROTECTED = re.compile(
    r"(?:https?://|www\.)\S+[\w/]|(?<![\w/])/help/[\w\-]+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+|"
    r"[$€£¥]\s?\d[\d,.]*\d|[$€£¥]\s?\d|#?\b[A-Za-z]*-?\d[\w-]*\b"
)
_HOLE = re.compile("\ue000(\\d+)\ue001")

_CONTRACTIONS = (
    ("I am", "I'm"),
    ("I have", "I've"),
    ("I will", "I'll"),
    ("I would", "I'd"),
    ("we are", "we're"),
    ("we have", "we've"),
    ("we will", "we'll"),
    ("you are", "you're"),
    ("you have", "you've"),
    ("you will", "you'll"),
    ("it is", "it's"),
    ("that is", "that's"),
    ("there is", "there's"),
    ("do not", "don't"),
    ("does not", "doesn't"),
    ("did not", "didn't"),
    ("is not", "isn't"),
    ("are not", "aren't"),
    ("was not", "wasn't"),
    ("have not", "haven't"),
    ("has not", "hasn't"),
    ("will not", "won't"),
    ("cannot", "can't"),
    ("let us", "let's"),
)
_PLAIN_WORDS = {
    "utilise": "use",
    "utilize": "use",
    "assist": "help",
    "assistance": "help",
    "purchase": "buy",
    "purchased": "bought",
    "commence": "start",
    "approximately": "about",
    "additional": "more",
    "regarding": "about",
    "subsequently": "then",
    "in order to": "to",
    "prior to": "before",
    "require": "need",
    "requires": "needs",
    "obtain": "get",
    "sufficient": "enough",
    "terminate": "end",
    "facilitate": "help",
    "endeavour": "try",
    "endeavor": "try",
    "in the event that": "if",
    "at this point in time": "now",
    "at the present time": "now",
    "notwithstanding": "despite",
    "expedite": "speed up",
    "reimbursement": "refund",
    "remittance": "payment",
    "ascertain": "find out",
    "demonstrate": "show",
    "numerous": "many",
    "initiate": "start",
    "inform": "tell",
    "kindly": "please",
    "furthermore": "also",
    "additionally": "also",
    "nevertheless": "still",
    "consequently": "so",
    "therefore": "so",
    "however": "but",
    "in addition": "also",
    "a number of": "some",
    "with regard to": "about",
    "in relation to": "about",
    "due to the fact that": "because",
    "at your earliest convenience": "when you can",
    "rectify": "fix",
    "resolve": "sort out",
    "issue": "problem",
}
_FRIENDLY_WORDS = {"assist": "help", "purchase": "order", "inform": "let you know", "kindly": "please"}
_FORMAL_WORDS = {
    "yeah": "yes",
    "yep": "yes",
    "nope": "no",
    "ASAP": "as soon as possible",
    "asap": "as soon as possible",
    "thanks": "thank you",
    "Thanks": "Thank you",
    "a bit": "slightly",
    "get in touch": "contact us",
    "sort out": "resolve",
    "check out": "review",
    "awesome": "excellent",
    "great": "excellent",
    "no worries": "you are welcome",
}
_CLOSERS = re.compile(
    r"^(?P<closer>kind regards|best regards|warm regards|regards|best wishes|many thanks|thanks|thank you|"
    r"cheers|best|all the best|yours sincerely|sincerely|yours faithfully|take care)(?P<rest>[,!.]?)\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_GREETING = re.compile(
    r"^(?P<greet>hi|hello|hey|dear|good (?:morning|afternoon|evening))\b(?P<rest>[^\n]*)$",
    re.IGNORECASE | re.MULTILINE,
)


def rewrite(
    text: str,
    tone: Tone,
    *,
    glossary: Sequence[GlossaryEntry] = (),
    config: AssistantConfig | None = None,
) -> str:
    """Return ``text`` rewritten in ``tone``; the model's rewrite when configured and it kept every
    number, reference and link, else the rules'."""
    if config is not None and config.llm_url:
        answer = ask_model(config, _SYSTEM[tone], text)
        if answer and _keeps_details(text, answer):
            return answer
    held: list[str] = []

    def hold(match: re.Match[str]) -> str:
        held.append(match.group())
        return f"\ue000{len(held) - 1}\ue001"

    masked = _PROTECTED.sub(hold, text)
    rules: dict[str, Callable[[str, Sequence[GlossaryEntry]], str]] = {
        "friendlier": _friendlier,
        "formal": _formal,
        "simpler": _simpler,
    }
    out = rules[tone](masked, glossary)
    return _HOLE.sub(lambda m: held[int(m.group(1))], out)


def _keeps_details(before: str, after: str) -> bool:
    return all(token in after for token in _PROTECTED.findall(before))


_SYSTEM: dict[str, str] = {
    "friendlier": "Rewrite this customer service reply to sound warmer and friendlier. Keep every fact, "
    "number, order reference and link exactly as written. Reply with the rewritten text only.",
    "formal": "Rewrite this customer service reply in a more formal, professional tone. Keep every fact, "
    "number, order reference and link exactly as written. Reply with the rewritten text only.",
    "simpler": "Rewrite this customer service reply in plain, simple English: short sentences, everyday "
    "words. Keep every fact, number, order reference and link exactly as written. Reply with the "
    "rewritten text only.",
}


def _replace_words(text: str, words: dict[str, str]) -> str:
    for before, after in sorted(words.items(), key=lambda kv: -len(kv[0])):
        flags = 0 if before[:1].isupper() or before.isupper() else re.IGNORECASE
        pattern = re.compile(rf"(?<![\w'\u2019]){re.escape(before)}(?![\w'\u2019])", flags)
        # A capitalised term ("Flex plan") is a name: its capital says nothing about the sentence.
        replace = partial(_same_case_match if flags else _literal, after)
        text = pattern.sub(replace, text)
    return text


def _literal(replacement: str, _match: re.Match[str]) -> str:
    return replacement


def _same_case_match(replacement: str, match: re.Match[str]) -> str:
    return _same_case(match.group(), replacement)


def _same_case(original: str, replacement: str) -> str:
    # "However" -> "But"; "ASAP" -> "as soon as possible", not "As soon as possible" mid-sentence.
    if original[:1].isupper() and not original.isupper() and not replacement[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement


def _contract(text: str) -> str:
    return _replace_words(text, dict(_CONTRACTIONS))


def _expand(text: str) -> str:
    expanded = {short: long for long, short in _CONTRACTIONS}
    expanded |= {s.replace("'", "\u2019"): long for s, long in expanded.items()}
    expanded |= {"won't": "will not", "can't": "cannot", "shan't": "shall not", "I'm": "I am"}
    return _replace_words(text, expanded)


def _friendlier(text: str, glossary: Sequence[GlossaryEntry]) -> str:
    text = _contract(_replace_words(text, _FRIENDLY_WORDS))
    text = _GREETING.sub(lambda m: _friendly_greeting(m.group("rest")), text, count=1)
    text = _CLOSERS.sub(lambda m: "Best wishes" + (m.group("rest") or ","), text)
    if not re.search(r"\bthank", text, re.IGNORECASE):
        lines = text.split("\n", 1)
        if _GREETING.match(lines[0]) and len(lines) == 2:
            text = lines[0] + "\n\nThanks for getting in touch!\n\n" + lines[1].lstrip("\n")
    return text


def _friendly_greeting(rest: str) -> str:
    return "Hi" + (rest if rest.strip(" ,") else ",")


def _formal(text: str, glossary: Sequence[GlossaryEntry]) -> str:
    text = _expand(_replace_words(text, _FORMAL_WORDS))
    text = _GREETING.sub(lambda m: _formal_greeting(m.group("rest")), text, count=1)
    text = _CLOSERS.sub(lambda m: "Kind regards" + (m.group("rest") if m.group("rest") == "," else ","), text)
    return re.sub(r"!+", ".", text)


def _formal_greeting(rest: str) -> str:
    name = rest.strip(" ,!")
    if not name or name.lower() in {"there", "all", "everyone", "team"}:
        return "Hello,"
    return f"Dear {name},"


def _simpler(text: str, glossary: Sequence[GlossaryEntry]) -> str:
    words = dict(_PLAIN_WORDS)
    words |= {g.term: g.plain for g in glossary if g.term.strip() and g.plain.strip()}
    text = _replace_words(text, words)
    return "\n".join(_split_long(line) for line in text.split("\n"))


_SPLIT_AT = re.compile(r"(?:;\s+|,\s+(?=(?:and|but|so|which|because|as)\s)|\s+-\s+)")


def _split_long(line: str) -> str:
    """Return ``line`` with each sentence over LONG_SENTENCE words split at its clause breaks."""
    parts = re.split(r"(?<=[.!?])\s+", line)
    out = []
    for sentence in parts:
        if len(sentence.split()) <= LONG_SENTENCE:
            out.append(sentence)
            continue
        pieces = [p for p in _SPLIT_AT.split(sentence) if p.strip()]
        fixed = []
        for number, raw in enumerate(pieces):
            piece = raw.strip()
            piece = re.sub(r"^(?:and|as)\s+", "", piece, flags=re.IGNORECASE) if number else piece
            piece = re.sub(r"^which\s+", "This ", piece, flags=re.IGNORECASE) if number else piece
            piece = (
                re.sub(r"^because\s+", "This is because ", piece, flags=re.IGNORECASE) if number else piece
            )
            piece = piece[:1].upper() + piece[1:]
            if number < len(pieces) - 1 and piece[-1:] not in ".!?":
                piece += "."
            fixed.append(piece)
        out.append(" ".join(fixed))
    return " ".join(out)
