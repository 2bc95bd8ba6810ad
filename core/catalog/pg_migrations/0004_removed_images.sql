-- Images a tombstone removed, per indexer route ('rows': objects.detected, 'vectors': the
-- embeddings topic): a caption or caption vector of such an image that arrives after it is late
-- enrichment and is dropped; a new detection of the id (the same bytes stored again) clears it.
CREATE TABLE IF NOT EXISTS removed_images (
    route    text NOT NULL,
    image_id text NOT NULL,
    PRIMARY KEY (route, image_id)
);
