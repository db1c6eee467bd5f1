"""Input types every service uses so that nothing PostgreSQL would refuse reaches it.

PostgreSQL refuses a NUL character in text, integers beyond 64 bits and timestamps outside
years 1..9999 (after conversion to UTC); each of those used to surface as a 500. Declare query
parameters and body fields with these types and the client gets a 422 naming the field instead:

    after: Annotated[Int64, Query(ge=0)] = 0
    actor: Annotated[Text | None, Query(max_length=200)] = None
    since: Annotated[Moment | None, Query()] = None

`StrictBool`/`StrictInt` from pydantic keep `true` from becoming 1 in bodies.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, Field

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
NO_NUL = r"^[^\x00]*$"


def _storable_moment(value: datetime) -> datetime:
    if value.utcoffset() is None:
        raise ValueError("needs a timezone, e.g. 2026-11-26T10:00:00Z")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is outside the years 1 to 9999 once converted to UTC") from None


# Bounds and pattern as schema keywords, so the OpenAPI document (and a fuzzer reading it) knows them.
Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
Text = Annotated[str, Field(pattern=NO_NUL)]
Moment = Annotated[datetime, AfterValidator(_storable_moment)]
