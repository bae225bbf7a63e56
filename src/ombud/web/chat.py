"""Live chat over the web: the visitor's side under /chat (the widget's script, a WebSocket and the HTTP
fallback it uses when WebSockets are blocked), and the agents' real-time connection under /api/v1/chat.

A WebSocket's first frame authenticates it: ``{"type": "hello", "token": ...}`` (browsers cannot set
headers on a WebSocket, and a token in the URL would end up in access logs). Every later frame is one
JSON object with a ``type``. Database work runs on the thread pool; the hub carries events to the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Header, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session

from ombud.accounts import service as accounts
from ombud.accounts.schemas import Principal
from ombud.channels import service as channels
from ombud.channels.chat import service as chat
from ombud.channels.chat.hub import AGENTS, PRESENCE, ChatHub, Subscription, ticket_topic, visitor_topic
from ombud.channels.models import ChatVisitor
from ombud.customers.blocks import SenderBlocked
from ombud.errors import Conflict, Forbidden, OmbudError
from ombud.knowledge import assistant
from ombud.knowledge.schemas import CitedArticle
from ombud.runtime import Runtime
from ombud.tickets import service as tickets
from ombud.validation import CleanText, Name
from ombud.web.api.common import ERROR_RESPONSES, IdPath
from ombud.web.deps import CurrentPrincipal, RuntimeDep, WriteSession

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
HELLO_TIMEOUT = 10.0
MAX_FRAME_BYTES = 64 * 1024
LONG_POLL_MAX = 30

visitor_router = APIRouter(prefix="/chat", tags=["chat widget"], responses=ERROR_RESPONSES)
agent_router = APIRouter(prefix="/chat", tags=["chat"])
T = TypeVar("T")


# -- shapes -----------------------------------------------------------------------------------------------
class VisitorStart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    email: CleanText | None = Field(default=None, max_length=320)


class VisitorStarted(BaseModel):
    token: str = Field(description="The visitor's secret: keep it (localStorage) to come back to the chat.")
    visitor_id: str
    agents_online: int
    assistant: bool = Field(
        default=False, description="Lines go to the self-service assistant first (POST /chat/api/assistant)."
    )


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(max_length=chat.MAX_LINE_CHARS * 2)
    client_id: str = Field(min_length=1, max_length=64, description="The widget's id for the line.")


class TypingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    typing: bool


class EmailIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: CleanText = Field(max_length=320)


class ReadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message_id: int = Field(ge=1, le=2**62)


class ChatEvent(BaseModel):
    type: str
    id: int | None = None
    ticket_id: int | None = None
    author: str | None = None
    body: str | None = None
    at: str | None = None
    client_id: str | None = None
    kind: str | None = Field(
        default=None, description="line, or transcript: the conversation with the assistant, handed over."
    )


class Conversation(BaseModel):
    messages: list[ChatEvent]
    read_up_to: int
    agents_online: int
    by_email: bool
    events: list[dict[str, Any]] = Field(default_factory=list, description="Typing and read events.")
    assistant: bool = Field(
        default=False, description="The visitor's next line goes to the assistant (no person has it yet)."
    )


class AssistantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=chat.MAX_LINE_CHARS * 2)
    client_id: str | None = Field(
        default=None, min_length=1, max_length=64, description="The widget's id for the line."
    )


class AssistantOutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    resolved: bool


class AssistantReply(BaseModel):
    conversation_id: str | None = Field(description="The assistant's conversation (None: people have it).")
    answer: str
    articles: list[CitedArticle] = Field(description="The help articles the answer cites.")
    confidence: float
    handover: bool
    reason: str | None = Field(
        description="Why the assistant handed over: low_confidence, out_of_scope, asked_for_person, "
        "frustrated, sensitive, repeated_failure, customer_choice, already_handed_over."
    )
    ticket_id: int | None = Field(description="The chat ticket a person answers, after a handover.")
    message: ChatEvent | None = Field(
        default=None, description="What people got: the handover's transcript, or the line after it."
    )


# -- helpers ----------------------------------------------------------------------------------------------
def _in_session(runtime: Runtime, work: Callable[[Session], T], *, write: bool = True) -> T:
    with runtime.database.session(write=write) as session:
        try:
            result = work(session)
        except SenderBlocked:
            if write:
                session.commit()  # the refused line is counted on the block, nothing else was written
            raise
        if write:
            session.commit()
        return result


def _conversation(session: Session, visitor: ChatVisitor, hub: ChatHub, after: int) -> Conversation:
    return Conversation(
        messages=[
            ChatEvent(**chat.message_event(m))
            for m in chat.history(session=session, visitor=visitor, after_id=after)
        ],
        read_up_to=visitor.read_up_to or 0,
        agents_online=hub.agents_online(),
        by_email=visitor.by_email,
        assistant=chat.with_assistant(session=session, visitor=visitor),
    )


def _topics(visitor: ChatVisitor) -> list[str]:
    """What a visitor's connection listens to: its conversation, and its own lines (the first line of a
    conversation opens the ticket, so a long poll begun before it still wakes)."""
    topics = [visitor_topic(visitor.public_id)]
    if visitor.ticket_id is not None:
        topics.append(ticket_topic(visitor.ticket_id))
    return topics


def _visitor(session: Session, token: str | None) -> ChatVisitor:
    return chat.visitor_for(session=session, token=token or "")


# -- the visitor's HTTP side (the fallback, and the start) ------------------------------------------------
@visitor_router.get("/widget.js", include_in_schema=False)
def widget_script() -> FileResponse:
    return FileResponse(STATIC / "chat-widget.js", media_type="text/javascript")


@visitor_router.get("/widget.css", include_in_schema=False)
def widget_style() -> FileResponse:
    return FileResponse(STATIC / "chat-widget.css", media_type="text/css")


@visitor_router.get("/demo", include_in_schema=False, response_class=HTMLResponse)
def demo_page() -> HTMLResponse:
    """A page with the widget embedded, as a company's site would embed it."""
    from ombud.web.pages import TEMPLATES

    return HTMLResponse(TEMPLATES.get_template("chat-demo.html").render())


@visitor_router.post("/api/visitors", response_model=VisitorStarted, status_code=201)
async def start_visitor(body: VisitorStart, request: Request, runtime: RuntimeDep) -> VisitorStarted:
    """Start a chat visitor (no token needed): the answer's token reopens the conversation later. One
    client address may start OMBUD_CHAT_VISITOR_LIMIT in 10 minutes (429 `rate_limited`)."""
    client = request.client.host if request.client else "unknown"

    def work(session: Session) -> VisitorStarted:
        channels.check_rate(
            session=session, key=f"chat-visitor:{client}", limit=runtime.settings.chat_visitor_limit
        )
        token, visitor = chat.start_visitor(session=session, name=body.name, email=body.email)
        return VisitorStarted(
            token=token,
            visitor_id=visitor.public_id,
            agents_online=runtime.chat_hub.agents_online(),
            assistant=chat.assistant_on(session=session),
        )

    return await run_in_threadpool(_in_session, runtime, work)


@visitor_router.get("/api/conversation", response_model=Conversation)
async def conversation(
    runtime: RuntimeDep,
    x_chat_token: Annotated[str | None, Header()] = None,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    wait: Annotated[int, Query(ge=0, le=LONG_POLL_MAX)] = 0,
    agents: Annotated[int | None, Query(ge=0, le=1_000_000)] = None,
    read: Annotated[int | None, Query(ge=0, le=2**62)] = None,
) -> Conversation:
    """The visitor's messages after ``after``. With ``wait`` (seconds) it is a long poll: it answers as
    soon as something new arrives (a message, typing, a read receipt, an agent coming or going), or after
    ``wait`` seconds. ``agents`` and ``read`` are what the client last saw of ``agents_online`` and
    ``read_up_to``: when they differ, it answers at once."""
    visitor = await run_in_threadpool(_in_session, runtime, lambda s: _visitor(s, x_chat_token), write=False)
    hub = runtime.chat_hub
    subscription = hub.subscribe(PRESENCE, *_topics(visitor))
    try:
        found = await run_in_threadpool(_reload, runtime, x_chat_token, hub, after)
        events: list[dict[str, Any]] = []
        # Answer at once when the client's view is behind (an agent came, lines were read) even if no
        # event arrives: it may have happened between the client's last poll and this one.
        behind = (agents is not None and agents != found.agents_online) or (
            read is not None and read != found.read_up_to
        )
        if not found.messages and wait and not behind:
            event = await subscription.get(timeout=wait)
            if event is not None:
                events.append(event)
                found = await run_in_threadpool(_reload, runtime, x_chat_token, hub, after)
        found.events = [e for e in events if e.get("type") != "message"]
        return found
    finally:
        subscription.close()


def _reload(runtime: Runtime, token: str | None, hub: ChatHub, after: int) -> Conversation:
    return _in_session(runtime, lambda s: _conversation(s, _visitor(s, token), hub, after), write=False)


@visitor_router.post("/api/messages", response_model=ChatEvent, status_code=201)
async def post_line(
    body: LineIn, runtime: RuntimeDep, x_chat_token: Annotated[str | None, Header()] = None
) -> ChatEvent:
    """One line the visitor typed; the same ``client_id`` again returns the stored line."""
    return ChatEvent(**await _store_line(runtime, x_chat_token, body))


@visitor_router.post("/api/typing", status_code=204)
async def visitor_typing(
    body: TypingIn, runtime: RuntimeDep, x_chat_token: Annotated[str | None, Header()] = None
) -> None:
    """The visitor started or stopped typing (agents see it)."""
    visitor = await run_in_threadpool(_in_session, runtime, lambda s: _visitor(s, x_chat_token), write=False)
    _visitor_typing(runtime.chat_hub, visitor, body.typing)


@visitor_router.post("/api/email", response_model=Conversation)
async def leave_email(
    body: EmailIn, runtime: RuntimeDep, x_chat_token: Annotated[str | None, Header()] = None
) -> Conversation:
    """Nobody can answer now: continue the conversation by email at this address."""

    def work(session: Session) -> Conversation:
        visitor = chat.continue_by_email(
            session=session, visitor=_visitor(session, x_chat_token), email=body.email
        )
        return _conversation(session, visitor, runtime.chat_hub, after=2**62)

    return await run_in_threadpool(_in_session, runtime, work)


async def _store_line(runtime: Runtime, token: str | None, body: LineIn) -> dict[str, Any]:
    def work(session: Session) -> chat.Line:
        visitor = _visitor(session, token)
        return chat.post_line(
            session=session,
            visitor=visitor,
            text=body.text,
            client_id=body.client_id,
            flood_limit=runtime.settings.email_flood_limit,
        )

    line = await run_in_threadpool(_in_session, runtime, work)
    if line.created:
        chat.announce_line(runtime.chat_hub, line)
    return chat.message_event(line.message)


# -- the self-service assistant in the widget -------------------------------------------------------------
@visitor_router.post("/api/assistant", response_model=AssistantReply)
async def ask_assistant(
    body: AssistantIn, runtime: RuntimeDep, x_chat_token: Annotated[str | None, Header()] = None
) -> AssistantReply:
    """Ask the self-service assistant: an answer citing help articles, or a handover to a person (the
    chat ticket, with the conversation so far). Once a person has the chat, the line goes to them
    (``reason`` already_handed_over, ``message`` the stored line). A visitor may ask
    OMBUD_ASSISTANT_RATE_LIMIT questions in 10 minutes (429)."""

    def work() -> chat.AssistantTurn:
        # Three short transactions: the slow middle (triage, embedding, search) holds no write lock.
        database = runtime.database
        with database.session() as session:
            gate = chat.assistant_gate(
                session=session,
                visitor=_visitor(session, x_chat_token),
                text=body.text,
                client_id=body.client_id,
                rate_limit=runtime.settings.assistant_rate_limit,
                flood_limit=runtime.settings.email_flood_limit,
            )
            session.commit()
        if isinstance(gate, chat.AssistantTurn):
            return gate
        with database.session(write=False) as reader:
            thought = assistant.think(
                reader,
                searcher=runtime.knowledge,
                engine=runtime.triage,
                config=runtime.assistant,
                conversation_id=gate,
                text=body.text.strip(),
            )
        with database.session() as session:
            turn = chat.answer_visitor(
                session=session,
                visitor=_visitor(session, x_chat_token),
                conversation_id=gate,
                thought=thought,
            )
            session.commit()
            return turn

    return _assistant_reply(runtime, await run_in_threadpool(work))


@visitor_router.post("/api/assistant/outcome", response_model=AssistantReply)
async def assistant_outcome(
    body: AssistantOutcomeIn, runtime: RuntimeDep, x_chat_token: Annotated[str | None, Header()] = None
) -> AssistantReply:
    """The visitor's verdict on the assistant's last answer: solved, or not (the second "not" hands over).
    409 `no_assistant_conversation` before any question."""

    def work(session: Session) -> chat.AssistantTurn:
        return chat.assistant_outcome(
            session=session, visitor=_visitor(session, x_chat_token), resolved=body.resolved
        )

    return _assistant_reply(runtime, await run_in_threadpool(_in_session, runtime, work))


@visitor_router.post("/api/assistant/person", response_model=AssistantReply)
async def assistant_person(
    runtime: RuntimeDep, x_chat_token: Annotated[str | None, Header()] = None
) -> AssistantReply:
    """The visitor chose a person: always possible. The chat ticket opens with the conversation so far
    (before any question, with the visitor's next line)."""

    def work(session: Session) -> chat.AssistantTurn:
        return chat.assistant_person(session=session, visitor=_visitor(session, x_chat_token))

    return _assistant_reply(runtime, await run_in_threadpool(_in_session, runtime, work))


def _assistant_reply(runtime: Runtime, turn: chat.AssistantTurn) -> AssistantReply:
    """The reply for the widget; what reached people is announced to agents (after the commit)."""
    message = None
    if turn.line is not None:
        if turn.line.created:
            chat.announce_line(runtime.chat_hub, turn.line)
        message = ChatEvent(**chat.message_event(turn.line.message))
    return AssistantReply(
        conversation_id=turn.conversation_id,
        answer=turn.answer,
        articles=[
            CitedArticle(
                id=h.article_id,
                title=h.title,
                slug=h.slug,
                url=f"/help/{h.slug}",
                passage=h.passage,
                score=h.score,
            )
            for h in turn.hits
        ],
        confidence=round(turn.confidence, 4),
        handover=turn.handover,
        reason=turn.reason,
        ticket_id=turn.ticket_id,
        message=message,
    )


def _visitor_typing(hub: ChatHub, visitor: ChatVisitor, typing: bool) -> None:
    if visitor.ticket_id is not None:
        hub.publish(
            AGENTS, {"type": "typing", "who": "customer", "ticket_id": visitor.ticket_id, "typing": typing}
        )


# -- WebSockets -------------------------------------------------------------------------------------------
async def _hello(websocket: WebSocket) -> str | None:
    """Accept, and return the token of the first frame (None after closing a bad start)."""
    await websocket.accept()
    try:
        first = await asyncio.wait_for(_receive_text(websocket), HELLO_TIMEOUT)
        frame = json.loads(first) if first is not None else None
        token = frame.get("token") if isinstance(frame, dict) and frame.get("type") == "hello" else None
    except (TimeoutError, ValueError, WebSocketDisconnect):
        token = None
    if not isinstance(token, str) or not token:
        await _close(websocket, "hello_expected", 'send {"type": "hello", "token": ...} first')
        return None
    return token


async def _close(websocket: WebSocket, code: str, message: str) -> None:
    with contextlib.suppress(Exception):
        await websocket.send_json({"type": "error", "code": code, "message": message})
        await websocket.close(
            code=4401 if code.endswith("token_invalid") or code == "invalid_token" else 4400
        )


async def _receive_text(websocket: WebSocket) -> str | None:
    """The next frame's text; None for a binary frame (the protocol is JSON text)."""
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    text = message.get("text")
    return text if isinstance(text, str) else None


async def _frames(websocket: WebSocket) -> Any:
    """Yield the client's frames as dicts; a frame that is not a JSON object gets an error frame."""
    while True:
        text = await _receive_text(websocket)
        if text is None:
            await websocket.send_json(
                {"type": "error", "code": "invalid_frame", "message": "send text frames"}
            )
            continue
        if len(text) > MAX_FRAME_BYTES:
            await websocket.send_json(
                {"type": "error", "code": "frame_too_large", "message": "frames hold 64 KiB"}
            )
            continue
        try:
            frame = json.loads(text)
        except ValueError:
            frame = None
        if not isinstance(frame, dict):
            await websocket.send_json(
                {"type": "error", "code": "invalid_frame", "message": "send JSON objects"}
            )
            continue
        yield frame


async def _pump(
    websocket: WebSocket, subscription: Subscription, skip: Callable[[dict[str, Any]], bool]
) -> None:
    """Forward hub events to the socket until it closes."""
    while True:
        event = await subscription.get()
        if event is not None and not skip(event):
            await websocket.send_json(event)


async def _visitor_frame(
    websocket: WebSocket,
    runtime: Runtime,
    token: str,
    visitor: ChatVisitor,
    subscription: Subscription,
    sent: set[str],
    frame: dict[str, Any],
) -> None:
    kind = frame.get("type")
    if kind == "message":
        line = LineIn.model_validate({k: frame.get(k) for k in ("text", "client_id")})
        sent.add(line.client_id)
        event = await _store_line(runtime, token, line)
        if event["ticket_id"] != visitor.ticket_id:  # the first line opened the conversation
            visitor.ticket_id = event["ticket_id"]
            subscription.add_topic(ticket_topic(event["ticket_id"]))
        await websocket.send_json(
            {"type": "ack", "client_id": line.client_id, "state": "delivered", "message": event}
        )
    elif kind == "typing":
        _visitor_typing(runtime.chat_hub, visitor, bool(frame.get("typing")))
    elif kind == "ping":
        await websocket.send_json({"type": "pong"})
    else:
        await websocket.send_json(
            {"type": "error", "code": "unknown_type", "message": f"unknown type {kind!r}"}
        )


@visitor_router.websocket("/ws")
async def visitor_socket(websocket: WebSocket) -> None:
    runtime: Runtime = websocket.app.state.runtime
    hub = runtime.chat_hub
    token = await _hello(websocket)
    if token is None:
        return
    try:
        visitor = await run_in_threadpool(_in_session, runtime, lambda s: _visitor(s, token), write=False)
    except OmbudError as error:
        await _close(websocket, error.code, error.message)
        return
    # Subscribed before the history is read: a reply sent in between is heard (the widget drops repeats).
    subscription = hub.subscribe(PRESENCE, *_topics(visitor))
    try:
        welcome = await run_in_threadpool(_reload, runtime, token, hub, 0)
    except OmbudError as error:
        subscription.close()
        await _close(websocket, error.code, error.message)
        return
    sent: set[str] = set()  # this connection's own lines come back as acks, not as messages

    def skip(event: dict[str, Any]) -> bool:
        return event.get("who") == "customer" or event.get("client_id") in sent

    pump = asyncio.create_task(_pump(websocket, subscription, skip=skip))
    try:
        await websocket.send_json(
            {"type": "welcome", "visitor_id": visitor.public_id, **welcome.model_dump()}
        )
        async for frame in _frames(websocket):
            try:
                await _visitor_frame(websocket, runtime, token, visitor, subscription, sent, frame)
            except ValidationError as error:
                problem = str(error.errors()[0]["msg"])
                await websocket.send_json(
                    {
                        "type": "error",
                        "code": "invalid_input",
                        "message": problem,
                        "client_id": frame.get("client_id"),
                    }
                )
            except OmbudError as error:
                await websocket.send_json(
                    {
                        "type": "error",
                        "code": error.code,
                        "message": error.message,
                        "client_id": frame.get("client_id"),
                    }
                )
    except WebSocketDisconnect:
        pass
    finally:
        pump.cancel()
        subscription.close()


@agent_router.websocket("/ws")
async def agent_socket(websocket: WebSocket) -> None:
    """Agents' real-time feed: every customer line and typing on any chat; they send typing and read."""
    runtime: Runtime = websocket.app.state.runtime
    hub = runtime.chat_hub
    token = await _hello(websocket)
    if token is None:
        return
    try:
        principal = await run_in_threadpool(
            _in_session, runtime, lambda s: accounts.authenticate(session=s, token=token), write=False
        )
        if not principal.can_serve:
            raise Forbidden("only service roles answer chats", code="role_forbidden")
    except OmbudError as error:
        await _close(websocket, error.code, error.message)
        return
    subscription = hub.subscribe(AGENTS)
    hub.agent_joined()
    hub.publish(PRESENCE, {"type": "presence", "agents_online": hub.agents_online()})
    pump = asyncio.create_task(_pump(websocket, subscription, skip=lambda e: e.get("who") == "agent"))
    try:
        await websocket.send_json({"type": "welcome", "agents_online": hub.agents_online()})
        async for frame in _frames(websocket):
            kind = frame.get("type")
            ticket_id = frame.get("ticket_id")
            if not isinstance(ticket_id, int) or isinstance(ticket_id, bool):
                await websocket.send_json(
                    {"type": "error", "code": "invalid_frame", "message": "ticket_id must be a number"}
                )
                continue
            if kind == "typing":
                hub.publish(
                    ticket_topic(ticket_id),
                    {"type": "typing", "who": "agent", "typing": bool(frame.get("typing"))},
                )
            elif kind == "read" and isinstance(frame.get("message_id"), int):
                try:
                    await run_in_threadpool(_read, runtime, principal, ticket_id, int(frame["message_id"]))
                except OmbudError as error:
                    await websocket.send_json({"type": "error", "code": error.code, "message": error.message})
            else:
                await websocket.send_json(
                    {"type": "error", "code": "unknown_type", "message": f"unknown type {kind!r}"}
                )
    except WebSocketDisconnect:
        pass
    finally:
        pump.cancel()
        subscription.close()
        hub.agent_left()
        hub.publish(PRESENCE, {"type": "presence", "agents_online": hub.agents_online()})


def _read(runtime: Runtime, principal: Principal, ticket_id: int, message_id: int) -> None:
    def work(session: Session) -> int | None:
        tickets.access_ticket(session=session, principal=principal, ticket_id=ticket_id)
        return chat.mark_read(session=session, ticket_id=ticket_id, message_id=message_id, actor=principal)

    if _in_session(runtime, work) is not None:
        runtime.chat_hub.publish(ticket_topic(ticket_id), {"type": "read", "up_to": message_id})


@agent_router.post("/tickets/{ticket_id}/read", status_code=204)
def mark_read(
    ticket_id: IdPath, body: ReadIn, session: WriteSession, principal: CurrentPrincipal, request: Request
) -> None:
    """An agent read the chat up to ``message_id``: the visitor's lines show as read."""
    tickets.access_ticket(session=session, principal=principal, ticket_id=ticket_id)
    if (
        chat.mark_read(session=session, ticket_id=ticket_id, message_id=body.message_id, actor=principal)
        is None
    ):
        raise Conflict(f"ticket {ticket_id} is not a chat with a visitor", code="not_a_chat")
    session.commit()
    request.app.state.runtime.chat_hub.publish(
        ticket_topic(ticket_id), {"type": "read", "up_to": body.message_id}
    )
