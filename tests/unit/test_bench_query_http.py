"""The HTTP text-search bench's pure parts: its queries, its catalog, and how it splits and
summarises per-query timings (bench/query_http_data.py, bench/query_http_report.py,
bench/probes.py). No timings are asserted."""

from __future__ import annotations

import asyncio
import json

import pytest

from bench.probes import Stages, probed
from bench.query_http_data import (
    OBJECTS_PER_IMAGE,
    QUERY_COLOURS,
    QUERY_GARMENTS,
    QUERY_MATERIALS,
    caption_rows,
    catalog_queries,
    make_catalog,
    products,
)
from bench.query_http_report import Run, quantiles_ms


class Slow:
    def work(self, x: int) -> int:
        return x + 1

    async def later(self, x: int) -> int:
        return x * 2


def test_queries_are_distinct_colour_material_garment_phrases_in_a_fixed_order():
    queries = catalog_queries(220)
    assert len(set(queries)) == 220
    assert queries == catalog_queries(220)
    for query in queries:
        colour, material, garment = query.split(" ", 2)
        assert (colour, material, garment) in {
            (c, m, g) for c in QUERY_COLOURS for m in QUERY_MATERIALS for g in QUERY_GARMENTS
        }


def test_asking_for_more_queries_than_there_are_combinations_is_refused():
    with pytest.raises(ValueError, match="distinct queries"):
        catalog_queries(len(QUERY_COLOURS) * len(QUERY_MATERIALS) * len(QUERY_GARMENTS) + 1)


def test_products_are_distinct_offline_captions_with_their_attributes():
    items = products(300, whole=False, seed=1)
    assert len(items) == 300
    assert all(p.label != "image" for p in items)
    for product in items:
        attributes = json.loads(product.attributes)
        assert attributes["category"] in product.caption
        assert all(colour in product.caption for colour in attributes["colours"])
    assert {p.label for p in products(50, whole=True, seed=0)} == {"image"}


def test_each_image_holds_its_whole_image_object_and_one_item():
    catalog = make_catalog(11, distinct=20)
    assert catalog.n == 11 and len(set(catalog.object_ids)) == 11
    assert len(catalog.image_ids) == 6
    for i in range(catalog.n):
        assert catalog.image_of(i) == catalog.image_ids[i // OBJECTS_PER_IMAGE]
        assert (catalog.product(i).label == "image") == (i % OBJECTS_PER_IMAGE == 0)
    assert make_catalog(11, distinct=20).object_ids == catalog.object_ids


def test_probed_functions_add_their_calls_and_are_restored_after():
    stages, original = Stages(), Slow.work
    with probed(
        stages, [("work", f"{__name__}:Slow", "work"), ("later", f"{__name__}:Slow", "later")]
    ):
        assert Slow().work(1) == 2 and Slow().work(2) == 3
        assert asyncio.run(Slow().later(3)) == 6
    assert Slow.work is original
    assert stages.calls == {"work": 2, "later": 1}
    assert set(stages.seconds) == {"work", "later"}


def test_a_run_splits_the_round_trip_and_counts_repeated_searches():
    run, stages = Run("defaults", sources=2), Stages()
    for http, app, faiss_calls in ((0.010, 0.006, 2), (0.020, 0.015, 3)):
        stages.reset()
        stages.add("app", app)
        for _ in range(faiss_calls):
            stages.add("faiss", 0.001)
        run.add(http, stages, hits=24)
    assert run.outside("app") == pytest.approx([0.004, 0.005])
    assert run.stage("fulltext") == [0.0, 0.0]
    assert run.calls_per_query("faiss") == 2.5
    assert run.repeated("faiss") == 1


def test_quantiles_are_milliseconds():
    p50, p95, p99, mean = quantiles_ms([0.001 * i for i in range(1, 101)])
    assert p50 == pytest.approx(50.5)
    assert p95 == pytest.approx(95.05)
    assert p99 == pytest.approx(99.01)
    assert mean == pytest.approx(50.5)


def testcaption_rows_are_read_from_every_level_of_a_plan():
    plan = {
        "Node Type": "Limit",
        "Plans": [
            {"Node Type": "Hash Join", "Plans": [{"Relation Name": "objects", "Actual Rows": 9}]},
            {"Relation Name": "captions", "Actual Rows": 40, "Actual Loops": 2},
        ],
    }
    assert list(caption_rows(plan)) == [80]
