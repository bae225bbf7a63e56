"""Entities a customer writes: order numbers, amounts, dates, emails, phone numbers, products from the
catalogue, card and account numbers. Card and account numbers are masked in every value this module
returns, so neither the API, the logs nor a stored triage ever carries them whole."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_CURRENCY_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR", "₽": "RUB", "₺": "TRY"}
_CURRENCY_WORDS = {
    "usd": "USD",
    "dollar": "USD",
    "dollars": "USD",
    "bucks": "USD",
    "eur": "EUR",
    "euro": "EUR",
    "euros": "EUR",
    "gbp": "GBP",
    "pound": "GBP",
    "pounds": "GBP",
    "quid": "GBP",
    "chf": "CHF",
    "jpy": "JPY",
    "yen": "JPY",
    "inr": "INR",
    "rupees": "INR",
    "cad": "CAD",
    "aud": "AUD",
    "sek": "SEK",
    "nok": "NOK",
    "dkk": "DKK",
    "pln": "PLN",
}
# Every number starts where a run of digits starts ((?<![\d.,])): trying each digit of a long run as a
# start would make a 20,000-digit message take minutes.
_NUMBER = r"(?<![\d.,])(?:\d{1,3}(?:[,.\s]\d{3}){0,6}(?:[.,]\d{1,2})?|\d{1,15}(?:[.,]\d{1,2})?)(?!\d)"
_AMOUNT = re.compile(
    rf"(?P<sym>[$€£¥₹₽₺])\s?(?P<n1>{_NUMBER})"
    rf"|(?P<n2>{_NUMBER})\s?(?P<sym2>[$€£¥₹₽₺])"
    rf"|(?P<n3>{_NUMBER})\s?(?P<word>{'|'.join(sorted(_CURRENCY_WORDS, key=len, reverse=True))})\b"
    rf"|\b(?P<word2>usd|eur|gbp|chf|cad|aud)\s?(?P<n4>{_NUMBER})",
    re.IGNORECASE | re.ASCII,  # ASCII: no Unicode case folding into "s", no exotic spaces in numbers
)
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}\b")
_ORDER = re.compile(
    r"(?:\b(?:order|ord|purchase|invoice|inv|booking|reservation|shipment|tracking|parcel|package)"
    r"(?:\s+(?:no|number|nr|id|ref|reference))?\.?\s*[:#]?\s*#?\s*(?P<a>[A-Z0-9][A-Z0-9-]{3,24}\d[A-Z0-9-]*)\b)"
    r"|(?:\b(?P<b>(?:ORD|ORDER|INV|PO|SO)-?\d{3,15})\b)"
    r"|(?:#(?P<c>\d{4,12})\b)",
    re.IGNORECASE,
)
# Digits separated by spaces (also no-break or doubled), dots or dashes, as people paste card numbers.
_CARD = re.compile(r"(?<!\d)(?<!\d[\s.-])\d(?:[\s.\-]{0,2}\d){12,}")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){2,7}(?:\s?[A-Z0-9]{1,4})?\b", re.IGNORECASE)
_ACCOUNT = re.compile(r"\b(?:account|acct|a/c)(?:\s+(?:no|number|nr))?\.?\s*[:#]?\s*(?P<n>\d{6,34})\b", re.I)
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{2,4}(?:[\s.-]?\d{2,4}){2,4}(?![\w])"
)
_MONTHS = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_DATE = re.compile(
    rf"\b(?:\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}[/.]\d{{1,2}}[/.]\d{{2,4}}|"
    rf"\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTHS})(?:\s+\d{{4}})?|"
    rf"(?:{_MONTHS})\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?|"
    r"today|tonight|tomorrow|yesterday|"
    r"(?:next|this|last|by|on|before|until)\s+(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
    r"week|weekend|month))\b",
    re.IGNORECASE,
)


MAX_ENTITIES = 200


@dataclass(frozen=True)
class Entity:
    type: str
    value: str
    start: int
    end: int
    currency: str | None = None
    amount: float | None = None

    def public(self) -> dict[str, object]:
        out: dict[str, object] = {
            "type": self.type,
            "value": self.value,
            "start": self.start,
            "end": self.end,
        }
        if self.currency is not None:
            out["currency"] = self.currency
            out["amount"] = self.amount
        return out


def luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def mask(number: str) -> str:
    """Return ``number`` with all but its last four characters hidden."""
    digits = re.sub(r"[^0-9A-Za-z]", "", number)
    return "•••• " + digits[-4:] if len(digits) > 4 else "••••"


def extract(text: str, *, catalogue: Iterable[str] = ()) -> list[Entity]:  # noqa: PLR0912 (one branch a kind)
    """Return the entities in ``text``, ordered by position; overlapping matches keep the earlier kind
    in this order: card, account, email, amount, order, date, phone, product."""
    found: list[Entity] = []
    taken = bytearray(len(text))  # which characters an entity already covers

    def add(entity: Entity) -> None:
        if len(found) >= MAX_ENTITIES or any(taken[entity.start : entity.end]):
            return
        taken[entity.start : entity.end] = b"\x01" * (entity.end - entity.start)
        found.append(entity)

    for match in _CARD.finditer(text):
        for start, end, digits in _card_windows(match):
            add(Entity("card_number", mask(digits), start, end))
    for match in _IBAN.finditer(text):
        add(Entity("account_number", mask(match.group()), match.start(), match.end()))
    for match in _ACCOUNT.finditer(text):
        add(Entity("account_number", mask(match.group("n")), match.start("n"), match.end("n")))
    for match in _EMAIL.finditer(text):
        add(Entity("email", match.group(), match.start(), match.end()))
    for match in _AMOUNT.finditer(text):
        add(_amount(match))
    for match in _ORDER.finditer(text):
        group = next(g for g in ("a", "b", "c") if match.group(g))
        if any(ch.isdigit() for ch in match.group(group)):
            add(Entity("order_number", match.group(group).upper(), match.start(group), match.end(group)))
    for match in _DATE.finditer(text):
        add(Entity("date", match.group(), match.start(), match.end()))
    for match in _PHONE.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if 7 <= len(digits) <= 15:
            add(Entity("phone", match.group().strip(), match.start(), match.end()))
    for name in catalogue:
        for match in re.finditer(rf"(?<!\w){re.escape(name)}(?!\w)", text, re.IGNORECASE):
            add(Entity("product", name, match.start(), match.end()))
    return sorted(found, key=lambda e: e.start)


def _card_windows(match: re.Match[str]) -> list[tuple[int, int, str]]:
    """Return the card numbers inside a run of digit groups ("0 4111 1111 1111 1111 0" holds one): the
    longest run of whole groups, 13 to 19 digits, that passes the Luhn check, left to right."""
    groups = [
        (m.start() + match.start(), m.end() + match.start(), m.group())
        for m in re.finditer(r"\d+", match.group())
    ]
    found: list[tuple[int, int, str]] = []
    i = 0
    while i < len(groups):
        best = None
        digits = ""
        for j in range(i, len(groups)):
            digits += groups[j][2]
            if len(digits) > 19:
                break
            if len(digits) >= 13 and luhn_ok(digits):
                best = (groups[i][0], groups[j][1], digits, j)
        if best is None:
            i += 1
            continue
        found.append(best[:3])
        i = best[3] + 1
    return found


def _amount(match: re.Match[str]) -> Entity:
    number = match.group("n1") or match.group("n2") or match.group("n3") or match.group("n4")
    symbol = match.group("sym") or match.group("sym2")
    word = match.group("word") or match.group("word2")
    currency = _CURRENCY_SYMBOLS[symbol] if symbol else _CURRENCY_WORDS.get(word.lower(), word.upper())
    return Entity(
        "amount",
        match.group().strip(),
        match.start(),
        match.end(),
        currency=currency,
        amount=_parse_number(number),
    )


def _parse_number(raw: str) -> float:
    text = re.sub(r"\s", "", raw)
    # "1.234,50" and "1,234.50": the last separator followed by two digits is the decimal point.
    decimal = re.search(r"[.,](\d{1,2})$", text)
    whole = text[: decimal.start()] if decimal else text
    whole = re.sub(r"[.,]", "", whole)
    return float(f"{whole}.{decimal.group(1)}") if decimal else float(whole)


def redact(text: str) -> str:
    """Return ``text`` with card and account numbers masked (for concern texts, explanations and logs)."""
    for entity in sorted(
        (e for e in extract(text) if e.type in {"card_number", "account_number"}),
        key=lambda e: e.start,
        reverse=True,
    ):
        text = text[: entity.start] + entity.value + text[entity.end :]
    return text
