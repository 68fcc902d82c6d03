"""Learning rules, pure: confidence from evidence, keys that make learning idempotent,
and when outcomes become heuristics or anti-patterns."""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from langgraph_alma.memory.items import normalise
from langgraph_alma.memory.types import Outcome

# z of an 80% one-sided interval: 3 successes out of 3 give 0.64, 30 out of 30 give 0.95.
CONFIDENCE_Z = 1.2816
ANTI_PATTERN_MIN_FAILURES = 2


def heuristic_confidence(successes: int, occurrences: int, z: float = CONFIDENCE_Z) -> float:
    """Wilson lower bound of the success rate: rises with the rate and with the evidence.

    >>> round(heuristic_confidence(3, 3), 2), round(heuristic_confidence(30, 30), 2)
    (0.64, 0.95)
    """
    if occurrences <= 0:
        return 0.0
    p = successes / occurrences
    denom = 1 + z * z / occurrences
    centre = p + z * z / (2 * occurrences)
    margin = z * math.sqrt(p * (1 - p) / occurrences + z * z / (4 * occurrences * occurrences))
    return max(0.0, min(1.0, (centre - margin) / denom))


def stable_key(prefix: str, *parts: str) -> str:
    """A deterministic item key: the same parts always name the same memory."""
    digest = hashlib.sha256("\x1f".join(normalise(p) for p in parts).encode()).hexdigest()
    return f"{prefix}-{digest[:32]}"


def heuristic_key(agent: str, condition: str, strategy: str) -> str:
    return stable_key("h", agent, condition, strategy)


def anti_pattern_key(agent: str, task_type: str, pattern: str) -> str:
    return stable_key("ap", agent, task_type, pattern)


def condition_for(task_type: str) -> str:
    """The condition a heuristic learned from outcomes of one task type states."""
    return f"task type is {task_type}"


def best_alternative(outcomes: Iterable[Outcome], failing: str) -> str:
    """The strategy that succeeded most often for these outcomes, other than `failing`."""
    wins = Counter(
        o.strategy_used for o in outcomes if o.success and normalise(o.strategy_used) != failing
    )
    return wins.most_common(1)[0][0] if wins else ""


TALLY = "tally"
"""Namespace label of the running outcome counts (one item per agent, task type and
strategy), kept in each learn's transaction so a learn never recounts past outcomes."""


@dataclass(frozen=True)
class Tally:
    """Running counts of one agent's outcomes of one strategy on one task type."""

    task_type: str
    strategy: str
    strategy_key: str
    occurrences: int = 0
    successes: int = 0
    last_error: str | None = None

    @property
    def failures(self) -> int:
        return self.occurrences - self.successes

    def add(self, outcomes: Iterable[Outcome]) -> Tally:
        """These counts with `outcomes` added (the last failure's error is kept).

        >>> Tally("t", "s", "s").add([Outcome(task_type="t", task_description="",
        ...     success=True, strategy_used="s")]).occurrences
        1
        """
        n, wins, error = self.occurrences, self.successes, self.last_error
        for o in outcomes:
            n, wins = n + 1, wins + bool(o.success)
            if not o.success and o.error_message:
                error = o.error_message
        return replace(self, occurrences=n, successes=wins, last_error=error)

    def to_value(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_value(cls, value: Mapping[str, Any]) -> Tally:
        fields: dict[str, Any] = {f: value.get(f) for f in cls.__dataclass_fields__}
        return cls(**fields)


def tally_key(agent: str, task_type: str, strategy_key: str) -> str:
    return stable_key("t", agent, task_type, strategy_key)


def best_alternative_of(tallies: Iterable[Tally], failing: str) -> str:
    """The strategy with the most successes among `tallies`, other than `failing`."""
    best = max(
        (t for t in tallies if t.successes and t.strategy_key != failing),
        key=lambda t: t.successes,
        default=None,
    )
    return best.strategy if best else ""
