"""Snapshots of a `LogIndex`, one object per partition, each with the offset it reflects.

A partition's snapshot holds its shard of every (model, modality) index, the image/uri maps of
that partition and `position` (the next offset to read), in ONE object: `p0003.snap` under
`index/<generation>/` of an object store (MinIO on the real stack, a folder when embedded).
A put of one object is atomic in both stores, so a reader sees the previous snapshot of a
partition or the new one, never a mix; partitions are independent cuts of the log, and each
restores to exactly the state its offset implies (its tail is replayed from there).

Layout: `MAGIC`, an 8-byte big-endian header length, the JSON header, then each index's
`faiss.serialize_index` bytes in header order (lengths in the header).
"""

from __future__ import annotations

import dataclasses
import json
from contextlib import ExitStack
from typing import Any

import faiss
import numpy as np

from services.indexer.faiss_params import FaissParams
from services.indexer.faiss_snapshot import restore_shard, shard_state
from services.indexer.log_index import LogIndex
from services.indexer.registry import index_name

MAGIC = b"CATALENS-SHARD\x01"
FORMAT = 1


class SnapshotError(ValueError):
    """A snapshot that does not belong here (other topic, partition count, format)."""


def partition_key(generation: str, partition: int) -> str:
    return f"index/{generation}/p{partition:04d}.snap"


def encode_partition(log: LogIndex, partition: int) -> bytes:
    """One consistent cut of `partition`: call it between two `apply`s (the follower does)."""
    blobs: list[bytes] = []
    entries = []
    with ExitStack() as stack:
        named = sorted(log.indexes.names().items())
        for _, index in named:
            stack.enter_context(index.shards[partition].lock.read())
        for name, index in named:
            shard = index.shards[partition]
            data = faiss.serialize_index(shard.index).tobytes()
            template = (
                faiss.serialize_index(index.ivf_template).tobytes()
                if index.ivf_template is not None
                else b""
            )
            blobs += [data, template]
            entries.append(
                {"name": name, "dim": index.dim, "state": shard_state(shard),
                 "size": len(data), "template_size": len(template)}
            )  # fmt: skip
        maps = log.maps[partition]
        header = {
            "format": FORMAT,
            "topic": log.topic,
            "partitions": log.partitions,
            "partition": partition,
            "position": log.positions[partition],
            "index_type": log.index_type,
            "params": dataclasses.asdict(log.params),
            "indexes": entries,
            "objects_of_image": {k: sorted(v) for k, v in maps.objects_of_image.items()},
            "images_at_uri": {k: sorted(v) for k, v in maps.images_at_uri.items()},
        }
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    return b"".join([MAGIC, len(raw).to_bytes(8, "big"), raw, *blobs])


def read_header(data: bytes) -> tuple[dict[str, Any], int]:
    if not data.startswith(MAGIC):
        raise SnapshotError("not a catalens shard snapshot")
    start = len(MAGIC) + 8
    size = int.from_bytes(data[len(MAGIC) : start], "big")
    header: dict[str, Any] = json.loads(data[start : start + size])
    if header.get("format") != FORMAT:
        raise SnapshotError(f"snapshot format {header.get('format')} is not {FORMAT}")
    return header, start + size


def restore_partition(log: LogIndex, data: bytes) -> int:
    """Install a partition's snapshot into `log` (whose shard must be empty); its position."""
    header, cursor = read_header(data)
    p = header["partition"]
    if header["topic"] != log.topic or header["partitions"] != log.partitions:
        raise SnapshotError(
            f"snapshot of {header['topic']} with {header['partitions']} partitions does not fit "
            f"{log.topic} with {log.partitions}"
        )
    taken = dataclasses.replace(FaissParams(**header["params"]), device=log.params.device)
    if header["index_type"] != log.index_type or taken != log.params:  # device: where to train
        raise SnapshotError("snapshot was taken with another index type or parameters")
    for entry in header["indexes"]:
        model_key, modality = entry["name"].rsplit(":", 1)
        assert index_name(model_key, modality) == entry["name"]
        index = log.indexes.get_or_create(model_key, modality, entry["dim"])
        data_end = cursor + entry["size"]
        shard_bytes = np.frombuffer(data[cursor:data_end], dtype=np.uint8)
        template_end = data_end + entry["template_size"]
        if entry["template_size"] and index.ivf_template is None:
            template = np.frombuffer(data[data_end:template_end], dtype=np.uint8)
            index.ivf_template = faiss.deserialize_index(template)
        restore_shard(index.shards[p], entry["state"], faiss.deserialize_index(shard_bytes))
        cursor = template_end
    maps = log.maps[p]
    maps.objects_of_image.update({k: set(v) for k, v in header["objects_of_image"].items()})
    for uri, image_ids in header["images_at_uri"].items():
        for image_id in image_ids:
            maps.place(image_id, uri)
    log.positions[p] = header["position"]
    _install_templates(log)
    return int(header["position"])


def _install_templates(log: LogIndex) -> None:
    """IVF: a partition snapshotted before training restores as a flat buffer; once any
    partition brought trained centroids, every shard of that index moves onto them."""
    for index in log.indexes.all():
        if index.ivf_template is not None:
            for shard in index.shards:
                shard.install_trained(index.ivf_template)
