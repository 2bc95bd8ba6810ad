"""Dependencies the controllers share: the catalog, the settings, search filters and paging."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Protocol, runtime_checkable

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.exceptions import ClientException, ServiceUnavailableException
from litestar.params import Parameter

from core.catalog.views import ObjectKindFilter, SearchFilters
from core.settings import QuerySettings
from services.query.ports import Catalog

ATTRIBUTE_PREFIX = "attr."
ID_PATTERN = r"^[0-9A-Za-z_-]{1,128}$"
TEXT_LIMIT = 255  # characters of a source, label or attribute value (the event schemas' bound)
NAME_LIMIT = 64  # characters of an attribute name (`attr.<name>`)
MAX_PAGE = 200  # the largest `limit` (settings.query.max_limit may lower it)
MAX_OFFSET = 2**31 - 1
NO_CONTROLS = "^[^\\x00-\\x1f\\x7f]*$"  # text Postgres and our fields hold (check_text)

IdPath = Annotated[
    str,
    Parameter(description="an image or object id (letters, digits, - and _)", pattern=ID_PATTERN),
]


@runtime_checkable
class CheckedCatalog(Catalog, Protocol):
    """`Catalog`, checkable at runtime: Litestar validates injected dependencies by type."""


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int


def provide_catalog(state: State) -> CheckedCatalog:
    catalog = state.get("catalog")
    if catalog is None:
        raise ServiceUnavailableException("the catalog is not open yet")
    return catalog


def provide_settings(state: State) -> QuerySettings:
    return state["settings"]


def provide_filters(
    request: Request,
    label: Annotated[
        list[str] | None, Parameter(description="keep these classes only (repeatable)")
    ] = None,
    kind: Annotated[
        ObjectKindFilter, Parameter(description="object crops, whole images, or any")
    ] = "any",
    min_score: Annotated[
        float | None, Parameter(description="drop hits scoring below this", ge=-1.0, le=1.0)
    ] = None,
    source: Annotated[str | None, Parameter(description="keep one upload source only")] = None,
) -> SearchFilters:
    """Query parameters → `SearchFilters`; `attr.<name>=<value>` pairs filter attributes.
    Raises `ClientException` (400) for text Postgres cannot hold or no catalog value has."""
    for name, value in request.query_params.items():
        if name.startswith(ATTRIBUTE_PREFIX):
            check_text(name.removeprefix(ATTRIBUTE_PREFIX), "attribute name", NAME_LIMIT)
        if name in ("label", "source") or name.startswith(ATTRIBUTE_PREFIX):
            check_text(value, name[: NAME_LIMIT + len(ATTRIBUTE_PREFIX)])
    attributes = {
        key.removeprefix(ATTRIBUTE_PREFIX): value
        for key, value in request.query_params.items()
        if key.startswith(ATTRIBUTE_PREFIX) and len(key) > len(ATTRIBUTE_PREFIX) and value
    }
    labels = tuple(dict.fromkeys(name for name in (label or []) if name))
    return SearchFilters(
        labels=labels, kind=kind, attributes=attributes, source=source or None, min_score=min_score
    )


def provide_page(
    settings: NamedDependency[QuerySettings],
    limit: Annotated[int, Parameter(description="results per page", ge=1, le=MAX_PAGE)] = 24,
    offset: Annotated[int, Parameter(description="results to skip", ge=0, le=MAX_OFFSET)] = 0,
) -> Page:
    if limit > settings.max_limit:
        raise ClientException(f"limit is {limit}; the largest page is {settings.max_limit}")
    return Page(limit=limit, offset=offset)


CatalogDep = NamedDependency[CheckedCatalog]
SettingsDep = NamedDependency[QuerySettings]
FiltersDep = NamedDependency[SearchFilters]
PageDep = NamedDependency[Page]

DEPENDENCIES = {
    "catalog": Provide(provide_catalog, sync_to_thread=False),
    "settings": Provide(provide_settings, sync_to_thread=False),
    "filters": Provide(provide_filters, sync_to_thread=False),
    "page": Provide(provide_page, sync_to_thread=False),
}


def check_text(value: str, name: str, limit: int = TEXT_LIMIT) -> str:
    """`value` when it is text a catalog field can hold: at most `limit` characters and no
    control characters (Postgres refuses NUL). Raises `ClientException` (400) naming `name`."""
    if len(value) > limit:
        raise ClientException(f"{name} is {len(value)} characters; the most is {limit}")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ClientException(f"{name} holds control characters (NUL, newline, ...)")
    return value
