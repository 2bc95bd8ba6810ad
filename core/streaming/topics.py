"""Create the pipeline topics and their dead-letter twins (idempotent)."""

from __future__ import annotations

import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from core.settings import StreamingSettings
from schemas import dlq
from schemas.topics import ALL

log = logging.getLogger(__name__)


def topic_plan(settings: StreamingSettings) -> dict[str, int]:
    """Topic name → partition count: every pipeline topic and its `.dlq`."""
    topics = dict.fromkeys([*ALL, settings.embedded_topic])
    plan = {topic: settings.partitions for topic in topics}
    plan.update({dlq(topic): settings.dlq_partitions for topic in topics})
    return plan


async def ensure_topics(bootstrap_servers: str, settings: StreamingSettings) -> list[str]:
    """Create the missing topics; returns the names created now. Existing ones are left as
    they are (partitions are never changed here: that would move keys between partitions)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name, partitions, replication_factor=settings.replication_factor)
            for name, partitions in topic_plan(settings).items()
            if name not in existing
        ]
        created = []
        for topic in missing:  # one at a time: a racing creator only costs us that topic
            try:
                await admin.create_topics([topic])
                created.append(topic.name)
            except TopicAlreadyExistsError:
                pass
        if created:
            log.info("kafka: created topics %s", ", ".join(created))
        return created
    finally:
        await admin.close()
