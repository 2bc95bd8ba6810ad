-- Runs once, when the pgvector container initialises its data dir.
CREATE EXTENSION IF NOT EXISTS vector;
