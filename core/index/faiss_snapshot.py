"""Snapshots of a ShardedFaissIndex: one `faiss.write_index` file per shard plus manifest.json.

Written into a temporary sibling folder and renamed into place, so a reader sees the old
snapshot or the new one, never half of one. Replacing an existing snapshot takes two renames
(old aside, new in); a crash between them leaves `<dir>.old-*` beside a missing `<dir>`.
All shards are read-locked while writing, so the snapshot is one consistent cut.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any, cast

import faiss

from core.index.faiss_params import FaissParams, Knobs
from core.index.faiss_shard import Shard
from core.index.faiss_shards import ShardedFaissIndex

FORMAT = 1
MANIFEST = "manifest.json"
TEMPLATE = "ivf-template.faiss"


def _shard_file(i: int) -> str:
    return f"shard-{i:04d}.faiss"


def write_snapshot(index: ShardedFaissIndex, directory: Path) -> None:
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = directory.with_name(f".{directory.name}.tmp-{uuid.uuid4().hex[:8]}")
    tmp.mkdir()
    try:
        with ExitStack() as stack:
            for shard in index.shards:
                stack.enter_context(shard.lock.read())
            shards = []
            for i, shard in enumerate(index.shards):
                faiss.write_index(shard.index, str(tmp / _shard_file(i)))
                shards.append(shard_state(shard))
            if index.ivf_template is not None:
                faiss.write_index(index.ivf_template, str(tmp / TEMPLATE))
        manifest = {
            "format": FORMAT,
            "dim": index.dim,
            "n_shards": index.n_shards,
            "index_type": index.index_type,
            "partitioned": index.partitioned,
            "params": dataclasses.asdict(index.params),
            "shards": shards,
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
        _swap_in(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _swap_in(tmp: Path, directory: Path) -> None:
    if not directory.exists():
        tmp.rename(directory)
        return
    old = directory.with_name(f"{directory.name}.old-{uuid.uuid4().hex[:8]}")
    directory.rename(old)
    tmp.rename(directory)
    shutil.rmtree(old, ignore_errors=True)


def read_snapshot(directory: Path, max_workers: int | None = None) -> ShardedFaissIndex:
    directory = Path(directory)
    manifest: dict[str, Any] = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{directory}: snapshot format {manifest.get('format')} is not {FORMAT}")
    index = ShardedFaissIndex(
        manifest["dim"],
        manifest["n_shards"],
        manifest["index_type"],
        FaissParams(**manifest["params"]),
        max_workers=max_workers,
        partitioned=manifest.get("partitioned", False),
    )
    if (directory / TEMPLATE).exists():
        index.ivf_template = faiss.read_index(str(directory / TEMPLATE))
    for i, (shard, state) in enumerate(zip(index.shards, manifest["shards"], strict=True)):
        restore_shard(shard, state, faiss.read_index(str(directory / _shard_file(i))))
    return index


def shard_state(shard: Shard) -> dict[str, Any]:
    """Everything of a shard beside its FAISS index, as JSON; the caller holds a lock."""
    return {
        "trained": shard.trained,
        "next_slot": shard.next_slot,
        "objects": sorted([slot, oid] for slot, oid in shard.object_of.items()),
        "dead": sorted(shard.dead),
        "knobs": dataclasses.asdict(shard.knobs) if shard.knobs is not None else None,
    }


def restore_shard(shard: Shard, state: dict[str, Any], index: faiss.Index) -> None:
    """Put a shard back as `shard_state` described it, over its FAISS index."""
    with shard.lock.write():
        shard.index = cast(faiss.IndexIDMap2, index)
        shard.trained = state["trained"]
        shard.next_slot = state["next_slot"]
        shard.object_of = {int(slot): oid for slot, oid in state["objects"]}
        shard.slot_of = {oid: slot for slot, oid in shard.object_of.items()}
        shard.dead = set(state["dead"])
        knobs = state.get("knobs")
        shard.knobs = Knobs(**knobs) if knobs else None
        shard._set_excluded()
