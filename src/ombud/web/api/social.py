"""/api/v1/webhooks/social/{endpoint}: messages in from social and messaging platforms (signed, no token);
/api/v1/channels/social: the endpoints, for admins."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from ombud.channels.schemas import ReceivedPublic
from ombud.channels.social import service as social
from ombud.channels.social.schemas import (
    EndpointCreate,
    EndpointPublic,
    EndpointUpdate,
    EndpointWithSecret,
    SocialMessageIn,
)
from ombud.channels.social.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER
from ombud.runtime import Runtime
from ombud.web.deps import CurrentPrincipal, ReadSession, RuntimeDep, WriteSession

router = APIRouter(tags=["social"])

WEBHOOK_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": SocialMessageIn.model_json_schema(by_alias=True)}},
    },
    "parameters": [
        {"name": TIMESTAMP_HEADER, "in": "header", "required": True, "schema": {"type": "string"}},
        {"name": SIGNATURE_HEADER, "in": "header", "required": True, "schema": {"type": "string"}},
    ],
}


@router.post("/webhooks/social/{endpoint}", response_model=ReceivedPublic, openapi_extra=WEBHOOK_BODY)
async def social_webhook(endpoint: str, request: Request, runtime: RuntimeDep) -> ReceivedPublic:
    """A customer's message from a platform. Signed, not authenticated by token: HMAC-SHA256 of
    "<timestamp>.<body>" with the endpoint's secret. 401 `bad_signature` for a missing or wrong signature
    or a timestamp over 5 minutes off; the same message id again is `duplicate` and stores nothing."""
    raw = await request.body()
    headers = {key.lower(): value for key, value in request.headers.items()}
    return await run_in_threadpool(_take_in, runtime, endpoint, headers, raw)


def _take_in(runtime: Runtime, name: str, headers: dict[str, str], raw: bytes) -> ReceivedPublic:
    with runtime.database.session(write=True) as session:
        # The signature is checked on the bytes as sent, before anything is parsed.
        endpoint = social.authenticate(session=session, name=name, headers=headers, body=raw)
        try:
            data = SocialMessageIn.model_validate_json(raw)
        except ValidationError as error:
            problems = [{**item, "loc": ("body", *item["loc"])} for item in error.errors(include_url=False)]
            raise RequestValidationError(problems) from None
        taken = social.receive(
            session=session,
            endpoint=endpoint,
            data=data,
            raw=raw,
            limits=runtime.limits,
            flood_limit=runtime.settings.email_flood_limit,
        )
        session.commit()
    return ReceivedPublic(
        outcome=taken.outcome,
        ticket_id=taken.ticket_id,
        message_id=taken.message_id,
        quarantine_id=None,
        reason=taken.reason,
    )


@router.post("/channels/social", response_model=EndpointWithSecret, status_code=201)
def create_endpoint(
    body: EndpointCreate, session: WriteSession, principal: CurrentPrincipal
) -> EndpointWithSecret:
    """Connect a platform (admins). The answer holds the signing secret, shown this once."""
    endpoint = social.create_endpoint(session=session, data=body, actor=principal)
    session.commit()
    return EndpointWithSecret.model_validate(endpoint)


@router.get("/channels/social", response_model=list[EndpointPublic])
def list_endpoints(session: ReadSession, principal: CurrentPrincipal) -> list[EndpointPublic]:
    """The connected platforms (admins), without their secrets."""
    return [EndpointPublic.model_validate(e) for e in social.list_endpoints(session=session, actor=principal)]


@router.patch("/channels/social/{endpoint}", response_model=EndpointPublic)
def update_endpoint(
    endpoint: str, body: EndpointUpdate, session: WriteSession, principal: CurrentPrincipal
) -> EndpointPublic:
    """Change the callback URL or switch the endpoint off and on (admins)."""
    found = social.access_endpoint(session=session, actor=principal, name=endpoint)
    social.update_endpoint(session=session, endpoint=found, changes=body, actor=principal)
    session.commit()
    return EndpointPublic.model_validate(found)


@router.post("/channels/social/{endpoint}/rotate-secret", response_model=EndpointWithSecret)
def rotate_secret(endpoint: str, session: WriteSession, principal: CurrentPrincipal) -> EndpointWithSecret:
    """Issue a new signing secret (admins); the old one stops working at once."""
    found = social.access_endpoint(session=session, actor=principal, name=endpoint)
    social.rotate_secret(session=session, endpoint=found, actor=principal)
    session.commit()
    return EndpointWithSecret.model_validate(found)
