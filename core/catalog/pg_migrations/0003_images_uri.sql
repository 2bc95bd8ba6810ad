-- Every bucket upload's overwrite tombstone (and every bucket delete) asks which images are
-- stored at a uri (`PgStore.image_ids_by_uri`): an index, not a scan of every image.
CREATE INDEX IF NOT EXISTS images_uri ON images (uri);
