"""The FastAPI application: JSON API under /api/v1 (OpenAPI at /api/v1/openapi.json) and the pages."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from ombud import __version__
from ombud.runtime import Runtime
from ombud.storage.queue import EmbeddedWorker
from ombud.web import (
    chat,
    errors,
    pages,
    partner_portal,
    portal,
    workspace,
    workspace_advocacy,
    workspace_automations,
    workspace_cases,
    workspace_partners,
    workspace_reports,
    workspace_resolutions,
    workspace_routing,
    workspace_sla,
    workspace_themes,
    workspace_tracking,
)
from ombud.web import surveys as survey_pages
from ombud.web import workspace_growth as growth_pages
from ombud.web import workspace_people as people_pages
from ombud.web import workspace_privacy as privacy_pages
from ombud.web import workspace_shield as shield_pages
from ombud.web import workspace_training as training_pages
from ombud.web.api import advocacy_cases as advocacy_cases_api
from ombud.web.api import advocacy_insights as advocacy_insights_api
from ombud.web.api import advocacy_themes as advocacy_themes_api
from ombud.web.api import assist, calls, channels, customers, forms, knowledge, misc, social, tickets, triage
from ombud.web.api import automations as automations_api
from ombud.web.api import growth as growth_api
from ombud.web.api import partners as partners_api
from ombud.web.api import people as people_api
from ombud.web.api import reports as reports_api
from ombud.web.api import resolutions as resolutions_api
from ombud.web.api import routing as routing_api
from ombud.web.api import shield as shield_api
from ombud.web.api import sla as sla_api
from ombud.web.api import surveys as surveys_api
from ombud.web.api import tracking as tracking_api
from ombud.web.api import training as training_api
from ombud.web.api import webhooks as webhooks_api
from ombud.web.api import work_orders as work_orders_api
from ombud.web.api.common import ERROR_RESPONSES

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"


def create_app(runtime: Runtime, *, run_worker: bool = False) -> FastAPI:
    """Return the app bound to ``runtime``; with ``run_worker`` it also consumes the job queue."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Everything per process is read from app.state, never captured here: an app can be pointed at
        # another runtime (the tests build the routes once and give each test its own database).
        runtime: Runtime = app.state.runtime
        worker = None
        if run_worker:
            # Load the triage models beside start-up, so neither start-up nor the first job waits for them.
            threading.Thread(target=runtime.triage.models.warm, name="ombud-warm-models", daemon=True).start()
            threading.Thread(
                target=runtime.knowledge.warm,
                args=(runtime.database,),
                name="ombud-warm-knowledge",
                daemon=True,
            ).start()
            worker = EmbeddedWorker(runtime.queue, threads=runtime.settings.worker_threads)
            worker.start()
            # Finish whatever a previous run left undone (a crash, a lost job): the database says what.
            counts = runtime.queue.sweep()
            if any(counts.values()):
                log.info("start-up sweep enqueued pending work: %s", counts)
        try:
            yield
        finally:
            if worker is not None:
                worker.stop()

    app = FastAPI(
        title="ombud",
        version=__version__,
        summary="A customer service desk that reads between the lines and advocates for the customer.",
        openapi_url="/api/v1/openapi.json",
        # The interactive docs pages load their assets from a CDN; ombud serves nothing from one.
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    errors.install(app)
    workspace.install(app)
    app.add_middleware(BodyLimit)
    app.add_middleware(ChatCors)

    _include_routers(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _include_routers(app: FastAPI) -> None:  # noqa: PLR0915 (one line per router, nothing to split)
    """Mount the JSON API under /api/v1, then the pages (public, portal, survey, workspace)."""
    api = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)
    api.include_router(misc.router)
    api.include_router(tickets.router)
    api.include_router(sla_api.router)
    api.include_router(sla_api.ticket_router)
    api.include_router(routing_api.router)
    api.include_router(tracking_api.router)
    api.include_router(customers.router)
    api.include_router(customers.merge_router)
    api.include_router(triage.router)
    api.include_router(channels.router)
    api.include_router(calls.router)
    api.include_router(social.router)
    api.include_router(forms.router)
    api.include_router(knowledge.router)
    api.include_router(assist.router)
    api.include_router(resolutions_api.router)
    api.include_router(reports_api.router)
    api.include_router(surveys_api.router)
    api.include_router(automations_api.router)
    api.include_router(webhooks_api.router)
    api.include_router(advocacy_cases_api.router)
    api.include_router(advocacy_cases_api.ticket_router)
    api.include_router(advocacy_themes_api.router)
    api.include_router(advocacy_insights_api.router)
    api.include_router(growth_api.router)
    api.include_router(partners_api.router)
    api.include_router(work_orders_api.router)
    api.include_router(people_api.router)
    api.include_router(shield_api.router)
    api.include_router(training_api.router)
    api.include_router(chat.agent_router)
    app.include_router(api)
    app.include_router(chat.visitor_router)
    app.include_router(pages.router)
    app.include_router(portal.router)
    app.include_router(survey_pages.router)
    app.include_router(workspace.router)
    app.include_router(workspace_routing.router)
    app.include_router(workspace_sla.router)
    app.include_router(workspace_automations.router)
    app.include_router(workspace_reports.router)
    app.include_router(workspace_tracking.router)
    app.include_router(workspace_resolutions.router)
    app.include_router(workspace_cases.router)
    app.include_router(workspace_advocacy.router)
    app.include_router(workspace_themes.router)
    app.include_router(partner_portal.router)
    app.include_router(workspace_partners.router)
    app.include_router(growth_pages.router)
    app.include_router(people_pages.router)
    app.include_router(shield_pages.router)
    app.include_router(privacy_pages.router)
    app.include_router(training_pages.router)


def _max_request_bytes(runtime: Runtime) -> int:
    limits = runtime.limits
    # Base64 grows attachments by 4/3; a character is at most 4 bytes of UTF-8, twice (text + HTML).
    return limits.max_attachments * limits.max_attachment_bytes * 4 // 3 + 8 * limits.max_body_chars + 65_536


class BodyLimit:
    """Refuse a request whose declared body is over the limit before reading any of it (413)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            limit = _max_request_bytes(scope["app"].state.runtime)
            for name, value in scope["headers"]:
                if name == b"content-length":
                    if not value.isdigit() or int(value) > limit:
                        request = Request(scope)
                        response = errors.error_response(
                            request,
                            413,
                            "payload_too_large",
                            f"the request body is over the limit of {limit} bytes",
                        )
                        await response(scope, receive, send)
                        return
                    break
        await self.app(scope, receive, send)


# What a company's own site calls from its visitors' browsers: the chat widget and the web form.
PUBLIC_PREFIXES = ("/chat/api/", "/api/v1/forms/", "/api/v1/assistant/", "/api/v1/kb/search")


class ChatCors:
    """Let a company's own site call the chat widget's HTTP side and the web form from its origin. Only
    there: the rest of the API is for ombud's own pages and for servers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=["*"],
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "X-Chat-Token"],
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope.get("path", "")).startswith(PUBLIC_PREFIXES):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
