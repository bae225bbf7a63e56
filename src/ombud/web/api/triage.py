"""/api/v1/triage and a message's triage: analyse text, read and correct results, the catalogue."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ombud.errors import NotFound
from ombud.tickets import feeds
from ombud.tickets import service as tickets
from ombud.triage import service as triage
from ombud.triage.schemas import Catalogue, CorrectionCreate, CorrectionPublic, TriageRequest, TriageResult
from ombud.web.api.common import IdPath
from ombud.web.deps import CurrentPrincipal, ReadSession, RuntimeDep, WriteSession

router = APIRouter(tags=["triage"])


@router.post("/triage", response_model=TriageResult)
def analyze(
    data: TriageRequest, session: ReadSession, principal: CurrentPrincipal, runtime: RuntimeDep
) -> Any:
    """Triage a text with the live models (nothing is stored): concerns and intents, emotion, sentiment,
    frustration, urgency, entities, language, abuse, and why."""
    triage.access_triage(principal=principal)
    return triage.analyze_text(session=session, engine=runtime.triage, text=data.text)


@router.get("/messages/{message_id}/triage", response_model=TriageResult)
def message_triage(message_id: IdPath, session: ReadSession, principal: CurrentPrincipal) -> Any:
    """The stored triage of a customer message (404 until the background job has done it)."""
    triage.access_triage(principal=principal)
    ticket_id = feeds.ticket_of_message(session=session, message_id=message_id)
    tickets.access_ticket(session=session, principal=principal, ticket_id=ticket_id)
    result = triage.results_for(session=session, message_ids=[message_id]).get(message_id)
    if result is None:
        raise NotFound(f"Message {message_id} has no triage yet.", code="triage_not_found")
    return result


@router.post("/messages/{message_id}/triage/corrections", status_code=201, response_model=CorrectionPublic)
def correct(
    message_id: IdPath, data: CorrectionCreate, session: WriteSession, principal: CurrentPrincipal
) -> Any:
    """Correct one triage answer; intent corrections are training rows for the next `ombud triage train`."""
    correction = triage.correct(session=session, principal=principal, message_id=message_id, data=data)
    session.commit()
    return correction


@router.get("/triage/catalogue", response_model=Catalogue)
def get_catalogue(session: ReadSession, principal: CurrentPrincipal) -> Catalogue:
    """The product names entity recognition looks for."""
    triage.access_triage(principal=principal)
    return Catalogue(products=triage.catalogue_names(session=session))


@router.put("/triage/catalogue", response_model=Catalogue)
def put_catalogue(data: Catalogue, session: WriteSession, principal: CurrentPrincipal) -> Catalogue:
    """Replace the product catalogue (admins and leads)."""
    names = triage.set_catalogue(session=session, names=data.products, actor=principal)
    session.commit()
    return Catalogue(products=names)
