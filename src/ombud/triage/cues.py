"""Cue phrases a sentiment lexicon or a tweet-trained model misses in service messages: repeated contact,
threats to leave or to go public or legal, deadlines, money, outages, safety. Each pattern is named so an
explanation can say which cue fired."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Cue:
    name: str
    pattern: re.Pattern[str]
    weight: float


def _cue(name: str, pattern: str, weight: float) -> Cue:
    return Cue(name, re.compile(pattern, re.IGNORECASE), weight)


REPEAT = r"(?:second|third|fourth|fifth|2nd|3rd|4th|5th|\d+(?:st|nd|rd|th)|several|many|multiple|countless)"
FRUSTRATION_CUES = (
    _cue(
        "repeated_contact",
        rf"\b(?:{REPEAT}\s+time|again|still\s+(?:not|no|waiting|haven'?t|hasn'?t|isn'?t|doesn'?t|won'?t|nothing|broken|can'?t|the\s+same|"
        r"happening|drops|dropping|fails|failing|crash\w*|charging|charged|missing|wrong)|"
        rf"yet\s+again|once\s+again|keep\s+(?:getting|having|asking|calling|writing)|every\s+time|"
        rf"already\s+(?:told|called|contacted|written|emailed|asked|explained|sent)|for\s+the\s+{REPEAT}|"
        rf"(?:{REPEAT}|\d+)\s+(?:emails|calls|messages|tickets|times))\b",
        0.50,
    ),
    _cue(
        "long_wait",
        r"\b(?:(?:for|over|almost|nearly|more\s+than)\s+(?:a|one|two|three|\d+)\s+(?:days?|weeks?|months?|hours?)|"
        r"no\s+(?:one|body)\s+(?:has\s+)?(?:replied|answered|responded|got\s+back|helps?)|nobody|no\s+response|"
        r"no\s+reply|never\s+(?:heard|got|received|answered|replied)|still\s+waiting|waiting\s+for\s+ages)\b",
        0.35,
    ),
    _cue(
        "leave_threat",
        r"\b(?:cancel(?:l?ing)?\s+(?:my|the)\s+(?:account|subscription|contract|membership|card)|clos(?:e|ing)\s+(?:my|the)\s+account|"
        r"(?:i'?m|i\s+am|i\s+will|i'?ll|going\s+to)\s+(?:be\s+)?cancel+(?:ing)?\b(?!\s+(?:my|the|this)\s+order)|"
        r"switch(?:ing)?\s+to|tak(?:e|ing)\s+my\s+(?:business|money)|"
        r"(?:leave|leaving|left)\s+(?:you|your\s+(?:bank|company|service))|never\s+(?:again|use|buy|order)|"
        r"last\s+time\s+i|done\s+with\s+you|find\s+another|move\s+to\s+(?:another|a\s+different))\b",
        0.45,
    ),
    _cue(
        "public_threat",
        r"\b(?:twitter|tweet|facebook|instagram|tiktok|reddit|social\s+media|trustpilot|yelp|"
        r"(?:bad|negative|1[- ]star|one[- ]star)\s+review|review\s+sites?|tell\s+everyone|go\s+public|"
        r"the\s+press|post\s+(?:about\s+)?(?:it|this)\s+(?:everywhere|online)|warn\s+(?:everyone|others|people)|"
        r"journalist|newspaper)\b",
        0.40,
    ),
    _cue(
        "legal_threat",
        r"\b(?:lawyer|attorney|solicitor|sue|suing|lawsuit|legal\s+action|court|ombudsman|regulator|"
        r"trading\s+standards|consumer\s+protection|small\s+claims|chargeback|report\s+you|fca|bbb|cfpb)\b",
        0.50,
    ),
    _cue(
        "exasperation",
        r"\b(?:ridiculous|unacceptable|disgrace(?:ful)?|outrageous|pathetic|joke|useless|incompetent|"
        r"fed\s+up|sick\s+(?:of|and\s+tired)|had\s+enough|what\s+the\s+hell|wtf|seriously\??|"
        r"how\s+(?:hard|difficult)\s+(?:is|can)\s+it|fix\s+(?:it|this)\s+now|absolutely\s+(?:furious|livid)|"
        r"furious|livid|annoyed|frustrat\w*|angry|worst)\b",
        0.30,
    ),
)

URGENCY_CUES = (
    _cue(
        "safety",
        r"\b(?:fire|smoke|smoking|sparks?|burn(?:ing|t|ed)?|electric(?:al)?\s+shock|shock(?:ed)?|gas\s+leak|"
        r"leak(?:ing)?\s+gas|explod\w*|injur\w*|hurt|hospital|bleeding|unsafe|dangerous|hazard|carbon\s+monoxide|"
        r"overheat\w*|flood(?:ing|ed)?)\b",
        1.0,
    ),
    _cue(
        "fraud_or_security",
        r"\b(?:fraud\w*|scam\w*|stolen|hack(?:ed)?|unauthori[sz]ed|didn'?t\s+make\s+(?:this|these|that)|"
        r"don'?t\s+recogni[sz]e|identity\s+theft|phishing|someone\s+(?:else\s+)?(?:used|accessed|logged))\b",
        0.8,
    ),
    _cue("legal_threat", FRUSTRATION_CUES[4].pattern.pattern, 0.6),
    _cue(
        "service_down",
        r"\b(?:(?:is|are|went|been|completely|totally)\s+down|outage|not\s+working|doesn'?t\s+work|stopped\s+working|"
        r"can'?t\s+(?:log\s*in|login|access|sign\s+in|pay|use|connect)|cannot\s+(?:log\s*in|access|pay|use)|"
        r"locked\s+out|no\s+(?:internet|power|service|signal|access)|crash(?:es|ed|ing)?|broken|blocked)\b",
        0.5,
    ),
    _cue(
        "money_at_stake",
        r"\b(?:charged\s+(?:twice|double|two\s+times|again)|double\s+charged|overcharged|refund|money\s+back|"
        r"missing\s+(?:money|payment|funds)|lost\s+(?:money|funds)|declined|bounced|overdraft|debited|"
        r"taken\s+from\s+my\s+account)\b",
        0.4,
    ),
    _cue(
        "deadline",
        r"\b(?:asap|urgent(?:ly)?|immediately|right\s+now|emergency|today|tonight|tomorrow|"
        r"by\s+(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|tomorrow|tonight|the\s+end\s+of)|"
        r"before\s+(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|my\s+flight|the\s+weekend)|"
        r"deadline|time[- ]sensitive|in\s+(?:an|one|two|\d+)\s+hours?|(?:my|the)\s+flight|"
        r"travel(?:l?ing)\s+(?:tomorrow|today))\b",
        0.5,
    ),
)

ABUSE_CUES = (
    _cue(
        "insult_at_agent",
        r"\b(?:you(?:'re|\s+are|\s+r)?\s+(?:an?\s+|all\s+|such\s+an?\s+|so\s+|fucking\s+|bloody\s+)*"
        r"(?:idiot|idiots|moron|morons|stupid|incompetent|useless|clown|clowns|pathetic|imbecile|retard\w*|"
        r"loser|losers|worthless|scum|bitch|bastard|dumb|brainless)|"
        r"(?:stupid|useless|incompetent|dumb|pathetic|worthless)\s+(?:agent|idiot|people|staff|bot|woman|man|girl|boy)|"
        r"(?:fuck|screw|damn)\s+(?:you|off)|go\s+to\s+hell|shut\s+up|piece\s+of\s+(?:shit|crap))\b",
        1.0,
    ),
    _cue(
        "threat_to_person",
        r"\b(?:(?:i'?ll|i\s+will|gonna|going\s+to)\s+(?:kill|hurt|find|beat|punch|come\s+(?:for|after))\s+you|"
        r"you'?ll\s+(?:regret|pay\s+for)|i\s+know\s+where\s+you|watch\s+your\s+back|you\s+(?:should|deserve\s+to)\s+die)\b",
        1.0,
    ),
    _cue(
        "harassment",
        r"\b(?:sexy|babe|send\s+(?:me\s+)?(?:a\s+)?(?:pic|photo|nudes)|date\s+me|your\s+body)\b",
        0.8,
    ),
)


def fired(cues: tuple[Cue, ...], text: str) -> list[tuple[Cue, str]]:
    """Return each cue that matches ``text`` with the words that matched (first match per cue)."""
    out = []
    for cue in cues:
        match = cue.pattern.search(text)
        if match:
            out.append((cue, match.group()))
    return out


def shouting(text: str) -> float:
    """Return 0..1: how much of the text is in capitals and exclamation marks."""
    letters = [c for c in text if c.isalpha()]
    words = re.findall(r"[A-Za-z]{3,}", text)
    caps_words = sum(1 for w in words if w.isupper())
    caps = caps_words / len(words) if len(words) >= 3 else 0.0
    bangs = min(len(re.findall(r"!{2,}|\?{2,}|[!?]{3,}", text)) * 0.35 + text.count("!") * 0.05, 1.0)
    return min(1.0, 0.7 * caps + 0.5 * bangs) if letters else 0.0
