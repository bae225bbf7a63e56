"""Text helpers the reply check, the drafter and the tone rewrites share: sentences and paragraphs with
their offsets, crude stems, accent folding, and the word lists (stopwords, internal terms, common
acronyms, brand spellings)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    text: str


# -- text helpers shared with the drafter and tone rewrites ----------------------------------------------
def word_set(text: str) -> frozenset[str]:
    """The words of a space-separated list, as a set."""
    return frozenset(text.split())


# A sentence ends at . ! ? followed by a space or the end (not inside "$45.00" or "e.g."), or at a line end.
_SENTENCE_END = re.compile(r"[.!?]+[\"')\]]*(?=\s|$)|\n")
URL = re.compile(r"(?:https?://|www\.)\S+|(?<![\w/])/help/[\w\-]+", re.IGNORECASE)
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
WORD = re.compile(r"[A-Za-zÀ-ÿ][A-Za-zÀ-ÿ'\u2019]*")
STOPWORDS = word_set(
    "a an the and or but if then so to of in on at by for with from about into over after before as is "
    "are was were be been being am do does did doing have has had having i me my mine we us our ours "
    "you your yours he him his she her it its they them their this that these those there here what "
    "which who whom when where why how all any both each few more most other some such no nor not only "
    "own same than too very can will just should could would may might must shall also still again "
    "please thanks thank hi hello dear it's i'm i've i'd i'll we're we've we'll you're you've don't "
    "can't won't didn't doesn't hasn't haven't isn't wasn't get got up out now one two time "
    "times ago week weeks day days month months year years really already yet ever"
)


def sentences(text: str) -> list[Span]:
    """Return the sentences (and lines without end punctuation) of ``text`` with their offsets."""
    found = []
    begin = 0
    for end in [m.end() for m in _SENTENCE_END.finditer(text)] + [len(text)]:
        raw = text[begin:end]
        stripped = raw.strip()
        if stripped:
            start = begin + (len(raw) - len(raw.lstrip()))
            found.append(Span(start, start + len(stripped), stripped))
        begin = end
    return found


def paragraphs(text: str) -> list[Span]:
    found = []
    for match in re.finditer(r"(?:[^\n]|\n(?!\s*\n))+", text):
        stripped = match.group().strip()
        if stripped:
            start = match.start() + (len(match.group()) - len(match.group().lstrip()))
            found.append(Span(start, start + len(stripped), stripped))
    return found


def stem(word: str) -> str:
    """Return a crude stem, enough for "refunded" to meet "refund" and "writing" to meet "write"."""
    word = word.lower().replace("\u2019", "'")
    for suffix in ("ing", "ed", "es", "s", "ly", "e"):
        if word.endswith(suffix) and len(word) > len(suffix) + 3:
            word = word[: -len(suffix)]
            break
    return word[:6]


def content_words(text: str) -> set[str]:
    """Return the stems of the text's meaningful words (links and stopwords left out)."""
    return {stem(w) for w in WORD.findall(URL.sub(" ", text)) if w.lower() not in STOPWORDS}


def fold(text: str) -> str:
    """Lower-case without accents: "María" and "maria" are the same name."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


# -- jargon -----------------------------------------------------------------------------------------------
INTERNAL_TERMS: dict[str, str] = {
    "escalate": "pass to a specialist",
    "escalated": "passed to a specialist",
    "escalating": "passing to a specialist",
    "escalation": "passing it to a specialist",
    "ticket": "request",
    "tickets": "requests",
    "ticket number": "reference number",
    "SLA": "the response time we promise",
    "backend": "our systems",
    "back end": "our systems",
    "back-end": "our systems",
    "RMA": "return authorisation",
    "provisioning": "setting up",
    "provisioned": "set up",
    "P1": "top priority",
    "P2": "high priority",
    "P3": "normal priority",
    "tier 1": "our support team",
    "tier 2": "our specialist team",
    "tier 3": "our engineers",
    "L1": "our support team",
    "L2": "our specialist team",
    "L3": "our engineers",
    "second line": "our specialist team",
    "hotfix": "fix",
    "deployed": "released",
    "deployment": "update",
    "KB": "help centre",
    "knowledge base": "help centre",
    "chargeback": "a dispute through your bank",
    "triage": "review",
    "triaged": "reviewed",
    "workaround": "another way to do it",
    "root cause": "cause",
    "CSAT": "satisfaction survey",
    "upstream": "our partner",
    "auth": "sign-in",
    "authentication": "sign-in",
    "2FA": "two-step sign-in",
    "MFA": "two-step sign-in",
    "config": "settings",
    "configuration": "settings",
    "cache": "stored data",
    "repro": "reproduce the problem",
    "ETA": "expected time",
    "EOD": "end of the day",
    "OOO": "out of the office",
    "TBC": "to be confirmed",
    "WIP": "in progress",
}
COMMON_ACRONYMS = word_set(
    "OK PDF PIN ID FAQ URL USA US UK EU VAT ATM TV PC USB SMS AM PM UTC GMT BST CET EST PST IBAN BIC "
    "SWIFT DVD CD GPS CEO HR IT AI APP VIP PS ASAP LED HD SIM QR PO ZIP DM FYI JPG JPEG PNG MB GB TB "
    "NHS IRS DHL UPS USPS UN NB RSVP ISO MP3 MP4 CV UX UI WIFI EUR USD GBP CHF CAD AUD SEK NOK DKK PLN "
    "NY LA DC"
)
BRAND_CASE = frozenset(
    fold(w)
    for w in word_set(
        "iPhone iPad iPod iOS iPadOS macOS watchOS iCloud iTunes iMessage eBay PayPal YouTube LinkedIn "
        "WhatsApp FedEx GitHub JavaScript PlayStation MasterCard WiFi AirPods MacBook TikTok HubSpot "
        "SharePoint PowerPoint OneDrive DoorDash AliExpress McDonald McDonalds SoundCloud DropBox FaceTime "
        "AirDrop AirTag eSIM eReader eBook"
    )
)
