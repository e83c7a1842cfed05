"""State machines as data: each entity declares its actions once, every service checks them alike.

A machine maps an action name (the verb in the URL, e.g. `release`) to the states it may start
from and the state it leads to. Refusals are `IllegalTransition` problems (409) that name the
current state, and the table itself is what tests walk to cover every transition.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from contracts.kit.problems import IllegalTransition

S = TypeVar("S", bound=StrEnum)


@dataclass(frozen=True, slots=True)
class Transition(Generic[S]):
    action: str
    sources: frozenset[S]
    target: S


class StateMachine(Generic[S]):
    def __init__(
        self, entity: str, states: type[S], transitions: Mapping[str, tuple[Iterable[S], S]]
    ) -> None:
        self.entity = entity
        self.states: tuple[S, ...] = tuple(states)
        self.transitions = {
            action: Transition(action, frozenset(sources), target)
            for action, (sources, target) in transitions.items()
        }

    def target(self, current: S, action: str) -> S:
        """The state `action` leads to from `current`, or the 409 that forbids it."""
        transition = self.transitions[action]
        if current not in transition.sources:
            raise IllegalTransition(self.entity, current, action)
        return transition.target

    def can(self, current: S, action: str) -> bool:
        return current in self.transitions[action].sources

    def actions(self, current: S) -> list[str]:
        """What a client may do next; responses carry it so a UI never guesses."""
        return [t.action for t in self.transitions.values() if current in t.sources]

    def edges(self) -> Iterator[tuple[S, str, S]]:
        """Every legal (from, action, to), in declaration order."""
        for t in self.transitions.values():
            for source in sorted(t.sources, key=self.states.index):
                yield source, t.action, t.target

    def refusals(self) -> Iterator[tuple[S, str]]:
        """Every (state, action) the machine refuses."""
        for state in self.states:
            for action, t in self.transitions.items():
                if state not in t.sources:
                    yield state, action


def require_state(entity: str, current: S, allowed: Iterable[S], action: str) -> None:
    """A guard for work that leaves the state alone (add a line, confirm a quantity): the same 409."""
    if current not in frozenset(allowed):
        raise IllegalTransition(entity, current, action)


__all__ = ["StateMachine", "Transition", "require_state"]
