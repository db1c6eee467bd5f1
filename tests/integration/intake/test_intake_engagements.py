"""Engagements and clusters: who creates and manages them, and what `engagement.changed` carries."""

from __future__ import annotations

import json

from .conftest import ADMIN, OWN, REQUESTER, SENIOR, VIEWER, Intake, cluster_body, engagement_body


async def test_a_senior_creates_an_engagement_and_every_change_publishes_the_whole_of_it(intake: Intake) -> None:
    await intake.setup_engagement()

    events = await intake.events("engagement.changed")
    assert [event["data"]["change"] for event in events] == ["created", "updated", "updated"]
    latest = events[-1]["data"]
    assert latest["engagement_id"] == OWN and latest["tier"] == "k8s-247"
    assert latest["working_days"] == [0, 1, 2, 3, 6] and latest["holiday_country"] == "BD"
    assert latest["maintenance_window"] == {"weekday": 5, "start_local": "02:00", "duration_minutes": 240}
    prod = next(cluster for cluster in latest["clusters"] if cluster["cluster_id"] == f"{OWN}-prod")
    assert prod["paired_cluster_id"] == f"{OWN}-staging" and prod["monthly_retainer_bdt"] == "250000.00"
    assert all(event["subject"] == OWN for event in events)
    # The credentials reference travels to the runner on `engagement.changed` only: in no audit
    # event and no response.
    assert prod["credentials_ref"] == f"vault://k8s/{OWN}-prod/admin"
    audit_text = json.dumps([row["payload"] for row in await intake.rows("outbox", "topic LIKE '%audit.event'")])
    assert "vault://" not in audit_text
    shown = await intake.client.get(f"/v1/engagements/{OWN}", headers=VIEWER)
    assert shown.status_code == 200 and "vault://" not in shown.text and "credentials" not in shown.text
    audit = [
        json.loads(row["payload"])["data"]["action"] for row in await intake.rows("outbox", "topic LIKE '%audit.event'")
    ]
    assert audit == ["engagement.create", "cluster.create", "cluster.create"]


async def test_the_customer_admin_manages_the_calendar_but_not_the_tier(intake: Intake) -> None:
    await intake.setup_engagement(with_clusters=False)
    changed = await intake.client.patch(
        f"/v1/engagements/{OWN}", json={"timezone": "Europe/Berlin", "holiday_country": None}, headers=ADMIN
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["timezone"] == "Europe/Berlin" and changed.json()["holiday_country"] is None

    refused = await intake.client.patch(f"/v1/engagements/{OWN}", json={"tier": "k8s-business"}, headers=ADMIN)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"].endswith("/tier-is-contractual")

    by_senior = await intake.client.patch(
        f"/v1/engagements/{OWN}",
        json={"tier": "k8s-247-cluster-admin", "cluster_admin": "ca@customer.example"},
        headers=SENIOR,
    )
    assert by_senior.status_code == 200 and by_senior.json()["tier"] == "k8s-247-cluster-admin"
    tiers = [event["data"]["tier"] for event in await intake.events("engagement.changed")]
    assert tiers == ["k8s-247", "k8s-247", "k8s-247-cluster-admin"]


async def test_a_requester_cannot_manage_and_nobody_creates_an_engagement_outside_their_token(intake: Intake) -> None:
    refused = await intake.client.post("/v1/engagements", json=engagement_body("eng-elsewhere"), headers=SENIOR)
    assert refused.status_code == 403 and refused.json()["type"].endswith("/engagement-forbidden")
    await intake.setup_engagement(with_clusters=False)
    by_requester = await intake.client.post(
        f"/v1/engagements/{OWN}/clusters", json=cluster_body("c1"), headers=REQUESTER
    )
    assert by_requester.status_code == 403 and by_requester.json()["type"].endswith("/role-required")
    assert await intake.count("clusters") == 0


async def test_pairing_must_name_a_non_prod_cluster_of_the_same_engagement(intake: Intake) -> None:
    await intake.setup_engagement(with_clusters=False)
    unknown_pair = cluster_body("prod-a", paired_cluster_id="nowhere")
    response = await intake.client.post(f"/v1/engagements/{OWN}/clusters", json=unknown_pair, headers=ADMIN)
    assert response.status_code == 422 and response.json()["type"].endswith("/invalid-pairing")
    prod = await intake.client.post(f"/v1/engagements/{OWN}/clusters", json=cluster_body("prod-b"), headers=ADMIN)
    assert prod.status_code == 201
    pair_with_prod = cluster_body("prod-c", paired_cluster_id="prod-b")
    response = await intake.client.post(f"/v1/engagements/{OWN}/clusters", json=pair_with_prod, headers=ADMIN)
    assert response.status_code == 422 and "not non-prod" in response.json()["detail"]
    assert [row["id"] for row in await intake.rows("clusters")] == ["prod-b"]


async def test_a_staging_cluster_in_use_cannot_be_removed_and_removal_is_published(intake: Intake) -> None:
    await intake.setup_engagement()
    refused = await intake.client.delete(f"/v1/engagements/{OWN}/clusters/{OWN}-staging", headers=ADMIN)
    assert refused.status_code == 409
    unpaired = await intake.client.patch(
        f"/v1/engagements/{OWN}/clusters/{OWN}-prod", json={"paired_cluster_id": None}, headers=ADMIN
    )
    assert unpaired.status_code == 200 and unpaired.json()["paired_cluster_id"] is None
    removed = await intake.client.delete(f"/v1/engagements/{OWN}/clusters/{OWN}-staging", headers=ADMIN)
    assert removed.status_code == 204
    latest = (await intake.events("engagement.changed"))[-1]["data"]
    assert [cluster["cluster_id"] for cluster in latest["clusters"]] == [f"{OWN}-prod"]


async def test_creating_an_engagement_twice_with_one_key_replays_it(intake: Intake) -> None:
    headers = {**SENIOR, "Idempotency-Key": "onboard-1"}
    first = await intake.client.post("/v1/engagements", json=engagement_body(OWN), headers=headers)
    again = await intake.client.post("/v1/engagements", json=engagement_body(OWN), headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.headers["Idempotent-Replayed"] == "true" and again.json() == first.json()
    without_key = await intake.client.post("/v1/engagements", json=engagement_body(OWN), headers=SENIOR)
    assert without_key.status_code == 409
    assert len(await intake.events("engagement.changed")) == 1


async def test_calendars_are_checked_against_real_timezones_and_holiday_countries(intake: Intake) -> None:
    for bad in (
        {"timezone": "Mars/Olympus"},
        {"timezone": "localtime"},
        {"holiday_country": "XX"},
        {"working_days": [0, 0]},
    ):
        response = await intake.client.post("/v1/engagements", json=engagement_body(OWN, **bad), headers=SENIOR)
        assert response.status_code == 422, bad
        assert response.headers["content-type"] == "application/problem+json"
    no_admin_on_tier = engagement_body(OWN, tier="k8s-business", cluster_admin="someone")
    assert (await intake.client.post("/v1/engagements", json=no_admin_on_tier, headers=SENIOR)).status_code == 422
    assert await intake.count("engagements") == 0


BD_HOLIDAYS_ICS = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//cabinet.gov.bd//holidays//EN\r\n"
    b"BEGIN:VEVENT\r\nUID:eid@gov.bd\r\nSUMMARY:Eid-ul-Fitr\r\n"
    b"DTSTART;VALUE=DATE:20270308\r\nDTEND;VALUE=DATE:20270311\r\nEND:VEVENT\r\n"
    b"END:VCALENDAR\r\n"
)


async def test_the_customer_admin_uploads_an_official_holiday_calendar_and_gets_its_dates_back(
    intake: Intake,
) -> None:
    await intake.setup_engagement(with_clusters=False)
    subdivision = await intake.client.patch(f"/v1/engagements/{OWN}", json={"holiday_country": "GB-ENG"}, headers=ADMIN)
    assert subdivision.status_code == 200 and subdivision.json()["holiday_country"] == "GB-ENG"
    unknown = await intake.client.patch(f"/v1/engagements/{OWN}", json={"holiday_country": "GB-XX"}, headers=ADMIN)
    assert unknown.status_code == 422 and "GB-ENG" in unknown.text

    path = f"/v1/engagements/{OWN}/holiday-calendar"
    headers = {**ADMIN, "content-type": "text/calendar"}
    uploaded = await intake.client.put(path, content=BD_HOLIDAYS_ICS, headers=headers)
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json()["official_holidays"] == ["2027-03-08", "2027-03-09", "2027-03-10"]
    shown = await intake.client.get(f"/v1/engagements/{OWN}", headers=VIEWER)
    assert shown.json()["official_holidays"] == ["2027-03-08", "2027-03-09", "2027-03-10"]
    latest = (await intake.events("engagement.changed"))[-1]["data"]
    assert latest["official_holidays"] == ["2027-03-08", "2027-03-09", "2027-03-10"]
    [audit] = [
        json.loads(row["payload"])["data"]
        for row in await intake.rows("outbox", "topic LIKE '%audit.event'")
        if json.loads(row["payload"])["data"]["action"] == "engagement.holiday_calendar.upload"
    ]
    assert audit["actor"]["sub"] == "admin@customer.example"
    assert audit["details"] == {"dates": "2027-03-08,2027-03-09,2027-03-10", "count": 3}

    events_before = len(await intake.events("engagement.changed"))
    timed = BD_HOLIDAYS_ICS.replace(b"DTSTART;VALUE=DATE:20270308", b"DTSTART:20270308T090000Z")
    for bad, names in ((b"not a calendar", "not an iCalendar file"), (timed, "event 1 (Eid-ul-Fitr)")):
        refused = await intake.client.put(path, content=bad, headers=headers)
        assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"
        assert names in refused.json()["detail"]
    assert len(await intake.events("engagement.changed")) == events_before
    assert (await intake.client.put(path, content=BD_HOLIDAYS_ICS, headers=VIEWER)).status_code == 403
