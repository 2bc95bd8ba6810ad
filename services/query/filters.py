"""Search filters applied to hydrated objects (the FAISS path); same meaning as pgvector's SQL."""

from __future__ import annotations

from core.catalog.views import ObjectView, SearchFilters


def matches(view: ObjectView, filters: SearchFilters) -> bool:
    if filters.labels and view.label not in filters.labels:
        return False
    if filters.kind != "any" and view.kind != filters.kind:
        return False
    if filters.source is not None and view.source != filters.source:
        return False
    for name, wanted in filters.attributes.items():
        value = view.attributes.get(name)
        if isinstance(value, list):
            if wanted not in value:
                return False
        elif value != wanted:
            return False
    return True


def is_unfiltered(filters: SearchFilters) -> bool:
    return not (filters.labels or filters.attributes or filters.source) and filters.kind == "any"
