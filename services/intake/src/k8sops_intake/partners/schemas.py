"""API shapes of partner links and the ticket webhooks partners send."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from k8sops_common.events.catalog import Priority, RequestCategory, RequestStatus

from ..domain.scope import OutOfScopeKind
from ..schemas import Identifier, Input


class PartnerCreate(Input):
    id: Identifier
    name: str = Field(min_length=1, max_length=200)


class PartnerOut(BaseModel):
    id: str
    engagement_id: str
    name: str
    webhook_path: str
    created_at: datetime


class PartnerCreated(PartnerOut):
    secret: str = Field(description="Standard Webhooks secret (whsec_…); shown only in this response")


class PartnerTicket(Input):
    id: str = Field(min_length=1, max_length=200, pattern=r"^\S+$")
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=20_000)
    category: RequestCategory | OutOfScopeKind
    priority: Priority
    cluster_id: Identifier | None = None
    status: Literal["open", "cancelled"] = "open"


class PartnerTicketEvent(Input):
    event: Literal["ticket.created", "ticket.updated"]
    ticket: PartnerTicket


class PartnerTicketReceipt(BaseModel):
    request_id: str
    created: bool
    status: RequestStatus
