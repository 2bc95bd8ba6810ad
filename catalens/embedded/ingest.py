"""Bulk ingest of files into the embedded catalog, in batches, with a progress bar."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from catalens.embedded.catalog import EmbeddedCatalog
from core.errors import CatalensError

log = logging.getLogger(__name__)


@dataclass
class IngestStats:
    new: int = 0
    duplicate: int = 0
    rejected: int = 0
    objects: int = 0
    aside: int = 0  # accepted, not searchable yet: work set aside on a transient failure


async def ingest_files(
    catalog: EmbeddedCatalog,
    items: Sequence[tuple[Path, str]],
    batch_size: int = 32,
    progress: bool = True,
) -> IngestStats:
    """Ingest (path, source) pairs; bad files are reported and skipped, the rest go on."""
    stats = IngestStats()
    with tqdm(total=len(items), unit="img", desc="ingest", disable=not progress) as bar:
        for start in range(0, len(items), batch_size):
            chunk = items[start : start + batch_size]
            loaded = [(path.name, path.read_bytes(), source) for path, source in chunk]
            for (path, _), result in zip(chunk, await catalog.ingest_many(loaded), strict=True):
                if isinstance(result, CatalensError):
                    stats.rejected += 1
                    log.warning("skipped %s: %s (%s)", path, result.message, result.reason)
                elif result.duplicate:
                    stats.duplicate += 1
                elif result.pending:
                    stats.aside += 1
                else:
                    stats.new += 1
                    stats.objects += result.objects
            bar.update(len(chunk))
            bar.set_postfix(
                new=stats.new,
                seen=stats.duplicate,
                bad=stats.rejected,
                aside=stats.aside,
                objects=stats.objects,
            )
    return stats
