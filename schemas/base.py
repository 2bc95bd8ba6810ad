"""Building blocks of every contract: the strict base model and the constrained field types."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError


class StrictModel(BaseModel):
    """Frozen, strict, no unknown fields. (`drop_unknown_fields` serves newer minor versions.)"""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def drop_unknown_fields(cls: type[BaseModel], data: Any) -> Any:
    """`data` without the keys that `cls` (and its nested models) do not declare.

    A newer minor version may add fields; an older reader drops them instead of refusing.
    """
    if isinstance(data, list):
        return [drop_unknown_fields(cls, item) for item in data]
    if not isinstance(data, dict):
        return data
    out = {}
    for name, value in data.items():
        field = cls.model_fields.get(name)
        if field is None:
            continue
        nested = _models_in(field.annotation)
        out[name] = drop_unknown_fields(nested[0], value) if len(nested) == 1 else value
    return out


ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
URI_PATTERN = r"^[a-z][a-z0-9+.-]*://\S+$"
URI_MAX_LENGTH = 2048

Id = Annotated[
    str,
    StringConstraints(pattern=ID_PATTERN),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": ID_PATTERN,
            "description": "1-128 characters of [A-Za-z0-9._:-]",
        }
    ),
]

Uri = Annotated[str, StringConstraints(pattern=URI_PATTERN, max_length=URI_MAX_LENGTH)]

Label = Annotated[str, StringConstraints(min_length=1, max_length=128)]


def _check_box(value: Any) -> Any:
    if isinstance(value, tuple | list) and len(value) == 4 and all(type(v) is int for v in value):
        x1, y1, x2, y2 = value
        if x1 < 0 or y1 < 0 or x2 <= x1 or y2 <= y1:
            raise PydanticCustomError(
                "box_order", "expected 0 <= x1 < x2 and 0 <= y1 < y2, got {box}", {"box": value}
            )
        return tuple(value)
    raise PydanticCustomError("box_shape", "expected 4 integers [x1, y1, x2, y2]")


BoxField = Annotated[
    tuple[int, int, int, int],
    BeforeValidator(_check_box),
    WithJsonSchema(
        {
            "type": "array",
            "items": {"type": "integer", "minimum": 0},
            "minItems": 4,
            "maxItems": 4,
            "description": "[x1, y1, x2, y2] pixels; x1/y1 inclusive, x2/y2 exclusive",
        }
    ),
]


def _from_base64(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise PydanticCustomError("base64", "expected standard base64 text") from None
    return value


Base64Bytes = Annotated[
    bytes,
    BeforeValidator(_from_base64),
    PlainSerializer(
        lambda b: base64.b64encode(b).decode("ascii"), return_type=str, when_used="json"
    ),
    WithJsonSchema({"type": "string", "contentEncoding": "base64"}),
]
