"""The real stack for integration tests: `pytest_plugins = ["tests.integration.infra_fixtures"]`.

`real_stack` (session) runs `infra.up` — reusing servers that are already up, installing and
starting the rest (the first run on a machine downloads Kafka and builds MinIO: minutes) — and
yields their `Endpoints`. Sessions running at the same time share the stack
(`infra.shared.shared_stack`): the last one to finish stops what the sessions started, never a
server started by hand; `CATALENS_KEEP_STACK=1` leaves them running for the next session.
Settings come from the environment as everywhere (`CATALENS_INFRA__RUN_DIR`,
`CATALENS_KAFKA__BOOTSTRAP_SERVERS`, ...).
Without `java`/`mvn`/`go` the tests skip, except under CI=true, where that is a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from core.settings import Settings
from infra.shared import shared_stack
from infra.stack import Endpoints


@pytest.fixture(scope="session")
def infra_settings() -> Settings:
    return Settings()


@pytest.fixture(scope="session")
def real_stack(infra_settings: Settings) -> Iterator[Endpoints]:
    missing = [tool for tool in ("java", "mvn", "go") if shutil.which(tool) is None]
    if missing and not os.environ.get("CI"):
        pytest.skip(f"the real stack needs {', '.join(missing)} on PATH")
    with shared_stack(infra_settings, keep=bool(os.environ.get("CATALENS_KEEP_STACK"))) as stack:
        yield stack
