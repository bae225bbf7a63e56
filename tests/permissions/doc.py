"""docs/permissions.md, generated from the table the matrix test checks (so the two cannot drift apart).

Regenerate after changing tests/permissions/table.py:  .venv/bin/python -m tests.permissions.doc
"""

from __future__ import annotations

from pathlib import Path

from tests.permissions import table
from tests.permissions.seed import ROLES

DOC = Path(__file__).resolve().parents[2] / "docs" / "permissions.md"
WORDS = {"ok": "ok", "401": "401", "403": "403", "404": "404", "in": "sign-in", "away": "elsewhere"}
SECTIONS = (
    ("JSON API", ("/api/",)),
    ("Chat widget", ("/chat/",)),
    ("Customer portal", ("/portal",)),
    ("Partner portal", ("/partner",)),
    ("Agent workspace", ("/agent", "/login", "/logout")),
    ("Public pages", ("/",)),
)

INTRO = """# Permissions

Every route of the app (the JSON API, the pages and the WebSockets) and what each role gets back. The
table is generated from `tests/permissions/table.py` by `python -m tests.permissions.doc`; the test
`tests/permissions/test_permissions.py` calls every route below as every role on a seeded workspace (the demo
plus two customers who can sign in, both partner companies with their work orders, internal notes,
webhooks, resolutions...; every path parameter a real id) on SQLite and PostgreSQL, and fails when an
answer differs, when a route has no row, or when a row names a route that is gone.

How each role calls: the API with its bearer token (a customer's portal token for the customer), pages
with its browser session (cookie and CSRF token). "customer" is the customer who owns the ticket, the
work order and the other ids in the path; "partner" is a technician of the partner company the work order
went to. Another customer's ticket answers 404, another partner's work order 404 (see the data checks in
`tests/permissions/test_permissions.py`).

{meanings}

Where a role is refused but the route checks the body first, an empty body gets 422 before the role
check; the test accepts 422 in place of the refusal there (nothing happens either way) and never a 2xx.
"""


MEANINGS = (
    ("ok", "allowed: 2xx, a redirect after a form, or 409/422 when the test's minimal body does not fit"),
    (
        "401",
        "no or unknown credentials (`missing_token`, `invalid_token`); for the chat visitor socket and the "
        "signed callbacks, no valid visitor token or signature",
    ),
    (
        "403",
        "the role may not (`role_forbidden` or a narrower code such as `figures_private`, "
        "`not_a_technician`; "
        "`csrf_failed` for the signed-out forms without their cookie)",
    ),
    ("404", "not visible to the caller (someone else's ticket, goal, training session or break)"),
    ("sign-in", "a page redirect to `/login` (workspace, partner portal) or `/portal/login` (portal)"),
    ("elsewhere", "a page redirect to the caller's own area (staff at the partner portal go to `/agent`)"),
)


def _section(path: str) -> str:
    for name, prefixes in SECTIONS:
        if path.startswith(prefixes):
            return name
    return SECTIONS[-1][0]


def render() -> str:
    """The whole of docs/permissions.md."""
    meanings = "\n".join(["| answer | meaning |", "| --- | --- |"] + [f"| {a} | {m} |" for a, m in MEANINGS])
    out = [INTRO.replace("{meanings}", meanings)]
    header = "| route | " + " | ".join(ROLES) + " |"
    rule = "| --- |" + " --- |" * len(ROLES)
    for name, _ in SECTIONS:
        rows = [key for key in table.EXPECTED if _section(key.split(" ", 1)[1]) == name]
        if not rows:
            continue
        out += [f"## {name}", "", header, rule]
        for key in sorted(rows, key=lambda k: (k.split(" ", 1)[1], k.split(" ", 1)[0])):
            cells = " | ".join(WORDS[a] for a in table.EXPECTED[key].split())
            out.append(f"| `{key}` | {cells} |")
        out.append("")
    out += ["## WebSockets", "", "| route | " + " | ".join(ROLES) + " |", rule]
    for path, answers in sorted(table.WEBSOCKETS.items()):
        out.append(f"| `WS {path}` | " + " | ".join(WORDS[a] for a in answers.split()) + " |")
    out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    DOC.write_text(render(), encoding="utf-8")
    print(f"wrote {DOC}")
