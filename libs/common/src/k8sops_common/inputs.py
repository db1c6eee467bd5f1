"""Input types every service uses so that nothing PostgreSQL would refuse reaches it.

PostgreSQL refuses a NUL character in text, integers beyond 64 bits and timestamps outside
years 1..9999 (after conversion to UTC); each of those used to surface as a 500. Declare query
parameters and body fields with these types and the client gets a 422 naming the field instead:

    after: Annotated[Int64, Query(ge=0)] = 0
    actor: Annotated[Text | None, Query(max_length=200)] = None
    since: Annotated[Moment | None, Query()] = None

`Integer` in bodies keeps `true` (and "3") from becoming a number, as JSON Schema's "integer" does;
`StrictBool` keeps 1 from becoming `true`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
NO_NUL = r"^[^\x00]*$"
# Ids clients choose for engagements, clusters, partners and the records intake and sla-timer show.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"
# Ids upgrade-runner and cost-analyzer accept: longer, and a colon may name a namespace.
WIDE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"


def storable_text(value: object) -> object:
    """Refuses text PostgreSQL cannot hold (NUL, unpaired surrogates) anywhere inside `value`."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("text must not contain NUL characters")
        try:
            value.encode()
        except UnicodeEncodeError:
            raise ValueError("text must be valid Unicode (no unpaired surrogates)") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            storable_text(key)
            storable_text(item)
    elif isinstance(value, list | tuple):
        for item in value:
            storable_text(item)
    return value


def _json_integer(value: object) -> object:
    # JSON Schema's "integer" includes 3.0 but neither true nor "3"; pydantic's lax int takes all three.
    if isinstance(value, bool | str):
        raise ValueError("must be a JSON number without a fraction, not a boolean or a string")
    return value


def _rfc3339_text(value: object) -> object:
    # The documents say format date-time; pydantic alone would also take a Unix timestamp.
    if not isinstance(value, str | datetime):
        raise ValueError("must be an RFC 3339 date-time string, e.g. 2026-11-26T10:00:00Z")
    return value


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
Integer = Annotated[int, BeforeValidator(_json_integer)]
Moment = Annotated[datetime, BeforeValidator(_rfc3339_text), AfterValidator(_storable_moment)]
