"""`catalens infra` runs the real stack on this machine: Kafka, MinIO, Postgres+pgvector, MLflow."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

import infra
from core.catalog.pg_server import free_port
from core.paths import REPO_ROOT
from core.settings import Settings
from infra import procs
from infra.minio_events import configure_bucket, minio_client
from infra.postgres_server import PostgresServer
from infra.shared import shared_stack
from infra.stack import Endpoints

pytest_plugins = ["tests.integration.infra_fixtures"]
pytestmark = pytest.mark.integration

TEST_BUCKET = "catalens-infra-test"  # its events also land on `images`; consumers skip its bucket


def test_up_brings_all_four_servers_up_and_status_reports_them_healthy(
    real_stack: Endpoints, infra_settings: Settings
) -> None:
    rows = infra.status(infra_settings)
    assert [row.name for row in rows] == ["kafka", "minio", "postgres", "mlflow"]
    assert all(row.healthy for row in rows), rows


def test_the_status_command_prints_every_server_as_healthy(real_stack: Endpoints) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "infra", "status"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if "127.0.0.1" in line]
    assert len(lines) == 4 and all("yes" in line for line in lines), done.stdout


def test_a_second_up_reuses_the_running_servers(
    real_stack: Endpoints, infra_settings: Settings
) -> None:
    before = {row.name: row.pid for row in infra.status(infra_settings)}
    assert infra.up(infra_settings) == []
    assert {row.name: row.pid for row in infra.status(infra_settings)} == before


async def test_an_upload_and_a_delete_each_put_an_s3_event_on_the_images_topic(
    real_stack: Endpoints, infra_settings: Settings
) -> None:
    configure_bucket(infra_settings.minio, TEST_BUCKET)
    client = minio_client(infra_settings.minio)
    key = f"shirts/{uuid.uuid4().hex}.jpg"
    async with _ImagesTopicTail(real_stack) as consumer:
        await asyncio.to_thread(client.put_object, TEST_BUCKET, key, io.BytesIO(b"jpeg?"), 5)
        created = await _next_event(consumer, f"{TEST_BUCKET}/{key}")
        await asyncio.to_thread(client.remove_object, TEST_BUCKET, key)
        removed = await _next_event(consumer, f"{TEST_BUCKET}/{key}")
    assert created["EventName"] == "s3:ObjectCreated:Put"
    record = created["Records"][0]["s3"]
    assert (record["bucket"]["name"], record["object"]["size"]) == (TEST_BUCKET, 5)
    assert removed["EventName"] == "s3:ObjectRemoved:Delete"


def test_the_configured_bucket_notifies_the_kafka_target(
    real_stack: Endpoints, infra_settings: Settings
) -> None:
    config = minio_client(infra_settings.minio).get_bucket_notification(real_stack.bucket)
    (queue,) = config.queue_config_list
    assert queue.queue == f"arn:minio:sqs::{infra_settings.minio.notify_id}:kafka"
    assert set(queue.events) == {"s3:ObjectCreated:*", "s3:ObjectRemoved:*"}


def test_mlflow_answers_health_and_records_a_run_with_an_artifact(
    real_stack: Endpoints, tmp_path: Path
) -> None:
    import httpx
    from mlflow.tracking import MlflowClient

    assert httpx.get(f"{real_stack.mlflow_uri}/health", timeout=10).status_code == 200
    client = MlflowClient(tracking_uri=real_stack.mlflow_uri)
    experiment = client.create_experiment(f"infra-test-{uuid.uuid4().hex[:8]}")
    run = client.create_run(experiment)
    client.log_metric(run.info.run_id, "recall_at_10", 0.75)
    (tmp_path / "note.txt").write_text("hello")
    client.log_artifact(run.info.run_id, str(tmp_path / "note.txt"))
    assert client.get_run(run.info.run_id).data.metrics == {"recall_at_10": 0.75}
    assert [a.path for a in client.list_artifacts(run.info.run_id)] == ["note.txt"]


async def test_postgres_has_the_vector_extension(real_stack: Endpoints) -> None:
    conn = await asyncpg.connect(real_stack.postgres_dsn)
    try:
        version = await conn.fetchval("SELECT extversion FROM pg_extension WHERE extname='vector'")
        distance = await conn.fetchval("SELECT '[1,2,3]'::vector <-> '[1,2,5]'::vector")
    finally:
        await conn.close()
    assert version and distance == 2.0


def test_down_stops_only_what_up_started(
    real_stack: Endpoints, infra_settings: Settings, tmp_path: Path
) -> None:
    mine = infra_settings.model_copy(deep=True)
    mine.infra.run_dir = tmp_path / "run"
    mine.infra.postgres_port = free_port()
    assert infra.up(mine, only=["kafka", "postgres"]) == ["postgres"]  # kafka: someone else's
    assert {row.name: row.ours for row in infra.status(mine, only=["kafka", "postgres"])} == {
        "kafka": False,
        "postgres": True,
    }
    assert infra.down(mine, only=["kafka", "postgres"]) == ["postgres"]
    assert [row.healthy for row in infra.status(mine, only=["kafka", "postgres"])] == [True, False]


def test_the_last_session_sharing_the_stack_stops_what_the_sessions_started(
    real_stack: Endpoints, infra_settings: Settings, tmp_path: Path
) -> None:
    mine = infra_settings.model_copy(deep=True)
    mine.infra.run_dir = tmp_path / "run"
    mine.infra.postgres_port = free_port()
    postgres = PostgresServer(mine)
    other_session = subprocess.Popen(["sleep", "300"])
    try:
        with shared_stack(mine):  # starts its own postgres, reuses the other servers
            lease = mine.infra.run_dir / "leases" / str(other_session.pid)
            lease.write_text(f"{other_session.pid} {procs.start_time(other_session.pid)}\n")
        assert postgres.healthy(), "stopped while another session held the stack"
    finally:
        other_session.kill()
        other_session.wait()
    with shared_stack(mine):  # the other session is gone: this one is the last out
        pass
    assert not postgres.healthy()
    assert [row.healthy for row in infra.status(mine, only=["kafka", "minio"])] == [True, True]


def test_down_refuses_while_a_test_session_holds_the_stack(tmp_path: Path) -> None:
    session = subprocess.Popen(["sleep", "300"])
    try:
        leases = tmp_path / "run" / "leases"
        leases.mkdir(parents=True)
        (leases / str(session.pid)).write_text(f"{session.pid} {procs.start_time(session.pid)}\n")
        env = {**os.environ, "CATALENS_INFRA__RUN_DIR": str(tmp_path / "run")}
        done = subprocess.run(
            [sys.executable, "-m", "infra", "down"],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
    finally:
        session.kill()
        session.wait()
    assert done.returncode == 1
    assert f"in use by test session(s) [{session.pid}]" in done.stderr


# -- helpers ------------------------------------------------------------------------------------
class _ImagesTopicTail:
    """A consumer of every partition of the images topic, from its current end."""

    def __init__(self, stack: Endpoints) -> None:
        self.consumer = AIOKafkaConsumer(bootstrap_servers=stack.kafka_bootstrap)
        self.topic = stack.images_topic

    async def __aenter__(self) -> AIOKafkaConsumer:
        await self.consumer.start()
        partitions = self.consumer.partitions_for_topic(self.topic)
        if partitions is None:
            await self.consumer._client.force_metadata_update()
            partitions = self.consumer.partitions_for_topic(self.topic) or set()
        assigned = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        self.consumer.assign(assigned)
        await self.consumer.seek_to_end(*assigned)
        for tp in assigned:
            await self.consumer.position(tp)  # resolve the end now, before anything is uploaded
        return self.consumer

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()


async def _next_event(consumer: AIOKafkaConsumer, key: str, timeout_s: float = 60) -> Any:
    async def wait() -> Any:
        async for message in consumer:
            event = json.loads(message.value)
            if event.get("Key") == key:
                return event

    return await asyncio.wait_for(wait(), timeout_s)
