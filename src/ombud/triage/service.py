"""Triage of stored messages: the history facts each message is read against, the results, agents'
corrections, the live intent model and the catalogue. The caller owns the transaction."""

from __future__ import annotations

import datetime as dt
import io
import logging
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.orm import Session

from ombud.accounts.schemas import SYSTEM, Principal
from ombud.customers import purchases
from ombud.errors import Forbidden, InvalidInput, NotFound
from ombud.events import service as events
from ombud.storage.base import utcnow
from ombud.tickets import feeds, priority
from ombud.tickets import service as tickets
from ombud.triage import entities, text
from ombud.triage.classifier import TextClassifier
from ombud.triage.data import Dataset
from ombud.triage.engine import BUILTIN_INTENTS, Models, Triage
from ombud.triage.models import CatalogueItem, IntentModel, MessageTriage, TriageCorrection
from ombud.triage.pipeline import Context, OpenTicket
from ombud.triage.schemas import CorrectionCreate

log = logging.getLogger(__name__)
HISTORY_DAYS = 30
MAX_MODEL_BYTES = 200 * 1024 * 1024
MODEL_FILES = ("model.json", "weights.npz")


def access_triage(*, principal: Principal) -> None:
    """Raise Forbidden unless ``principal`` is staff: triage is for the people serving customers."""
    if not principal.is_staff:
        raise Forbidden("Triage is for staff.", code="forbidden")


def analyze_text(*, session: Session, engine: Triage, text: str, live_model: bool = True) -> dict[str, Any]:
    """Return the triage of loose ``text`` with the workspace's catalogue and (with ``live_model``) its
    live intent model; nothing is stored."""
    if live_model:
        sync_intent_model(session=session, models=engine.models)
    return engine.analyze([(text, Context(catalogue=catalogue_names(session=session)))])[0]


# -- reading a stored message ------------------------------------------------------------------------------
def context_for(*, session: Session, message: Any, catalogue: list[str]) -> Context:
    """Return what the customer's history says around ``message`` (a tickets Message), as of when it
    was written: a message triaged late (a backfill after an upgrade) is not read against its future."""
    at = message.created_at
    since = at - dt.timedelta(days=HISTORY_DAYS)
    recent = session.execute(
        select(MessageTriage.ticket_id, MessageTriage.intents).where(
            MessageTriage.customer_id == message.customer_id,
            MessageTriage.message_at >= since,
            MessageTriage.message_at <= at,
            MessageTriage.ticket_id != message.ticket_id,
        )
    ).all()
    waiting = at - feeds.waiting_since(session=session, message=message)
    return Context(
        channel=str(message.channel),
        ticket_id=message.ticket_id,
        contacts_30d=feeds.tickets_since(
            session=session, customer_id=message.customer_id, since=since, until=at
        ),
        open_tickets=[
            OpenTicket(id=row.id, subject=row.subject, status=str(row.status))
            for row in feeds.open_tickets_of(session=session, customer_id=message.customer_id, before=at)
        ],
        recent_intents=[(ticket_id, label) for ticket_id, labels in recent for label in labels],
        waiting_minutes=max(0, int(waiting.total_seconds() // 60)),
        catalogue=catalogue,
    )


def text_of(*, session: Session, message: Any) -> tuple[str, int]:
    """Return the text triage reads for ``message`` and how many earlier chat lines it merged in."""
    raw = message.body_text[: text.MAX_CHARS * 2]
    body = (text.strip_quoted(raw) or raw)[: text.MAX_CHARS]
    if str(message.channel) != "chat":
        return body, 0
    earlier = feeds.chat_lines_before(session=session, message=message)
    return (text.merge_chat_lines([*earlier, body]), len(earlier)) if earlier else (body, 0)


def is_imported(message: Any) -> bool:
    """Whether ``message`` is history brought in by ``ombud import``."""
    return bool(message.imported)


@dataclass(frozen=True)
class Prepared:
    message_id: int
    ticket_id: int
    customer_id: int
    message_at: dt.datetime
    result: dict[str, Any] | None  # None: triage failed on this message (logged); it is not retried
    intent_model: str
    # Imported history (ombud.imports): results are stored, nothing is published (no routing, SLA clock,
    # automation, webhook or notification meant for live mail).
    quiet: bool = False


def prepare_batch(*, session: Session, engine: Triage, first_id: int, limit: int) -> list[Prepared]:
    """Triage up to ``limit`` waiting messages (``first_id`` first) in one pipeline call; store nothing."""
    messages = feeds.untriaged_for_triage(session=session, first_id=first_id, limit=limit)
    if not messages:
        return []
    sync_intent_model(session=session, models=engine.models)
    catalogue = catalogue_names(session=session)
    items, merged = [], []
    for message in messages:
        body, merged_lines = text_of(session=session, message=message)
        items.append((body, context_for(session=session, message=message, catalogue=catalogue)))
        merged.append(merged_lines)
    version = engine.models.intent_version()
    prepared = []
    for message, result, merged_lines in zip(
        messages, _analyze(engine, items, messages), merged, strict=True
    ):
        if result is not None and merged_lines:
            result["explanations"]["merged_chat_lines"] = merged_lines
        prepared.append(
            Prepared(
                message.id,
                message.ticket_id,
                message.customer_id,
                message.created_at,
                result,
                version,
                quiet=is_imported(message),
            )
        )
    return prepared


def _analyze(engine: Triage, items: list[tuple[str, Context]], messages: Sequence[Any]) -> list[Any]:
    """Return the batch's results; if the batch fails, each message alone, so one message the pipeline
    cannot read never holds up the others (it is logged by id, never by its text)."""
    try:
        return engine.analyze(items)
    except Exception:
        log.warning("triage of a batch of %d failed; retrying one by one", len(items), exc_info=True)
    results: list[Any] = []
    for item, message in zip(items, messages, strict=True):
        try:
            results.append(engine.analyze([item])[0])
        except Exception:
            log.exception("triage failed for message %s; it is left without triage", message.id)
            results.append(None)
    return results


def save_batch(*, session: Session, prepared: Sequence[Prepared]) -> int:
    """Store the results of messages still waiting for triage; return how many were stored."""
    waiting = set(feeds.still_untriaged(session=session, message_ids=[p.message_id for p in prepared]))
    done = [p for p in prepared if p.message_id in waiting]
    for item in done:
        if item.result is not None:
            store(session=session, item=item)
    feeds.mark_triaged(session=session, message_ids=[p.message_id for p in done], at=utcnow())
    return len(done)


def store(*, session: Session, item: Prepared) -> None:
    result = item.result
    assert result is not None
    session.execute(delete(MessageTriage).where(MessageTriage.message_id == item.message_id))
    session.add(
        MessageTriage(
            message_id=item.message_id,
            ticket_id=item.ticket_id,
            customer_id=item.customer_id,
            result=result,
            intents=sorted({i["label"] for c in result["concerns"] for i in c["intents"]}),
            language=result["language"],
            urgency=result["urgency"]["level"],
            frustration=result["frustration"],
            sentiment=result["sentiment"],
            abusive=result["abusive"],
            out_of_scope=result["out_of_scope"],
            intent_model=item.intent_model,
            message_at=item.message_at,
        )
    )
    priority.after_triage(
        session=session,
        ticket_id=item.ticket_id,
        message_id=item.message_id,
        result=result,
        customer_value=purchases.customer_value(session=session, customer_id=item.customer_id),
    )
    if item.quiet:
        # Imported history: the results inform the customer's history, themes and reports; routing, SLA
        # clocks, automations, webhooks and surveys must not act on a conversation that is over.
        return
    # What routing, SLA policies and automations choose by (intent, language, urgency...).
    events.emit(
        session=session,
        kind="message.triaged",
        entity_type="message",
        entity_id=item.message_id,
        actor_type="system",
        actor_id=None,
        ticket_id=item.ticket_id,
        customer_id=item.customer_id,
        payload={
            "intents": [c["intents"][0]["label"] for c in result["concerns"] if c.get("intents")],
            "concerns": len(result["concerns"]),
            "language": result["language"],
            "urgency": result["urgency"]["level"],
            "frustration": result["frustration"],
            "emotion": result["emotion"]["label"],
            "abusive": bool(result["abusive"]),
            "out_of_scope": bool(result["out_of_scope"]),
        },
    )


def results_for(*, session: Session, message_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Return the stored triage of each of ``message_ids`` that has one."""
    if not message_ids:
        return {}
    rows = session.execute(
        select(MessageTriage.message_id, MessageTriage.result).where(
            MessageTriage.message_id.in_(message_ids)
        )
    ).all()
    return {int(row[0]): row[1] for row in rows}


@dataclass(frozen=True)
class TriageSummary:
    """The parts of one stored triage that other domains read about a customer (the 360, offers)."""

    customer_id: int
    ticket_id: int
    intents: list[str]
    message_at: dt.datetime
    frustration: float
    sentiment: float
    abusive: bool
    emotion: str | None


def customer_triage(
    *, session: Session, customer_id: int, since: dt.datetime, limit: int = 50
) -> list[TriageSummary]:
    """Return the customer's triage results of messages written since ``since``, newest first."""
    rows = session.execute(
        select(
            MessageTriage.customer_id,
            MessageTriage.ticket_id,
            MessageTriage.intents,
            MessageTriage.message_at,
            MessageTriage.frustration,
            MessageTriage.sentiment,
            MessageTriage.abusive,
            MessageTriage.result,
        )
        .where(MessageTriage.customer_id == customer_id, MessageTriage.message_at >= since)
        .order_by(MessageTriage.message_at.desc(), MessageTriage.message_id.desc())
        .limit(limit)
    ).all()
    return [
        TriageSummary(
            customer_id=int(row[0]),
            ticket_id=int(row[1]),
            intents=list(row[2] or []),
            message_at=row[3],
            frustration=float(row[4]),
            sentiment=float(row[5]),
            abusive=bool(row[6]),
            emotion=((row[7] or {}).get("emotion") or {}).get("label"),
        )
        for row in rows
    ]


def intent_history(
    *, session: Session, customer_ids: Sequence[int] | None, exclude_customer_id: int | None, limit: int
) -> list[tuple[int, int, list[str], dt.datetime]]:
    """Return (customer id, ticket id, intents, message time) of triaged messages that found an intent,
    latest stored first: of ``customer_ids``, or of anyone (but ``exclude_customer_id``) when it is None.

    Ordered by message id, not time: that walks the primary key and stops at ``limit`` on any table size.
    """
    statement = select(
        MessageTriage.customer_id, MessageTriage.ticket_id, MessageTriage.intents, MessageTriage.message_at
    )
    if customer_ids is not None:
        if not customer_ids:
            return []
        statement = statement.where(MessageTriage.customer_id.in_(list(customer_ids)))
    if exclude_customer_id is not None:
        statement = statement.where(MessageTriage.customer_id != exclude_customer_id)
    rows = session.execute(statement.order_by(MessageTriage.message_id.desc()).limit(limit)).all()
    return [(int(r[0]), int(r[1]), list(r[2] or []), r[3]) for r in rows if r[2]]


def triaged_after(
    *, session: Session, first_id: int, limit: int, handled: Any = None, live_only: bool = False
) -> list[tuple[int, int, int, dict[str, Any]]]:
    """Return (message id, ticket id, customer id, result) of triaged messages from ``first_id`` on, by id;
    ``handled`` is a message id column of a later stage's table: messages with a row there are left out
    (NOT EXISTS, an index probe per message: a NOT IN over a million-row table was re-run per row on
    PostgreSQL once it outgrew work_mem, and took minutes). ``live_only`` leaves out imported history."""
    statement = select(
        MessageTriage.message_id, MessageTriage.ticket_id, MessageTriage.customer_id, MessageTriage.result
    ).where(MessageTriage.message_id >= first_id)
    # The bound is repeated on every joined table: each join then starts at first_id, not at the first row.
    if live_only:
        statement = feeds.live_only(statement, MessageTriage.message_id, from_id=first_id)
    if handled is not None:
        statement = statement.where(~exists().where(handled == MessageTriage.message_id, handled >= first_id))
    rows = session.execute(statement.order_by(MessageTriage.message_id).limit(limit)).all()
    return [(int(r[0]), int(r[1]), int(r[2]), r[3]) for r in rows]


def last_triaged_id(*, session: Session) -> int:
    """The id of the newest triaged message (0 when none is)."""
    return int(session.scalar(select(func.max(MessageTriage.message_id))) or 0)


# -- corrections -------------------------------------------------------------------------------------------
def correct(
    *, session: Session, principal: Principal, message_id: int, data: CorrectionCreate
) -> TriageCorrection:
    """Record an agent's correction of a message's triage; intent corrections train the next model."""
    access_triage(principal=principal)
    row = session.get(MessageTriage, message_id)
    if row is None:
        raise NotFound(f"Message {message_id} has no triage to correct (yet).", code="triage_not_found")
    tickets.access_ticket(session=session, principal=principal, ticket_id=row.ticket_id)
    result = row.result
    concern_text = None
    before: Any
    if data.field == "intents":
        concerns = result["concerns"]
        index = data.concern_index if data.concern_index is not None else 0
        if not 0 <= index < len(concerns):
            raise InvalidInput(
                f"concern_index must be between 0 and {len(concerns) - 1} for this message.",
                code="invalid_concern_index",
            )
        before = [i["label"] for i in concerns[index]["intents"]]
        concern_text = concerns[index]["text"]
    else:
        before = result[data.field]["level"] if data.field == "urgency" else result[data.field]
        if data.field == "emotion":
            before = result["emotion"]["label"]
    correction = TriageCorrection(
        message_id=message_id,
        user_id=principal.id if principal.kind == "user" else None,
        field=data.field,
        concern_index=data.concern_index if data.field == "intents" else None,
        text=concern_text or entities.redact(result_text(result)),
        before=before,
        after=data.value,
        created_at=utcnow(),
    )
    session.add(correction)
    session.flush()
    return correction


def result_text(result: dict[str, Any]) -> str:
    return " ".join(c["text"] for c in result["concerns"])


def corrections_dataset(*, session: Session, task: str) -> Dataset:
    """Return agents' corrections as training rows for ``task`` (the newest correction of a text wins)."""
    field = {"intent": "intents", "emotion": "emotion", "sentiment": "sentiment", "abuse": "abusive"}[task]
    rows = session.execute(
        select(TriageCorrection.text, TriageCorrection.after)
        .where(TriageCorrection.field == field)
        .order_by(TriageCorrection.id)
    ).all()
    latest: dict[str, list[str]] = {}
    for text_, after in rows:
        if task == "intent":
            latest[text_] = list(after) or ["oos"]
        elif task == "abuse":
            latest[text_] = ["offensive" if after else "not-offensive"]
        elif task == "sentiment":
            latest[text_] = ["negative" if after < -0.33 else "positive" if after > 0.33 else "neutral"]
        else:
            latest[text_] = [str(after)]
    return Dataset(list(latest), list(latest.values()))


# -- the live intent model ---------------------------------------------------------------------------------
def activate_intent_model(*, session: Session, directory: Path) -> IntentModel:
    """Store the intent model saved in ``directory`` and make it the live one for every process."""
    model = TextClassifier.load(directory)
    if model.task != "intent":
        raise InvalidInput(
            f"{directory} holds a {model.task} model; only intent models can be made live.", code="bad_model"
        )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in MODEL_FILES:
            archive.write(directory / name, arcname=name)
    payload = buffer.getvalue()
    if len(payload) > MAX_MODEL_BYTES:
        raise InvalidInput(f"The model is over {MAX_MODEL_BYTES // 2**20} MiB.", code="model_too_large")
    version = f"{model.metadata_['data']['sha256'][:16]}-{model.metadata_['created_at']}"
    existing = session.scalar(select(IntentModel).where(IntentModel.version == version))
    session.execute(update(IntentModel).values(active=False))
    if existing is not None:
        existing.active = True
        return existing
    row = IntentModel(
        version=version,
        active=True,
        labels=len(model.labels_),
        meta={k: v for k, v in model.metadata_.items() if k not in {"examples"}},
        archive=payload,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def deactivate_intent_models(*, session: Session) -> None:
    """Go back to the built-in intents."""
    session.execute(update(IntentModel).values(active=False))


def live_intent_version(*, session: Session) -> str:
    version = session.scalar(select(IntentModel.version).where(IntentModel.active.is_(True)))
    return version or BUILTIN_INTENTS


def sync_intent_model(*, session: Session, models: Models) -> None:
    """Load the live intent model into ``models`` if another process made a different one live."""
    version = live_intent_version(session=session)
    if version == models.intent_version():
        return
    if version == BUILTIN_INTENTS:
        models.use_builtin_intents()
        return
    archive = session.scalar(select(IntentModel.archive).where(IntentModel.version == version))
    assert archive is not None
    with tempfile.TemporaryDirectory(prefix="ombud-model-") as folder:
        with zipfile.ZipFile(io.BytesIO(archive)) as unpacked:
            for name in MODEL_FILES:
                (Path(folder) / name).write_bytes(unpacked.read(name))
        model = TextClassifier.load(Path(folder), embedder=models.embedder)
    models.use_intent(model, version)


# -- the catalogue -----------------------------------------------------------------------------------------
def catalogue_names(*, session: Session) -> list[str]:
    return list(session.scalars(select(CatalogueItem.name).order_by(CatalogueItem.name)).all())


def set_catalogue(*, session: Session, names: Sequence[str], actor: Principal = SYSTEM) -> list[str]:
    """Replace the product catalogue entity recognition looks for (admins and leads); return it sorted."""
    if actor.kind != "system" and str(actor.role) not in {"admin", "lead"}:
        raise Forbidden("Only admins and leads can change the catalogue.", code="forbidden")
    cleaned = sorted({name.strip() for name in names if name.strip()}, key=str.casefold)
    session.execute(delete(CatalogueItem))
    session.add_all(CatalogueItem(name=name) for name in cleaned)
    session.flush()
    return cleaned


def latest_entity(*, session: Session, ticket_id: int, entity_type: str) -> str | None:
    """Return the newest ``entity_type`` value (an order number, say) triage found in the ticket's
    customer messages, or None."""
    rows = session.scalars(
        select(MessageTriage.result)
        .where(MessageTriage.ticket_id == ticket_id)
        .order_by(MessageTriage.message_id.desc())
        .limit(20)
    )
    for result in rows:
        for entity in reversed((result or {}).get("entities", [])):
            if entity.get("type") == entity_type and entity.get("value"):
                return str(entity["value"])
    return None
