"""The query service's OpenAPI document describes the service: schemathesis generates requests
for every operation from the document (bounded examples) and checks each answer against it:
no server error, documented status codes, content types and response schemas. The service runs
over the in-memory catalog (the HTTP contract, not the search, is under test here)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from core.settings import QuerySettings
from services.query.app import create_app
from tests.e2e.conftest import serve_in_thread
from tests.fakes.pictures import CATALOG_SCENES, scene_detector, seeded_catalog

pytestmark = [pytest.mark.contract, pytest.mark.timeout(900)]
EXAMPLES = 25  # per operation


@pytest.fixture(scope="module")
def api_document() -> Iterator[Any]:
    catalog = seeded_catalog(detector=scene_detector(CATALOG_SCENES[0], size=(640, 420)))
    app = create_app(lambda: contextlib.nullcontext(catalog), QuerySettings(feed_poll_s=0.2))
    with serve_in_thread(app) as url:
        yield schemathesis.openapi.from_url(f"{url}/schema/openapi.json")


def test_every_operation_answers_as_its_openapi_document_says(api_document: Any) -> None:
    failures: dict[str, str] = {}
    checked = []
    for result in api_document.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        if operation.path == "/api/feed":
            continue  # an endless event stream: no response to validate
        checked.append(label)
        # a schema-valid upload may still be no picture (or one too small to search): 4xx is
        # the right answer there; every other schema-valid request must be accepted
        excluded = [positive_data_acceptance] if operation.method.lower() == "post" else []

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            case.call_and_validate(excluded_checks=excluded)  # noqa: B023 - run at once

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # one report per operation
            failures[label] = str(exc)[:2000]
    assert len(checked) >= 14, checked
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
