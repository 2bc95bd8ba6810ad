"""Kafka's storage is formatted with a fresh cluster id whose first character the tool's
argument parser cannot take for an option (one in 64 random ids starts with "-": CI failed on
one with "argument --cluster-id/-t: expected one argument")."""

from __future__ import annotations

import base64

from infra.kafka_server import new_cluster_id


def test_a_cluster_id_is_a_22_character_uuid_that_never_starts_with_a_dash() -> None:
    ids = [new_cluster_id() for _ in range(3000)]  # ~47 of them would start with "-" otherwise
    assert not [i for i in ids if i.startswith("-")]
    assert all(len(base64.urlsafe_b64decode(i + "==")) == 16 for i in ids)
    assert len(set(ids)) == len(ids)
