"""Write access: with `write_token` set, writes need `Authorization: Bearer <token>`.

With no token configured (local demo mode) writes are open; never run so on a shared network.
"""

from __future__ import annotations

import hmac

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler

from core.settings import QuerySettings

BEARER = "bearer "


def requires_write_token(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    settings: QuerySettings = connection.app.state["settings"]
    if settings.write_token is None:
        return
    expected = settings.write_token.get_secret_value().encode()
    header = connection.headers.get("authorization", "")
    given = header[len(BEARER) :].strip() if header.lower().startswith(BEARER) else ""
    if not given or not hmac.compare_digest(given.encode(), expected):
        raise NotAuthorizedException(
            "this write needs 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": 'Bearer realm="catalens"'},
        )
