"""A FastStream KafkaBroker for a service: idempotent producer, acks=all, graceful shutdown."""

from __future__ import annotations

from faststream.kafka import KafkaBroker

from core.settings import KafkaSettings, StreamingSettings


def make_broker(kafka: KafkaSettings, streaming: StreamingSettings, client_id: str) -> KafkaBroker:
    """No connection is made here; the app connects when it starts."""
    return KafkaBroker(
        kafka.bootstrap_servers,
        client_id=f"catalens-{client_id}",
        acks="all",
        enable_idempotence=streaming.idempotent_producer,
        graceful_timeout=streaming.graceful_timeout_s,
    )
