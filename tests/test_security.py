"""Security basics, each checked against the running app: session cookies, CSRF on every state-changing
page, Argon2id password hashes, sign-in rate limits, API token revocation across processes, webhook
signatures both ways, and logs without credentials or customers' contact details (docs/security.md)."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import hashlib
import hmac
import io
import json
import logging
import re
import smtplib
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword
from aiosmtpd.smtp import Session as SmtpSession
from fastapi import FastAPI
from fastapi.routing import APIRoute, _IncludedRouter
from fastapi.testclient import TestClient
from sqlalchemy import select

from ombud import logmask
from ombud.accounts import service as accounts
from ombud.accounts import sessions
from ombud.accounts.models import ApiToken, User
from ombud.channels.email.smtp import SmtpReceiver
from ombud.cli import main as cli_main
from ombud.runtime import Runtime, build_runtime
from ombud.settings import Settings
from tests.channels.conftest import SUPPORT, free_port
from tests.channels.test_social import Platform
from tests.conftest import Personas, app_for, make_people, new_ticket
from tests.partners.conftest import make_partner
from tests.web.workspace import PASSWORD, form_csrf, set_password

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def _set_cookies(response: Any) -> dict[str, dict[str, str | bool]]:
    """The Set-Cookie headers of ``response`` by cookie name, with their attributes (lower-case keys)."""
    found: dict[str, dict[str, str | bool]] = {}
    for header in response.headers.get_list("set-cookie"):
        parsed: SimpleCookie = SimpleCookie()
        parsed.load(header)
        for name, morsel in parsed.items():
            attributes: dict[str, str | bool] = {"value": morsel.value}
            for key in ("httponly", "secure", "samesite", "path"):
                attributes[key] = morsel[key]
            found[name] = attributes
    return found


# -- cookies ----------------------------------------------------------------------------------------------
def _sign_in(client: TestClient, runtime: Runtime, email: str) -> Any:
    set_password(runtime, email)
    form = client.get("/login")
    # A Secure cookie is not sent back over plain http by the test client: hand it back as a browser would.
    client.cookies.set(
        "ombud_login_csrf", str(_set_cookies(form)["ombud_login_csrf"]["value"]), path="/login"
    )
    return client.post(
        "/login",
        data={"email": email, "password": PASSWORD, "csrf_token": form_csrf(form.text)},
        follow_redirects=False,
    )


def test_session_cookies_are_httponly_samesite_and_secure_over_https_or_when_set(
    runtime: Runtime, people: Personas, tmp_path: Path, database_url: str
) -> None:
    with TestClient(app_for(runtime)) as plain:
        form_cookie = _set_cookies(plain.get("/login"))["ombud_login_csrf"]
        signed_in = _sign_in(plain, runtime, "agent@desk.test")
    assert signed_in.status_code == 303
    session_cookie = _set_cookies(signed_in)["ombud_session"]
    for cookie in (session_cookie, form_cookie):
        assert cookie["httponly"] is True and str(cookie["samesite"]).lower() == "lax"
        assert not cookie["secure"]  # plain http (a developer's machine): a Secure cookie would be dropped
    with TestClient(app_for(runtime), base_url="https://desk.example") as https:
        assert _set_cookies(https.get("/login"))["ombud_login_csrf"]["secure"] is True
        assert _set_cookies(_sign_in(https, runtime, "agent@desk.test"))["ombud_session"]["secure"] is True
    # Behind a proxy that ends TLS the app sees http: OMBUD_COOKIE_SECURE makes the cookie Secure anyway.
    behind_proxy = build_runtime(
        Settings(home=tmp_path, database_url=database_url, cookie_secure=True), queue_url="memory://"
    )
    try:
        with TestClient(app_for(behind_proxy)) as proxied:
            cookie = _set_cookies(_sign_in(proxied, behind_proxy, "agent@desk.test"))["ombud_session"]
            assert cookie["secure"] is True and cookie["httponly"] is True
    finally:
        behind_proxy.close()
        app_for(runtime)


# -- CSRF ---------------------------------------------------------------------------------------------------
def _routes(app: FastAPI) -> Iterator[tuple[str, set[str], APIRoute]]:
    """Every (path, methods, route) of the app, included routers flattened."""
    for route in app.routes:
        if isinstance(route, _IncludedRouter):
            for context in route.effective_route_contexts():
                original = context.original_route
                if isinstance(original, APIRoute):
                    yield context.path, set(original.methods), original
        elif isinstance(route, APIRoute):
            yield route.path, set(route.methods), route


# Page routes that change state without any ambient credential (no cookie names the caller), so another
# site gains nothing by making a browser send them: what it could send, it could send itself.
NO_AMBIENT_CREDENTIAL = {
    "/chat/api/visitors": "starts an anonymous chat visitor",
    "/chat/api/messages": "the visitor's secret travels in the X-Chat-Token header, which no form can set",
    "/chat/api/typing": "X-Chat-Token header",
    "/chat/api/email": "X-Chat-Token header",
    "/chat/api/assistant": "X-Chat-Token header",
    "/chat/api/assistant/outcome": "X-Chat-Token header",
    "/chat/api/assistant/person": "X-Chat-Token header",
    "/contact": "the public contact form: anyone may send it",
    "/help/{slug}/feedback": "an anonymous 'was this helpful' vote",
}


# Pages whose form is only reached through a link's secret: an unknown link is 404 before any form is read
# here, and the CSRF check of a real link is tested where such links are made.
CHECKED_WITH_A_REAL_LINK = {
    "/survey/{token}": "tests/surveys/test_surveys.py: a forged csrf_token on a real survey link is refused",
}


def _valid(param: Any) -> str | None:
    """A value the route's own validation accepts for ``param`` (None for a file field: sent empty)."""
    info = param.field_info
    annotation = info.annotation
    for rule in info.metadata:
        pattern = getattr(rule, "pattern", None)
        if pattern and (choice := re.fullmatch(r"\^\(([^|)]+)[^)]*\)\$", pattern)):
            return choice.group(1)
    if "UploadFile" in str(annotation):
        return None
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return str(next(iter(annotation)).value)
    if annotation is bool:
        return "false"
    if "int" in str(annotation) or "float" in str(annotation):
        return "1"
    if any(getattr(rule, "min_length", 0) for rule in info.metadata):  # a link's token
        return "t" * 43
    return "x"


def _form_for(route: APIRoute) -> dict[str, str]:
    """A valid value for each form field the route declares: only the CSRF token can be what is wrong."""
    return {
        param.alias: value for param in route.dependant.body_params if (value := _valid(param)) is not None
    }


def _path_for(path: str, route: APIRoute) -> str:
    values = {param.alias: _valid(param) or "1" for param in route.dependant.path_params}
    return re.sub(r"\{([^}]+)\}", lambda match: values.get(match.group(1), "1"), path)


def test_every_state_changing_page_refuses_a_missing_or_wrong_csrf_token(
    runtime: Runtime, people: Personas
) -> None:
    """Each signed-in kind of browser (staff, partner technician, customer) and the signed-out forms: every
    POST page route of the app answers 403 without the right token, and changes nothing."""
    make_partner(runtime, "FixRight", people.partner.id)
    app = app_for(runtime)
    pages = sorted(
        (path, route)
        for path, methods, route in _routes(app)
        if methods & UNSAFE and not path.startswith("/api/")
    )
    assert len(pages) > 100  # the enumeration sees the whole app, not one router
    clients: dict[str, TestClient] = {}
    with contextlib.ExitStack() as stack:
        for kind, owner in (
            ("staff", {"user_id": people.admin.id}),
            ("partner", {"user_id": people.partner.id}),
            ("customer", {"customer_id": people.customer.id}),
            ("signed_out", None),
        ):
            client = stack.enter_context(TestClient(app, raise_server_exceptions=False))
            if owner is not None:
                with runtime.database.session() as session:
                    signed = sessions.start_session(session=session, **owner)
                    session.commit()
                client.cookies.set("ombud_session", signed.token)
            clients[kind] = client
        # The signed-out forms compare the field with a cookie: give the browser one, and send another.
        clients["signed_out"].cookies.set("ombud_login_csrf", "c" * 43)
        refused: dict[str, list[int]] = {}
        with runtime.database.session(write=False) as session:
            before = session.scalar(select(User.id).order_by(User.id.desc()).limit(1))
        for path, route in pages:
            if path in NO_AMBIENT_CREDENTIAL:
                continue
            if path in ("/login", "/portal/login", "/portal/login/{token}"):
                kind = "signed_out"
            elif path.startswith("/portal/"):
                kind = "customer"
            elif path.startswith("/partner/"):
                kind = "partner"
            else:
                kind = "staff"
            form = _form_for(route)
            statuses = []
            for token in (None, "forged-token-from-another-site"):
                data = {name: value for name, value in form.items() if name != "csrf_token"}
                if token is not None:
                    data["csrf_token"] = token
                answer = clients[kind].post(_path_for(path, route), data=data, follow_redirects=False)
                statuses.append(answer.status_code)
                if answer.status_code == 403:
                    assert "another site" in answer.text, (path, answer.text[:300])
            refused[path] = statuses
    wrong = {
        path: statuses
        for path, statuses in refused.items()
        if statuses != ([404, 404] if path in CHECKED_WITH_A_REAL_LINK else [403, 403])
    }
    assert not wrong, f"these pages did not refuse a missing or forged CSRF token: {wrong}"
    with runtime.database.session(write=False) as session:
        assert session.scalar(select(User.id).order_by(User.id.desc()).limit(1)) == before
    # Every route is either refused above or named in NO_AMBIENT_CREDENTIAL with its reason.
    assert set(NO_AMBIENT_CREDENTIAL) <= {path for path, _ in pages}


def test_a_cookie_session_cannot_call_the_api_unsafely_without_the_csrf_header(
    runtime: Runtime, people: Personas
) -> None:
    with runtime.database.session() as session:
        signed = sessions.start_session(session=session, user_id=people.agent.id)
        session.commit()
    payload = {
        "customer": {"email": "maria@example.com"},
        "channel": "web",
        "subject": "Forged",
        "body": "A request another site tried to make with the agent's cookie",
    }
    with TestClient(app_for(runtime)) as browser:
        browser.cookies.set("ombud_session", signed.token)
        assert browser.get("/api/v1/me").status_code == 200  # reading with the cookie is fine
        forged = browser.post("/api/v1/tickets", json=payload)
        assert forged.status_code == 403 and forged.json()["error"]["code"] == "csrf_failed"
        wrong = browser.post("/api/v1/tickets", json=payload, headers={"X-CSRF-Token": "guess"})
        assert wrong.status_code == 403
        right = browser.post("/api/v1/tickets", json=payload, headers={"X-CSRF-Token": signed.csrf_token})
        assert right.status_code == 201, right.text


# -- passwords and sign-in --------------------------------------------------------------------------------
def test_passwords_are_stored_as_argon2id_with_strong_parameters(runtime: Runtime, people: Personas) -> None:
    set_password(runtime, "lead@desk.test", "a long enough passphrase")
    with runtime.database.session(write=False) as session:
        stored = session.scalar(select(User.password_hash).where(User.email == "lead@desk.test"))
        assert stored is not None and stored.startswith("$argon2id$")
        parameters = dict(item.split("=") for item in stored.split("$")[3].split(","))
        # OWASP's minimum for Argon2id is 19 MiB and 2 passes; these are argon2-cffi's stronger defaults.
        assert int(parameters["m"]) >= 19 * 1024 and int(parameters["t"]) >= 2
        assert "a long enough passphrase" not in stored
        assert sessions.verify_password(
            session=session, email="lead@desk.test", password="a long enough passphrase"
        )
        with pytest.raises(Exception, match="wrong email or password"):
            sessions.verify_password(
                session=session, email="lead@desk.test", password="a long enough passphrasE"
            )
    set_password(runtime, "agent@desk.test", "a long enough passphrase")
    with runtime.database.session(write=False) as session:
        other = session.scalar(select(User.password_hash).where(User.email == "agent@desk.test"))
    assert other != stored  # salted: the same password never gives the same hash


def test_sign_in_is_limited_per_address_and_per_account(
    tmp_path: Path, database_url: str, people: Personas
) -> None:
    limited = build_runtime(
        Settings(home=tmp_path, database_url=database_url, login_rate_limit=3), queue_url="memory://"
    )
    set_password(limited, "agent@desk.test")
    app = app_for(limited)
    try:

        def attempt(client_address: str, email: str, password: str = "wrong-password!") -> int:
            with TestClient(app, client=(client_address, 40000)) as browser:
                csrf = form_csrf(browser.get("/login").text)
                return browser.post(
                    "/login",
                    data={"email": email, "password": password, "csrf_token": csrf},
                    follow_redirects=False,
                ).status_code

        # One account guessed from many addresses (a botnet): the fourth attempt waits, right password too.
        assert [attempt(f"203.0.113.{n}", "agent@desk.test") for n in range(3)] == [401, 401, 401]
        assert attempt("203.0.113.99", "agent@desk.test", PASSWORD) == 429
        # One address trying many accounts (credential stuffing): limited too, whichever account.
        assert [attempt("198.51.100.7", f"user{n}@desk.test") for n in range(3)] == [401, 401, 401]
        assert attempt("198.51.100.7", "lead@desk.test") == 429
        # Someone else, elsewhere, is not affected.
        set_password(limited, "lead@desk.test")
        assert attempt("192.0.2.1", "lead@desk.test", PASSWORD) == 303
    finally:
        limited.close()


# -- API tokens ---------------------------------------------------------------------------------------------
def test_api_tokens_are_stored_only_as_hashes(runtime: Runtime, people: Personas) -> None:
    with runtime.database.session(write=False) as session:
        stored = session.scalars(select(ApiToken.token_hash)).all()
    assert people.agent.token.startswith("omb_") and len(people.agent.token) > 40
    assert hashlib.sha256(people.agent.token.encode()).hexdigest() in stored
    assert not any(people.agent.token in value for value in stored)


def _cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "ombud"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_a_revoked_token_is_refused_at_once_by_every_process(
    runtime: Runtime, people: Personas, tmp_path: Path, database_url: str
) -> None:
    # A second server process on the same database, as behind a load balancer (its own engine and app).
    other = build_runtime(Settings(home=tmp_path / "b", database_url=database_url), queue_url="memory://")
    try:
        with TestClient(app_for(runtime)) as a:
            assert a.get("/api/v1/me", headers=people.agent.headers).status_code == 200
            revoked = _cli(
                "user", "revoke-token", "--token-stdin", "--database", database_url, stdin=people.agent.token
            )
            assert revoked.returncode == 0, revoked.stderr
            assert revoked.stdout.strip() == "revoked 1 token(s)"
            refused = a.get("/api/v1/me", headers=people.agent.headers)
            assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_token"
            assert a.get("/api/v1/me", headers=people.lead.headers).status_code == 200  # others untouched
        with TestClient(app_for(other)) as b:
            assert b.get("/api/v1/me", headers=people.agent.headers).status_code == 401
            # Revoking it again says so; the token itself never goes on a command line (ps, shell history).
            again = _cli(
                "user", "revoke-token", "--token-stdin", "--database", database_url, stdin=people.agent.token
            )
            assert again.returncode == 1 and "token_not_found" in again.stderr
            with runtime.database.session() as session:
                second = accounts.issue_token(session=session, user_id=people.lead.id, name="laptop")
                session.commit()
            everything = _cli(
                "user", "revoke-token", "--all-of", "lead@desk.test", "--database", database_url
            )
            assert everything.stdout.strip() == "revoked 2 token(s)", everything.stderr
            for token in (people.lead.token, second):
                assert b.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    finally:
        other.close()
        app_for(runtime)


# -- webhook signatures -------------------------------------------------------------------------------------
def test_outgoing_webhooks_verify_with_plain_hmac_and_inbound_ones_need_a_valid_signature(
    client: TestClient, people: Personas
) -> None:
    with Platform() as receiver:
        made = client.post(
            "/api/v1/webhooks",
            json={"name": "CRM", "url": receiver.url, "events": ["ticket.created"]},
            headers=people.admin.headers,
        ).json()
        sent = client.post(f"/api/v1/webhooks/{made['id']}/test", headers=people.admin.headers)
        assert sent.status_code == 201 and sent.json()["state"] == "delivered", sent.text
        [request] = receiver.received
    # What a receiver writes from docs/webhooks alone, without ombud's code: HMAC-SHA256 of "<t>.<body>".
    header = dict(part.split("=", 1) for part in request["headers"]["Ombud-Signature"].split(","))
    expected = hmac.new(
        made["secret"].encode(), header["t"].encode() + b"." + request["body"], hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(expected, header["v1"])
    assert abs(time.time() - int(header["t"])) < 300
    tampered = hmac.new(
        made["secret"].encode(), header["t"].encode() + b"." + request["body"] + b" ", hashlib.sha256
    )
    assert tampered.hexdigest() != header["v1"]

    # Inbound: the social channel and an advocacy department's tracker refuse unsigned and mis-signed posts.
    social = client.post(
        "/api/v1/channels/social",
        json={"name": "whatsapp", "platform": "whatsapp", "callback_url": None},
        headers=people.admin.headers,
    ).json()
    department = client.post(
        "/api/v1/advocacy/departments",
        json={"name": "Logistics", "kind": "logistics"},
        headers=people.advocate.headers,
    )
    assert department.status_code == 201, department.text
    body = json.dumps(
        {
            "id": "wamid.1",
            "from": {"handle": "+4915112345678", "name": "Jonas"},
            "text": "hi",
            "conversation_id": "c",
        }
    ).encode()
    now = str(int(time.time()))
    wrong = "sha256=" + hmac.new(b"not-the-secret", f"{now}.".encode() + body, hashlib.sha256).hexdigest()
    for headers in ({}, {"X-Ombud-Timestamp": now, "X-Ombud-Signature": wrong}):
        answer = client.post("/api/v1/webhooks/social/whatsapp", content=body, headers=headers)
        assert answer.status_code == 401 and answer.json()["error"]["code"] == "bad_signature"
    good = (
        "sha256=" + hmac.new(social["secret"].encode(), f"{now}.".encode() + body, hashlib.sha256).hexdigest()
    )
    signed = client.post(
        "/api/v1/webhooks/social/whatsapp",
        content=body,
        headers={"X-Ombud-Timestamp": now, "X-Ombud-Signature": good},
    )
    assert signed.status_code == 200, signed.text
    tracker_url = f"/api/v1/advocacy/departments/{department.json()['id']}/tracker"
    callback = json.dumps({"case_id": 1, "state": "in_progress"}).encode()
    forged = f"t={now},v1=" + hmac.new(b"guess", f"{now}.".encode() + callback, hashlib.sha256).hexdigest()
    for headers in ({}, {"Ombud-Signature": forged}):
        answer = client.post(tracker_url, content=callback, headers=headers)
        assert answer.status_code == 401 and answer.json()["error"]["code"] == "tracker_bad_signature"


# -- logs -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("line", "masked"),
    [
        ("email from maria.lopez+shop@example.com quarantined", "email from m…@example.com quarantined"),
        ("relay: 451 <Tom.O'Neill@mail.example.org> busy", "relay: 451 <T…@mail.example.org> busy"),
        ("call +49 30 1234 5678 now", "call <phone …78> now"),
        ("or 0151-2345678, or (555) 123-4567.", "or <phone …78>, or <phone …67>."),
        ("token omb_AbCdEf0123456789_-xyz and whsec_abcdefghij12", "token omb_… and whsec_…"),
        ('"GET /portal/login/AbCdEf0123456789_-xyzAbCd HTTP/1.1" 200', '"GET /portal/login/… HTTP/1.1" 200'),
        ("POST /api/v1/surveys/AbCdEf0123456789_-xyz?x=1", "POST /api/v1/surveys/…?x=1"),
    ],
)
def test_the_mask_hides_addresses_phones_and_credentials(line: str, masked: str) -> None:
    assert logmask.mask(line) == masked


@pytest.mark.parametrize(
    "line",
    [
        "2026-12-05 06:23:00,123 INFO ombud: message 1733380000 on ticket 42",
        "listening on 127.0.0.1:8000, uvicorn 0.30.1, UID 123456 of mailbox support",
        "sweep re-enqueued pending work: {'triage': 12, 'delivery': 3}",
        "took 2026-12-05 to 2026/12/06, in 1234567 ms",
    ],
)
def test_the_mask_leaves_times_ids_and_addresses_of_machines_alone(line: str) -> None:
    assert logmask.mask(line) == line


class _RefusingRelay:
    """A relay that wants a password (AUTH LOGIN/PLAIN) and then answers every DATA with a temporary
    refusal that quotes the recipient, as Postfix does for a full mailbox."""

    def __init__(self, password: str) -> None:
        self.password = password
        self.logins: list[str] = []

    def authenticate(
        self, server: SMTP, session: SmtpSession, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        self.logins.append(auth_data.login.decode())
        return AuthResult(success=auth_data.password.decode() == self.password)

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: Envelope) -> str:
        return f"451 4.2.2 <{envelope.rcpt_tos[0]}>: mailbox full, try again later"


@contextlib.contextmanager
def _captured_logs() -> Iterator[io.StringIO]:
    """Everything the app logs at DEBUG while in use, through the logging setup `ombud serve` and
    `ombud worker` make (their handler and its filter), not through pytest's capture."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    root.handlers = []
    written = io.StringIO()
    real_stderr = sys.stderr
    sys.stderr = written  # basicConfig's handler writes to the stderr of the moment it is made
    try:
        cli_main._configure_logging(Settings(log_level="debug"))
    finally:
        sys.stderr = real_stderr
    try:
        yield written
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers, root.level = saved_handlers, saved_level


@pytest.mark.slow
def test_a_realistic_session_logs_no_secret_and_no_customer_contact_details(
    tmp_path: Path, database_url: str
) -> None:
    """Email in by SMTP, a customer's reply bounced by a relay that needs a password, a flood quarantined,
    a portal link that cannot be sent, a webhook to a dead endpoint, a staff sign-in by password, API calls
    by token: at DEBUG, nothing written names the customer's address or phone, or shows a password, token,
    secret or session cookie; the masked forms show the lines were there."""
    customer = "maria.lopez@example.com"
    phone = "+49 151 2345 6789"
    relay_password = "relay-pa55word-Zq9"
    staff_password = "staff-passphrase-Xy7"
    relay = _RefusingRelay(relay_password)
    loop = asyncio.new_event_loop()
    relay_port = free_port()
    controller = Controller(
        relay,
        hostname="127.0.0.1",
        port=relay_port,
        loop=loop,
        authenticator=relay.authenticate,
        auth_require_tls=False,
    )
    controller.start()
    settings = Settings(
        home=tmp_path,
        database_url=database_url,
        smtp_relay=f"127.0.0.1:{relay_port}",
        smtp_relay_username="desk",
        smtp_relay_password=relay_password,
        email_address=SUPPORT,
        email_flood_limit=2,
        log_level="debug",
    )
    mail_runtime = build_runtime(settings, queue_url="memory://")
    receiver = SmtpReceiver(
        database=mail_runtime.database, config=mail_runtime.email, host="127.0.0.1", port=free_port()
    )
    receiver.start()
    secrets_seen: list[str] = [relay_password, staff_password]
    try:
        with _captured_logs() as written:
            cast = make_people(mail_runtime)
            secrets_seen += [cast.admin.token, cast.agent.token, cast.customer.token]
            for n in range(3):  # the third in ten minutes is a flood: quarantined, and logged
                mail = EmailMessage()
                mail["From"] = f"María López <{customer}>"
                mail["To"] = SUPPORT
                mail["Subject"] = f"Order A-1029{n} never arrived"
                mail["Message-ID"] = f"<sec.{n}@mail.example.com>"
                mail.set_content(f"Please call me back on {phone}.\n\nMaría")
                # Generous: the first email loads the triage models on a busy machine.
                with smtplib.SMTP("127.0.0.1", receiver.port, timeout=120) as smtp:
                    smtp.send_message(mail)
            with TestClient(app_for(mail_runtime), raise_server_exceptions=False) as api:
                hook = api.post(
                    "/api/v1/webhooks",
                    json={
                        "name": "Dead",
                        "url": f"http://127.0.0.1:{free_port()}/hook",
                        "events": ["ticket.*"],
                    },
                    headers=cast.admin.headers,
                ).json()
                secrets_seen.append(hook["secret"])
                opened = api.get("/api/v1/tickets", headers=cast.agent.headers).json()["items"]
                assert len(opened) == 2
                reply = api.post(
                    f"/api/v1/tickets/{opened[0]['id']}/messages",
                    json={"body": "We are on it."},
                    headers=cast.agent.headers,
                )
                assert reply.status_code == 201, reply.text
                delivery = api.get(
                    f"/api/v1/messages/{reply.json()['id']}/delivery", headers=cast.agent.headers
                )
                assert "mailbox full" in delivery.json()["last_error"]  # the relay's refusal was met
                new_ticket(api, cast.agent, customer={"email": customer, "phone": phone})
                link_form = api.get("/portal/login")
                api.post("/portal/login", data={"email": customer, "csrf_token": form_csrf(link_form.text)})
                set_password(mail_runtime, "lead@desk.test", staff_password)
                form = api.get("/login")
                signed_in = api.post(
                    "/login",
                    data={
                        "email": "lead@desk.test",
                        "password": staff_password,
                        "csrf_token": form_csrf(form.text),
                    },
                    follow_redirects=False,
                )
                assert signed_in.status_code == 303
                secrets_seen.append(api.cookies["ombud_session"])
                assert api.get("/agent/inbox").status_code == 200
            assert relay.logins and set(relay.logins) == {"desk"}  # the relay password was really used
            logging.getLogger("ombud.test").info(
                "an exception names %s", customer, exc_info=ValueError(customer)
            )
        text = written.getvalue()
    finally:
        receiver.stop()
        controller.stop()
        loop.close()
        mail_runtime.close()
    assert len(text.splitlines()) > 20, text  # DEBUG really was on
    for secret in secrets_seen:
        assert secret not in text, f"a secret reached the log: {secret[:6]}…"
    lowered = text.lower()
    assert customer not in lowered and "maria.lopez" not in lowered
    assert not re.search(r"2345\D?6789", text), "the customer's phone number reached the log"
    # The lines that named her are there, masked: the filter worked, the flow was not silent.
    assert re.search(r"m…@example\.com.*quarantined", text), "the flood's quarantine line is missing"
    assert "mailbox full" in text and "<m…@example.com>" in text


def test_uvicorn_access_and_error_logs_are_masked_too() -> None:
    """`ombud serve` hands uvicorn its logging configuration with the filter on every handler: an access
    line whose path names a customer is masked, and uvicorn's formatter still gets its five arguments."""
    script = (
        "import logging, logging.config\n"
        "from uvicorn.config import LOGGING_CONFIG\n"
        "from ombud import logmask\n"
        "logging.config.dictConfig(logmask.uvicorn_log_config(LOGGING_CONFIG))\n"
        "logging.getLogger('uvicorn.access').info('%s - \"%s %s HTTP/%s\" %d', '127.0.0.1:5000', 'GET',"
        " '/api/v1/customers?email=maria.lopez@example.com&token=omb_0123456789abcdef', '1.1', 200)\n"
        "logging.getLogger('uvicorn.error').error('bad request from +49 151 2345 6789')\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    written = run.stdout + run.stderr
    assert '"GET /api/v1/customers?email=m…@example.com&token=omb_… HTTP/1.1" 200' in written, written
    assert "127.0.0.1:5000" in written and "bad request from <phone …89>" in written
    assert "maria.lopez" not in written and "2345 6789" not in written
