"""Settings, read once at the entry point (``ombud serve``, ``ombud worker``, a test fixture) and passed down.

Every field is an ``OMBUD_*`` environment variable; command-line flags override them. ``ombud settings``
lists them with their descriptions, so the description here is the documentation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ImapMailbox(BaseModel):
    """One IMAP mailbox ombud polls for customer email (an entry of OMBUD_IMAP_MAILBOXES)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,49}$", description="Short unique name, e.g. support.")
    host: str = Field(min_length=1)
    port: int = Field(default=993, ge=1, le=65535)
    username: str = Field(min_length=1)
    password: str
    security: Literal["ssl", "starttls", "none"] = "ssl"
    folder: str = "INBOX"
    poll_seconds: int = Field(default=60, ge=1, le=3600, description="Polling interval without IDLE.")
    idle: bool = Field(default=True, description="Wait with IMAP IDLE when the server offers it.")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OMBUD_", extra="ignore")

    home: Path = Field(
        default=Path(".ombud"),
        description="Folder for the embedded database, the job queue file and other local state.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the database. Default: SQLite file ombud.db under OMBUD_HOME. "
        "PostgreSQL: postgresql+psycopg://user@host:5432/dbname.",
    )
    queue_url: str | None = Field(
        default=None,
        description="Where background jobs wait. Default: SQLite file queue.db under OMBUD_HOME (jobs run "
        "inside `ombud serve`). redis://host:6379/0 for separate `ombud worker` processes.",
    )
    queue_name: str = Field(default="ombud", description="Name of the job queue (a Redis key prefix).")
    run_worker: bool = Field(
        default=True,
        description="Run background jobs inside `ombud serve`. Turn off when `ombud worker` processes "
        "consume the queue.",
    )
    worker_threads: int = Field(default=2, ge=1, le=64, description="Job threads per worker process.")
    sweep_every_minutes: int = Field(
        default=1,
        ge=1,
        le=59,
        description="How often (minutes) the sweep re-enqueues work recorded as pending in the database.",
    )
    host: str = Field(default="127.0.0.1", description="Address `ombud serve` listens on.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port `ombud serve` listens on.")
    public_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^/?#\s]+(/[^?#\s]*)?$",
        description="The address customers reach ombud at (https://help.example.com), for the links in "
        "emails. Without it: http://OMBUD_HOST:OMBUD_PORT. Never taken from a request's Host header.",
    )
    max_body_chars: int = Field(
        default=200_000, ge=1, description="Longest message body accepted, in characters."
    )
    max_attachment_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1, description="Largest single attachment accepted, in bytes."
    )
    max_attachments: int = Field(default=20, ge=0, description="Most attachments on one message.")
    smtp_port: int = Field(
        default=2525,
        ge=0,
        le=65535,
        description="Port of the SMTP receiver `ombud serve` starts (on OMBUD_HOST); 0 turns it off.",
    )
    smtp_relay: str | None = Field(
        default=None,
        description="host:port of the SMTP relay agents' email replies go out through. Unset: replies are "
        "kept and marked failed until it is set.",
    )
    smtp_relay_username: str | None = Field(default=None, description="User name for the SMTP relay, if any.")
    smtp_relay_password: str | None = Field(default=None, description="Password for the SMTP relay, if any.")
    smtp_relay_starttls: bool = Field(default=False, description="Use STARTTLS with the SMTP relay.")
    email_address: str = Field(
        default="support@ombud.localhost",
        description="The address replies come from; its domain ends every outgoing Message-ID.",
    )
    email_name: str = Field(default="Support", description="The display name replies come from.")
    max_email_bytes: int = Field(
        default=25 * 1024 * 1024, ge=1024, description="Largest inbound email accepted, in bytes (SMTP SIZE)."
    )
    email_flood_limit: int = Field(
        default=30,
        ge=1,
        description="Messages one customer may send in 10 minutes; more are quarantined, not lost.",
    )
    form_rate_limit: int = Field(
        default=5,
        ge=1,
        description="Web form submissions one client address may make in 10 minutes; more get 429.",
    )
    chat_visitor_limit: int = Field(
        default=30,
        ge=1,
        description="New chat visitors one client address may start in 10 minutes; more get 429.",
    )
    imap_mailboxes: list[ImapMailbox] = Field(
        default_factory=list,
        description="IMAP mailboxes `ombud serve` polls, as a JSON list: "
        '[{"name": "support", "host": "imap.example.com", "username": "support@example.com", '
        '"password": "...", "security": "ssl", "folder": "INBOX"}]. Each is read with IDLE where the '
        "server offers it, else every poll_seconds.",
    )
    assistant_answer_threshold: float = Field(
        default=0.73,
        ge=0,
        le=1,
        description="Search score (0-1) the best article needs for the self-service assistant to answer "
        "with it; below it the assistant hands over (low_confidence).",
    )
    assistant_out_of_scope_below: float = Field(
        default=0.6,
        ge=0,
        le=1,
        description="Below this search score no article is about the question at all (out_of_scope).",
    )
    assistant_frustration_limit: float = Field(
        default=0.6, ge=0, le=1, description="Triage frustration (0-1) at which the assistant hands over."
    )
    assistant_refund_limit: float = Field(
        default=100.0,
        ge=0,
        description="A refund request over this amount goes to a person (reason: sensitive).",
    )
    assistant_llm_url: str | None = Field(
        default=None,
        description="Base URL of an OpenAI-compatible API (e.g. http://localhost:8080/v1) that phrases the "
        "assistant's answers from the retrieved passages only. Unset (default): extractive answers, no "
        "model.",
    )
    assistant_llm_key: str | None = Field(default=None, description="API key for OMBUD_ASSISTANT_LLM_URL.")
    assistant_llm_model: str = Field(
        default="gpt-4o-mini", description="Model name sent to OMBUD_ASSISTANT_LLM_URL."
    )
    training_llm_url: str | None = Field(
        default=None,
        description="Base URL of an OpenAI-compatible API (e.g. http://localhost:8080/v1) that plays the "
        "role-play trainer's simulated customer more freely. Unset (default): the built-in rules play it. "
        "Scoring stays rule-based either way.",
    )
    training_llm_key: str | None = Field(default=None, description="API key for OMBUD_TRAINING_LLM_URL.")
    training_llm_model: str = Field(
        default="gpt-4o-mini", description="Model name sent to OMBUD_TRAINING_LLM_URL."
    )
    assistant_rate_limit: int = Field(
        default=60,
        ge=1,
        description="Questions one client address may ask the assistant without a token in 10 minutes.",
    )
    cookie_secure: bool = Field(
        default=False,
        description="Always mark session cookies Secure (HTTPS only). Without it they are Secure when the "
        "request came over HTTPS; set it behind a TLS-terminating proxy.",
    )
    login_rate_limit: int = Field(
        default=10,
        ge=1,
        description="Sign-in attempts (workspace passwords, portal links) one client address or one email "
        "address may make in 10 minutes.",
    )

    @property
    def base_url(self) -> str:
        """Where links in emails point: OMBUD_PUBLIC_URL, or the address `ombud serve` listens on."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    show_login_links: bool = Field(
        default=False,
        description="Show customer portal sign-in links on the page as well as emailing them: for demos "
        "and development without an SMTP relay (`ombud serve --demo` turns it on); never in production.",
    )
    log_level: str = Field(default="info", description="Log level: debug, info, warning or error.")
    routing_triage_wait_seconds: int = Field(
        default=120,
        ge=0,
        le=3600,
        description="How long routing holds a new ticket for triage (intent, language) before it assigns it "
        "without; checked by the sweep, so at least OMBUD_SWEEP_EVERY_MINUTES in practice.",
    )
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, description="How long a webhook delivery waits for the endpoint's answer."
    )
    webhook_max_attempts: int = Field(
        default=8, ge=1, le=20, description="Attempts at a webhook delivery before it is marked failed."
    )
    webhook_retry_seconds: int = Field(
        default=30,
        ge=1,
        le=3600,
        description="Wait before a webhook's first retry; each later retry waits twice as long (up to 6 h).",
    )
    advocacy_recluster_hours: int = Field(
        default=24,
        ge=1,
        le=24 * 31,
        description="Hours between re-clusterings of all advocacy themes (online assignment keeps them "
        "current in between; `ombud advocacy recluster` runs one now).",
    )
    advocacy_verify_days: int = Field(
        default=7,
        ge=1,
        le=365,
        description="Days after an advocacy case's customers were told before ombud checks that its theme "
        "stopped growing (verified) or alerts that it is still growing.",
    )
    advocacy_digest_weekday: int = Field(
        default=0,
        ge=0,
        le=6,
        description="Weekday the weekly advocacy digest goes to each department (0 Monday, 6 Sunday; UTC).",
    )
    advocacy_digest_hour: int = Field(
        default=7, ge=0, le=23, description="Hour (UTC) on that weekday the weekly advocacy digest goes out."
    )
    conduct_policy_url: str | None = Field(
        default=None,
        max_length=500,
        description="A link to the company's conduct policy, added to the one-click conduct reply to an "
        "abusive customer (unset: the reply states the policy without a link).",
    )

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.lower() not in {"debug", "info", "warning", "error"}:
            raise ValueError("must be one of debug, info, warning, error")
        return value.lower()

    @field_validator("smtp_relay")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        host, _, port = value.strip().rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("must be host:port, for example mail.example.com:587")
        return value.strip()

    @field_validator("imap_mailboxes")
    @classmethod
    def _unique_mailboxes(cls, value: list[ImapMailbox]) -> list[ImapMailbox]:
        names = [mailbox.name for mailbox in value]
        if len(set(names)) != len(names):
            raise ValueError("every mailbox needs its own name")
        return value

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.home / 'ombud.db').resolve()}"

    @property
    def effective_queue_url(self) -> str:
        return self.queue_url or f"sqlite:///{(self.home / 'queue.db').resolve()}"

    def with_overrides(self, **overrides: Any) -> Settings:
        """Return a copy with the given non-None values replaced (command-line flags win over env)."""
        clean = {k: v for k, v in overrides.items() if v is not None}
        return self.model_copy(update=clean) if clean else self


def describe(settings: Settings) -> list[tuple[str, str, str]]:
    """Return (environment variable, description, current value) for every setting."""
    rows = []
    for name, field in Settings.model_fields.items():
        value = getattr(settings, name)
        if name == "database_url" and value is None:
            value = f"(default) {settings.effective_database_url}"
        elif name == "queue_url" and value is None:
            value = f"(default) {settings.effective_queue_url}"
        elif ("password" in name or name.endswith("_key")) and value:
            value = "(set)"
        elif name == "imap_mailboxes":
            value = [mailbox.model_dump(exclude={"password"}) for mailbox in value]
        rows.append((f"OMBUD_{name.upper()}", field.description or "", str(value)))
    return rows
