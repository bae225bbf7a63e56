"""The triage pipeline: components run in order over a batch of documents.

Each component follows spaCy's contract: it declares what it ``requires`` and ``assigns``, ``predict``
computes results for a whole batch (batch output equals single-item output) and ``set_annotations`` writes
them onto the documents. The pipeline checks at construction that every requirement is assigned by an
earlier component (or is part of the input), so a misordered or missing component is an error at start-up,
not a wrong answer later. Built-in components register through the same ``register_component`` that a
plugin uses.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from ombud.errors import ConfigurationError

INPUTS = frozenset({"text", "context"})


@dataclass
class OpenTicket:
    id: int
    subject: str
    status: str


@dataclass
class Context:
    """What ombud knows about the customer beyond this message (empty when triaging loose text)."""

    channel: str | None = None
    ticket_id: int | None = None
    contacts_30d: int = 0
    open_tickets: list[OpenTicket] = field(default_factory=list)
    recent_intents: list[tuple[int, str]] = field(default_factory=list)  # (ticket id, intent) in 30 days
    waiting_minutes: int = 0
    catalogue: list[str] = field(default_factory=list)


@dataclass
class Doc:
    text: str
    context: Context = field(default_factory=Context)
    annotations: dict[str, Any] = field(default_factory=dict)
    explanations: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        return self.annotations[name]


class Component(Protocol):
    name: ClassVar[str]
    requires: ClassVar[tuple[str, ...]]
    assigns: ClassVar[tuple[str, ...]]

    def predict(self, docs: Sequence[Doc]) -> list[Any]: ...

    def set_annotations(self, docs: Sequence[Doc], results: list[Any]) -> None: ...


ComponentFactory = Callable[[Any], Component]
_REGISTRY: dict[str, ComponentFactory] = {}


def register_component(name: str) -> Callable[[ComponentFactory], ComponentFactory]:
    """Register a component factory under ``name``; the factory receives the loaded models."""

    def decorate(factory: ComponentFactory) -> ComponentFactory:
        _REGISTRY[name] = factory
        return factory

    return decorate


class Pipeline:
    def __init__(self, components: Sequence[Component]) -> None:
        available = set(INPUTS)
        for component in components:
            missing = [r for r in component.requires if r not in available]
            if missing:
                raise ConfigurationError(
                    code="triage_pipeline_order",
                    message=f"Triage component {component.name!r} needs {', '.join(missing)}, "
                    "which no earlier "
                    "component assigns.",
                )
            available.update(component.assigns)
        self.components = list(components)

    @classmethod
    def build(cls, names: Sequence[str], models: Any) -> Pipeline:
        unknown = [n for n in names if n not in _REGISTRY]
        if unknown:
            raise ConfigurationError(
                code="unknown_triage_component",
                message=f"Unknown triage component(s): {', '.join(unknown)}; known: {', '.join(_REGISTRY)}.",
            )
        return cls([_REGISTRY[name](models) for name in names])

    def __call__(self, docs: Sequence[Doc]) -> Sequence[Doc]:
        for component in self.components:
            component.set_annotations(docs, component.predict(docs))
        return docs
