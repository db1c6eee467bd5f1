"""API shapes of disputes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from ..domain.disputes import EntryKind
from ..schemas import Identifier, Input


class DisputeCreate(Input):
    engagement_id: Identifier
    subject_kind: Literal["request", "recommendation"]
    subject_id: Identifier
    summary: str = Field(min_length=1, max_length=2000)


class DisputeEntryIn(Input):
    kind: EntryKind
    text: str = Field(min_length=1, max_length=20_000)


class DisputeEntryOut(BaseModel):
    kind: EntryKind
    text: str
    author: str
    recorded_at: datetime


class DisputeOut(BaseModel):
    id: str
    engagement_id: str
    subject_kind: Literal["request", "recommendation"]
    subject_id: str
    summary: str
    status: Literal["open", "decided"]
    opened_by: str
    opened_at: datetime
    decided_at: datetime | None
    history: list[DisputeEntryOut]
    earlier_disputes: list[str] = Field(description="ids of earlier disputes on the same subject, oldest first")
