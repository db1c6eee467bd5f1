"""A consumer's check that the log under it is the one it read (bus/continuity.py), without I/O."""

from __future__ import annotations

from aiokafka import ConsumerRecord, TopicPartition

from k8sops_common.bus.continuity import Continuity, Handled

PARTITION = TopicPartition("t.request.opened", 0)


def record(offset: int, timestamp: int, key: bytes = b"req-1") -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(PARTITION.topic, 0, offset, timestamp, 0, key, b"{}", None, len(key), 2, [])


def continuity() -> Continuity:
    return Continuity("127.0.0.1:1", "test-verifier", interval_s=1.0)


def test_a_record_is_still_held_only_if_the_same_record_is_at_its_offset() -> None:
    handled = Handled.of(record(7, 1_000))
    assert handled.still_held(record(7, 1_000))
    assert not handled.still_held(None)  # the partition now ends before it
    assert not handled.still_held(record(7, 2_000))  # published again into a new log
    assert not handled.still_held(record(7, 1_000, key=b"req-2"))
    # Kafka's retention or compaction removed it: the log is the same, nothing to replay.
    assert handled.still_held(record(9, 5_000))


def test_a_record_read_after_the_last_check_is_checked_against_the_anchor_before_it() -> None:
    checks = continuity()
    checks.handled({PARTITION: [record(3, 100), record(4, 101)]})
    assert checks.to_check({PARTITION}) == {PARTITION: Handled(4, 101, b"req-1")}
    checks.checked({PARTITION}, set(), now=10.0)
    # Read from a replacement log after that check: not trusted until the anchor is found again.
    checks.handled({PARTITION: [record(20, 900)]})
    assert checks.to_check({PARTITION}) == {PARTITION: Handled(4, 101, b"req-1")}
    checks.checked({PARTITION}, set(), now=11.0)
    assert checks.to_check({PARTITION}) == {PARTITION: Handled(20, 900, b"req-1")}


def test_a_replaced_partition_is_sought_by_every_new_member_until_a_commit_from_the_new_log() -> None:
    checks = continuity()
    checks.handled({PARTITION: [record(4, 101)]})
    checks.checked({PARTITION}, set(), now=10.0)
    checks.rewind({PARTITION})
    assert checks.to_check({PARTITION}) == {}  # read from the start again: nothing to compare yet
    assert checks.to_seek({PARTITION}) == {PARTITION}
    assert checks.to_seek({PARTITION}) == set()  # sought once by this member
    checks.handled({PARTITION: [record(0, 900)]})
    checks.committed({})
    # A new member may resume from the old position the broker holds: it seeks to the start again.
    checks.reconnected()
    assert checks.to_seek({PARTITION}) == {PARTITION}
    checks.committed({PARTITION: 1})
    assert checks.to_seek({PARTITION}) == set()
    assert checks.to_check({PARTITION}) == {PARTITION: Handled(0, 900, b"req-1")}


def test_a_check_is_due_after_the_interval_and_at_once_after_a_new_assignment_or_member() -> None:
    checks = continuity()
    checks.checked({PARTITION}, set(), now=11.0)
    assert not checks.due({PARTITION}, now=11.5)
    assert checks.due({PARTITION}, now=12.0)
    other = TopicPartition(PARTITION.topic, 1)
    assert checks.due({PARTITION, other}, now=11.5)
    checks.reconnected()
    assert checks.due({PARTITION}, now=11.5)
