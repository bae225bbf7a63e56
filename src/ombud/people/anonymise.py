"""Anonymise a ticket's messages for a training scenario: every name, email, phone number, order or reference
number, card number, IBAN, street address and postcode is replaced by a realistic fake, consistently (the
same real value is the same fake everywhere in the scenario) and deterministically (the same seed gives
the same fakes).

Values are found three ways: the triage's entity extractor (:func:`ombud.triage.entities.extract`), the
people we know by name (the customer, their identities and the agents on the ticket, first names alone
too), and patterns of our own for what the extractor does not look for (addresses, postcodes, reference
numbers). A fake is never one of the real values found, nor contains one.

Only the kinds and counts of what was replaced leave this module with the text; the real values never do.
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ombud.triage.entities import extract

# The extractor's kinds that are personal; amounts, dates and products stay (the trainee needs them).
_EXTRACTED = {
    "card_number": "card",
    "account_number": "iban",
    "email": "email",
    "order_number": "order",
    "phone": "phone",
}
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){2,7}(?:\s?[A-Z0-9]{1,4})?\b")
_STREET_SUFFIX = (
    r"Street|St\.?|Road|Rd\.?|Avenue|Ave\.?|Lane|Ln\.?|Way|Drive|Dr\.?|Boulevard|Blvd\.?|Court|Ct\.?|"
    r"Place|Pl\.?|Close|Crescent|Square|Terrace|Gardens|Row|Hill|Parkway|Grove|Mews|Walk|Rise|View|Circle|"
    r"Cir\.?|Trail|Highway|Hwy\.?|Alley|Quay|Wharf|Parade|Heights"
)
_ADDRESS = re.compile(
    rf"\b\d{{1,5}}[A-Za-z]?,?\s+(?:[A-Z][\w'-]+\s+){{1,3}}(?:{_STREET_SUFFIX})(?![\w])"
    r"|\b[A-ZÄÖÜ][\wäöüß-]*(?:straße|strasse|str\.|weg|gasse|platz|allee|laan|straat|gracht|plein|"
    r"gatan|vägen|rue|calle)\s+\d{1,4}[a-z]?\b"
    r"|\b(?:Am|An der|An den|Auf dem|Auf der|Im|In der|In den|Zum|Zur|Unter den)\s+[A-ZÄÖÜ][\wäöüß-]+\s+"
    r"\d{1,4}[a-z]?\b"
    r"|\b(?:rue|calle|via|avenida)\s+(?:de\s+(?:la\s+)?)?[A-Z][\w'-]+(?:\s+[A-Z][\w'-]+)?\s+\d{1,4}\b",
)
_POSTCODE = re.compile(
    r"\b[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}\b"  # UK
    r"|\b\d{4}\s?[A-Z]{2}\b"  # NL
    r"|(?i:\b(?:post\s?code|zip(?:\s?code)?|postal\s+code|PLZ)\s*:?\s*)"
    r"(?P<code>[A-Z0-9][A-Z0-9 -]{2,9}[A-Z0-9])(?![^\W\d_])"  # not the first letter of the town after it
    r"|\b\d{5}(?=[ \t]+[A-ZÄÖÜ][a-zäöüß]{2,})"  # DE/FR/ES/IT: "10115 Berlin"
    r"|(?<=\b[A-Z]{2}[ \t])\d{5}(?:-\d{4})?\b"  # US: "DC 20500"
    r"|\b[A-ZÄÖÜ][a-zäöüß]{2,}[ \t]+(?P<after>\d{5})\b"  # the town first: "Berlin 10115"
)
_REFERENCE = re.compile(
    r"(?i:\b(?:ref(?:erence)?|case|ticket|claim|rma|customer|contract|membership|member|serial)"
    r"(?:\s+(?:no|number|nr|id))?\.?\s*[:#]?\s*)#?(?P<ref>[A-Z0-9][A-Z0-9-]{3,24})\b"
)
# The source ticket's id, which a trainee must never learn: the "[#42]" token of an email subject a reply
# quotes, "ticket 42", "case #42", and a bare "#42".
_TICKET_ID = re.compile(
    r"\[#(?P<token>\d{1,18})\]"
    r"|(?i:\b(?:ticket|case|request|anfrage)(?:\s+(?:no|number|nr|id))?\.?\s*[:#]?\s*)#?(?P<id>\d{1,18})\b"
    r"|(?<![\w&])#(?P<hash>\d{1,18})\b"
)
# A code of capitals and digits in dashed groups ("AB-1234-XY"): with four digits or more, an order number.
_CODE = re.compile(r"\b[A-Z0-9]+(?:-[A-Z0-9]+)+\b")
# Digits a stranger could look someone up by: any run of six or more digits nothing else claimed.
_LONG_NUMBER = re.compile(r"(?<![\w.,])\d(?:[\s-]?\d){5,}(?![\w])")
# A name as people write it: accents, hyphens and apostrophes ("Marie-Claire", "O'Brien", "Núñez"); that
# it starts with a capital is checked in code (re has no class for upper-case letters beyond ASCII).
# Whole words only: a match that could start or end inside a word backtracks quadratically on a long one.
_NAME = r"(?<![\w'\u2019-])[^\W\d_][^\W\d_'\u2019-]*(?:['\u2019-][^\W\d_]+)*(?![\w'\u2019-])"
_NAMES = rf"{_NAME}(?:[ \t]+{_NAME}){{0,2}}"
_TITLE = r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Herr|Frau|Sir|Madam)"
_SIGN_OFF = (
    r"kind regards|best regards|warm regards|regards|best wishes|best|cheers|many thanks|thanks|thank you|"
    r"sincerely|yours sincerely|yours|mit freundlichen grüßen|viele grüße|liebe grüße|grüße|gruß|cordialement"
)
# Where an unknown name stands: introductions, greetings, titles, sign-offs (on the same line or the next
# one), a dash before a signature, and the name before an address in angle brackets ("Anna <a@b.c>").
_INTRODUCTION = re.compile(
    rf"(?i:\b(?:my name is|this is|i am|i'm)\s+)(?P<intro>{_NAMES})"
    rf"|^[ \t>]*(?i:hi|hello|hey|dear|good (?:morning|afternoon|evening)|hallo|liebe[rs]?|guten tag)"
    rf"[ \t]+(?:{_TITLE}\.?[ \t]+)?(?P<greet>{_NAMES})"
    rf"|\b{_TITLE}\.?[ \t]+(?P<title>{_NAMES})"
    rf"|(?i:\b(?:name|customer|from|to|kunde|contact)[ \t]*:[ \t]*)(?P<label>{_NAMES})"
    rf"|^[ \t>]*(?i:{_SIGN_OFF})[ \t]*[,.!]?[ \t]*(?:\n[ \t>]*){{0,2}}(?P<sig>{_NAMES})[ \t]*$"
    rf"|^[ \t>]*(?:--|\u2014|\u2013)[ \t]*\n?[ \t>]*(?P<dash>{_NAMES})[ \t]*$"
    rf"|(?P<quoted>{_NAMES})[ \t]*(?=<[^<>@\s]+@[^<>\s]+>|(?:wrote|schrieb)\b)",
    re.MULTILINE,
)
_NOT_NAMES = frozenset(
    [
        "I",
        "Im",
        "The",
        "This",
        "That",
        "Thanks",
        "Thank",
        "Regards",
        "Cheers",
        "Hello",
        "Hi",
        "Dear",
        "Sorry",
        "Please",
        "Order",
        "Sir",
        "Madam",
        "Team",
        "Customer",
        "Service",
        "Support",
        "All",
        "There",
        "Everyone",
        "Again",
        "From",
        "To",
        "On",
        "Sent",
        "Wrote",
        "Fine",
        "Good",
        "Not",
        "Very",
        "So",
        "Sure",
        "Here",
        "Afraid",
        "Still",
        "Writing",
        "Calling",
    ]
)

FIRST_NAMES = [
    "Alex",
    "Jordan",
    "Robin",
    "Casey",
    "Morgan",
    "Jamie",
    "Taylor",
    "Riley",
    "Avery",
    "Quinn",
    "Rowan",
    "Sasha",
    "Noor",
    "Elif",
    "Mateo",
    "Priya",
    "Jonas",
    "Ines",
    "Tobias",
    "Hana",
    "Lena",
    "Oskar",
    "Amara",
    "Emil",
    "Freya",
    "Luca",
    "Mina",
    "Niko",
    "Olga",
    "Rafael",
    "Signe",
    "Teo",
    "Vera",
    "Yusuf",
    "Zora",
]
LAST_NAMES = [
    "Fairbanks",
    "Holloway",
    "Lindqvist",
    "Marchetti",
    "Okafor",
    "Pemberton",
    "Quist",
    "Ravensdale",
    "Sorensen",
    "Thackeray",
    "Underhill",
    "Vasquez",
    "Whitlock",
    "Yarrow",
    "Zeller",
    "Ashdown",
    "Brightwater",
    "Castellan",
    "Dunmore",
    "Everly",
    "Fenwick",
    "Galloway",
    "Harrow",
    "Ingleby",
    "Juniper",
    "Kestrel",
    "Lockwood",
    "Merriweather",
    "Northcott",
    "Oakridge",
]
STREETS = [
    "Maple",
    "Birch",
    "Willow",
    "Harbour",
    "Orchard",
    "Meadow",
    "Chestnut",
    "Juniper",
    "Heather",
    "Lantern",
    "Mill",
    "Ferry",
    "Station",
    "Quarry",
]
SUFFIXES = ("Street", "Road", "Lane", "Avenue", "Close", "Way")
FAKE_DOMAINS = ("example.com", "example.net", "example.org")


@dataclass(frozen=True)
class Person:
    """Someone we know by name: their full name and the other values that identify them."""

    name: str
    emails: Sequence[str] = ()
    phones: Sequence[str] = ()


@dataclass
class Anonymiser:
    """Replaces personal values consistently across all the texts of one scenario."""

    seed: int
    people: Sequence[Person] = ()
    _fakes: dict[tuple[str, str], str] = field(default_factory=dict)
    _reals: set[str] = field(default_factory=set)
    _used: set[str] = field(default_factory=set)
    _tokens: dict[str, tuple[str, int]] = field(default_factory=dict)  # name token -> (full name key, part)
    _aliases: dict[str, str] = field(default_factory=dict)  # another spelling of a known name -> its key
    counts: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        for person in self.people:
            parts = _name_parts(person.name)
            whole = " ".join(parts).casefold()
            # "Jürgen Müller" is also written "Juergen Mueller" and "Jurgen Muller": the same person.
            for spelling in _spellings(whole):
                self._aliases.setdefault(spelling, whole)
            for index, part in enumerate(parts):
                for spelling in _spellings(part.casefold()):
                    self._tokens.setdefault(spelling, (whole, index))
                    self._aliases.setdefault(spelling, part.casefold())
                    self._reals.add(spelling)
            self._reals.update(_key("email", e) for e in person.emails if e)
            self._reals.update(_key("phone", p) for p in person.phones if p)

    def run(self, texts: Sequence[str]) -> list[str]:
        """Return ``texts`` with every personal value replaced (all texts share one set of fakes)."""
        spans = [self._spans(text) for text in texts]
        for text, found in zip(texts, spans, strict=True):
            for start, end, kind in found:
                self._reals.add(_key(kind, text[start:end]))
        out = []
        for text, found in zip(texts, spans, strict=True):
            pieces, last = [], 0
            for start, end, kind in found:
                pieces += [text[last:start], self.fake(kind, text[start:end])]
                last = end
            out.append("".join(pieces) + text[last:])
        return out

    def replaced(self) -> dict[str, int]:
        """Return how many distinct values of each kind were replaced (never the values)."""
        return dict(sorted(self.counts.items()))

    # -- finding ------------------------------------------------------------------------------------------
    def _spans(self, text: str) -> list[tuple[int, int, str]]:  # noqa: PLR0912 (a loop a kind)
        taken = bytearray(len(text))
        found: list[tuple[int, int, str]] = []

        def add(start: int, end: int, kind: str) -> None:
            if start < end and not any(taken[start:end]):
                taken[start:end] = b"\x01" * (end - start)
                found.append((start, end, kind))

        for person in self.people:
            for value, kind in [(e, "email") for e in person.emails] + [(p, "phone") for p in person.phones]:
                if len(value) >= 4:
                    for match in re.finditer(re.escape(value), text, re.IGNORECASE):
                        add(match.start(), match.end(), kind)
        for entity in extract(text):
            personal = _EXTRACTED.get(entity.type)
            if personal is not None:
                add(entity.start, entity.end, personal)
            elif entity.type in ("amount", "date"):
                add(entity.start, entity.end, "")  # kept as written: claims its span so nothing else does
        for match in _IBAN.finditer(text):
            add(match.start(), match.end(), "iban")
        for match in _ADDRESS.finditer(text):
            add(match.start(), match.end(), "address")
        for match in _POSTCODE.finditer(text):
            group = next((g for g, v in match.groupdict().items() if v), 0)
            add(match.start(group), match.end(group), "postcode")
        for match in _TICKET_ID.finditer(text):
            group = next(g for g, v in match.groupdict().items() if v)
            add(match.start(group), match.end(group), "reference")
        for match in _REFERENCE.finditer(text):
            if any(ch.isdigit() for ch in match.group("ref")):
                add(match.start("ref"), match.end("ref"), "reference")
        for match in _CODE.finditer(text):
            if sum(ch.isdigit() for ch in match.group()) >= 4:
                add(match.start(), match.end(), "reference")
        for match in _LONG_NUMBER.finditer(text):
            add(match.start(), match.end(), "reference")
        for token in sorted(self._tokens, key=len, reverse=True):
            for match in re.finditer(rf"(?<![\w@.]){re.escape(token)}(?![\w@])", text, re.IGNORECASE):
                # Names are written with a capital; "an agent" is not the agent called Agent.
                if not match.group()[0].isupper():
                    continue
                add(match.start(), match.end(), "name")
        for match in _INTRODUCTION.finditer(text):
            group = next(g for g, v in match.groupdict().items() if v)
            span = _name_span(match.group(group), from_end=group == "quoted")
            if span is not None:
                add(match.start(group) + span[0], match.start(group) + span[1], "name")
        return sorted(s for s in found if s[2])

    # -- faking -------------------------------------------------------------------------------------------
    def fake(self, kind: str, real: str) -> str:
        """Return the fake for ``real`` (the same every time it is asked within this anonymiser)."""
        folded = _key(kind, real)
        if kind == "name" and folded in self._aliases:
            folded = self._aliases[folded]
            real = folded
        key = (kind, folded)
        if key not in self._fakes:
            self.counts[kind] += 1
            self._fakes[key] = self._new(kind, real)
        return self._fakes[key]

    def _new(self, kind: str, real: str) -> str:
        for attempt in range(200):
            rng = random.Random(f"{self.seed}\x00{kind}\x00{_key(kind, real)}\x00{attempt}")  # noqa: S311 (fakes, not secrets)
            candidate = self._make(kind, real, rng)
            folded = _key(kind, candidate)
            if folded in self._reals or folded in self._used or self._contains_real(candidate):
                continue
            self._used.add(folded)
            return candidate
        return f"[{kind}]"

    def _contains_real(self, candidate: str) -> bool:
        lowered = candidate.casefold()
        digits = re.sub(r"\D", "", candidate)
        for real in self._reals:
            if len(real) >= 4 and (real in lowered or (real.isdigit() and real in digits)):
                return True
        return any(w.casefold() in self._reals for w in re.findall(r"\w+", candidate))

    def _make(self, kind: str, real: str, rng: random.Random) -> str:
        if kind == "name":
            return self._fake_name(real, rng)
        if kind == "email":
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            return f"{first}.{last}{rng.randint(1, 99)}@{rng.choice(FAKE_DOMAINS)}".lower()
        if kind == "address":
            number = rng.randint(2, 220)
            return f"{number} {rng.choice(STREETS)} {rng.choice(SUFFIXES)}"
        if kind == "card":
            return _luhn_shaped(real, rng)
        if kind == "iban":
            return real[:2] + _shaped(real[2:], rng)
        return _shaped(real, rng)

    def _fake_name(self, real: str, rng: random.Random) -> str:
        """A full name for a full name; a known person's first (or last) name alone becomes the first (or
        last) name of their fake full name, so "Maria" and "Maria Lopez" stay the same person."""
        parts = _name_parts(real)
        whole = " ".join(parts).casefold()
        known = self._tokens.get(whole)
        if len(parts) == 1 and known is not None and known[0] != whole:
            full_real, index = known
            full_fake = self.fake("name", full_real).split()
            self.counts["name"] -= 1  # counted by fake() as it asked; a part alone is the same person
            return full_fake[min(index, len(full_fake) - 1)] if full_fake else rng.choice(FIRST_NAMES)
        if len(parts) == 1:
            return rng.choice(FIRST_NAMES)
        first = rng.choice(FIRST_NAMES)
        middle = [rng.choice(FIRST_NAMES) for _ in parts[1:-1]]
        return " ".join([first, *middle, rng.choice(LAST_NAMES)])


def _spellings(name: str) -> set[str]:
    """Return ``name`` (folded) and how it is written without its accents: German transliteration
    ("müller" -> "mueller") and the letters alone ("muller", "jose" of "josé")."""
    german = name.translate(_GERMAN)
    bare = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    return {name, german, bare.replace("ß", "ss")}


_GERMAN = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def _name_span(found: str, *, from_end: bool = False) -> tuple[int, int] | None:
    """Return the span of the name at the start (or ``from_end``, the end) of ``found``: the capitalised
    words there that are not greetings or pronouns ("Jürgen Müller" of "Jürgen Müller", nothing of
    "I waited", "Sam" of "Sam and", "Anna Schmidt" of "to Anna Schmidt" from the end)."""
    words = list(re.finditer(r"\S+", found))
    kept = []
    for word in reversed(words) if from_end else words:
        # Shouting ("This is URGENT") is no name; a known name in capitals is found by its tokens.
        if not word.group()[0].isupper() or word.group() in _NOT_NAMES or word.group().isupper():
            break
        kept.append(word)
    return (min(w.start() for w in kept), max(w.end() for w in kept)) if kept else None


def _name_parts(name: str) -> list[str]:
    return [p for p in re.findall(r"[^\W\d_][\w'-]*", name) if len(p) >= 2]


def _key(kind: str, value: str) -> str:
    """Return how two spellings of the same value compare: digits only for numbers, folded otherwise."""
    if kind in ("phone", "card"):
        return re.sub(r"\D", "", value)
    if kind in ("iban", "order", "reference", "postcode"):
        return re.sub(r"[\W_]", "", value).upper()
    if kind == "name":
        return " ".join(_name_parts(value)).casefold()
    return re.sub(r"\s+", " ", value.strip()).casefold()


def _shaped(real: str, rng: random.Random) -> str:
    """Return a value of the same shape as ``real``: digits stay digits, letters letters, the rest kept."""
    out = []
    for char in real:
        if char.isdigit():
            out.append(str(rng.randint(0, 9)))
        elif char.isalpha() and char.isascii():
            letter = rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ")
            out.append(letter if char.isupper() else letter.lower())
        else:
            out.append(char)
    return "".join(out)


def _luhn_shaped(real: str, rng: random.Random) -> str:
    """Return a fake card number of the same shape whose check digit is valid (it looks like a card)."""
    digits = [rng.randint(0, 9) for ch in real if ch.isdigit()]
    if len(digits) >= 2:
        digits[-1] = 0
        total = sum(_luhn_digit(d, i) for i, d in enumerate(reversed(digits)))
        digits[-1] = (10 - total % 10) % 10
    it = iter(digits)
    return "".join(str(next(it)) if ch.isdigit() else ch for ch in real)


def _luhn_digit(digit: int, index: int) -> int:
    if index % 2 == 1:
        return digit * 2 - 9 if digit > 4 else digit * 2
    return digit


def anonymise(
    texts: Sequence[str], *, seed: int, people: Iterable[Person] = ()
) -> tuple[list[str], Anonymiser]:
    """Return ``texts`` anonymised together and the anonymiser (for more texts and the counts)."""
    anonymiser = Anonymiser(seed=seed, people=list(people))
    return anonymiser.run(texts), anonymiser
