"""Security headers on every response of the query service.

- `X-Content-Type-Options: nosniff`: a browser never runs an uploaded picture (a JPEG with
  `<script>` in a comment stays a picture).
- `Content-Security-Policy`: the web page loads its own scripts, styles and pictures only
  (`blob:` for the photo a user picks, `data:` for nothing but small icons); no plugins, no
  framing (`frame-ancestors 'none'`, with `X-Frame-Options: DENY` for old browsers). The
  OpenAPI pages under `/schema` load their renderer from a CDN, so theirs also allows `https:`.
- `Referrer-Policy: no-referrer`.
"""

from __future__ import annotations

from litestar.enums import ScopeType
from litestar.types import Message, Scope

PAGE_CSP = (
    "default-src 'self'; img-src 'self' blob: data:; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data: https:; script-src 'self' 'unsafe-inline' https:; "
    "style-src 'self' 'unsafe-inline' https:; font-src 'self' https: data:; "
    "connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
DOCS_PREFIX = "/schema"


def security_headers(path: str) -> list[tuple[bytes, bytes]]:
    """The headers every response to `path` carries."""
    csp = DOCS_CSP if path == DOCS_PREFIX or path.startswith(DOCS_PREFIX + "/") else PAGE_CSP
    return [
        (b"x-content-type-options", b"nosniff"),
        (b"content-security-policy", csp.encode()),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
    ]


async def add_security_headers(message: Message, scope: Scope) -> None:
    """A `before_send` hook: adds `security_headers` to every HTTP response, replacing any the
    handler set itself. App-level hooks wrap the router too, so a 404 for an unknown path and a
    405 carry them as well (a middleware runs only for matched routes)."""
    if message["type"] != "http.response.start" or scope.get("type") != ScopeType.HTTP:
        return
    extra = security_headers(scope["path"])
    names = {name for name, _ in extra}
    kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
    message["headers"] = [*kept, *extra]
