"""Incident paging rules, timeline linking and the report draft, without I/O."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from k8sops_intake.incidents.domain import (
    Calendar,
    PageContent,
    Policy,
    PolicyRule,
    bridge_link,
    bridge_template_problem,
    dedup_key,
    next_coverage_start,
    page_payload,
    pages_now,
    policy_for,
    within_coverage,
)
from k8sops_intake.incidents.timeline import Entry, link_of, ordered, render_report

DHAKA = Calendar("Asia/Dhaka", [6, 0, 1, 2, 3], "BD", [date(2026, 12, 31)])
IMMEDIATELY, BUSINESS = Policy("immediately", True), Policy("business_hours", True)


def dhaka(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo("Asia/Dhaka"))


def test_a_rule_for_the_category_wins_over_the_any_rule_and_no_rule_pages_nobody() -> None:
    rules = [
        PolicyRule("k8s-247", "P2", "*", IMMEDIATELY),
        PolicyRule("k8s-247", "P2", "cost-optimization", Policy("never", False)),
    ]
    assert policy_for(rules, "k8s-247", "P2", "incident") == IMMEDIATELY
    assert policy_for(rules, "k8s-247", "P2", "cost-optimization").mode == "never"
    assert policy_for(rules, "k8s-247", "P3", "incident").mode == "never"


def test_business_hours_are_the_engagements_working_days_08_to_18_without_holidays() -> None:
    assert within_coverage(DHAKA, dhaka(2026, 11, 29, 8))  # Sunday 08:00, a working day in Bangladesh
    assert within_coverage(DHAKA, dhaka(2026, 11, 29, 17, 59))
    assert not within_coverage(DHAKA, dhaka(2026, 11, 29, 18))
    assert not within_coverage(DHAKA, dhaka(2026, 11, 27, 11))  # Friday
    assert not within_coverage(DHAKA, dhaka(2026, 12, 16, 11))  # Victory Day, from the holidays library
    assert not within_coverage(DHAKA, dhaka(2026, 12, 31, 11))  # the engagement's own extra date
    assert pages_now(BUSINESS, DHAKA, dhaka(2026, 11, 29, 9))
    assert not pages_now(BUSINESS, DHAKA, dhaka(2026, 11, 29, 23))
    assert pages_now(IMMEDIATELY, DHAKA, dhaka(2026, 11, 29, 23))


def test_a_page_held_back_goes_out_at_the_next_coverage_start() -> None:
    inside = dhaka(2026, 11, 29, 9)
    assert next_coverage_start(DHAKA, inside) == inside
    assert next_coverage_start(DHAKA, dhaka(2026, 11, 29, 6)) == dhaka(2026, 11, 29, 8)  # before 08:00
    assert next_coverage_start(DHAKA, dhaka(2026, 11, 29, 18)) == dhaka(2026, 11, 30, 8)  # after hours
    assert next_coverage_start(DHAKA, dhaka(2026, 11, 26, 19)) == dhaka(2026, 11, 29, 8)  # Thu night: Fri, Sat off
    assert next_coverage_start(DHAKA, dhaka(2026, 12, 15, 20)) == dhaka(2026, 12, 17, 8)  # skips Victory Day
    assert next_coverage_start(DHAKA, dhaka(2026, 12, 30, 22)) == dhaka(2027, 1, 3, 8)  # extra date, weekend
    found = next_coverage_start(DHAKA, datetime(2026, 11, 29, 20, tzinfo=UTC))  # 02:00 Monday in Dhaka
    assert found is not None and found.astimezone(UTC) == datetime(2026, 11, 30, 2, tzinfo=UTC)
    assert next_coverage_start(Calendar("UTC", [], None, []), inside) is None


def test_the_bridge_template_must_be_a_url_with_known_placeholders() -> None:
    assert bridge_template_problem("https://meet.example/{request_id}?e={engagement_id}") is None
    assert "unknown placeholders" in (bridge_template_problem("https://meet.example/{ticket}") or "")
    assert "http(s) URL" in (bridge_template_problem("meet.example/{request_id}") or "")
    assert "not a valid pattern" in (bridge_template_problem("https://meet.example/{request_id") or "")
    for formatted in ("https://m.example/{request_id:d}", "https://m.example/{request_id!r}"):
        assert "no format" in (bridge_template_problem(formatted) or "")
    assert "unknown placeholders" in (bridge_template_problem("https://m.example/{request_id.upper}") or "")
    assert bridge_link("https://meet.example/{request_id}", "req-1", "eng-1") == "https://meet.example/req-1"


CONTENT = PageContent("req-1", "eng-1", "prod-1", "incident", "P1", "API down", "opened", "https://m/req-1", "why")


def test_events_api_v2_trigger_carries_the_payload_and_follow_ups_only_the_key() -> None:
    trigger = page_payload("events-api-v2", "rk", "trigger", "req-1", CONTENT, "k8sops/eng-1")
    assert trigger["routing_key"] == "rk" and trigger["event_action"] == "trigger" and trigger["dedup_key"] == "req-1"
    assert trigger["payload"]["severity"] == "critical" and trigger["payload"]["source"] == "k8sops/eng-1"
    assert trigger["payload"]["summary"] == "[P1 incident] API down on prod-1 (why)"
    assert trigger["links"] == [{"href": "https://m/req-1", "text": "Incident bridge"}]
    assert page_payload("events-api-v2", "rk", "resolve", "req-1", None, "s") == {
        "routing_key": "rk",
        "event_action": "resolve",
        "dedup_key": "req-1",
    }
    assert "routing_key" not in page_payload("standard-webhooks", None, "trigger", "req-1", CONTENT, "s")
    assert dedup_key("req-1", "sla_warning") == "req-1" and dedup_key("req-1", "sla_breach") == "req-1:breach"


def audit_row(**overrides: object) -> dict[str, object]:
    return {
        "source_service": "upgrade-runner",
        "target_name": "web",
        "target_cluster": "other",
        "trace_id": None,
        "details": {},
        **overrides,
    }


def test_audit_entries_are_linked_by_request_trace_or_the_cluster_and_intakes_own_are_skipped() -> None:
    traces = {"a" * 32}
    assert link_of(audit_row(details={"request_id": "req-1"}), "req-1", traces, "prod-1") == "request"
    assert link_of(audit_row(trace_id="a" * 32), "req-1", traces, "prod-1") == "trace"
    assert link_of(audit_row(target_cluster="prod-1"), "req-1", traces, "prod-1") == "cluster-during-incident"
    assert link_of(audit_row(), "req-1", traces, "prod-1") is None
    assert link_of(audit_row(source_service="intake", target_name="req-1"), "req-1", traces, "prod-1") is None


def test_the_report_draft_measures_the_response_against_the_contractual_target() -> None:
    opened = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
    request = {
        "id": "req-1", "title": "API down", "priority": "P1", "category": "incident", "engagement_id": "eng-1",
        "cluster_id": "prod-1", "opened_at": opened, "opened_by": "cto@customer.example",
        "acknowledged_at": opened + timedelta(minutes=40), "acknowledged_by": "op@provider.example",
        "sla_breached_at": None,
    }  # fmt: skip
    entries = ordered(
        [
            Entry(opened + timedelta(minutes=50), "request.status_changed", "op", "Status in_progress → resolved"),
            Entry(opened + timedelta(minutes=45), "audit.cluster.scale", "op", "cluster.scale Deployment/web", "audit"),
            Entry(opened, "page.trigger", "system", "trigger sent to the on-call pager (opened)."),
        ]
    )
    assert [entry.at for entry in entries] == sorted(entry.at for entry in entries)
    report = render_report(request, "k8s-247", entries, None)
    assert "after 40 min (k8s-247 P1: target 30 min wall clock; SLA missed)" in report
    assert "- 2026-11-27T03:45:00+00:00 op: cluster.scale Deployment/web" in report
    assert "Resolved 2026-11-27T03:50:00+00:00 by op." in report
    business = render_report({**request, "priority": "P3"}, "k8s-business", entries, "audit down")
    assert "target 4 business hours" in business and "_audit down_" in business
