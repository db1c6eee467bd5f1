"""The outbox and inbox tables that every service keeps in its own schema."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, Index, MetaData, Table, Text, func, text


def outbox_table(metadata: MetaData) -> Table:
    return Table(
        "outbox",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("event_id", Text, nullable=False, unique=True),
        Column("topic", Text, nullable=False),
        Column("key", Text, nullable=False),
        # The CloudEvent exactly as it goes on the wire, so the relay does not re-serialise it.
        Column("payload", Text, nullable=False),
        Column("traceparent", Text),
        Column("tracestate", Text),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("sent_at", DateTime(timezone=True)),
        Index("outbox_unsent", "id", postgresql_where=text("sent_at IS NULL")),
    )


def inbox_table(metadata: MetaData) -> Table:
    return Table(
        "inbox",
        metadata,
        Column("event_id", Text, primary_key=True),
        Column("topic", Text, nullable=False),
        Column("handled_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


def create_bus_tables(op: Any) -> None:
    """For a service's first Alembic migration: `create_bus_tables(op)`."""
    metadata = MetaData()
    for table in (outbox_table(metadata), inbox_table(metadata)):
        op.create_table(table.name, *[column.copy() for column in table.columns])
        for index in table.indexes:
            op.create_index(
                index.name,
                table.name,
                [column.name for column in index.columns],
                unique=bool(index.unique),
                postgresql_where=index.dialect_options["postgresql"]["where"],
            )


def create_outbox_notify(op: Any) -> None:
    """For a service's migration: every statement that inserts outbox rows NOTIFYs the channel named
    for the table's schema, which the relay LISTENs on (`wakeup.py`). PostgreSQL delivers it at
    commit, when the rows become visible. One notification per statement, not per row, and no extra
    round trip for the writer. The schema comes from `TG_TABLE_SCHEMA`, so the same SQL serves every
    service and every test schema; function and trigger land in the schema of the search_path."""
    op.execute(
        "CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS "
        "$$BEGIN PERFORM pg_notify(TG_TABLE_SCHEMA, ''); RETURN NULL; END$$"
    )
    op.execute(
        "CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify()"
    )


def drop_outbox_notify(op: Any) -> None:
    op.execute("DROP TRIGGER outbox_notify ON outbox")
    op.execute("DROP FUNCTION outbox_notify()")
