"""The shared vocabulary: the enums rules use are the values the event contract carries."""

from __future__ import annotations

import re
from typing import get_args

from k8sops_common.events import catalog
from k8sops_common.inputs import ID_PATTERN, WIDE_ID_PATTERN
from k8sops_common.vocabulary import Priority, Tier


def test_enums_match_the_event_contract() -> None:
    assert [tier.value for tier in Tier] == list(get_args(catalog.Tier))
    assert [priority.value for priority in Priority] == list(get_args(catalog.Priority))


def test_id_patterns() -> None:
    assert re.match(ID_PATTERN, "eng-1.a_b")
    assert not re.match(ID_PATTERN, "ns:name")
    assert not re.match(ID_PATTERN, "a" * 64)
    assert re.match(WIDE_ID_PATTERN, "ns:name")
    assert not re.match(WIDE_ID_PATTERN, "-leading-dash")
