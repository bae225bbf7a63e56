"""IMAP polling: the second way email comes in. Each mailbox in OMBUD_IMAP_MAILBOXES is read by its own
thread (`ImapPoller`) with IDLE where the server offers it, and every new email goes through the same
`take_in` as the SMTP receiver.

How far a mailbox has been read lives in the database (`MailboxCursor`: the folder's UIDVALIDITY and the
last UID taken in), advanced after each email is stored: a crash loses nothing and re-reads at most the
one email it was storing, which the Message-ID check then drops as a duplicate. A changed UIDVALIDITY
(the server renumbered the folder) starts over from the first UID for the same reason.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError
from sqlalchemy import exists, select, update
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from ombud.channels import service as channels
from ombud.channels.email.parse import parse_email
from ombud.channels.email.service import CHANNEL, EmailConfig
from ombud.channels.email.smtp import take_in
from ombud.channels.models import MailboxCursor, Quarantined, QuarantineState
from ombud.settings import ImapMailbox
from ombud.storage.base import utcnow
from ombud.storage.db import Database

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 60.0  # connect and read; a server that says nothing for a minute is gone
SIZE_CHUNK = 500  # UIDs whose sizes are asked in one FETCH
BATCH = 20  # emails downloaded in one FETCH ...
BATCH_BYTES = 16 * 1024 * 1024  # ... and at most this many bytes of them (one bigger email goes alone)
SEEN_BATCH = 50  # emails marked \Seen in one STORE
IDLE_RENEW_SECONDS = 29 * 60  # RFC 2177: re-issue IDLE before the server's 30-minute inactivity logout
KEEP_CONNECTION_SECONDS = 20 * 60  # polling less often than this logs out in between
FIRST_BACKOFF_SECONDS = 5.0
MAX_BACKOFF_SECONDS = 300.0
# A database that cannot be reached: keep the email on the server and try again later. Any other error
# while storing one email is about that email, which is then quarantined so it cannot block the rest.
_DATABASE_DOWN = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)


def connect(mailbox: ImapMailbox, *, timeout: float = TIMEOUT_SECONDS) -> Any:
    """Return an `IMAPClient` logged in to ``mailbox`` over its ``security`` (certificates verified)."""
    client = _open(mailbox, timeout=timeout)
    try:
        _log_in(client, mailbox)
    except BaseException:
        _close(client, logout=False)
        raise
    return client


def _open(mailbox: ImapMailbox, *, timeout: float) -> Any:
    context = ssl.create_default_context() if mailbox.security == "ssl" else None
    return IMAPClient(
        mailbox.host, port=mailbox.port, ssl=mailbox.security == "ssl", ssl_context=context, timeout=timeout
    )


def _log_in(client: Any, mailbox: ImapMailbox) -> None:
    if mailbox.security == "starttls":
        # Raises when the server does not offer STARTTLS: never fall back to sending the password in
        # the clear.
        client.starttls(ssl.create_default_context())
    client.login(mailbox.username, mailbox.password)


def poll_mailbox(
    *, database: Database, mailbox: ImapMailbox, config: EmailConfig, timeout: float = TIMEOUT_SECONDS
) -> int:
    """Connect, take in every new email of ``mailbox`` once, log out; return how many were taken in."""
    client = connect(mailbox, timeout=timeout)
    try:
        return take_new(client=client, database=database, mailbox=mailbox, config=config)
    finally:
        _close(client)


def take_new(
    *,
    client: Any,
    database: Database,
    mailbox: ImapMailbox,
    config: EmailConfig,
    stop: threading.Event | None = None,
) -> int:
    """Take in the emails of ``mailbox`` above its cursor with a logged-in ``client``; return how many.

    Every email handed to `take_in` counts, whatever it made of it (a ticket, a reply, a duplicate, the
    quarantine); one over `EmailConfig.max_email_bytes` is quarantined from its headers and does not.
    Stored emails are marked \\Seen. Returns early, between two emails, once ``stop`` is set. Raises on
    connection errors and when the database is unavailable; what is stored stays stored.
    """
    return _take_new(client=client, database=database, mailbox=mailbox, config=config, stop=stop)[0]


def _take_new(
    *,
    client: Any,
    database: Database,
    mailbox: ImapMailbox,
    config: EmailConfig,
    stop: threading.Event | None,
) -> tuple[int, int | None]:
    """`take_new`, plus the folder's UIDNEXT when the pass began (the pass saw every email below it)."""
    info = client.select_folder(mailbox.folder)
    uidvalidity = int(info.get(b"UIDVALIDITY", 0))
    if not uidvalidity:
        raise IMAPClientError(f"the server gave no UIDVALIDITY for folder {mailbox.folder!r}")
    uidnext = info.get(b"UIDNEXT")
    last_uid = _open_cursor(database=database, mailbox=mailbox, uidvalidity=uidvalidity)
    # "N:*" always matches the highest UID, even below N: keep only the new ones.
    uids = sorted(uid for uid in client.search(["UID", f"{last_uid + 1}:*"]) if uid > last_uid)
    taken = 0
    seen: list[int] = []
    for uid, size, raw in _download(client=client, uids=uids, limit=config.max_email_bytes, stop=stop):
        if raw is None:
            _quarantine_too_large(
                client=client, database=database, mailbox=mailbox, uid=uid, size=size, config=config
            )
            _advance(database=database, mailbox=mailbox, uidvalidity=uidvalidity, uid=uid)
        else:
            # The cursor moves in the email's own transaction: the cursor is the truth about what was taken
            # in; \Seen is for people reading the mailbox, set a batch at a time.
            _store(
                database=database, mailbox=mailbox, uid=uid, raw=raw, config=config, uidvalidity=uidvalidity
            )
            taken += 1
            seen.append(uid)
            if len(seen) >= SEEN_BATCH:
                _mark_seen(client=client, mailbox=mailbox, uids=seen)
                seen = []
    if seen:
        _mark_seen(client=client, mailbox=mailbox, uids=seen)
    if taken:
        log.info("IMAP mailbox %s: took in %d email(s)", mailbox.name, taken)
    return taken, int(uidnext) if uidnext is not None else None


def _download(
    *, client: Any, uids: list[int], limit: int, stop: threading.Event | None
) -> Iterator[tuple[int, int, bytes | None]]:
    """Yield (uid, size, raw) in UID order, raw None when the email is over ``limit`` bytes.

    An email that vanished from the server in the meantime (expunged by another client) is left out.
    """
    for start in range(0, len(uids), SIZE_CHUNK):
        chunk = uids[start : start + SIZE_CHUNK]
        fetched = client.fetch(chunk, ["RFC822.SIZE"])
        sizes = {uid: int(data.get(b"RFC822.SIZE", 0)) for uid, data in fetched.items()}
        for too_large, group in _batches([uid for uid in chunk if uid in sizes], sizes, limit):
            if stop is not None and stop.is_set():
                return
            if too_large:
                yield group[0], sizes[group[0]], None
                continue
            bodies = client.fetch(group, ["BODY.PEEK[]"])
            for uid in group:
                if stop is not None and stop.is_set():
                    return
                raw = bodies.get(uid, {}).get(b"BODY[]")
                if raw is not None:
                    yield uid, sizes[uid], bytes(raw)


def _batches(uids: list[int], sizes: dict[int, int], limit: int) -> list[tuple[bool, list[int]]]:
    """Group ``uids`` (in order) into downloads of at most BATCH emails and BATCH_BYTES (an email bigger
    than that goes alone); an email over ``limit`` is a group of its own marked too large."""
    groups: list[tuple[bool, list[int]]] = []
    for uid in uids:
        if sizes[uid] > limit:
            groups.append((True, [uid]))
            continue
        last = groups[-1][1] if groups and not groups[-1][0] else None
        if (
            last is None
            or len(last) >= BATCH
            or sum(sizes[other] for other in last) + sizes[uid] > BATCH_BYTES
        ):
            groups.append((False, [uid]))
        else:
            last.append(uid)
    return groups


def _open_cursor(*, database: Database, mailbox: ImapMailbox, uidvalidity: int) -> int:
    """Return the last UID taken in from ``mailbox``, creating its cursor or starting it over."""
    with database.session(write=True) as session:
        cursor = session.get(MailboxCursor, mailbox.name)
        if cursor is None:
            cursor = MailboxCursor(mailbox=mailbox.name, uidvalidity=uidvalidity, last_uid=0)
            session.add(cursor)
        elif cursor.uidvalidity != uidvalidity:
            log.warning(
                "IMAP mailbox %s: UIDVALIDITY changed (%d, was %d): reading folder %s again from the start; "
                "emails already taken in are recognised by their Message-ID",
                mailbox.name,
                uidvalidity,
                cursor.uidvalidity,
                mailbox.folder,
            )
            cursor.uidvalidity, cursor.last_uid = uidvalidity, 0
        last_uid = int(cursor.last_uid or 0)
        session.commit()
    return last_uid


def _advance(*, database: Database, mailbox: ImapMailbox, uidvalidity: int, uid: int) -> None:
    with database.session(write=True) as session:
        _move_cursor(session, mailbox=mailbox, uidvalidity=uidvalidity, uid=uid)
        session.commit()


def _move_cursor(session: Session, *, mailbox: ImapMailbox, uidvalidity: int, uid: int) -> None:
    session.execute(
        update(MailboxCursor)
        .where(
            MailboxCursor.mailbox == mailbox.name,
            MailboxCursor.uidvalidity == uidvalidity,
            MailboxCursor.last_uid < uid,
        )
        .values(last_uid=uid, updated_at=utcnow())
    )


def _store(
    *, database: Database, mailbox: ImapMailbox, uid: int, raw: bytes, config: EmailConfig, uidvalidity: int
) -> None:
    source = f"imap:{mailbox.name}"

    def advance(session: Session) -> None:
        _move_cursor(session, mailbox=mailbox, uidvalidity=uidvalidity, uid=uid)

    try:
        received = take_in(database=database, raw=raw, source=source, config=config, also=advance)
    except _DATABASE_DOWN:
        raise
    except Exception as error:
        log.exception("IMAP mailbox %s: could not take in UID %d; quarantining it", mailbox.name, uid)
        with database.session(write=True) as session:
            digest = channels.store_raw(session=session, data=raw)
            parsed = parse_email(raw)
            channels.quarantine(
                session=session,
                channel=CHANNEL,
                source=source,
                raw_sha256=digest,
                reason_code="intake_error",
                reason=f"ombud could not take this email in ({type(error).__name__}: {error}); "
                "release it to try again",
                sender=parsed.sender,
                subject=parsed.subject,
            )
            advance(session)
            session.commit()
        return
    log.debug(
        "IMAP mailbox %s: UID %d %s (ticket %s)", mailbox.name, uid, received.outcome, received.ticket_id
    )
    if received.outcome == "quarantined":
        log.info("IMAP mailbox %s: UID %d quarantined: %s", mailbox.name, uid, received.reason)


def _quarantine_too_large(
    *, client: Any, database: Database, mailbox: ImapMailbox, uid: int, size: int, config: EmailConfig
) -> None:
    """Quarantine the email at ``uid`` from its headers alone (once, even when read again)."""
    header = bytes(client.fetch([uid], ["BODY.PEEK[HEADER]"]).get(uid, {}).get(b"BODY[HEADER]") or b"")
    if not header:
        return  # expunged in the meantime
    log.warning(
        "IMAP mailbox %s: UID %d is %d bytes, over the %d-byte limit: quarantined from its headers, "
        "left unread on the server",
        mailbox.name,
        uid,
        size,
        config.max_email_bytes,
    )
    with database.session(write=True) as session:
        digest = channels.store_raw(session=session, data=header)
        held = session.scalar(
            select(
                exists().where(
                    Quarantined.raw_sha256 == digest,
                    Quarantined.reason_code == "too_large",
                    Quarantined.state == QuarantineState.held,
                )
            )
        )
        if not held:
            parsed = parse_email(header)
            channels.quarantine(
                session=session,
                channel=CHANNEL,
                source=f"imap:{mailbox.name}",
                raw_sha256=digest,
                reason_code="too_large",
                reason=f"the email is {size} bytes, over OMBUD_MAX_EMAIL_BYTES ({config.max_email_bytes}), "
                f"so it was not downloaded: only its headers are kept here. The whole email is still in "
                f"IMAP mailbox {mailbox.name!r}, folder {mailbox.folder!r}, UID {uid}, left unread.",
                sender=parsed.sender,
                subject=parsed.subject,
            )
        session.commit()


def _mark_seen(*, client: Any, mailbox: ImapMailbox, uids: list[int]) -> None:
    try:
        client.add_flags(uids, [b"\\Seen"], silent=True)
    except IMAPClientAbortError:
        raise
    except IMAPClientError as error:
        # A read-only folder: the email is stored and the cursor moves on all the same.
        log.warning("IMAP mailbox %s: could not mark %d email(s) as seen: %s", mailbox.name, len(uids), error)


def _close(client: Any, *, logout: bool = True) -> None:
    if logout:
        try:
            client.logout()
        except Exception:  # noqa: S110 (the connection is going anyway)
            pass
        else:
            return
    with contextlib.suppress(Exception):
        client.shutdown()


class ImapPoller:
    """Reads one mailbox on a background thread until `stop`: with IDLE where the server offers it and
    ``mailbox.idle`` is on (plus a pass every ``poll_seconds`` as a safety net), else every
    ``poll_seconds``. A connection or login error is logged and retried with backoff; it never dies."""

    def __init__(
        self,
        *,
        database: Database,
        mailbox: ImapMailbox,
        config: EmailConfig,
        wake_seconds: float = 1.0,
        first_backoff: float = FIRST_BACKOFF_SECONDS,
        max_backoff: float = MAX_BACKOFF_SECONDS,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self.database = database
        self.mailbox = mailbox
        self.config = config
        self.wake_seconds = wake_seconds
        self.first_backoff = first_backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._backoff = first_backoff
        self._lock = threading.Lock()
        self._client: Any = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        if self.mailbox.security == "none" and self.mailbox.host not in {"127.0.0.1", "::1", "localhost"}:
            log.warning(
                "IMAP mailbox %s: security is none: the password crosses the network unencrypted",
                self.mailbox.name,
            )
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"imap-{self.mailbox.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread: within about ``wake_seconds`` when it waits, at once when it is stuck on the
        network (its connection is cut: what was stored stays stored, the rest is read next time)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is None:
            return
        began = time.monotonic()
        thread.join(min(timeout, self.wake_seconds + 0.5))
        if thread.is_alive():
            with self._lock:
                client = self._client
            if client is not None:
                with contextlib.suppress(Exception):
                    client.socket().shutdown(socket.SHUT_RDWR)
            thread.join(max(0.0, timeout - (time.monotonic() - began)))
        if thread.is_alive():
            log.warning(
                "IMAP mailbox %s: still busy after %.3g s; leaving it to exit", self.mailbox.name, timeout
            )

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._read()
            except Exception as error:
                if self._stop.is_set():
                    break  # stop() cut the connection
                self._failed(error)
                if self._stop.wait(self._backoff):
                    break
                self._backoff = min(self._backoff * 2, self.max_backoff)
            else:
                # Only when polling too rarely to keep the connection: wait logged out.
                self._stop.wait(self.mailbox.poll_seconds)

    def _failed(self, error: Exception) -> None:
        # Login errors carry the server's words only; the password is scrubbed all the same.
        password = self.mailbox.password
        message = str(error).replace(password, "***") if password else str(error)
        if isinstance(error, (IMAPClientError, OSError, *_DATABASE_DOWN)):
            log.warning(
                "IMAP mailbox %s (%s at %s:%d): %s: %s; trying again in %.3g s",
                self.mailbox.name,
                self.mailbox.username,
                self.mailbox.host,
                self.mailbox.port,
                type(error).__name__,
                message,
                self._backoff,
            )
        else:
            log.error(
                "IMAP mailbox %s: unexpected %s: %s; trying again in %.3g s",
                self.mailbox.name,
                type(error).__name__,
                message,
                self._backoff,
                exc_info=(type(error), error, error.__traceback__),
            )

    def _read(self) -> None:
        """Connect and take in mail until stopped (returns) or the connection fails (raises)."""
        client = _open(self.mailbox, timeout=self.timeout)
        with self._lock:
            self._client = client
        try:
            _log_in(client, self.mailbox)
            use_idle = self.mailbox.idle and client.has_capability("IDLE")
            keep = use_idle or self.mailbox.poll_seconds <= KEEP_CONNECTION_SECONDS
            log.info(
                "IMAP mailbox %s: reading %s at %s:%d, %s",
                self.mailbox.name,
                self.mailbox.folder,
                self.mailbox.host,
                self.mailbox.port,
                "waiting with IDLE" if use_idle else f"every {self.mailbox.poll_seconds} s",
            )
            while not self._stop.is_set():
                _, uidnext = _take_new(
                    client=client,
                    database=self.database,
                    mailbox=self.mailbox,
                    config=self.config,
                    stop=self._stop,
                )
                self._backoff = self.first_backoff
                if use_idle:
                    if not self._arrived_since(client, uidnext):
                        self._idle(client)
                elif not keep:
                    return  # log out below; _run waits
                elif self._stop.wait(self.mailbox.poll_seconds):
                    return
        finally:
            with self._lock:
                self._client = None
            _close(client)

    def _arrived_since(self, client: Any, uidnext: int | None) -> bool:
        """Whether mail arrived during the pass that began at ``uidnext``.

        Asked with SELECT, whose answer is complete, as the last command before IDLE: the server may
        announce an arrival at the end of one of the pass's own commands (which ignore it), and IDLE
        announces only what comes after it.
        """
        if uidnext is None:
            return False  # a server without UIDNEXT: the pass every poll_seconds is the safety net
        now = client.select_folder(self.mailbox.folder).get(b"UIDNEXT")
        return now is not None and int(now) > uidnext

    def _idle(self, client: Any) -> None:
        """Wait in IDLE until the folder changes, ``poll_seconds`` pass, or `stop` (within wake_seconds)."""
        client.idle()
        began = time.monotonic()
        renew = min(IDLE_RENEW_SECONDS, self.mailbox.poll_seconds)
        try:
            while not self._stop.is_set() and time.monotonic() - began < renew:
                checked = time.monotonic()
                responses = client.idle_check(timeout=self.wake_seconds)
                if any(not (isinstance(r, tuple) and r[:1] == (b"OK",)) for r in responses):
                    return  # new mail, an expunge, a flag change or BYE: read the folder again
                if not responses and time.monotonic() - checked < self.wake_seconds / 2:
                    # The socket was readable but held no response: the server closed it. DONE below
                    # raises, and _run reconnects.
                    return
        finally:
            client.idle_done()
