"""Opaque keyset cursors: the position after the last item of a page."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime


class BadCursor(ValueError):
    pass


def encode_cursor(opened_at: datetime, record_id: str) -> str:
    raw = json.dumps([opened_at.isoformat(), record_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        stamp, record_id = json.loads(raw)
        position = datetime.fromisoformat(stamp)
    except (binascii.Error, ValueError, TypeError) as error:
        raise BadCursor("the cursor is not one this API returned; start again without it") from error
    if not isinstance(record_id, str) or "\x00" in record_id or position.tzinfo is None:
        raise BadCursor("the cursor is not one this API returned; start again without it")
    return position, record_id
