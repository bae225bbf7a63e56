"""Training sessions: a trainee plays through a scenario against the simulated customer.

A session is a sandbox: nothing in it touches a ticket, sends a message, writes an audit row or publishes an
event. Its turns and scores are the trainee's personal figures: the trainee and a lead who shares a team with
them may read them (:mod:`ombud.people.access`); anyone else gets 404, as if it did not exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ombud.accounts import service as accounts
from ombud.accounts.schemas import Principal
from ombud.assist import service as assist
from ombud.assist.schemas import CheckResult
from ombud.errors import Conflict, Forbidden, NotFound
from ombud.knowledge import service as knowledge
from ombud.people import scenarios, scoring, simulator, training_llm
from ombud.people.access import can_see_figures, check_figures
from ombud.people.training_models import Persona, Scenario, SessionState, TrainingSession, TrainingTurn
from ombud.people.training_schemas import (
    ReplyResult,
    Score,
    SessionPublic,
    SessionSummary,
    SuggestionPage,
    SuggestionPublic,
    TrainingResults,
    TurnFeedback,
    TurnPublic,
)
from ombud.resolutions import policies
from ombud.storage.base import utcnow

SCORE_KEYS = ("overall", "reply_check", "resolution", "policy", "deescalation")
MAX_LISTED = 100


# -- reading ----------------------------------------------------------------------------------------------
def access_session(
    *, session: Session, principal: Principal, session_id: int, write: bool = False
) -> TrainingSession:
    """Return the training session if ``principal`` may read it (the trainee, or their lead); with
    ``write`` only the trainee. Others get 404 ``session_not_found``; a lead who tries to play it gets 403
    ``not_your_session``."""
    scenarios.check_trainee(principal)
    found = session.get(TrainingSession, session_id)
    if found is None:
        raise NotFound(f"no training session with id {session_id}", code="session_not_found")
    if found.user_id == principal.id:
        return found
    if can_see_figures(session=session, viewer=principal, user_id=found.user_id):
        if write:
            raise Forbidden("only the trainee plays their session", code="not_your_session")
        return found
    raise NotFound(f"no training session with id {session_id}", code="session_not_found")


def turns_of(*, session: Session, training: TrainingSession) -> list[TrainingTurn]:
    return list(
        session.scalars(
            select(TrainingTurn).where(TrainingTurn.session_id == training.id).order_by(TrainingTurn.position)
        )
    )


def to_public(*, session: Session, training: TrainingSession) -> SessionPublic:
    """The session as the trainee sees it: never the source ticket."""
    scenario = session.get(Scenario, training.scenario_id)
    assert scenario is not None  # the foreign key cascades
    turns = turns_of(session=session, training=training)
    return SessionPublic(
        id=training.id,
        scenario_id=scenario.id,
        scenario_title=scenario.title,
        persona=scenario.persona,
        user_id=training.user_id,
        state=training.state,
        mode=training.mode,
        frustration=training.frustration,
        mood=simulator.mood(training.frustration),
        customer_name=scenario.customer_name,
        concerns=[str(c["text"]) for c in scenario.concerns],
        turns=[_turn_public(t) for t in turns],
        trainee_turns=sum(t.role == "trainee" for t in turns),
        max_turns=simulator.MAX_TURNS,
        score=Score.model_validate(training.score) if training.score else None,
        started_at=training.started_at,
        finished_at=training.finished_at,
    )


def _turn_public(turn: TrainingTurn) -> TurnPublic:
    return TurnPublic(
        position=turn.position,
        role="trainee" if turn.role == "trainee" else "customer",
        body=turn.body,
        frustration=turn.frustration,
        mood=simulator.mood(turn.frustration),
        feedback=TurnFeedback.model_validate(turn.feedback)
        if turn.role == "trainee" and turn.feedback
        else None,
        created_at=turn.created_at,
    )


def sessions_of(*, session: Session, user_id: int, limit: int = MAX_LISTED) -> Sequence[TrainingSession]:
    return session.scalars(
        select(TrainingSession)
        .where(TrainingSession.user_id == user_id)
        .order_by(TrainingSession.id.desc())
        .limit(limit)
    ).all()


def results_of(*, session: Session, principal: Principal, user_id: int) -> TrainingResults:
    """Return ``user_id``'s sessions and average scores (private: the agent and their lead)."""
    check_figures(session=session, viewer=principal, user_id=user_id)
    rows = sessions_of(session=session, user_id=user_id)
    titles = _scenario_titles(session=session, ids={r.scenario_id for r in rows})
    finished = [r.score for r in rows if r.state is SessionState.finished and r.score]
    return TrainingResults(
        user_id=user_id,
        sessions=[
            SessionSummary(
                id=r.id,
                scenario_id=r.scenario_id,
                scenario_title=titles.get(r.scenario_id, ("", None))[0],
                persona=titles[r.scenario_id][1],
                state=r.state,
                score=Score.model_validate(r.score) if r.score else None,
                started_at=r.started_at,
                finished_at=r.finished_at,
            )
            for r in rows
            if r.scenario_id in titles
        ],
        averages={k: round(sum(int(s[k]) for s in finished) / len(finished)) for k in SCORE_KEYS}
        if finished
        else {},
    )


def _scenario_titles(*, session: Session, ids: set[int]) -> dict[int, tuple[str, Persona]]:
    if not ids:
        return {}
    rows = session.execute(select(Scenario.id, Scenario.title, Scenario.persona).where(Scenario.id.in_(ids)))
    return {int(r[0]): (r[1], r[2]) for r in rows}


# -- playing ----------------------------------------------------------------------------------------------
def start_session(
    *,
    session: Session,
    principal: Principal,
    scenario_id: int,
    model: training_llm.CustomerModel | None = None,
) -> TrainingSession:
    """Start a session on an active scenario: the customer's first message opens it."""
    scenario = scenarios.access_scenario(session=session, principal=principal, scenario_id=scenario_id)
    if not scenario.active:
        raise NotFound(f"no training scenario with id {scenario_id}", code="scenario_not_found")
    assert principal.id is not None  # check_trainee: a signed-in user
    frustration = simulator.initial_frustration(scenario.persona, scenario.messages)
    training = TrainingSession(
        scenario_id=scenario.id,
        user_id=principal.id,
        state=SessionState.active,
        mode="llm" if model is not None else "rules",
        frustration=frustration,
        script_position=1,
        score={},
        started_at=utcnow(),
    )
    session.add(training)
    session.flush()
    opening = str(scenario.messages[0]["body"]) if scenario.messages else scenario.title
    session.add(
        TrainingTurn(
            session_id=training.id, position=0, role="customer", body=opening, frustration=frustration
        )
    )
    session.flush()
    return training


def _situation(
    *, session: Session, principal: Principal, training: TrainingSession, turns: list[TrainingTurn]
) -> scoring.Situation:
    scenario = session.get(Scenario, training.scenario_id)
    assert scenario is not None
    concerns = [str(c["text"]) for c in scenario.concerns]
    addressed = {
        concerns.index(text)
        for t in turns
        if t.role == "trainee"
        for text in (t.feedback or {}).get("addressed") or []
        if text in concerns
    }
    expected = scenario.expected or {}
    found = policies.active_policy(session=session)
    articles = knowledge.articles_by_id(session=session, ids=set(expected.get("article_ids") or []))
    user = accounts.access_user(session=session, user_id=training.user_id)
    customer_lines = [t.body for t in turns if t.role == "customer"]
    return scoring.Situation(
        customer_name=scenario.customer_name,
        agent_name=user.name,
        concerns=concerns,
        addressed=addressed,
        frustration=training.frustration,
        persona=scenario.persona.value,
        expected=expected,
        customer_text="\n\n".join(customer_lines),
        conversation="\n\n".join(t.body for t in turns),
        role=user.role.value,
        policy=found[1] if found else None,
        articles=[(a.id, a.title, a.body) for a in articles],
        glossary=assist.glossary_terms(session=session, principal=principal),
        voice=list(assist.list_voice(session=session, principal=principal)),
    )


def check_draft(
    *, session: Session, principal: Principal, session_id: int, text: str, dismissed: Sequence[str] = ()
) -> CheckResult:
    """Return the production reply check's findings on a draft reply in the session (nothing is stored)."""
    training = access_session(session=session, principal=principal, session_id=session_id, write=True)
    turns = turns_of(session=session, training=training)
    situation = _situation(session=session, principal=principal, training=training, turns=turns)
    return scoring.check(text, situation, dismissed)


@dataclass
class Planned:
    """A scored reply and the customer's answer, before anything is written: the model (if any) phrases the
    answer between reading and writing, so no transaction stays open while it does."""

    session_id: int
    turns: int  # how many turns the session had: a reply recorded meanwhile makes this one stale
    text: str
    feedback: TurnFeedback
    frustration: float
    line: simulator.Line
    persona: str
    messages: list[str]
    conversation: list[tuple[str, str]]
    body: str = ""
    source: str = ""


def plan_reply(*, session: Session, principal: Principal, session_id: int, text: str) -> Planned:
    """Score the trainee's reply, move the customer's frustration and choose the customer's answer (reads
    only). The session ends when the customer is satisfied or after the last turn."""
    training = access_session(session=session, principal=principal, session_id=session_id, write=True)
    if training.state is not SessionState.active:
        raise Conflict("this training session has ended", code="session_finished")
    scenario = session.get(Scenario, training.scenario_id)
    assert scenario is not None
    turns = turns_of(session=session, training=training)
    done_turns = sum(t.role == "trainee" for t in turns)
    situation = _situation(session=session, principal=principal, training=training, turns=turns)
    feedback = scoring.assess(text, situation)
    newly = len(feedback.addressed)
    jargon = [f.excerpt for f in feedback.findings if f.code == "jargon" and f.excerpt]
    before = training.frustration
    after = simulator.move(before, feedback, scenario.persona, newly=newly, jargon=len(jargon))
    feedback.frustration_before, feedback.frustration_after = before, after
    outcome_done = feedback.outcome or any(
        (t.feedback or {}).get("outcome") for t in turns if t.role == "trainee"
    )
    satisfied = not feedback.missed and outcome_done and after <= simulator.CALM
    progressed = newly > 0 and not feedback.dismissive and after <= before
    if satisfied:
        line = simulator.Line(simulator.closing(scenario.persona), "closing", training.script_position)
    elif done_turns + 1 >= simulator.MAX_TURNS:
        line = simulator.Line(simulator.giving_up(scenario.persona), "closing", training.script_position)
    else:
        line = simulator.next_line(
            persona=scenario.persona,
            messages=scenario.messages,
            position=training.script_position,
            feedback=feedback,
            progressed=progressed,
            jargon_terms=jargon,
            expected=scenario.expected or {},
            all_concerns=situation.concerns,
            turn=done_turns + 1,
        )
    return Planned(
        session_id=training.id,
        turns=len(turns),
        text=text,
        feedback=feedback,
        frustration=after,
        line=line,
        persona=scenario.persona.value,
        messages=[str(m["body"]) for m in scenario.messages],
        conversation=[(t.role, t.body) for t in turns],
        body=line.text,
        source=line.source,
    )


def speak(planned: Planned, model: training_llm.CustomerModel | None) -> None:
    """Let the model phrase the customer's answer (no database): on failure the rules' line stays and the
    turn's feedback says so. A closing line is always the rules'."""
    if model is None or planned.line.source == "closing":
        return
    said, failure = training_llm.play(
        model,
        persona=planned.persona,
        messages=planned.messages,
        conversation=planned.conversation,
        frustration=planned.frustration,
        reply=planned.text,
        rules_line=planned.line.text,
    )
    if said is not None:
        planned.body, planned.source = said, "llm"
    else:
        planned.feedback.notes.append(
            f"The customer model did not answer ({failure}); the built-in rules played this turn."
        )


def record_reply(*, session: Session, principal: Principal, planned: Planned) -> ReplyResult:
    """Store the planned reply and the customer's answer (409 ``session_changed`` when another reply was
    recorded meanwhile, ``session_finished`` when it ended); finish the session on a closing line."""
    training = access_session(session=session, principal=principal, session_id=planned.session_id, write=True)
    _lock(session, training)
    if training.state is not SessionState.active:
        raise Conflict("this training session has ended", code="session_finished")
    position = len(turns_of(session=session, training=training))
    if position != planned.turns:
        raise Conflict("another reply was recorded meanwhile; reload the session", code="session_changed")
    feedback = planned.feedback
    feedback.source = planned.source  # type: ignore[assignment]  # one of the Literal's values
    customer = TrainingTurn(
        session_id=training.id,
        position=position + 1,
        role="customer",
        body=planned.body,
        frustration=planned.frustration,
    )
    try:
        # A double submit passes the count above in both transactions; the unique (session_id, position)
        # decides which one wins, and the loser gets the same 409 as if it had seen the other's turns.
        with session.begin_nested():
            trainee = TrainingTurn(
                session_id=training.id,
                position=position,
                role="trainee",
                body=planned.text,
                frustration=planned.frustration,
                feedback=feedback.model_dump(mode="json"),
            )
            session.add_all([trainee, customer])
            session.flush()
    except IntegrityError as error:
        raise Conflict(
            "another reply was recorded meanwhile; reload the session", code="session_changed"
        ) from error
    training.frustration = planned.frustration
    training.script_position = planned.line.position
    session.flush()
    if planned.line.source == "closing":
        _finish(session=session, training=training)
    return ReplyResult(
        feedback=feedback,
        customer=_turn_public(customer),
        session=to_public(session=session, training=training),
    )


def reply(
    *,
    session: Session,
    principal: Principal,
    session_id: int,
    text: str,
    model: training_llm.CustomerModel | None = None,
) -> ReplyResult:
    """Plan, phrase and record a reply in one go (the caller's transaction stays open while a model
    answers: routes with a model configured end it between :func:`plan_reply` and :func:`record_reply`).
    Nothing is sent to anyone."""
    planned = plan_reply(session=session, principal=principal, session_id=session_id, text=text)
    speak(planned, model)
    return record_reply(session=session, principal=principal, planned=planned)


def finish(*, session: Session, principal: Principal, session_id: int) -> TrainingSession:
    """End the session (the trainee chose to) and score it; finishing twice changes nothing."""
    training = access_session(session=session, principal=principal, session_id=session_id, write=True)
    _lock(session, training)
    if training.state is SessionState.active:
        _finish(session=session, training=training)
    return training


def _lock(session: Session, training: TrainingSession) -> None:
    """Hold the session's row (PostgreSQL; SQLite's writers are one at a time already) and read it afresh:
    a reply and an end of the session at the same moment happen one after the other, so no turn is
    recorded after the scorecard."""
    if session.get_bind().dialect.name == "postgresql":
        session.refresh(training, with_for_update=True)


def _finish(*, session: Session, training: TrainingSession) -> None:
    scenario = session.get(Scenario, training.scenario_id)
    assert scenario is not None
    turns = turns_of(session=session, training=training)
    feedback = [TurnFeedback.model_validate(t.feedback) for t in turns if t.role == "trainee" and t.feedback]
    curve = [turns[0].frustration if turns else training.frustration] + [
        t.frustration for t in turns if t.role == "trainee"
    ]
    score = scoring.final_score(
        concerns=len(scenario.concerns), expected=scenario.expected or {}, feedback=feedback, curve=curve
    )
    training.score = score.model_dump()
    training.state = SessionState.finished
    training.finished_at = utcnow()
    session.flush()


def suggestions(*, session: Session, principal: Principal, limit: int = 3) -> SuggestionPage:
    """Return the scenarios suggested to the signed-in trainee, each with why (may build a scenario for an
    open advocacy case: the caller commits)."""
    scenarios.check_trainee(principal)
    assert principal.id is not None
    return SuggestionPage(
        items=[
            SuggestionPublic(scenario=scenarios.to_public(s, principal=principal), why=why, kind=kind)
            for s, why, kind in scenarios.suggest(session=session, user_id=principal.id, limit=limit)
        ]
    )
