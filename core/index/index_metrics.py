"""Prometheus view of a `LiveIndex`, read at scrape time: what generation serves, how many
vectors it holds, how far it is behind the log, and how old its last snapshot is."""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily
from prometheus_client.registry import Collector

from core.index.live_index import LiveIndex


class IndexCollector(Collector):
    def __init__(self, live: LiveIndex, prefix: str) -> None:
        self.live, self.prefix = live, prefix

    def collect(self) -> Iterator[GaugeMetricFamily | InfoMetricFamily]:
        follower = self.live.follower
        if follower is None:
            return
        generation = follower.generation
        info = InfoMetricFamily(f"{self.prefix}_index_generation", "the generation that serves")
        info.add_metric(
            [],
            {
                "name": generation.name,
                "topic": generation.topic,
                "index_type": generation.index_type,
            },
        )
        yield info
        yield GaugeMetricFamily(
            f"{self.prefix}_index_vectors", "vectors in the FAISS view", value=len(follower.index)
        )
        yield GaugeMetricFamily(
            f"{self.prefix}_index_behind_records",
            "records of the generation's topic not applied yet",
            value=follower.behind(),
        )
        switches = GaugeMetricFamily(
            f"{self.prefix}_index_switches", "alias switches since start", value=self.live.switches
        )
        yield switches
        if follower.last_snapshot_at is not None:
            yield GaugeMetricFamily(
                f"{self.prefix}_index_snapshot_age_seconds",
                "seconds since the last shard snapshot was written",
                value=time.time() - follower.last_snapshot_at,
            )


def register_index_metrics(live: LiveIndex, registry: CollectorRegistry, prefix: str) -> None:
    registry.register(IndexCollector(live, prefix))
