"""The error answers in the OpenAPI document: every operation documents the statuses it can
answer with, each with the one error body the service sends (`ErrorRead`: `{error, detail}`).

Which statuses an operation has follows from its shape: every operation can refuse a bad
parameter (400) and answer 503 while the catalog opens; one with an id in its path answers
404; an upload answers 413, 415 and 422 for a file too big, not a picture, or a broken one; a
write answers 401 without its token."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, Reference, Schema
from litestar.openapi.spec.enums import OpenAPIType

from services.query.deps import NO_CONTROLS

ERROR_SCHEMA = "ErrorRead"
DESCRIPTIONS = {
    400: "A parameter or form field is invalid (`error`: validation_error or bad_request)",
    401: "A write token is configured and the request does not carry it",
    404: "No such image or object",
    413: "The upload is over the byte or pixel limit",
    415: "The upload is not a supported picture format",
    422: "The picture is empty, broken or too small",
    503: "The catalog or a model is not ready yet, or too many uploads are being decoded "
    "(`Retry-After` says when to try again)",
}
UPLOADS = ("/api/images", "/api/search/image")
WRITES = {("post", "/api/images"), ("delete", "/api/images/{image_id}")}
QUIET = {"/health", "/api/feed", "/ready"}  # nothing to refuse (/ready documents its own 503)


def document_errors(app: Litestar) -> None:
    """Add the error responses to `app`'s OpenAPI document, in place."""
    document = app.openapi_schema
    components = document.components
    schemas = components.schemas if components and components.schemas is not None else {}
    schemas[ERROR_SCHEMA] = Schema(
        type=OpenAPIType.OBJECT,
        properties={
            "error": Schema(type=OpenAPIType.STRING, description="a stable reason code"),
            "detail": Schema(type=OpenAPIType.STRING, description="what was wrong, for people"),
        },
        required=["error", "detail"],
        description="Every error answer",
    )
    if components is not None:
        components.schemas = schemas
    for path, item in (document.paths or {}).items():
        for method in ("get", "post", "delete"):
            operation = getattr(item, method, None)
            if operation is None:
                continue
            operation.responses = {
                **(operation.responses or {}),
                **{str(code): _error(code) for code in statuses(method, path)},
            }
    _document_other_answers(document.paths or {})


INGEST_ANSWERS = {
    "200": "Already in the catalog (`status`: duplicate)",
    "202": "Accepted, not searchable yet (`status`: accepted): the real stack's pipeline runs "
    "after the answer; on the embedded default its work was set aside while the catalog's "
    "database was away. `state_url` answers 404 until the image is indexed",
}


TEXT_MAX = 255  # with deps.NO_CONTROLS: what deps.check_text enforces
CHECKED_TEXT = ("source", "label")


def _document_text_rules(paths: dict[str, Any]) -> None:
    """`source` and `label` hold at most 255 characters and no control characters (what
    `services.query.deps.check_text` enforces): say so on their string schemas."""
    for item in paths.values():
        for method in ("get", "post", "delete"):
            operation = getattr(item, method, None)
            for parameter in getattr(operation, "parameters", None) or []:
                if getattr(parameter, "name", None) in CHECKED_TEXT:
                    _constrain_strings(parameter.schema)


def _constrain_strings(schema: Any) -> None:
    if not isinstance(schema, Schema):
        return
    if schema.type == OpenAPIType.STRING:
        schema.max_length, schema.pattern = TEXT_MAX, NO_CONTROLS
    for part in [*(schema.one_of or []), schema.items]:
        _constrain_strings(part)


def _document_other_answers(paths: dict[str, Any]) -> None:
    """The ingest's 200 and 202 (same body as its 201), and the feed's event stream."""
    _document_text_rules(paths)
    ingest = getattr(paths.get("/api/images"), "post", None)
    created = (ingest.responses or {}).get("201") if ingest is not None else None
    if ingest is not None and isinstance(created, OpenAPIResponse):
        for code, description in INGEST_ANSWERS.items():
            ingest.responses[code] = OpenAPIResponse(
                description=description, content=created.content
            )
    feed = getattr(paths.get("/api/feed"), "get", None)
    streamed = (feed.responses or {}).get("200") if feed is not None else None
    if isinstance(streamed, OpenAPIResponse):
        streamed.content = {
            "text/event-stream": OpenAPIMediaType(
                schema=Schema(type=OpenAPIType.STRING, description="Server-Sent Events")
            )
        }


def statuses(method: str, path: str) -> list[int]:
    """The error statuses an operation can answer with (see the module docstring)."""
    if path in QUIET:
        return []
    found = [400, 503]
    if "{" in path:
        found.append(404)
    if method == "post" and path in UPLOADS:
        found += [413, 415, 422]
    if (method, path) in WRITES:
        found.append(401)
    return sorted(found)


def _error(code: int) -> Any:
    return OpenAPIResponse(
        description=DESCRIPTIONS[code],
        content={
            "application/json": OpenAPIMediaType(
                schema=Reference(ref=f"#/components/schemas/{ERROR_SCHEMA}")
            )
        },
    )
