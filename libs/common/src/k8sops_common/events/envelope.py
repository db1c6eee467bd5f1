"""CloudEvents 1.0 (JSON structured mode) envelope for every event on the bus."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

DataT = TypeVar("DataT", bound=BaseModel)

SOURCE_PREFIX = "/k8s-ops/"


class CloudEvent(BaseModel, Generic[DataT]):
    """Required and optional context attributes of CloudEvents 1.0 plus the typed `data`."""

    model_config = ConfigDict(extra="forbid")

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(min_length=1, max_length=200)
    source: str = Field(min_length=1, description="/k8s-ops/<service>")
    type: str = Field(min_length=1, description="k8sops.<topic>.v<version>")
    subject: str | None = Field(default=None, description="The aggregate id; also the Kafka key.")
    time: datetime
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str | None = None
    data: DataT


class RawCloudEvent(CloudEvent[Any]):
    """An envelope whose `data` is not yet validated against its event type."""

    data: dict[str, Any]


def new_event_id() -> str:
    return str(uuid.uuid4())


def utc_now() -> datetime:
    return datetime.now(UTC)
