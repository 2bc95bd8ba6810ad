-- Full-text search over captions and their attributes (fused text search, `pg_search`).
-- A stored generated column keeps the document in step with every caption upsert; the caption's
-- words weigh A, the attributes' string values (category, colours, pattern, ...) weigh B.
-- 'english' is named explicitly: the expression must not depend on default_text_search_config.
ALTER TABLE captions ADD COLUMN search_doc tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english'::regconfig, caption), 'A')
    || setweight(jsonb_to_tsvector('english'::regconfig, attributes, '["string"]'), 'B')
) STORED;
CREATE INDEX captions_search_doc ON captions USING gin (search_doc);
