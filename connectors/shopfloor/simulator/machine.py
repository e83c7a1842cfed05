"""One simulated machine: a state, an alarm, cumulative good and scrap counters, its own clock."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

# What the simulated controllers call their states (a PackML-like code, as PLCs report it).
STATE_CODES = {"running": 1, "idle": 2, "down": 3}
DEFAULT_ALARM = "E-204 spindle overload"


@dataclass
class Machine:
    name: str
    state: str = "running"
    alarm: str = ""
    good: int = 0
    scrap: int = 0
    changed_at: float = field(default_factory=time.time)  # when the state last changed (epoch s)
    changes: list[tuple[float, str]] = field(default_factory=list)  # every state change it made

    @property
    def code(self) -> int:
        return STATE_CODES[self.state]

    def set_state(self, state: str, alarm: str = "") -> bool:
        """Change state (and alarm); False when it already is in that state."""
        if state == self.state and alarm == self.alarm:
            return False
        if state != self.state:
            self.changed_at = time.time()
            self.changes.append((self.changed_at, state))
        self.state, self.alarm = state, alarm
        return True

    def breakdown(self, alarm: str = DEFAULT_ALARM) -> bool:
        return self.set_state("down", alarm or DEFAULT_ALARM)

    def recover(self) -> bool:
        return self.set_state("running")

    def make_part(self, rng: random.Random, scrap_rate: float = 0.02) -> bool:
        """One cycle: a good or a scrap part while running; False when stopped."""
        if self.state != "running":
            return False
        if rng.random() < scrap_rate:
            self.scrap += 1
        else:
            self.good += 1
        return True


def fleet(prefix: str, count: int) -> list[Machine]:
    return [Machine(f"{prefix}-{n:03d}") for n in range(1, count + 1)]
