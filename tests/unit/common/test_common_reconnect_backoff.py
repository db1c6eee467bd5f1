"""A consumer's wait before reconnecting (bus/reconnect.py), without I/O."""

from __future__ import annotations

from k8sops_common.bus.reconnect import ReconnectBackoff


def outage(backoff: ReconnectBackoff, now: float) -> list[float]:
    """A broker restart: connecting fails again and again, then a connection holds."""
    delays = [backoff.failed(now + number) for number in range(7)]
    backoff.connected(now + 10)
    return delays


def test_failures_in_a_row_wait_longer_up_to_the_maximum() -> None:
    backoff = ReconnectBackoff(first_s=0.2, max_s=5.0, healthy_after_s=30.0)
    assert outage(backoff, 0.0) == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]
    # Connected, but failing again before it handled anything or held for long: still backing off.
    assert backoff.failed(12.0) == 5.0


def test_after_a_handled_poll_the_next_failure_waits_the_first_delay() -> None:
    backoff = ReconnectBackoff(first_s=0.2, max_s=5.0, healthy_after_s=30.0)
    outage(backoff, 0.0)
    backoff.handled()
    assert backoff.failed(11.0) == 0.2
    assert backoff.failed(12.0) == 0.4


def test_a_connection_that_held_long_enough_resets_the_delay_even_with_nothing_to_handle() -> None:
    backoff = ReconnectBackoff(first_s=0.2, max_s=5.0, healthy_after_s=30.0)
    outage(backoff, 0.0)
    assert backoff.failed(10.0 + 3_600) == 0.2
    # The failed connection counts no longer: the next failure, unconnected, doubles again.
    assert backoff.failed(10.0 + 3_601) == 0.4
