"""The real stack's settings: Postgres, Kafka, MinIO, the streaming services, MLflow and
`catalens infra`. Part of `core.settings.Settings` (which re-exports these models)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr


class PostgresSettings(BaseModel):
    dsn: SecretStr | None = Field(
        None, description="external server; when None the embedded one starts in data_dir/postgres"
    )
    port: int | None = Field(None, ge=1, le=65535, description="embedded: None picks a free port")
    database: str = Field("catalens", pattern=r"^[a-z_][a-z0-9_]*$")
    durable: bool = Field(True, description="embedded: False turns fsync off (tests only)")
    run_as: str = Field("catalens", description="embedded, as root: the system user it runs as")
    pool_min_size: int = Field(1, ge=0)
    pool_max_size: int = Field(10, ge=1)
    ef_search: int = Field(100, ge=1, le=1000, description="HNSW candidate list at query time")


class KafkaSettings(BaseModel):
    """The Kafka cluster of the real stack (`catalens infra up` runs one broker in KRaft mode)."""

    bootstrap_servers: str = "127.0.0.1:9092"
    controller_port: int = Field(9093, ge=1, le=65535, description="infra: KRaft controller")
    heap: str = Field("512m", description="infra: the broker's JVM heap (-Xmx/-Xms)")


class MinioSettings(BaseModel):
    """The MinIO server of the real stack; uploads to `bucket` notify Kafka `topic`."""

    endpoint: str = "127.0.0.1:9000"
    console_port: int = Field(9001, ge=1, le=65535, description="infra: the web console")
    access_key: str = "catalens"
    secret_key: SecretStr = SecretStr("catalens-local-only")
    secure: bool = False
    bucket: str = Field("catalens", pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    crops_bucket: str = Field(
        "catalens-crops",
        pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
        description="where the detector stores crops (no bucket events: never re-detected)",
    )
    index_bucket: str = Field(
        "catalens-index",
        pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
        description="FAISS shard snapshots (with their offsets) and the index alias",
    )
    topic: str = Field("images", description="the Kafka topic bucket notifications go to")
    notify_id: str = Field("CATALENS", pattern=r"^[A-Z0-9_]+$", description="notify target id")
    notify_queue: bool = Field(
        False,
        description="infra: MinIO keeps a Kafka queue dir (events wait out a Kafka outage, but "
        "are sent only every ~3 s); off: each event is sent at once and the reconciler "
        "re-emits what an outage dropped",
    )
    reconcile_every_s: float = Field(
        60.0, gt=0, description="reconciler: seconds between listings of the bucket"
    )
    reconcile_grace_s: float = Field(
        30.0,
        ge=0,
        description="reconciler: objects younger than this are left to their own bucket event",
    )


class StreamingSettings(BaseModel):
    """The services on Kafka: topics, micro-batches, retries, shutdown and metrics."""

    partitions: int = Field(4, ge=1, description="partitions of each pipeline topic")
    dlq_partitions: int = Field(1, ge=1, description="partitions of each `.dlq` topic")
    replication_factor: int = Field(1, ge=1)
    max_batch: int = Field(32, ge=1, description="records per batch (detector: its batch_size)")
    max_wait_ms: int = Field(200, ge=0, description="wait this long for a batch to fill")
    group_prefix: str = Field("catalens", description="consumer groups: <prefix>-<service>.<route>")
    embedded_topic: str = Field(
        "objects.embedded",
        pattern=r"^[a-zA-Z0-9._-]{1,200}$",
        description="where the embedder writes vectors and the indexer reads them; a new model "
        "writes its own (e.g. objects.embedded.<model>) for a blue/green re-index",
    )
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    vector_frames: bool = Field(
        True,
        description="write ObjectsEmbedded as vector frames (a JSON header, then the raw "
        "vectors: `schemas.frames`) instead of JSON with base64 vectors; readers take both. "
        "Off while a reader older than frames still consumes the topic",
    )
    idempotent_producer: bool = Field(True, description="acks=all, no duplicates on retry")
    retry_attempts: int = Field(5, ge=1, description="tries of a batch on transient failures")
    retry_backoff_s: float = Field(0.5, gt=0.0, description="first backoff; doubles each try")
    retry_backoff_max_s: float = Field(10.0, gt=0.0)
    aside_retry_s: float = Field(
        30.0,
        gt=0.0,
        description="embedded: retry work that gave up on a transient failure "
        "(kept in <data_dir>/aside) this often while the app runs, and at every start",
    )
    graceful_timeout_s: float = Field(30.0, gt=0.0, description="SIGTERM: finish the batch")
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = Field(
        None, ge=0, le=65535, description="None: 9101 detector, 9102 captioner, ... 0: off"
    )


class MlflowSettings(BaseModel):
    tracking_uri: str = "http://127.0.0.1:5000"
    model_cache_dir: Path | None = Field(None, description="default <data_dir>/cache/models")


class InfraSettings(BaseModel):
    """Where `catalens infra` keeps installs (cached across clones) and running servers."""

    cache_dir: Path = Field(
        default_factory=lambda: Path.home() / ".cache/catalens/infra",
        description="Kafka jars, the MinIO build, Go caches",
    )
    run_dir: Path = Field(
        default_factory=lambda: Path.home() / ".cache/catalens/run",
        description="pid files, logs and the servers' data",
    )
    postgres_port: int = Field(5433, ge=1, le=65535)
    start_timeout_s: float = Field(300.0, gt=0.0, description="per server; 2 busy cores")
