"""Our Standard Webhooks signing and verification against the reference library, both ways."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks import Webhook

from k8sops_intake.domain.webhooks import (
    SignatureRejected,
    new_secret,
    retry_delay,
    sign,
    target_refusal,
    verify,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def headers(message_id: str, at: datetime, signature: str) -> dict[str, str | None]:
    return {"webhook-id": message_id, "webhook-timestamp": str(int(at.timestamp())), "webhook-signature": signature}


@given(body=st.text(max_size=200), message_id=st.from_regex(r"msg_[A-Za-z0-9]{1,30}", fullmatch=True))
def test_our_signature_is_the_reference_librarys(body: str, message_id: str) -> None:
    secret = new_secret()
    ours = sign(secret, message_id, int(NOW.timestamp()), body.encode())
    assert ours == Webhook(secret).sign(message_id, NOW, body)


def test_a_reference_signature_verifies_and_returns_the_message_id() -> None:
    secret = new_secret()
    signature = Webhook(secret).sign("msg_1", NOW, '{"a":1}')
    assert verify(secret, headers("msg_1", NOW, f"v1,bogus {signature}"), b'{"a":1}', NOW) == "msg_1"


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda h, b: (h, b + b" "), "webhook-signature-invalid"),
        (lambda h, b: ({**h, "webhook-id": "msg_2"}, b), "webhook-signature-invalid"),
        (lambda h, b: ({**h, "webhook-signature": None}, b), "webhook-headers-missing"),
        (lambda h, b: ({**h, "webhook-timestamp": "noon"}, b), "webhook-timestamp-invalid"),
    ],
)
def test_tampering_is_refused_with_its_own_problem(mutate, problem: str) -> None:  # type: ignore[no-untyped-def]
    secret = new_secret()
    body = b'{"a":1}'
    signed = headers("msg_1", NOW, Webhook(secret).sign("msg_1", NOW, body.decode()))
    changed_headers, changed_body = mutate(signed, body)
    with pytest.raises(SignatureRejected) as rejected:
        verify(secret, changed_headers, changed_body, NOW)
    assert rejected.value.problem_type == problem


def test_the_tolerance_is_five_minutes_either_way() -> None:
    secret = new_secret()
    for skew, accepted in ((timedelta(minutes=4, seconds=59), True), (timedelta(minutes=5, seconds=1), False)):
        for at in (NOW - skew, NOW + skew):
            signed = headers("msg_1", at, Webhook(secret).sign("msg_1", at, "{}"))
            if accepted:
                assert verify(secret, signed, b"{}", NOW) == "msg_1"
            else:
                with pytest.raises(SignatureRejected, match="tolerance"):
                    verify(secret, signed, b"{}", NOW)


def test_retries_back_off_exponentially_up_to_a_ceiling() -> None:
    base, ceiling = timedelta(seconds=5), timedelta(minutes=10)
    delays = [retry_delay(attempt, base, ceiling).total_seconds() for attempt in range(1, 10)]
    assert delays == [5, 10, 20, 40, 80, 160, 320, 600, 600]


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://hooks.customer.example/k8s", True),
        ("https://93.184.216.34/hook", True),
        ("http://127.0.0.1:8080/hook", False),
        ("http://[::1]/hook", False),
        ("http://10.0.0.5/hook", False),
        ("http://192.168.1.2/hook", False),
        ("http://169.254.169.254/latest/meta-data", False),
        ("http://localhost/hook", False),
        ("https://user:pw@hooks.example/", False),
        ("file:///etc/passwd", False),
    ],
)
def test_private_and_odd_targets_are_refused(url: str, allowed: bool) -> None:
    assert (target_refusal(url, allow_private=False) is None) is allowed


def test_configuration_may_allow_private_targets_for_local_runs() -> None:
    assert target_refusal("http://127.0.0.1:8080/hook", allow_private=True) is None
