"""Checkpoints kept by a witness: read in every form the service hands them out, checked for their key."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from k8sops_audit.domain.chain import ChainHead
from k8sops_audit.domain.checkpoint import Checkpoint, generate_signing_key, public_key_to_pem, sign_checkpoint
from k8sops_audit.witness import WitnessFileError, checkpoint_record, parse_checkpoints


def record(sequence: int) -> dict[str, object]:
    key = generate_signing_key()
    checkpoint = Checkpoint.of_head(ChainHead(sequence, "ab" * 32), datetime(2026, 11, 27, 9, 0, 0, 123456, UTC))
    return checkpoint_record(sign_checkpoint(checkpoint, key), public_key_to_pem(key.public_key()).decode())


def test_json_lines_arrays_and_whole_events_all_read_back_to_the_same_checkpoints() -> None:
    first, second = record(10), record(20)
    lines = "\n".join(json.dumps(item) for item in (first, second)) + "\n"
    events = "\n".join(json.dumps({"specversion": "1.0", "data": item}) for item in (first, second))
    array = json.dumps([{k: v for k, v in item.items() if k != "public_key_pem"} for item in (first, second)])
    for text in (lines, events, array):
        parsed = parse_checkpoints(text, "witness")
        assert [item.signed.checkpoint.head_sequence for item in parsed] == [10, 20]
        assert parsed[0].signed.checkpoint.canonical_bytes().decode() == first["signed_bytes"]


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        json.dumps({**record(3), "key_id": "someone-else"}),
        json.dumps({**record(3), "entry_count": 4}),
        json.dumps([{"head_sequence": 3}]),
    ],
)
def test_anything_else_is_refused_with_the_file_named(text: str) -> None:
    with pytest.raises(WitnessFileError, match=r"witness\.jsonl"):
        parse_checkpoints(text, "witness.jsonl")
