"""The real stack for integration tests: `pytest_plugins = ["tests.integration.infra_fixtures"]`.

`real_stack` (session) runs `infra.up` — reusing servers that are already up, installing and
starting the rest (the first run on a machine downloads Kafka and builds MinIO: minutes) — and
yields their `Endpoints`. At the end it stops only the servers it started itself;
`CATALENS_KEEP_STACK=1` leaves them running for the next session. Settings come from the
environment as everywhere (`CATALENS_INFRA__RUN_DIR`, `CATALENS_KAFKA__BOOTSTRAP_SERVERS`, ...).
Without `java`/`mvn`/`go` the tests skip, except under CI=true, where that is a failure.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator

import pytest

import infra
from catalens.settings import Settings
from infra.stack import Endpoints

log = logging.getLogger(__name__)


@pytest.fixture(scope="session")
def infra_settings() -> Settings:
    return Settings()


@pytest.fixture(scope="session")
def real_stack(infra_settings: Settings) -> Iterator[Endpoints]:
    missing = [tool for tool in ("java", "mvn", "go") if shutil.which(tool) is None]
    if missing and not os.environ.get("CI"):
        pytest.skip(f"the real stack needs {', '.join(missing)} on PATH")
    started = infra.up(infra_settings)
    log.info("real stack: started %s, reused the rest", started or "nothing")
    try:
        yield infra.endpoints(infra_settings)
    finally:
        if started and not os.environ.get("CATALENS_KEEP_STACK"):
            infra.down(infra_settings, only=started)
