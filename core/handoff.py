"""`DecodedImages`: images decoded at the edge (the ingest call), handed to the detector in the
same process, so an upload is decoded once. Bounded: the oldest entries go first past
`max_items`, and a taken entry is gone (a redelivery decodes from the store again)."""

from __future__ import annotations

import threading
from collections import OrderedDict

from PIL import Image


class DecodedImages:
    def __init__(self, max_items: int = 64) -> None:
        if max_items < 1:
            raise ValueError(f"max_items must be >= 1, got {max_items}")
        self.max_items = max_items
        self._items: OrderedDict[str, Image.Image] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, image_id: str, image: Image.Image) -> None:
        """Keep the decoded RGB image of `image_id` for the detector (evicting the oldest)."""
        with self._lock:
            self._items[image_id] = image
            self._items.move_to_end(image_id)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)

    def take(self, image_id: str) -> Image.Image | None:
        """The image decoded for `image_id`, once; None when it was never put or already taken."""
        with self._lock:
            return self._items.pop(image_id, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
