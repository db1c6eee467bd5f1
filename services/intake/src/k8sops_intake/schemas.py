"""Intake's API shapes."""

from __future__ import annotations

from datetime import datetime

from k8sops_common.events.catalog import Priority, RequestCategory, RequestStatus
from pydantic import BaseModel, ConfigDict, Field

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"


class RequestCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    engagement_id: str = Field(pattern=ID_PATTERN)
    cluster_id: str | None = Field(default=None, pattern=ID_PATTERN)
    category: RequestCategory
    priority: Priority
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=20_000)


class RequestOut(BaseModel):
    id: str
    engagement_id: str
    cluster_id: str | None
    category: RequestCategory
    priority: Priority
    status: RequestStatus
    title: str
    description: str
    opened_by: str
    opened_at: datetime
