"""/api/v1/webhooks: outbound webhook endpoints (admins), their delivery log, redelivery and tests."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from ombud.web.api.common import IdPath
from ombud.web.deps import CurrentPrincipal, ReadSession, WriteSession
from ombud.webhooks import service as webhooks
from ombud.webhooks.models import WebhookDelivery, WebhookEndpoint
from ombud.webhooks.schemas import (
    AttemptPublic,
    DeliveryDetail,
    DeliveryPage,
    DeliveryPublic,
    EndpointIn,
    EndpointPublic,
    EndpointUpdate,
    EndpointWithSecret,
)

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


def _public(endpoint: WebhookEndpoint) -> EndpointPublic:
    return EndpointPublic.model_validate({**_fields(endpoint), "secret_hint": "…" + endpoint.secret[-4:]})


def _with_secret(endpoint: WebhookEndpoint) -> EndpointWithSecret:
    return EndpointWithSecret.model_validate(
        {**_fields(endpoint), "secret_hint": "…" + endpoint.secret[-4:], "secret": endpoint.secret}
    )


def _fields(endpoint: WebhookEndpoint) -> dict[str, object]:
    return {
        key: getattr(endpoint, key)
        for key in ("id", "name", "url", "events", "enabled", "created_at", "updated_at")
    }


def _detail(session: ReadSession, delivery: WebhookDelivery) -> DeliveryDetail:
    attempts = webhooks.attempts_of(session=session, delivery_id=delivery.id)
    return DeliveryDetail.model_validate(
        {
            **DeliveryPublic.model_validate(delivery).model_dump(),
            "payload": delivery.payload,
            "attempt_log": [AttemptPublic.model_validate(a) for a in attempts],
        }
    )


@router.get("", response_model=list[EndpointPublic])
def list_endpoints(session: ReadSession, principal: CurrentPrincipal) -> list[EndpointPublic]:
    return [_public(e) for e in webhooks.list_endpoints(session=session, principal=principal)]


@router.post("", status_code=201, response_model=EndpointWithSecret)
def create_endpoint(
    data: EndpointIn, session: WriteSession, principal: CurrentPrincipal
) -> EndpointWithSecret:
    """Add an endpoint; the answer carries its signing secret, shown this once."""
    endpoint = webhooks.create_endpoint(
        session=session,
        principal=principal,
        name=data.name,
        url=data.url,
        events=data.events,
        enabled=data.enabled,
    )
    session.commit()
    return _with_secret(endpoint)


@router.get("/deliveries/{delivery_id}", response_model=DeliveryDetail)
def get_delivery(delivery_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> DeliveryDetail:
    """One delivery with its body and every attempt (status, duration, an excerpt of the answer)."""
    return _detail(
        session, webhooks.access_delivery(session=session, principal=principal, delivery_id=delivery_id)
    )


@router.post("/deliveries/{delivery_id}/redeliver", status_code=201, response_model=DeliveryPublic)
def redeliver(delivery_id: IdPath, session: WriteSession, principal: CurrentPrincipal) -> DeliveryPublic:
    """Send the same body again, as a new delivery."""
    delivery = webhooks.redeliver(session=session, principal=principal, delivery_id=delivery_id)
    session.commit()
    session.refresh(delivery)
    return DeliveryPublic.model_validate(delivery)


@router.get("/{endpoint_id}", response_model=EndpointPublic)
def get_endpoint(endpoint_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> EndpointPublic:
    return _public(webhooks.access_endpoint(session=session, principal=principal, endpoint_id=endpoint_id))


@router.patch("/{endpoint_id}", response_model=EndpointPublic)
def update_endpoint(
    endpoint_id: IdPath, changes: EndpointUpdate, session: WriteSession, principal: CurrentPrincipal
) -> EndpointPublic:
    endpoint = webhooks.update_endpoint(
        session=session,
        principal=principal,
        endpoint_id=endpoint_id,
        changes=changes.model_dump(exclude_unset=True),
    )
    session.commit()
    return _public(endpoint)


@router.delete("/{endpoint_id}", status_code=204)
def delete_endpoint(endpoint_id: IdPath, session: WriteSession, principal: CurrentPrincipal) -> Response:
    """Remove an endpoint with its delivery log; pending deliveries to it are dropped."""
    webhooks.delete_endpoint(session=session, principal=principal, endpoint_id=endpoint_id)
    session.commit()
    return Response(status_code=204)


@router.post("/{endpoint_id}/rotate-secret", response_model=EndpointWithSecret)
def rotate_secret(
    endpoint_id: IdPath, session: WriteSession, principal: CurrentPrincipal
) -> EndpointWithSecret:
    """Replace the signing secret; the answer carries the new one, shown this once."""
    endpoint = webhooks.rotate_secret(session=session, principal=principal, endpoint_id=endpoint_id)
    session.commit()
    return _with_secret(endpoint)


@router.post("/{endpoint_id}/test", status_code=201, response_model=DeliveryPublic)
def send_test(endpoint_id: IdPath, session: WriteSession, principal: CurrentPrincipal) -> DeliveryPublic:
    """Send a webhook.test event to the endpoint (even a disabled one)."""
    delivery = webhooks.send_test(session=session, principal=principal, endpoint_id=endpoint_id)
    session.commit()
    session.refresh(delivery)
    return DeliveryPublic.model_validate(delivery)


@router.get("/{endpoint_id}/deliveries", response_model=DeliveryPage)
def list_deliveries(
    endpoint_id: IdPath,
    session: ReadSession,
    principal: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=webhooks.MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> DeliveryPage:
    """The endpoint's delivery log, newest first."""
    items, next_cursor = webhooks.list_deliveries(
        session=session, principal=principal, endpoint_id=endpoint_id, limit=limit, cursor=cursor
    )
    return DeliveryPage(items=[DeliveryPublic.model_validate(d) for d in items], next_cursor=next_cursor)
