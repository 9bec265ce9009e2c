"""Where a folded projection is kept between runs, with the position it has reached.

A store saves the state and the position in one transaction: a projection is exactly-once
because it never holds a state without knowing which events made it.
"""

from __future__ import annotations

from typing import Protocol

from .fold import Projection


class ProjectionStore(Protocol):
    def load(self) -> tuple[Projection, int]:
        """The last saved state and the position of the last fact folded into it (0: none)."""

    def save(self, state: Projection, position: int) -> None:
        """Replace the saved state; ``position`` never goes backwards."""

    def close(self) -> None: ...
