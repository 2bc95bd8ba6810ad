-- Core catalog tables. Side tables (captions, vectors_*) are keyed by object_id without a foreign
-- key: they may be written before the object row exists, and reads join them to objects, so the
-- order in which detections, captions and vectors arrive never loses data.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE images (
    image_id   text PRIMARY KEY,
    uri        text NOT NULL,
    width      integer NOT NULL CHECK (width > 0),
    height     integer NOT NULL CHECK (height > 0),
    source     text,
    filename   text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX images_source ON images (source);

CREATE TABLE objects (
    object_id  text PRIMARY KEY,
    image_id   text NOT NULL REFERENCES images (image_id) ON DELETE CASCADE,
    kind       text NOT NULL CHECK (kind IN ('object', 'image')),
    label      text NOT NULL,
    score      real NOT NULL,
    box        integer[] NOT NULL CHECK (cardinality(box) = 4),
    crop_uri   text,
    detector   text,
    indexed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX objects_image_id ON objects (image_id);
CREATE INDEX objects_label ON objects (label);
CREATE INDEX objects_indexed_at ON objects (indexed_at DESC);

CREATE TABLE captions (
    object_id  text PRIMARY KEY,
    caption    text NOT NULL,
    attributes jsonb NOT NULL DEFAULT '{}'::jsonb,
    captioner  text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX captions_attributes ON captions USING gin (attributes jsonb_path_ops);

CREATE TABLE vector_models (
    model_key  text PRIMARY KEY,
    table_name text NOT NULL UNIQUE,
    dim        integer NOT NULL CHECK (dim > 0),
    created_at timestamptz NOT NULL DEFAULT now()
);
