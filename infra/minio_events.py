"""Wire a bucket's events to Kafka: the topic, the bucket, its notification config.

Every put or delete in the bucket becomes an S3-event JSON message on the topic
(`{"EventName": "s3:ObjectCreated:Put", "Key": "<bucket>/<key>", "Records": [...]}`).
All three steps are idempotent.
"""

from __future__ import annotations

import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from minio import Minio
from minio.notificationconfig import NotificationConfig, QueueConfig

from core.settings import MinioSettings

log = logging.getLogger(__name__)

EVENTS = ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]


def minio_client(settings: MinioSettings) -> Minio:
    return Minio(
        settings.endpoint,
        access_key=settings.access_key,
        secret_key=settings.secret_key.get_secret_value(),
        secure=settings.secure,
    )


def target_arn(settings: MinioSettings) -> str:
    return f"arn:minio:sqs::{settings.notify_id}:kafka"


async def ensure_topic(bootstrap_servers: str, topic: str, partitions: int) -> bool:
    """Create `topic` (replication 1) unless it exists. True when it was created now."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        if topic in await admin.list_topics():
            return False
        try:
            await admin.create_topics([NewTopic(topic, partitions, replication_factor=1)])
        except TopicAlreadyExistsError:
            return False
        log.info("kafka: created topic %s (%d partitions)", topic, partitions)
        return True
    finally:
        await admin.close()


def configure_bucket(settings: MinioSettings, bucket: str | None = None) -> None:
    """Make `bucket` (default: the settings') and send its put and delete events to Kafka."""
    client = minio_client(settings)
    name = bucket or settings.bucket
    if not client.bucket_exists(name):
        client.make_bucket(name)
        log.info("minio: created bucket %s", name)
    queue = QueueConfig(events=EVENTS, config_id="catalens-kafka", queue=target_arn(settings))
    client.set_bucket_notification(name, NotificationConfig(queue_config_list=[queue]))
    log.info("minio: bucket %s notifies %s", name, target_arn(settings))
