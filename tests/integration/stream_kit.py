"""Shared by the streaming integration tests (test_streaming.py and others): the `stack_settings`
fixture (a database of the test's own, consumer groups that start at the log end), services run
together, a tail of Kafka topics, and polling until a probe holds."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition
from pydantic import SecretStr

from core.settings import Settings, StreamingSettings
from infra.stack import Endpoints


@pytest.fixture
async def stack_settings(real_stack: Endpoints, tmp_path: Path) -> AsyncIterator[Settings]:
    """The real stack's endpoints, a database of this test's own, groups that start at the end."""
    database = f"test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(real_stack.postgres_dsn)
    await admin.execute(f"CREATE DATABASE {database}")
    base, _, query = real_stack.postgres_dsn.partition("?")
    dsn = base.rsplit("/", 1)[0] + f"/{database}" + (f"?{query}" if query else "")
    settings = Settings(data_dir=tmp_path)
    settings.kafka.bootstrap_servers = real_stack.kafka_bootstrap
    settings.postgres.dsn = SecretStr(dsn)
    settings.captioner.backend = "offline"
    settings.streaming = StreamingSettings(
        group_prefix=f"t{uuid.uuid4().hex[:8]}",
        auto_offset_reset="latest",
        max_wait_ms=100,
        metrics_port=0,
    )
    settings.index.alias = f"t{uuid.uuid4().hex[:8]}"  # a re-index in one test moves only its own
    try:
        yield settings
    finally:
        await admin.execute(f"DROP DATABASE {database} WITH (FORCE)")
        await admin.close()


@contextlib.asynccontextmanager
async def _all_running(services: list[Any]) -> AsyncIterator[None]:
    async with contextlib.AsyncExitStack() as stack:
        for service in services:
            await stack.enter_async_context(service.running(ready_timeout_s=120))
        yield


class _Tail:
    """Reads `topics` from their current end; `first` waits for a matching record."""

    def __init__(self, stack: Endpoints, *topics: str) -> None:
        self.consumer = AIOKafkaConsumer(bootstrap_servers=stack.kafka_bootstrap)
        self.topics = topics
        self.seen: list[tuple[str, bytes, dict[str, str]]] = []

    async def __aenter__(self) -> _Tail:
        await self.consumer.start()
        await self.consumer._client.force_metadata_update()
        assigned = [
            TopicPartition(t, p)
            for t in self.topics
            for p in sorted(self.consumer.partitions_for_topic(t) or {0})
        ]
        self.consumer.assign(assigned)
        await self.consumer.seek_to_end(*assigned)
        for tp in assigned:
            await self.consumer.position(tp)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()

    async def first(
        self, topic: str, match: Callable[[bytes, dict[str, str]], bool], timeout_s: float = 300
    ) -> tuple[bytes, dict[str, str]]:
        async def wait() -> tuple[bytes, dict[str, str]]:
            while True:
                for i, (t, value, headers) in enumerate(self.seen):
                    if t == topic and match(value, headers):
                        del self.seen[i]
                        return value, headers
                batch = await self.consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    for r in records:
                        headers = {k: v.decode() for k, v in r.headers}
                        self.seen.append((r.topic, r.value, headers))

        return await asyncio.wait_for(wait(), timeout_s)


async def _value(value: int) -> int:
    """A probe for `_until` that reads a plain attribute: `lambda: _value(obj.count)`."""
    return value


async def _until(
    probe: Callable[[], Awaitable[int]],
    expected: int | None = None,
    *,
    at_least: int | None = None,
    at_most: int | None = None,
    timeout_s: float = 300,
) -> int:
    """Poll `probe` until it returns `expected` (or reaches `at_least` / falls to `at_most`)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        value = await probe()
        if (
            (expected is not None and value == expected)
            or (at_least is not None and value >= at_least)
            or (at_most is not None and value <= at_most)
        ):
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"still {value} after {timeout_s}s")
        await asyncio.sleep(0.5)
