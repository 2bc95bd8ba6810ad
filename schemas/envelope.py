"""The envelope every message carries: id, schema version, type, producer, time, trace context.

Versions are "MAJOR.MINOR". A reader accepts any minor version of the majors it knows: a newer
minor may only add optional fields, which an older reader drops. A new major is refused.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime

from pydantic import AwareDatetime, Field, field_validator
from pydantic_core import PydanticCustomError

from schemas.base import StrictModel

VERSION_PATTERN = r"^\d+\.\d+$"
TRACEPARENT_PATTERN = r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"
EVENT_ID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
ENVELOPE_FIELDS = ("event_id", "schema_version", "type", "producer", "time", "traceparent")


def new_traceparent() -> str:
    """A W3C traceparent that starts a new, sampled trace."""
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def child_traceparent(parent: str) -> str:
    """The traceparent of a new span in the same trace as `parent` (same trace id and flags)."""
    version, trace_id, _span, flags = parent.split("-")
    return f"{version}-{trace_id}-{secrets.token_hex(8)}-{flags}"


def major_of(version: str) -> int:
    return int(version.split(".", 1)[0])


def minor_of(version: str) -> int:
    return int(version.split(".", 1)[1])


def _new_event_id() -> str:
    return str(uuid.uuid4())


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Envelope(StrictModel):
    """Fields shared by every message. Subclasses pin `type` and (when bumped) `schema_version`."""

    event_id: str = Field(
        default_factory=_new_event_id,
        pattern=EVENT_ID_PATTERN,
        description="uuid4 of this message; consumers deduplicate on it",
    )
    schema_version: str = Field(
        default="1.0",
        pattern=VERSION_PATTERN,
        description="MAJOR.MINOR version of this message's schema",
    )
    type: str = Field(description="message type, the decoding discriminator")
    producer: str = Field(
        min_length=1, max_length=64, description="name of the service that produced the message"
    )
    time: AwareDatetime = Field(
        default_factory=_utc_now, description="when the message was produced (UTC, ISO 8601)"
    )
    traceparent: str = Field(
        default_factory=new_traceparent,
        pattern=TRACEPARENT_PATTERN,
        description="W3C trace context `traceparent` of the span that produced the message",
    )
    tracestate: str | None = Field(
        default=None, max_length=512, description="W3C trace context `tracestate`, vendor data"
    )

    @classmethod
    def supported_version(cls) -> str:
        """The version this code writes; it reads every minor version of the same major."""
        default = cls.model_fields["schema_version"].default
        assert isinstance(default, str)
        return default

    @field_validator("schema_version")
    @classmethod
    def _known_major(cls, version: str) -> str:
        supported = cls.supported_version()
        if major_of(version) != major_of(supported):
            raise PydanticCustomError(
                "schema_version",
                "unsupported major version {got} of {type} (this reader supports {major}.x)",
                {"got": version, "type": cls.__name__, "major": major_of(supported)},
            )
        return version

    @field_validator("time")
    @classmethod
    def _in_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)
