"""The reply check: what an agent's reply could do better, found while they type and before sending.

Each finding says why it matters and, where it can, offers the words to use instead. Its ``id`` hashes the
code and the matched text, so a finding the agent dismissed stays dismissed when the reply is checked
again after more typing. Codes (part of the API):

- ``concern_unaddressed``: a concern of the customer's latest message(s) that no part of the reply answers
  (MiniLM similarity between the concern and each sentence and paragraph, with word overlap as a second
  opinion, so a paraphrase counts and so does a reply that repeats the customer's words);
- ``negative_phrasing``: "we can't ... until", "unfortunately", "you failed to"...; rewritten into the
  positive where the sentence's shape allows;
- ``jargon``: the company glossary's terms, internal words ("escalate", "SLA", "backend"...), unexplained
  acronyms, code identifiers and error codes, each with plain words; a term the customer used is theirs;
- ``readability``: Flesch-Kincaid grade over 9 (the grade is reported regardless);
- ``empathy_missing``: an upset customer and no acknowledgement;
- ``promise_without_date``: "we'll get back to you", "soon", "shortly" with no date, time or duration;
- ``wrong_name``: greeting someone other than the customer (warning), or not by name (info);
- ``wrong_detail``: an order number or amount that is not in the conversation or the suggested articles;
- ``voice_avoid``: a phrase the company's style guide avoids, with what it prefers.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ombud.assist.schemas import CheckResult, Finding, ReplyContext, Severity
from ombud.assist.text import (
    BRAND_CASE,
    COMMON_ACRONYMS,
    EMAIL,
    INTERNAL_TERMS,
    URL,
    WORD,
    content_words,
    fold,
    paragraphs,
    sentences,
    word_set,
)
from ombud.triage.embed import Embedder, shared_minilm
from ombud.triage.entities import extract

READABLE_GRADE = 9.0  # US school grade most customers read comfortably; plain-language guides aim at 8
MIN_WORDS_FOR_GRADE = 30  # formulas on a couple of sentences swing wildly
# A concern counts as answered when a sentence or paragraph means much the same (cosine), or means
# something close and shares some of its words, or shares most of its words.
SIMILAR = 0.65
RELATED = 0.4
SOME_OVERLAP = 0.34
MOST_OVERLAP = 0.6


class GlossaryEntry(Protocol):
    @property
    def term(self) -> str: ...
    @property
    def plain(self) -> str: ...


class VoiceEntry(Protocol):
    @property
    def avoid(self) -> str: ...
    @property
    def prefer(self) -> str: ...
    @property
    def note(self) -> str: ...


def finding_id(code: str, key: str) -> str:
    return hashlib.sha256(f"{code}\x00{fold(key.strip())}".encode()).hexdigest()[:16]


def _finding(
    code: str,
    severity: Severity,
    message: str,
    *,
    span: tuple[int, int] | None,
    text: str,
    suggestion: str | None,
    key: str | None = None,
) -> Finding:
    excerpt = text[span[0] : span[1]] if span else ""
    return Finding(
        id=finding_id(code, key if key is not None else excerpt),
        code=code,
        severity=severity,
        message=message,
        start=span[0] if span else None,
        end=span[1] if span else None,
        excerpt=excerpt,
        suggestion=suggestion,
    )


def readability_grade(text: str) -> float | None:
    """Return the Flesch-Kincaid grade of ``text`` (links and addresses left out), None without words."""
    import textstat  # its syllable dictionary loads on first use: not at import time of every process

    cleaned = EMAIL.sub("", URL.sub("", text))
    # A greeting or sign-off line has no full stop; without one it would run into the next sentence.
    lines = [line.strip() for line in cleaned.splitlines() if line.strip()]
    cleaned = " ".join(line if line[-1] in ".!?:" else line + "." for line in lines)
    if not WORD.search(cleaned):
        return None
    return round(float(textstat.flesch_kincaid_grade(cleaned)), 1)


# -- the check --------------------------------------------------------------------------------------------
def check_reply(
    text: str,
    context: ReplyContext,
    *,
    glossary: Sequence[GlossaryEntry] = (),
    voice: Sequence[VoiceEntry] = (),
    embedder: Embedder | None = None,
) -> CheckResult:
    """Return the findings on ``text`` as a reply in ``context``, in reading order, and its grade."""
    words = len(WORD.findall(text))
    if words == 0:
        return CheckResult(findings=[], grade=None, words=0)
    findings: list[Finding] = []
    findings += _unaddressed(text, context, embedder)
    findings += _negative(text)
    findings += _jargon(text, context, glossary)
    grade = readability_grade(text)
    findings += _readability(text, grade, words)
    findings += _empathy(text, context)
    findings += _promises(text)
    findings += _name(text, context)
    findings += _details(text, context)
    findings += _voice(text, voice)
    findings.sort(key=lambda f: (f.start is None, f.start or 0, f.code))
    return CheckResult(findings=_unique(findings), grade=grade, words=words)


def _unique(findings: Iterable[Finding]) -> list[Finding]:
    seen: set[tuple[str, int | None]] = set()
    out = []
    for finding in findings:
        if (finding.id, finding.start) not in seen:
            seen.add((finding.id, finding.start))
            out.append(finding)
    return out


# -- concern_unaddressed ----------------------------------------------------------------------------------
_GREETING_OR_SIGNOFF = re.compile(
    r"^(?:hi|hello|hey|dear|good (?:morning|afternoon|evening)|best|kind regards|regards|thanks|thank you|"
    r"many thanks|cheers|sincerely|yours)\b[^.!?]{0,40}[,!.]?$",
    re.IGNORECASE,
)


def concern_coverage(
    concerns: Sequence[str], reply: str, embedder: Embedder | None = None
) -> list[tuple[float, float]]:
    """Return (best cosine, word overlap) of each concern against the reply's sentences and paragraphs."""
    units = [
        s.text
        for s in sentences(reply) + paragraphs(reply)
        if not _GREETING_OR_SIGNOFF.match(s.text) and len(content_words(s.text)) >= 2
    ]
    if not concerns:
        return []
    reply_words = content_words(reply)
    overlaps = [len(content_words(c) & reply_words) / max(len(content_words(c)), 1) for c in concerns]
    if not units:
        return [(0.0, o) for o in overlaps]
    vectors = (embedder or shared_minilm()).embed_batch(list(concerns) + list(dict.fromkeys(units)))
    similarity = vectors[: len(concerns)] @ vectors[len(concerns) :].T
    best = np.max(similarity, axis=1)
    return [(float(b), o) for b, o in zip(best, overlaps, strict=True)]


def is_addressed(cosine: float, overlap: float) -> bool:
    return cosine >= SIMILAR or (cosine >= RELATED and overlap >= SOME_OVERLAP) or overlap >= MOST_OVERLAP


def asks(concern: str) -> list[str]:
    """Return the parts of a concern a reply must answer: its sentences with at least three meaningful
    words. Triage may merge two requests into one concern, and a feeling ("I'm really disappointed.") or
    a push ("Sort it out.") is answered by the tone of the reply, not by a sentence of it."""
    found = [s.text for s in sentences(concern) if len(content_words(s.text)) >= 3]
    if not found and len(content_words(concern)) >= 3:
        found = [concern]
    return found


def _unaddressed(text: str, context: ReplyContext, embedder: Embedder | None) -> list[Finding]:
    parts = [(concern, ask) for concern in context.concerns for ask in asks(concern.text)]
    coverage = concern_coverage([ask for _, ask in parts], text, embedder)
    found = []
    for (concern, ask), (cosine, overlap) in zip(parts, coverage, strict=True):
        if is_addressed(cosine, overlap):
            continue
        quoted = ask if len(ask) <= 160 else ask[:157] + "..."
        article = context.suggestions.get(concern.index)
        found.append(
            _finding(
                "concern_unaddressed",
                "warning",
                f'The customer wrote "{quoted}" and no part of the reply answers it. A reply that skips a '
                "concern makes the customer write again.",
                span=None,
                text=text,
                suggestion="Add a paragraph that answers this concern"
                + (f' (see "{article[0].title}")' if article else "")
                + ".",
                key=ask,
            )
        )
    return found


# -- negative_phrasing ------------------------------------------------------------------------------------
_CANT = (
    r"(?:can't|can\u2019t|cannot|can not|won't be able to|won\u2019t be able to|will not be able to|"
    r"are unable to|am unable to|aren't able to|are not able to|am not able to)"
)
_NOT_NEGATIVE_AFTER = re.compile(r"^(?:wait|thank|imagine|apologi[sz]e|stress|emphasi[sz]e)", re.IGNORECASE)
_CANT_UNTIL = re.compile(
    rf"\b(?P<subj>we|I)\s+{_CANT}\s+(?P<act>[^.!?;,\n]{{1,80}}?)\s+(?:until|unless)\s+(?P<cond>[^.!?;\n]{{1,120}})",
    re.IGNORECASE,
)
_WONT_UNTIL = re.compile(
    r"\b(?P<subj>we|I)\s+(?:won't|won\u2019t|will not)\s+(?P<act>[^.!?;,\n]{1,80}?)\s+until\s+"
    r"(?P<cond>[^.!?;\n]{1,120})",
    re.IGNORECASE,
)
_CANT_PLAIN = re.compile(rf"\b(?P<subj>we|I)\s+{_CANT}\s+(?P<act>[^.!?;,\n]{{1,80}})", re.IGNORECASE)


@dataclass(frozen=True)
class _Negative:
    pattern: re.Pattern[str]
    message: str
    suggestion: str | None


_NEGATIVES = (
    _Negative(
        re.compile(r"\bunfortunately\b,?", re.IGNORECASE),
        '"Unfortunately" tells the customer bad news is coming before they hear what you can do.',
        'Leave out "unfortunately" and open with what you can do.',
    ),
    _Negative(
        re.compile(r"\b(?:there is |there's )?no way\b", re.IGNORECASE),
        '"No way" closes the door; customers remember what you refused, not why.',
        'Say what is possible instead: "What we can do is ..."',
    ),
    _Negative(
        re.compile(r"\b(?:not possible|impossible)\b", re.IGNORECASE),
        "Saying what is not possible leaves the customer without a next step.",
        'Say what is possible instead: "What we can do is ..."',
    ),
    _Negative(
        re.compile(
            r"\b(?:our |the |company )?polic(?:y|ies) (?:doesn't|does not|don't|do not|won't|will not) "
            r"(?:allow|permit|let)\b",
            re.IGNORECASE,
        ),
        "Hiding behind policy sounds like the company against the customer.",
        'Explain the option the policy does give: "What we can offer is ..."',
    ),
    _Negative(
        re.compile(r"\byou (?:failed|forgot|neglected) to (?P<act>[^.!?;,\n]{1,80})", re.IGNORECASE),
        "This blames the customer; they are more likely to help when asked.",
        "Could you please {act}?",
    ),
    _Negative(
        re.compile(r"\byou should have\b", re.IGNORECASE),
        "Pointing out what the customer should have done cannot change the past, and puts them on the "
        "defensive.",
        'Say what helps from here: "Next time, the quickest way is to ..."',
    ),
    _Negative(
        re.compile(r"\bas I (?:already |previously )?(?:said|mentioned|explained|stated)\b", re.IGNORECASE),
        "This reads as impatience with the customer.",
        "To recap,",
    ),
    _Negative(
        re.compile(
            r"\b(?:it is |it's |that is |that's |this is )?not our (?:fault|problem|responsibility)\b", re.I
        ),
        "Whose fault it is matters less to the customer than what happens next.",
        "Say what you will do to help.",
    ),
    _Negative(
        re.compile(r"\bI (?:don't|do not) know\b", re.IGNORECASE),
        '"I don\'t know" leaves the customer stuck.',
        "Let me find out",
    ),
    _Negative(
        re.compile(r"\b(?:we|I) (?:don't|do not) (?:offer|provide|support|allow|accept)\b", re.IGNORECASE),
        "Leading with what you do not do leaves the customer without a next step.",
        'Say what you do offer instead: "What we offer is ..."',
    ),
    _Negative(
        re.compile(r"\byou(?:'ll| will) (?:have|need) to\b", re.IGNORECASE),
        "An order sounds harsher than an invitation.",
        "you can",
    ),
)


def _negative(text: str) -> list[Finding]:
    found: list[Finding] = []
    covered: list[tuple[int, int]] = []

    def add(span: tuple[int, int], message: str, suggestion: str | None) -> None:
        if any(s < span[1] and span[0] < e for s, e in covered):
            return
        covered.append(span)
        found.append(
            _finding(
                "negative_phrasing",
                "warning",
                message,
                span=span,
                text=text,
                suggestion=suggestion,
            )
        )

    for pattern, verb in ((_CANT_UNTIL, "can"), (_WONT_UNTIL, "will")):
        for match in pattern.finditer(text):
            subj = match.group("subj")
            rewrite = f"{subj} {verb} {match.group('act').strip()} as soon as {match.group('cond').strip()}"
            add(
                match.span(),
                "Say what you can do and when, rather than what you cannot: the customer hears the yes.",
                rewrite,
            )
    for match in _CANT_PLAIN.finditer(text):
        if _NOT_NEGATIVE_AFTER.match(match.group("act").strip()):
            continue
        subj = match.group("subj")
        add(
            match.span(),
            "Leading with what you cannot do is what the customer will remember; lead with what you can do.",
            f"Lead with what {'we' if subj.lower() == 'we' else 'I'} can do: "
            f'"What {"we" if subj.lower() == "we" else "I"} can do is ..."',
        )
    for negative in _NEGATIVES:
        for match in negative.pattern.finditer(text):
            suggestion = negative.suggestion
            if suggestion and "{act}" in suggestion:
                suggestion = suggestion.format(act=match.group("act").strip())
            add(match.span(), negative.message, suggestion)
    return found


_ACRONYM = re.compile(r"(?<![\w-])(?P<a>[A-Z][A-Z0-9]{1,5})s?(?![\w-])")
_IDENTIFIER = re.compile(
    r"(?<![\w/.-])(?P<i>[a-z][a-z0-9]*(?:_[a-z0-9]+)+|[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[a-z]+(?:[A-Z][a-z0-9]*)+|[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]+)+)"
    r"(?![\w-])"
)
_ERROR_CODE = re.compile(
    r"(?<![\w-])(?:(?:error|err|code)\s*(?:code\s*)?[:#]?\s*[A-Z]{0,4}[-_]?\d{3,}|(?:E|ERR)[-_]?\d{3,}|"
    r"0x[0-9A-Fa-f]{2,}|HTTP\s*[45]\d\d)(?![\w-])",
    re.IGNORECASE,
)


def _term_pattern(term: str) -> re.Pattern[str]:
    escaped = re.escape(term.strip())
    left = r"(?<![\w-])" if term[:1].isalnum() else ""
    right = r"(?![\w-])" if term[-1:].isalnum() else ""
    # A short all-capitals term is an acronym: "RMA" is jargon, "rma" inside a sentence is a typo.
    flags = 0 if term.isupper() and len(term) <= 6 else re.IGNORECASE
    return re.compile(left + escaped + right, flags)


def _jargon(text: str, context: ReplyContext, glossary: Sequence[GlossaryEntry]) -> list[Finding]:
    masked = _mask(text)
    customer = fold(context.customer_text)
    found: list[Finding] = []
    covered: list[tuple[int, int]] = []

    def theirs(term: str) -> bool:
        # A word the customer used themselves is not jargon to them.
        return bool(customer) and re.search(rf"(?<!\w){re.escape(fold(term))}(?!\w)", customer) is not None

    def add(span: tuple[int, int], message: str, suggestion: str | None) -> None:
        if any(s < span[1] and span[0] < e for s, e in covered):
            return
        covered.append(span)
        found.append(_finding("jargon", "warning", message, span=span, text=text, suggestion=suggestion))

    known = [(g.term, g.plain, "is in the company glossary") for g in glossary if g.term.strip()]
    known += [(term, plain, "is an internal word") for term, plain in INTERNAL_TERMS.items()]
    # Longer terms first: "ticket number" before "ticket".
    for term, plain, why in sorted(known, key=lambda k: -len(k[0])):
        for match in _term_pattern(term).finditer(masked):
            if theirs(match.group()):
                continue
            add(
                match.span(),
                f'"{match.group()}" {why} customers may not know. Say "{plain}" instead.',
                plain,
            )
    terms = {fold(t) for t, _, _ in known}
    for match in _ERROR_CODE.finditer(masked):
        if not theirs(match.group()):
            add(
                match.span(),
                f'"{match.group()}" is an internal error code; it means nothing to the customer.',
                "Describe what the customer sees and what it means for them.",
            )
    for match in _ACRONYM.finditer(masked):
        acronym = match.group("a")
        if acronym in COMMON_ACRONYMS or fold(acronym) in terms or theirs(acronym) or acronym.isdigit():
            continue
        if not any(c.isalpha() for c in acronym[1:]) and len(acronym) <= 2:
            continue  # "A1", "B2": sizes and grid references, not acronyms
        if re.match(r"\s*\(", masked[match.end() :]):
            continue  # explained in brackets right after it
        add(
            match.span("a"),
            f'"{acronym}" is an acronym the customer may not know.',
            f"Spell out what {acronym} stands for, or say it in plain words.",
        )
    for match in _IDENTIFIER.finditer(masked):
        identifier = match.group("i")
        if fold(identifier) in BRAND_CASE or theirs(identifier) or _is_product(identifier, context):
            continue
        add(
            match.span("i"),
            f'"{identifier}" looks like an internal system name; customers talk about what they see.',
            "Describe it in everyday words (what the customer sees or does).",
        )
    return found


def _is_product(word: str, context: ReplyContext) -> bool:
    products = [fold(p) for p in context.history.products] + [
        fold(str(e.get("value", ""))) for e in context.entities if e.get("type") == "product"
    ]
    return any(fold(word) in product for product in products)


def _mask(text: str) -> str:
    """Return ``text`` with links and email addresses blanked (same length, so offsets hold)."""
    masked = URL.sub(lambda m: " " * len(m.group()), text)
    return EMAIL.sub(lambda m: " " * len(m.group()), masked)


# -- readability ------------------------------------------------------------------------------------------
def _readability(text: str, grade: float | None, words: int) -> list[Finding]:
    if grade is None or grade <= READABLE_GRADE or words < MIN_WORDS_FOR_GRADE:
        return []
    longest = max(sentences(text), key=lambda s: len(WORD.findall(s.text)))
    count = len(WORD.findall(longest.text))
    return [
        _finding(
            "readability",
            "warning",
            f"The reply reads at school grade {grade:g}; most customers read comfortably at grade 8 or "
            f"below, and many read on a phone. The longest sentence has {count} words.",
            span=(longest.start, longest.end),
            text=text,
            suggestion="Split long sentences and use shorter words (the 'simpler' rewrite does both).",
            key="",
        )
    ]


# -- empathy_missing --------------------------------------------------------------------------------------
EMPATHY = re.compile(
    r"\b(?:sorry|apologi[sz]e|apologies|understand(?:able)?|frustrat\w*|upsetting|disappointing|"
    r"disappointed|annoying|inconvenien\w*|I can see (?:how|why|that)|I hear you|must (?:be|have been)|"
    r"I know how|thank you for (?:your patience|bearing with)|thanks for (?:your patience|bearing with)|"
    r"appreciate your patience|not the experience|not what you|(?:that's|this is|what) a (?:pain|worry)|"
    r"worrying|stressful|I(?:'d| would) feel the same)\b",
    re.IGNORECASE,
)


def acknowledges(text: str) -> bool:
    return EMPATHY.search(text) is not None


def _empathy(text: str, context: ReplyContext) -> list[Finding]:
    if not context.upset or acknowledges(text):
        return []
    feeling = "frustrated" if context.frustration >= 0.5 or context.emotion == "anger" else "upset"
    return [
        _finding(
            "empathy_missing",
            "warning",
            f"The customer sounds {feeling} and the reply does not acknowledge it. Customers who feel heard "
            "accept the answer more readily, even when it is not the one they wanted.",
            span=None,
            text=text,
            suggestion=f"I'm sorry about this, and I understand why you're {feeling}.",
            key="",
        )
    ]


# -- promise_without_date ---------------------------------------------------------------------------------
_COMMIT = re.compile(
    r"\b(?:we|I)(?:'ll|\u2019ll| will| shall|'re going to| are going to|'m going to| am going to)\s+"
    r"(?:get back to you|be in touch|follow up|update you|keep you (?:posted|updated)|let you know|"
    r"look into|come back to you|contact you|reply|respond|call you|email you|investigate|check)\b",
    re.IGNORECASE,
)
_VAGUE = re.compile(
    r"\b(?:(?<!as )soon(?!\s+as\b)|shortly|as soon as (?:possible|we can|I can)|asap|at (?:the|our) earliest"
    r"(?: convenience)?|in due course|in a (?:bit|while|little while)|at some point|before long|"
    r"(?<!\w)later(?! than| in)|(?:a|one) of these days)\b",
    re.IGNORECASE,
)
_WHEN = re.compile(
    r"\b(?:mon|tues|wednes|thurs|fri|satur|sun)day|\b(?:jan(?:uary)?|feb(?:ruary)?|march|april|may|june|july|"
    r"aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b|\btoday\b|\btonight\b|"
    r"\btomorrow\b|\bthis (?:morning|afternoon|evening|week)\b|\bnext (?:week|month)\b|"
    r"\bend of (?:the )?(?:day|week|month)\b|\bwithin\b|\b\d{1,2}(?::\d{2})?\s?(?:am|pm)\b|\b\d{1,2}:\d{2}\b|"
    r"\b\d{1,2}[/.]\d{1,2}(?:[/.]\d{2,4})?\b|\b\d{4}-\d{2}-\d{2}\b|\b(?:\d+|an?|one|two|three|four|five|six|"
    r"seven|eight|nine|ten|twelve|24|48|72)\s+(?:working |business )?(?:minutes?|hours?|days?|weeks?)\b",
    re.IGNORECASE,
)


def _promises(text: str) -> list[Finding]:
    found = []
    for sentence in sentences(text):
        if _WHEN.search(sentence.text):
            continue
        match = _VAGUE.search(sentence.text) or _COMMIT.search(sentence.text)
        if match is None:
            continue
        start = sentence.start + match.start()
        found.append(
            _finding(
                "promise_without_date",
                "warning",
                f'"{match.group()}" promises without saying when. The customer cannot plan, and will write '
                "again to ask.",
                span=(start, sentence.start + match.end()),
                text=text,
                suggestion='Give a time: "by Thursday", "by 5pm today" or "within 2 working days".',
            )
        )
    return found


# -- wrong_name and wrong_detail --------------------------------------------------------------------------
_GREETING = re.compile(
    r"^\s*(?:hi|hello|hey|dear|good (?:morning|afternoon|evening)|greetings)\b[ \t,]*"
    r"(?:(?:mr|mrs|ms|miss|mx|dr)\.?\s+)?(?P<name>[^\W\d_][\w'\u2019-]*)?",
    re.IGNORECASE,
)
NOT_A_NAME = word_set(
    "there all team everyone again folks customer sir madam friend and thanks thank you valued"
)


def _name(text: str, context: ReplyContext) -> list[Finding]:
    first = context.first_name
    if not first:
        return []
    parts = {fold(p) for p in re.split(r"[\s,]+", context.customer_name) if p}
    greeting = _GREETING.match(text)
    name = greeting.group("name") if greeting else None
    if name and fold(name) not in NOT_A_NAME:
        if fold(name) in parts:
            return []
        assert greeting is not None
        return [
            _finding(
                "wrong_name",
                "warning",
                f'The reply greets "{name}", but the customer is {context.customer_name}. A wrong name tells '
                "the customer their message was not read.",
                span=greeting.span("name"),
                text=text,
                suggestion=first,
            )
        ]
    return [
        _finding(
            "wrong_name",
            "info",
            f"The customer's name is {context.customer_name}: greeting them by it reads as a person writing.",
            span=greeting.span() if greeting else None,
            text=text,
            suggestion=f"Hi {first},",
            key="",
        )
    ]


def _norm_ref(value: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", value.upper())


def _details(text: str, context: ReplyContext) -> list[Finding]:
    passages = " ".join(p.passage for ps in context.suggestions.values() for p in ps)
    if not context.conversation.strip():
        return []  # nothing to compare with: the check is running outside a conversation
    known_entities = [
        *context.entities,
        *(e.public() for e in extract(context.conversation + "\n" + passages)),
    ]
    orders = {_norm_ref(str(e["value"])) for e in known_entities if e.get("type") == "order_number"}
    amounts = {
        round(float(e["amount"]), 2)  # type: ignore[arg-type]
        for e in known_entities
        if e.get("type") == "amount" and isinstance(e.get("amount"), int | float)
    }
    found = []
    for entity in extract(_mask(text)):
        if entity.type == "order_number" and _norm_ref(entity.value) not in orders:
            only = next(iter(orders)) if len(orders) == 1 else None
            original = next(
                (str(e["value"]) for e in known_entities if e.get("type") == "order_number"), None
            )
            found.append(
                _finding(
                    "wrong_detail",
                    "warning",
                    f"Order {entity.value} does not appear in the conversation"
                    + (f"; the customer wrote about {original}." if only and original else ".")
                    + " A wrong reference sends the customer (and the next agent) the wrong way.",
                    span=(entity.start, entity.end),
                    text=text,
                    suggestion=original if only else None,
                )
            )
        elif entity.type == "amount" and entity.amount is not None and round(entity.amount, 2) not in amounts:
            found.append(
                _finding(
                    "wrong_detail",
                    "warning",
                    f"The amount {entity.value} does not appear in the conversation or the suggested "
                    "articles: check it before the customer holds you to it.",
                    span=(entity.start, entity.end),
                    text=text,
                    suggestion=None,
                )
            )
    return found


# -- voice_avoid ------------------------------------------------------------------------------------------
def _voice(text: str, voice: Sequence[VoiceEntry]) -> list[Finding]:
    found = []
    for rule in voice:
        if not rule.avoid.strip():
            continue
        pattern = re.compile(_term_pattern(rule.avoid).pattern, re.IGNORECASE)
        for match in pattern.finditer(text):
            note = f" {rule.note.strip()}" if rule.note.strip() else ""
            found.append(
                _finding(
                    "voice_avoid",
                    "warning",
                    f'Our style guide avoids "{rule.avoid}".{note}',
                    span=match.span(),
                    text=text,
                    suggestion=rule.prefer or None,
                )
            )
    return found
