"""How long a consumer waits before it reconnects after a failure."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ReconnectBackoff:
    """`first_s`, doubled after each failure up to `max_s`, and `first_s` again once the consumer was
    healthy in between: it handled a poll, or stayed connected for `healthy_after_s`.

    Before, the delay went back to `first_s` only when the consume loop returned, which it does only
    when the consumer stops: after the failures of one broker restart, every later single failure,
    however long the consumer had run well since, waited `max_s`.
    """

    first_s: float = 0.2
    max_s: float = 5.0
    healthy_after_s: float = 30.0
    _next_s: float = field(init=False)
    _connected_at: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._next_s = self.first_s

    def connected(self, now: float) -> None:
        self._connected_at = now

    def handled(self) -> None:
        """A poll was handled and committed: the broker and the database both work."""
        self._next_s = self.first_s

    def failed(self, now: float) -> float:
        """The wait before reconnecting after a failure at `now`."""
        if self._connected_at is not None and now - self._connected_at >= self.healthy_after_s:
            self._next_s = self.first_s
        self._connected_at = None
        delay = self._next_s
        self._next_s = min(delay * 2, self.max_s)
        return delay
