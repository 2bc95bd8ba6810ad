"""Every error leaves as JSON `{"error": reason, "detail": message}` with a fitting status."""

from __future__ import annotations

import logging

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    HTTP_415_UNSUPPORTED_MEDIA_TYPE,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_500_INTERNAL_SERVER_ERROR,
    HTTP_503_SERVICE_UNAVAILABLE,
)

from core.errors import CatalensError, ImageError, ImageTooLarge, ModelError, NotAnImage
from core.retry import is_transient

log = logging.getLogger(__name__)

_HTTP_REASONS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: ImageTooLarge.reason,
    429: "too_many_requests",
    503: "unavailable",
}


def _json(status: int, error: str, detail: str, headers: dict[str, str] | None = None) -> Response:
    return Response(
        {"error": error, "detail": detail},
        status_code=status,
        media_type=MediaType.JSON,
        headers=headers,
    )


def image_status(exc: ImageError) -> int:
    if isinstance(exc, ImageTooLarge):
        return HTTP_413_REQUEST_ENTITY_TOO_LARGE
    if isinstance(exc, NotAnImage):
        return HTTP_415_UNSUPPORTED_MEDIA_TYPE
    return HTTP_422_UNPROCESSABLE_ENTITY


def handle_catalens_error(_: Request, exc: CatalensError) -> Response:
    if isinstance(exc, ImageError):
        return _json(image_status(exc), exc.reason, exc.message)
    log.warning("catalog error %s: %s", exc.reason, exc.message)
    status = HTTP_503_SERVICE_UNAVAILABLE if isinstance(exc, ModelError) else 500
    return _json(status, exc.reason, exc.message)


def handle_http_exception(_: Request, exc: HTTPException) -> Response:
    status = exc.status_code
    detail = str(exc.detail)
    if isinstance(exc, ValidationException) and exc.extra:
        detail = f"{detail}: {exc.extra}"
    error = _HTTP_REASONS.get(status, "http_error")
    if isinstance(exc, ValidationException) and status == HTTP_400_BAD_REQUEST:
        error = "validation_error"
    return _json(status, error, detail, headers=exc.headers)


def handle_undecodable(_: Request, exc: UnicodeDecodeError) -> Response:
    """A form field that is not UTF-8: usually a file sent without `filename=`."""
    return _json(
        HTTP_400_BAD_REQUEST,
        "bad_request",
        "a form field is not UTF-8 text; send pictures as file parts (with filename=)",
    )


RETRY_AFTER_S = 5


def handle_unexpected(_: Request, exc: Exception) -> Response:
    """A transient failure (the catalog's database or object store briefly away) is 503 with
    `Retry-After`; anything else is a bug: 500, logged with its traceback."""
    if is_transient(exc):
        log.warning("unavailable: %s: %s", type(exc).__name__, exc)
        return _json(
            HTTP_503_SERVICE_UNAVAILABLE,
            "unavailable",
            f"a backing service is unavailable ({type(exc).__name__}); try again shortly",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
    log.exception("unhandled error", exc_info=exc)
    return _json(HTTP_500_INTERNAL_SERVER_ERROR, "internal_error", "an unexpected error occurred")


EXCEPTION_HANDLERS = {
    CatalensError: handle_catalens_error,
    HTTPException: handle_http_exception,
    UnicodeDecodeError: handle_undecodable,
    HTTP_500_INTERNAL_SERVER_ERROR: handle_unexpected,
}
