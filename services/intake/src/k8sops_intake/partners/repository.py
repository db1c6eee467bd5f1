"""Reads and writes of partner links, their messages and ticket mappings; callers own the transaction."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict, cast

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import partner_messages, partner_tickets, partners
from ..queries import all_rows, first


class PartnerRecord(TypedDict):
    id: str
    engagement_id: str
    name: str
    secret: str
    created_by: str
    created_at: datetime


async def add_partner(session: AsyncSession, values: PartnerRecord) -> bool:
    result = await session.execute(insert(partners).values(**values).on_conflict_do_nothing().returning(partners.c.id))
    return result.first() is not None


async def get_partner(session: AsyncSession, partner_id: str) -> PartnerRecord | None:
    return cast(PartnerRecord | None, await first(session, partners, partners.c.id == partner_id))


async def partners_of(session: AsyncSession, engagement_id: str) -> list[PartnerRecord]:
    query = select(partners).where(partners.c.engagement_id == engagement_id).order_by(partners.c.id)
    return cast(list[PartnerRecord], await all_rows(session, query))


async def claim_partner_message(session: AsyncSession, partner_id: str, message_id: str) -> bool:
    """False when this partner already sent this webhook-id: a replay."""
    result = await session.execute(
        insert(partner_messages)
        .values(partner_id=partner_id, message_id=message_id)
        .on_conflict_do_nothing()
        .returning(partner_messages.c.message_id)
    )
    return result.first() is not None


async def claim_partner_ticket(session: AsyncSession, partner_id: str, ticket_id: str, request_id: str) -> str:
    """The request this ticket maps to: `request_id` if the ticket is new, the earlier one otherwise.

    Two deliveries of one new ticket serialise on the primary key, so only one request is created.
    """
    await session.execute(
        insert(partner_tickets)
        .values(partner_id=partner_id, ticket_id=ticket_id, request_id=request_id)
        .on_conflict_do_nothing()
    )
    mapped = await session.scalar(
        select(partner_tickets.c.request_id).where(
            partner_tickets.c.partner_id == partner_id, partner_tickets.c.ticket_id == ticket_id
        )
    )
    assert mapped is not None
    return str(mapped)
