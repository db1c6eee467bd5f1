"""Intake's shared API shapes. Inputs forbid unknown fields, so a typo is a 422 instead of silently ignored."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from k8sops_common.inputs import ID_PATTERN, storable_text

Identifier = Annotated[str, Field(pattern=ID_PATTERN)]
Person = Annotated[str, Field(min_length=1, max_length=200)]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _storable_text(cls, value: object) -> object:
        # PostgreSQL text holds neither NUL nor unpaired surrogates; refuse them here, not with a 500.
        return value if not isinstance(value, str) else storable_text(value)
