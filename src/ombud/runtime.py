"""The composition root: turn settings into the database, the job queue and its jobs, once, at the entry
point. Everything below receives what it needs from here; nothing reads the environment by itself."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from ombud.advocacy import alert_jobs as advocacy_alert_jobs
from ombud.advocacy import case_jobs as advocacy_case_jobs
from ombud.advocacy import digest as advocacy_digest
from ombud.advocacy import jobs as advocacy_jobs
from ombud.automations import engine as automations
from ombud.automations import jobs as automations_jobs
from ombud.channels import jobs as channels_jobs
from ombud.channels.chat.hub import ChatHub, RedisChatHub
from ombud.channels.chat.service import ChatAdapter
from ombud.channels.email.service import EmailAdapter, EmailConfig
from ombud.channels.registry import Channels
from ombud.channels.social.service import SocialAdapter
from ombud.customers import jobs as customers_jobs
from ombud.events import jobs as events_jobs
from ombud.events.service import NamedConsumer
from ombud.knowledge import jobs as knowledge_jobs
from ombud.knowledge.assistant import AssistantConfig
from ombud.knowledge.search import Searcher
from ombud.partners import jobs as partners_jobs
from ombud.people import checks as people_checks
from ombud.people import load_jobs as people_load_jobs
from ombud.reports import jobs as reports_jobs
from ombud.resolutions import ledger as concession_ledger
from ombud.routing import jobs as routing_jobs
from ombud.search import jobs as search_jobs
from ombud.settings import Settings
from ombud.sla import jobs as sla_jobs
from ombud.storage.db import Database
from ombud.storage.queue import JobQueue, make_huey
from ombud.tickets import concerns
from ombud.tickets import jobs as tickets_jobs
from ombud.tickets.service import Limits
from ombud.triage import jobs as triage_jobs
from ombud.triage.embed import shared_minilm
from ombud.triage.engine import Models, Triage
from ombud.webhooks import jobs as webhooks_jobs
from ombud.webhooks import service as webhooks


@dataclass
class Runtime:
    settings: Settings
    database: Database
    queue: JobQueue
    limits: Limits
    triage: Triage
    channels: Channels
    email: EmailConfig
    chat_hub: ChatHub
    knowledge: Searcher
    assistant: AssistantConfig
    # The workflow consumers of ticket events (ombud.events), in the order they see each event.
    consumers: list[NamedConsumer]

    def close(self) -> None:
        self.chat_hub.close()
        self.database.dispose()


def build_runtime(settings: Settings, *, queue_url: str | None = None) -> Runtime:
    """Return the runtime for ``settings`` (``queue_url`` overrides the queue, e.g. memory:// in tests)."""
    database = Database(settings.effective_database_url)
    huey = make_huey(queue_url or settings.effective_queue_url, name=settings.queue_name)
    queue = JobQueue(huey, database, sweep_every_minutes=settings.sweep_every_minutes)
    search_jobs.register(queue)
    # Models load lazily, once per process, on first use (or at start-up through ``triage.models.warm()``).
    triage = Triage(Models())
    triage_jobs.register(queue, triage, database)
    knowledge = Searcher(shared_minilm())
    knowledge_jobs.register(queue, database, knowledge)
    customers_jobs.register(queue, database)
    limits = Limits(
        max_body_chars=settings.max_body_chars,
        max_attachment_bytes=settings.max_attachment_bytes,
        max_attachments=settings.max_attachments,
    )
    email = email_config(settings)
    channels = Channels()
    adapter = EmailAdapter(email)
    channels.register("email", adapter)
    channels.register("web", adapter)  # a web form's customer gets the answer by email
    channels.register("social", SocialAdapter())
    queue_url = queue_url or settings.effective_queue_url
    # Jobs in other processes (ombud worker) reach the server's chat connections through Redis.
    chat_hub = RedisChatHub(queue_url, settings.queue_name) if queue_url.startswith("redis") else ChatHub()
    channels.register("chat", ChatAdapter(chat_hub, adapter))
    channels_jobs.register(queue, channels, database)
    # Concerns first: the workflow consumers after it (reports, webhooks) see the concerns it tracks.
    consumers: list[NamedConsumer] = [NamedConsumer("concerns", concerns.track_triaged)]
    tickets_jobs.register(queue)
    events_jobs.register(queue, consumers)
    routing_jobs.register(queue, consumers, triage_wait_seconds=settings.routing_triage_wait_seconds)
    # SLA clocks follow each change (a team set by routing moves the ticket to that team's calendar).
    consumers.append(sla_jobs.CONSUMER)
    sla_jobs.register(queue)
    # The ledger's "came back with the same concern", when a customer's message is triaged.
    consumers.append(NamedConsumer("resolutions", concession_ledger.on_event))
    # Automation rules (event and time based) act on tickets as the system, after routing has assigned.
    consumers.append(NamedConsumer("automations", functools.partial(automations.handle_event, limits=limits)))
    automations_jobs.register(queue, limits)
    # Hard contacts (emotional load) and recovery breaks, once routing and automations have assigned.
    people_load_jobs.register(queue, consumers)
    # Every new concern joins an advocacy theme (a job embeds it outside the write lock; the embedder is
    # passed here so tests and benchmarks can give another).
    advocacy_jobs.register(
        queue,
        consumers,
        database=database,
        embedder=shared_minilm(),
        recluster_hours=settings.advocacy_recluster_hours,
    )
    # An agent's public reply is checked after it was sent (a job: the check may embed), for growth goals.
    consumers.append(NamedConsumer(people_checks.CONSUMER_NAME, people_checks.on_event))
    people_checks.register(queue, database=database)
    # Surveys after a solve; reports count what the other consumers decided, so they stay LAST among the
    # workflow consumers (append others above this line), followed only by outbound webhooks.
    reports_jobs.register(
        queue, consumers, database=database, channels=channels, email=email, base_url=settings.base_url
    )
    reports_jobs.register_reports_consumer(consumers)
    # Outbound webhooks last: a delivery's ticket snapshot shows what every other consumer did.
    consumers.append(NamedConsumer("webhooks", webhooks.handle_event))
    webhooks_jobs.register(
        queue,
        database,
        webhooks.WebhookConfig(
            timeout_seconds=settings.webhook_timeout_seconds,
            max_attempts=settings.webhook_max_attempts,
            retry_seconds=settings.webhook_retry_seconds,
        ),
    )
    # Advocacy cases after the webhooks: tickets join open cases as their concerns are themed, and a
    # department's tracker endpoint gets its cases' events that its subscriptions did not already give it.
    advocacy_case_jobs.register(queue, verify_days=settings.advocacy_verify_days)
    advocacy_case_jobs.register_consumers(consumers, base_url=settings.base_url)
    # The weekly digest per department (a schedule row per department, found by the sweep).
    advocacy_digest.register(
        queue,
        database=database,
        channels=channels,
        email=email,
        base_url=settings.base_url,
        weekday=settings.advocacy_digest_weekday,
        hour=settings.advocacy_digest_hour,
    )
    # A spike alert just opened is emailed to the owning department's notify_email.
    advocacy_alert_jobs.register(queue, database=database, channels=channels, base_url=settings.base_url)
    # Work orders no partner fitted yet are dispatched again; booked visits get a reminder the day before.
    partners_jobs.register(queue, base_url=settings.base_url)
    return Runtime(
        settings=settings,
        database=database,
        queue=queue,
        limits=limits,
        triage=triage,
        channels=channels,
        email=email,
        chat_hub=chat_hub,
        knowledge=knowledge,
        assistant=AssistantConfig(
            answer_threshold=settings.assistant_answer_threshold,
            out_of_scope_below=settings.assistant_out_of_scope_below,
            frustration_limit=settings.assistant_frustration_limit,
            refund_limit=settings.assistant_refund_limit,
            llm_url=settings.assistant_llm_url,
            llm_key=settings.assistant_llm_key,
            llm_model=settings.assistant_llm_model,
        ),
        consumers=consumers,
    )


def email_config(settings: Settings) -> EmailConfig:
    relay_host, relay_port = None, 25
    if settings.smtp_relay:
        host, _, port = settings.smtp_relay.rpartition(":")
        relay_host, relay_port = host.strip("[]"), int(port)
    return EmailConfig(
        address=settings.email_address.strip().lower(),
        display_name=settings.email_name,
        relay_host=relay_host,
        relay_port=relay_port,
        relay_username=settings.smtp_relay_username,
        relay_password=settings.smtp_relay_password,
        relay_starttls=settings.smtp_relay_starttls,
        max_email_bytes=settings.max_email_bytes,
        max_body_chars=settings.max_body_chars,
        max_attachment_bytes=settings.max_attachment_bytes,
        max_attachments=settings.max_attachments,
        flood_limit=settings.email_flood_limit,
    )
