"""API shapes of engagements and clusters."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Annotated, Literal
from zoneinfo import available_timezones

import holidays
from pydantic import AfterValidator, BaseModel, Field, field_validator, model_validator

from k8sops_common.events.catalog import Tier
from k8sops_common.inputs import Integer

from ..domain.engagements import TIERS_WITH_CLUSTER_ADMIN
from ..schemas import Identifier, Input, Person

Environment = Literal["prod", "non-prod"]
SizeBand = Literal["S", "M", "L", "XL"]
WorkloadBand = Literal["<50", "50-200", "200-1000", ">1000"]


@cache
def _supported_regions() -> frozenset[str]:
    # "BD", and "GB-ENG", "AU-NSW", … for the subdivisions the `holidays` library knows.
    supported = holidays.list_supported_countries()
    return frozenset(supported) | {
        f"{country}-{subdivision}" for country, subs in supported.items() for subdivision in subs
    }


@cache
def _iana_timezones() -> frozenset[str]:
    # The system's tz folder also holds files that are not zones of the IANA database.
    return frozenset(available_timezones()) - {"localtime", "posixrules", "Factory"}


def _known_timezone(name: str) -> str:
    if name not in _iana_timezones():
        raise ValueError(f"{name!r} is not an IANA timezone (e.g. Asia/Dhaka)")
    return name


def _known_country(code: str | None) -> str | None:
    if code is not None and code not in _supported_regions():
        raise ValueError(
            f"{code!r} is not a country code (e.g. BD) or country-subdivision (e.g. GB-ENG) with a holiday calendar"
        )
    return code


def _working_days(days: list[int]) -> list[int]:
    if len(set(days)) != len(days):
        raise ValueError("each weekday once")
    return sorted(days)


Timezone = Annotated[str, Field(max_length=64), AfterValidator(_known_timezone)]
HolidayCountry = Annotated[
    str | None,
    Field(max_length=32, description="ISO 3166-1 code, or with a subdivision as the holidays library names it: GB-ENG"),
    AfterValidator(_known_country),
]
WorkingDays = Annotated[
    list[Annotated[Integer, Field(ge=0, le=6)]], Field(min_length=1, max_length=7), AfterValidator(_working_days)
]


class MaintenanceWindow(Input):
    weekday: Integer = Field(ge=0, le=6, description="0 = Monday")
    start_local: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM in the engagement's timezone")
    duration_minutes: Integer = Field(gt=0, le=24 * 60)


class EngagementFields(Input):
    timezone: Timezone = "UTC"
    working_days: WorkingDays = Field(default_factory=lambda: [0, 1, 2, 3, 4], description="0 = Monday")
    holiday_country: HolidayCountry = None
    extra_holidays: list[date] = Field(default_factory=list, max_length=366)
    maintenance_window: MaintenanceWindow | None = None
    on_call: Person | None = None
    cluster_admin: Person | None = None


class EngagementCreate(EngagementFields):
    id: Identifier
    name: str = Field(min_length=1, max_length=200)
    tier: Tier

    @model_validator(mode="after")
    def _cluster_admin_needs_tier(self) -> EngagementCreate:
        if self.cluster_admin is not None and self.tier not in TIERS_WITH_CLUSTER_ADMIN:
            raise ValueError(f"tier {self.tier} has no named cluster admin; leave cluster_admin empty")
        return self


class EngagementUpdate(Input):
    """Only the fields sent change; null clears an optional field. `tier` is the provider's to change."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    tier: Tier | None = None
    timezone: Timezone | None = None
    working_days: WorkingDays | None = None
    holiday_country: HolidayCountry = None
    extra_holidays: list[date] | None = Field(default=None, max_length=366)
    maintenance_window: MaintenanceWindow | None = None
    on_call: Person | None = None
    cluster_admin: Person | None = None

    @field_validator("name", "tier", "timezone", "working_days", "extra_holidays")
    @classmethod
    def _required_fields_stay_set(cls, value: object) -> object:
        if value is None:
            raise ValueError("this field cannot be cleared; send a value or leave it out")
        return value


class ClusterFields(Input):
    name: str = Field(min_length=1, max_length=200)
    environment: Environment
    paired_cluster_id: Identifier | None = Field(default=None, description="a prod cluster's non-prod staging pair")
    api_endpoint: str = Field(pattern=r"^https?://[^\s/@]+(:\d+)?(/\S*)?$", max_length=500)
    size_band: SizeBand
    workload_band: WorkloadBand
    monthly_retainer_bdt: Decimal = Field(ge=0, le=Decimal("999999999999.99"), decimal_places=2)


class ClusterCreate(ClusterFields):
    id: Identifier
    credentials_ref: str = Field(
        min_length=1, max_length=500, description="where the provider's secret store keeps the credentials; write-only"
    )


class ClusterUpdate(Input):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    environment: Environment | None = None
    paired_cluster_id: Identifier | None = None
    api_endpoint: str | None = Field(default=None, pattern=r"^https?://[^\s/@]+(:\d+)?(/\S*)?$", max_length=500)
    credentials_ref: str | None = Field(default=None, min_length=1, max_length=500, description="write-only")
    size_band: SizeBand | None = None
    workload_band: WorkloadBand | None = None
    monthly_retainer_bdt: Decimal | None = Field(default=None, ge=0, le=Decimal("999999999999.99"), decimal_places=2)

    @field_validator(
        "name", "environment", "api_endpoint", "credentials_ref", "size_band", "workload_band", "monthly_retainer_bdt"
    )
    @classmethod
    def _required_fields_stay_set(cls, value: object) -> object:
        if value is None:
            raise ValueError("this field cannot be cleared; send a value or leave it out")
        return value


class ClusterOut(BaseModel):
    """A cluster as clients see it: the credentials reference is write-only and never shown."""

    id: str
    engagement_id: str
    name: str
    environment: Environment
    paired_cluster_id: str | None
    api_endpoint: str
    size_band: SizeBand
    workload_band: str
    monthly_retainer_bdt: Decimal
    created_at: datetime
    updated_at: datetime


class EngagementOut(BaseModel):
    id: str
    name: str
    tier: Tier
    timezone: str
    working_days: list[int]
    holiday_country: str | None
    extra_holidays: list[date]
    official_holidays: list[date] = Field(description="dates of the uploaded official holiday calendar (.ics)")
    maintenance_window: MaintenanceWindow | None
    on_call: str | None
    cluster_admin: str | None
    clusters: list[ClusterOut]
    created_by: str
    created_at: datetime
    updated_at: datetime
