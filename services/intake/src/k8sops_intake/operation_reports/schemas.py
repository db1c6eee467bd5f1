"""API shape of an operation report attached to a request."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class OperationReportOut(BaseModel):
    operation_id: str
    kind: str = Field(description="upgrade, addon, drift-reconcile or migration")
    outcome: str = Field(description="the operation's final state: completed, rolled_back, cancelled, precheck_failed")
    from_version: str | None
    to_version: str | None
    markdown: str
    report: dict[str, Any] = Field(description="the report as JSON, as upgrade-runner published it")
    truncated: bool = Field(description="cut to fit the event; the whole report is on report_path")
    report_path: str = Field(description="where upgrade-runner's API serves the whole report")
    reported_at: datetime
    attached_at: datetime
