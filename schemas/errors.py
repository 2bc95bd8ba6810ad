"""The reason-carrying error base (`CatalensError`) and `SchemaError`: a message that breaks its
contract, with a one-line reason naming the field."""

from __future__ import annotations

from pydantic import ValidationError


class CatalensError(Exception):
    """Base for every error that carries a reason a user or a dead-letter header can read.

    Subclasses set `reason` (a short snake_case word, the `x-reason` header of a dead letter);
    an instance never changes it."""

    reason: str = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SchemaError(CatalensError):
    """A message does not match its contract. Never retried: it goes to `<topic>.dlq`.

    `field` is the path of the offending field (`objects[0].box`), or "" for the whole message;
    `detail` is the message without the field; `message` (and `str()`) is `field: detail`.
    """

    reason = "schema_error"

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.detail = message


def field_path(loc: tuple[int | str, ...]) -> str:
    """`("objects", 0, "box")` -> `objects[0].box`."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path


def from_validation_error(exc: ValidationError, title: str | None = None) -> SchemaError:
    """The first error of a pydantic ValidationError as a one-line SchemaError."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    message = str(first["msg"]).removeprefix("Value error, ")
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more error{'s' if len(errors) > 2 else ''})"
    if title:
        message += f" (in {title})"
    return SchemaError(message, field=field_path(tuple(first["loc"])))
