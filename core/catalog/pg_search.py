"""The filtered nearest-neighbour query over one model's vector table.

The inner query walks the HNSW index (`ORDER BY embedding <#> q LIMIT offset + k`) with the
filters in its WHERE clause; with `hnsw.iterative_scan = relaxed_order` pgvector keeps scanning
until enough rows pass the filters. Relaxed order may be slightly out of order, so the outer query
re-sorts the materialised hits (as pgvector's README advises) and applies `min_score`, which is a
cut on an ordered list and so needs no index support.
"""

from __future__ import annotations

import json
from typing import Any

from core.catalog.pg_views import OBJECT_COLUMNS, OBJECT_JOINS
from core.catalog.views import SearchFilters


def filter_clauses(filters: SearchFilters, args: list[Any]) -> list[str]:
    """SQL conditions for the filters; appends their parameters to `args`."""

    def param(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    clauses = []
    if filters.labels:
        clauses.append(f"o.label = ANY({param(list(filters.labels))}::text[])")
    if filters.kind != "any":
        clauses.append(f"o.kind = {param(filters.kind)}")
    if filters.source is not None:
        clauses.append(f"i.source = {param(filters.source)}")
    for key, value in sorted(filters.attributes.items()):
        # a scalar attribute equals the value, or a list attribute (colours) contains it
        scalar = param(json.dumps({key: value}))
        listed = param(json.dumps({key: [value]}))
        clauses.append(f"(c.attributes @> {scalar}::jsonb OR c.attributes @> {listed}::jsonb)")
    return clauses


def search_sql(
    table: str, filters: SearchFilters, k: int, offset: int, modality: str, query: Any
) -> tuple[str, list[Any]]:
    args: list[Any] = [query, modality, offset + k]
    where = ["v.modality = $2", *filter_clauses(filters, args)]
    outer = ""
    if filters.min_score is not None:
        args.append(filters.min_score)
        outer = f"WHERE -h.distance >= ${len(args)}"
    args += [offset, k]
    sql = f"""
        WITH h AS MATERIALIZED (
            SELECT {OBJECT_COLUMNS}, v.embedding <#> $1 AS distance
            FROM {table} v JOIN objects o ON o.object_id = v.object_id {OBJECT_JOINS}
            WHERE {" AND ".join(where)}
            ORDER BY v.embedding <#> $1
            LIMIT $3
        )
        SELECT *, -h.distance AS similarity FROM h {outer}
        ORDER BY h.distance, h.object_id
        OFFSET ${len(args) - 1} LIMIT ${len(args)}
    """
    return sql, args


# the query's lexemes joined by OR; a one-row subquery computes it once per statement (inline, a
# prepared statement's generic plan recomputed it for every matched row: ~2x the time at 300k)
TSQUERY = "(SELECT replace(plainto_tsquery('english', $1)::text, ' & ', ' | ')::tsquery AS query) q"

# (object_id, rank) of the best $2 captions for the text $1, unfiltered (see fulltext_sql)
FULLTEXT_IDS_SQL = f"""
    SELECT c.object_id, ts_rank(c.search_doc, q.query) AS rank
    FROM {TSQUERY}, captions c
    WHERE c.search_doc @@ q.query
    ORDER BY rank DESC, c.object_id
    LIMIT $2
"""


def fulltext_sql(text: str, filters: SearchFilters, k: int) -> tuple[str, list[Any]]:
    """Objects whose caption or attributes share a word with `text`, best `ts_rank` first.

    Any word may match (the query's lexemes joined by OR: a product name is rarely all in a
    caption); the rank grows with the words matched and favours caption words over attribute
    values. `plainto_tsquery` parses and stems the text (never raises on user input); its
    output quotes every lexeme, so only its ` & ` operators become ` | `. `min_score`, a
    cosine cut, does not apply to full-text matches. Without filters the captions are ranked
    alone and only the top k joined to their objects.
    """
    args: list[Any] = [text, k]
    clauses = filter_clauses(filters, args)
    if not clauses:
        sql = f"""
            WITH top AS MATERIALIZED ({FULLTEXT_IDS_SQL})
            SELECT {OBJECT_COLUMNS}, top.rank
            FROM top JOIN objects o ON o.object_id = top.object_id {OBJECT_JOINS}
            ORDER BY top.rank DESC, o.object_id
        """
        return sql, args
    sql = f"""
        SELECT {OBJECT_COLUMNS}, ts_rank(c.search_doc, q.query) AS rank
        FROM {TSQUERY}, objects o {OBJECT_JOINS}
        WHERE {" AND ".join(["c.search_doc @@ q.query", *clauses])}
        ORDER BY rank DESC, o.object_id
        LIMIT $2
    """
    return sql, args
