"""The bus: transactional outbox on the way out, idempotent inbox consumer on the way in."""

from .consumer import EventConsumer, ReceivedEvent, Subscriptions
from .outbox import Outbox, OutboxRelay

__all__ = ["EventConsumer", "Outbox", "OutboxRelay", "ReceivedEvent", "Subscriptions"]
